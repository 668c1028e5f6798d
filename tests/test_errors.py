"""Bad input: one clear line on stderr, exit code 2, no traceback, no output folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import fixture_path, mlperf_path


def tinyexit(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def assert_clean_failure(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def generate_fails(model, tmp_path, *fragments):
    out = tmp_path / "out"
    proc = tinyexit("generate", model, "-o", out)
    assert_clean_failure(proc, *fragments)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_not_a_flatbuffer(tmp_path):
    bad = tmp_path / "notes.tflite"
    bad.write_text("this is not a model\n")
    generate_fails(bad, tmp_path, "notes.tflite: not a TFLite flatbuffer")


def test_truncated_model(tmp_path):
    data = mlperf_path("kws").read_bytes()
    bad = tmp_path / "truncated.tflite"
    bad.write_bytes(data[: len(data) // 3])
    generate_fails(bad, tmp_path, "truncated.tflite: the flatbuffer is damaged or truncated")


def test_float32_model(tmp_path):
    generate_fails(fixture_path("bad_float32"), tmp_path, "computes in float32", "full-int8")


def test_int16_activations(tmp_path):
    generate_fails(fixture_path("bad_int16"), tmp_path, "int16 activations")


def test_unsupported_op(tmp_path):
    generate_fails(fixture_path("bad_unsupported_op"), tmp_path, "is not supported by tinyexit", "op ")


def test_dynamic_shape(tmp_path):
    generate_fails(fixture_path("bad_dynamic"), tmp_path, "dynamic shape")


def test_missing_model(tmp_path):
    generate_fails(tmp_path / "nope.tflite", tmp_path, "nope.tflite: cannot read the model")


def test_bad_symbol_name(tmp_path):
    out = tmp_path / "out"
    proc = tinyexit("generate", mlperf_path("ad"), "-o", out, "--name", "int")
    assert_clean_failure(proc, "--name 'int' is not a usable C identifier")
    assert not out.exists()


def test_unwritable_output_folder():
    # Nothing, not even root, can create folders under /proc.
    proc = tinyexit("generate", mlperf_path("ad"), "-o", "/proc/tinyexit-test/out")
    assert_clean_failure(proc, "cannot create the output folder")


def test_output_path_is_a_file(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should go")
    proc = tinyexit("generate", mlperf_path("ad"), "-o", blocker / "out")
    assert_clean_failure(proc, "cannot create the output folder")
    proc = tinyexit("generate", mlperf_path("ad"), "-o", blocker)
    assert_clean_failure(proc, "exists and is not a folder")
    assert blocker.read_text() == "a file where a folder should go"


def test_failed_generate_keeps_the_previous_folder(tmp_path):
    out = tmp_path / "out"
    assert tinyexit("generate", mlperf_path("ad"), "-o", out).returncode == 0
    before = sorted(p.name for p in out.iterdir())
    proc = tinyexit("generate", fixture_path("bad_float32"), "-o", out)
    assert_clean_failure(proc, "computes in float32")
    assert sorted(p.name for p in out.iterdir()) == before


def test_bad_inputs_file(tmp_path):
    bad = tmp_path / "x.npy"
    bad.write_text("nope")
    proc = tinyexit("run", mlperf_path("ad"), "--inputs", bad, "-o", tmp_path / "r.npz")
    assert_clean_failure(proc, "x.npy: cannot read a .npy array")


def test_inputs_of_the_wrong_shape(tmp_path):
    import numpy as np

    x = tmp_path / "x.npy"
    np.save(x, np.zeros((3, 7), dtype=np.int8))
    proc = tinyexit("run", mlperf_path("ad"), "--inputs", x, "-o", tmp_path / "r.npz")
    assert_clean_failure(proc, "does not hold samples of the model's input shape [1, 640]")


def test_optimize_size_is_recorded_and_a_bad_value_refused(tmp_path):
    import json

    out = tmp_path / "lib"
    proc = tinyexit("generate", mlperf_path("ad"), "-o", out, "--optimize", "size")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "manifest.json").read_text())["optimize"] == "size"
    assert " * optimize: size (" in (out / "ad01_int8.h").read_text()
    for command in ("generate", "inspect"):
        extra = ["-o", tmp_path / "bad"] if command == "generate" else []
        assert_clean_failure(tinyexit(command, mlperf_path("ad"), *extra, "--optimize", "small"),
                             "--optimize 'small' is not one of speed, size")
