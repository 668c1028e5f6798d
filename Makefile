# tinyexit: `make install` sets up a fresh machine, `make test` runs the suite.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Compilers and the simulator; dpkg-dev, xz-utils and patch fetch QEMU's plugin
# header from Debian's source package; the rest is offline data for `tinyexit data`.
APT_PACKAGES := gcc make gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi \
	qemu-system-arm dpkg-dev xz-utils patch ca-certificates debian-archive-keyring \
	cmake dataset-fashion-mnist espeak-ng sox
PYTEST_WORKERS ?= 2

.PHONY: install install-apt install-python install-plugin test fuzz bench example fixtures clean

install: install-apt install-python install-plugin

install-apt:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(APT_PACKAGES)

install-python:
	$(PYTHON) -m pip install -q -e '.[test,train]'

# The QEMU TCG plugin that counts instructions per stage, built against the
# installed QEMU's plugin header, into ~/.cache/tinyexit/qemu-plugin (tinyexit
# also builds it on first use).
install-plugin:
	tinyexit doctor --build-plugin

test:
	$(PYTHON) -m pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider

# Seeded fuzzing of reader, verifier and generator over the fixture models (tests/fuzz_models.py):
# `make fuzz N=10000 SEED=3`; failing mutants are kept in $(FUZZ_KEEP).
N ?= 2000
SEED ?= 1
FUZZ_KEEP ?= build/fuzz-failures
fuzz:
	TINYEXIT_FUZZ_N=$(N) TINYEXIT_FUZZ_SEED=$(SEED) $(PYTHON) tests/fuzz_models.py --keep $(FUZZ_KEEP)

# End to end: the README's Quick start as written (offline keyword data, train a
# DS-CNN with a T-RecX exit, convert to int8, calibrate, generate C, build
# firmware, simulate it in QEMU, compare policies);
# then the same comparison on an ECG stream, where temporal policies shine, and
# on images (ResNet-8 with a T-RecX exit on Fashion-MNIST, held-out split).
EXAMPLE ?= build/example
BOARD ?= nucleo-l4r5zi
example:
	mkdir -p $(EXAMPLE)
	cd $(EXAMPLE) && tinyexit data keywords -o kw.npz --n 2000
	cd $(EXAMPLE) && tinyexit data keywords -o kw_cal.npz --n 600 --seed 1
	cd $(EXAMPLE) && tinyexit data keywords-stream -o stream.npz --n 300
	cd $(EXAMPLE) && tinyexit zoo dscnn --data kw.npz -o kws_ee.tflite --epochs 10
	cd $(EXAMPLE) && tinyexit inspect kws_ee.tflite --memory
	cd $(EXAMPLE) && tinyexit calibrate kws_ee.tflite --data kw_cal.npz --policy confidence --max-drop 0.02 -o calib.txt
	cd $(EXAMPLE) && tinyexit generate kws_ee.tflite -o kws/ --name kws --policy @calib.txt --board $(BOARD)
	cd $(EXAMPLE) && tinyexit build kws_ee.tflite --board $(BOARD) -o fw/ --policy @calib.txt
	cd $(EXAMPLE) && tinyexit simulate kws_ee.tflite --board $(BOARD) --policy @calib.txt --per-op
	cd $(EXAMPLE) && tinyexit compare kws_ee.tflite --data stream.npz --board $(BOARD) -o report/ --verify-qemu 8 \
		--policies "none; exit:0; @calib.txt; margin:2; entropy:0.3; difference:4; temporal-patience:3"
	tinyexit data ecg -o $(EXAMPLE)/ecg.npz --n 1200
	tinyexit data ecg-stream -o $(EXAMPLE)/ecg_stream.npz --n 300
	tinyexit zoo dscnn --data $(EXAMPLE)/ecg.npz -o $(EXAMPLE)/ecg_ee.tflite --epochs 10
	tinyexit compare $(EXAMPLE)/ecg_ee.tflite --data $(EXAMPLE)/ecg_stream.npz --board $(BOARD) -o $(EXAMPLE)/report-ecg \
		--policies "none; exit:0; confidence:0.9; difference:2; temporal-patience:3" --verify-qemu 8
	tinyexit data fashion-mnist -o $(EXAMPLE)/fashion.npz --n 3000
	tinyexit zoo resnet8 --data $(EXAMPLE)/fashion.npz -o $(EXAMPLE)/image_ee.tflite --epochs 3
	tinyexit compare $(EXAMPLE)/image_ee.tflite --data $(EXAMPLE)/fashion.npz --split test --samples 2000 --board $(BOARD) \
		-o $(EXAMPLE)/report-image --policies "none; exit:0; confidence:0.9; margin:2; entropy:0.5" --verify-qemu 8
	tinyexit data keywords -o $(EXAMPLE)/keywords_search.npz --n 4000 --seed 1
	tinyexit zoo dscnn --backbone --data $(EXAMPLE)/kw.npz -o $(EXAMPLE)/kws_backbone.keras --epochs 15
	tinyexit search $(EXAMPLE)/kws_backbone.keras --data $(EXAMPLE)/keywords_search.npz --board $(BOARD) \
		--max-drop 0.01 -o $(EXAMPLE)/search-kws
	$(PYTHON) scripts/readme_example.py $(EXAMPLE) README.md
	@echo "reports: $(EXAMPLE)/report/ (keywords), $(EXAMPLE)/report-ecg/ (ECG stream), $(EXAMPLE)/report-image/ (Fashion-MNIST),"
	@echo "         $(EXAMPLE)/search-kws/ (tinyexit search on a plain DS-CNN backbone: exits, thresholds, saving)"

# Speed and memory of the generated code beside TFLM: writes bench/results.{md,json}.
bench:
	$(PYTHON) bench/run.py

fixtures:
	$(PYTHON) scripts/make_fixtures.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
