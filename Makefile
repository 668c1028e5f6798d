# tinyexit: `make install` sets up a fresh machine, `make test` runs the suite.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Compilers and the simulator; dpkg-dev, xz-utils and patch fetch QEMU's plugin
# header from Debian's source package; the rest is offline data for `tinyexit data`.
APT_PACKAGES := gcc make gcc-arm-none-eabi libnewlib-arm-none-eabi binutils-arm-none-eabi \
	qemu-system-arm dpkg-dev xz-utils patch ca-certificates debian-archive-keyring \
	cmake dataset-fashion-mnist espeak-ng sox
PYTEST_WORKERS ?= 2

.PHONY: install install-apt install-python install-plugin test fuzz bench example example-search example-search-kws example-search-image example-search-ecg fixtures clean

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
	# tinyexit search on each example task; each chosen model and policy, and the backbone alone
	# (backbone.tflite), then go through compare on fresh data, and the README's search table is filled
	$(MAKE) --no-print-directory example-search
	$(PYTHON) scripts/readme_example.py $(EXAMPLE) README.md
	@echo "reports: $(EXAMPLE)/report/ (keywords), $(EXAMPLE)/report-ecg/ (ECG stream), $(EXAMPLE)/report-image/ (Fashion-MNIST),"
	@echo "         $(EXAMPLE)/search-*/ (tinyexit search: exits, thresholds; compare/ and compare-backbone/: the saving)"

# `make example-search`: only the searches, each also on its own (example-search-kws, -image, -ecg). Sizes
# can be made smaller for a quick try, e.g. `make example-search KWS_N=1000 SEARCH_N=2000 IMAGE_EPOCHS=2`.
KWS_N ?= 4000
KWS_EPOCHS ?= 20
SEARCH_N ?= 6000
STREAM_N ?= 4000
SEARCH_EPOCHS ?= 10
IMAGE_N ?= 12000
IMAGE_EPOCHS ?= 6
ECG_N ?= 4000
# 48,000 stream windows are 41 simulated patients, 10 of them for calibration (24,000: 20 and 5, too few to
# certify the cheaper policies); the target then takes 6 min on 2 cores, its search peaking at 17.5 GB (cached features)
ECG_STREAM_N ?= 48000
ECG_FRESH_N ?= 8000
FRESH_N ?= 1000
SEARCH = tinyexit search --board $(BOARD) --max-drop 0.01 --epochs $(SEARCH_EPOCHS)
# compare_search NAME DATA [compare options]: the chosen model + policy and the backbone alone, same data
# (`none` runs every stage, so each stage has a QEMU cost even if no simulated sample reached it)
compare_search = tinyexit compare $(EXAMPLE)/$(1)/model.tflite --data $(2) --board $(BOARD) $(3) \
		--policies "none; @$(EXAMPLE)/$(1)/policy.txt" -o $(EXAMPLE)/$(1)/compare && \
	tinyexit compare $(EXAMPLE)/$(1)/backbone.tflite --data $(2) --board $(BOARD) $(3) \
		--policies none -o $(EXAMPLE)/$(1)/compare-backbone
example-search: example-search-kws example-search-image example-search-ecg

# keywords: a plain DS-CNN trained on synthesized clips, searched on other clips, measured on fresh ones;
# then the keyword stream with the same DS-CNN, temporal policies among the candidates
example-search-kws:
	mkdir -p $(EXAMPLE)
	rm -rf $(EXAMPLE)/search-kws $(EXAMPLE)/search-kws-stream
	tinyexit data keywords -o $(EXAMPLE)/keywords_backbone.npz --n $(KWS_N) --seed 3
	tinyexit data keywords -o $(EXAMPLE)/keywords_search.npz --n $(SEARCH_N) --seed 1
	tinyexit data keywords -o $(EXAMPLE)/keywords_fresh.npz --n $(FRESH_N) --seed 2
	tinyexit zoo dscnn --backbone --data $(EXAMPLE)/keywords_backbone.npz -o $(EXAMPLE)/kws_backbone.keras --epochs $(KWS_EPOCHS)
	$(SEARCH) $(EXAMPLE)/kws_backbone.keras --data $(EXAMPLE)/keywords_search.npz -o $(EXAMPLE)/search-kws
	$(call compare_search,search-kws,$(EXAMPLE)/keywords_fresh.npz)
	tinyexit data keywords-stream -o $(EXAMPLE)/kws_stream_search.npz --n $(STREAM_N) --seed 1
	tinyexit data keywords-stream -o $(EXAMPLE)/kws_stream_fresh.npz --n $(FRESH_N) --seed 2
	$(SEARCH) $(EXAMPLE)/kws_backbone.keras --data $(EXAMPLE)/kws_stream_search.npz --stream -o $(EXAMPLE)/search-kws-stream
	$(call compare_search,search-kws-stream,$(EXAMPLE)/kws_stream_fresh.npz)

# images: a plain ResNet-8 trained on Fashion-MNIST train[:N], searched on the next N images with the
# 10k test set as its test split, measured on the first FRESH_N test images
example-search-image:
	mkdir -p $(EXAMPLE)
	rm -rf $(EXAMPLE)/search-image
	tinyexit data fashion-mnist -o $(EXAMPLE)/fashion_backbone.npz --n $(IMAGE_N)
	tinyexit data fashion-mnist -o $(EXAMPLE)/fashion_search.npz --n $(IMAGE_N) --skip $(IMAGE_N)
	tinyexit zoo resnet8 --backbone --data $(EXAMPLE)/fashion_backbone.npz -o $(EXAMPLE)/image_backbone.keras --epochs $(IMAGE_EPOCHS)
	$(SEARCH) $(EXAMPLE)/image_backbone.keras --data $(EXAMPLE)/fashion_search.npz -o $(EXAMPLE)/search-image
	$(call compare_search,search-image,$(EXAMPLE)/fashion_search.npz,--split test --samples $(FRESH_N))

# ECG rhythms: a DS-CNN trained on windows of some simulated patients, searched on other patients'
# recordings (a stream split by patient), measured on a stream of new patients
example-search-ecg:
	mkdir -p $(EXAMPLE)
	rm -rf $(EXAMPLE)/search-ecg
	tinyexit data ecg-rhythm -o $(EXAMPLE)/ecg_rhythm.npz --n $(ECG_N)
	tinyexit data ecg-rhythm-stream -o $(EXAMPLE)/ecg_rhythm_search.npz --n $(ECG_STREAM_N) --seed 1
	tinyexit data ecg-rhythm-stream -o $(EXAMPLE)/ecg_rhythm_fresh.npz --n $(ECG_FRESH_N) --seed 2
	tinyexit zoo dscnn --backbone --data $(EXAMPLE)/ecg_rhythm.npz -o $(EXAMPLE)/ecg_backbone.keras --epochs 15
	$(SEARCH) $(EXAMPLE)/ecg_backbone.keras --data $(EXAMPLE)/ecg_rhythm_search.npz --stream -o $(EXAMPLE)/search-ecg
	$(call compare_search,search-ecg,$(EXAMPLE)/ecg_rhythm_fresh.npz)

# Speed and memory of the generated code beside TFLM: writes bench/results.{md,json}.
bench:
	$(PYTHON) bench/run.py

fixtures:
	$(PYTHON) scripts/make_fixtures.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
