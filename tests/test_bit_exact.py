"""Every exit of the host build equals TFLM's output byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_path, good_fixtures, mlperf_path
from oracle import random_inputs, tflm_run

from tinyexit.firmware_sim.host import run_host

SAMPLES = 200


def assert_bit_exact(lib, model, samples=SAMPLES, seed=0):
    x = random_inputs(model, samples, seed=seed)
    ours = run_host(lib, x)
    reference = tflm_run(model, x)
    assert set(ours.outputs) == set(reference)
    for name, expected in reference.items():
        got = ours.outputs[name]
        expected = expected.reshape(got.shape)
        bad = np.argwhere(got != expected)
        assert bad.size == 0, (
            f"exit {name}: {len(bad)} values differ, first at {tuple(bad[0])}: "
            f"ours {got[tuple(bad[0])]} TFLM {expected[tuple(bad[0])]}"
        )


@pytest.mark.parametrize("key", ["ic", "kws", "vww", "ad"])
def test_mlperf_models_are_bit_exact(key, generated):
    model = mlperf_path(key)
    assert_bit_exact(generated(model), model)


@pytest.mark.parametrize("name", good_fixtures())
def test_fixtures_are_bit_exact(name, generated):
    model = fixture_path(name)
    assert_bit_exact(generated(model), model)
