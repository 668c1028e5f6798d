"""The Python API: tinyexit.generate, run and compare on arrays, as the commands do."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_path

import tinyexit
from tinyexit.codegen.manifest import load_manifest
from tinyexit.codegen.reader import read_model
from tinyexit.firmware_sim.host import run_host

MODEL = fixture_path("ee_three_exits")


def samples(n: int) -> np.ndarray:
    graph = read_model(MODEL)
    shape = graph.tensor(graph.inputs[0]).shape
    return np.random.default_rng(1).integers(-128, 128, size=(n, *shape[1:]), dtype=np.int8)


def test_generate_writes_the_library_the_command_writes(tmp_path):
    lib = tinyexit.generate(MODEL, tmp_path / "lib", name="ee", policy="confidence:0.8")
    assert lib.prefix == "ee" and (tmp_path / "lib" / "ee.h").is_file()
    assert load_manifest(tmp_path / "lib")["policy"] == "confidence:0.8"


def test_run_equals_the_host_build(tmp_path):
    x = samples(5)
    arrays = tinyexit.run(MODEL, x, policy="confidence:0.8")
    tinyexit.generate(MODEL, tmp_path / "lib", policy="confidence:0.8")
    expected = run_host(tmp_path / "lib", x).to_arrays()
    assert sorted(arrays) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(arrays[key], value)


def test_compare_on_arrays():
    x = samples(6)
    y = np.arange(6) % 3
    result = tinyexit.compare(MODEL, x, y, "none; exit:0", board="nucleo-l4r5zi", qemu_samples=2)
    assert [r.policy for r in result.rows] == ["none", "exit:0"]
    assert result.rows[0].samples == 6 and result.rows[1].exit_shares[0] == 1.0
    assert result.rows[1].mean_instructions < result.rows[0].mean_instructions


def test_errors_are_tinyexit_errors():
    with pytest.raises(tinyexit.TinyexitError, match="is not one of host, qemu, renode"):
        tinyexit.run(MODEL, samples(1), target="fpga")
