"""Every intermediate tensor of the generated code equals TFLM's, op by op.

One model per op kind; the first op whose output differs is named.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_path, good_fixtures, mlperf_path
from oracle import random_inputs, tflm_tensors

from tinyexit.codegen.reader import read_model
from tinyexit.firmware_sim.host import trace_host


def first_mismatch(model, lib, seed=1):
    x = random_inputs(model, 1, seed=seed)[0]
    ours = trace_host(lib, x)
    reference = tflm_tensors(model, x, sorted(ours))
    graph = read_model(model)
    producers = graph.producers()
    for op in graph.ops:
        for t in op.outputs:
            if t not in ours:
                continue
            if not np.array_equal(ours[t].reshape(-1), reference[t].reshape(-1)):
                diff = np.abs(ours[t].astype(np.int64).reshape(-1) - reference[t].astype(np.int64).reshape(-1))
                return f"op {producers[t]} {op.kind} output '{graph.tensor(t).name}': {int((diff > 0).sum())} values differ, max by {int(diff.max())}"
    return None


@pytest.mark.parametrize("name", [n for n in good_fixtures() if n.startswith("op_")])
def test_every_tensor_matches_tflm(name, generated):
    model = fixture_path(name)
    lib = generated(model, trace=True)
    assert first_mismatch(model, lib) is None


@pytest.mark.parametrize("key", ["ic", "kws"])
def test_mlperf_every_tensor_matches_tflm(key, generated):
    model = mlperf_path(key)
    assert first_mismatch(model, generated(model, trace=True)) is None
