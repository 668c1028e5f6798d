"""AVERAGE_POOL_2D and MAX_POOL_2D kernels against TFLM (see test_kernels_conv.py for the method)."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import compare_with_tflm
from kernel_models import pool_model

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.ops import pooling
from tinyexit.codegen.reader import parse_model


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernels_pool")


CASES = {
    "same_3x3_s2_partial_edges": dict(),
    "valid_2x3_s1x2": dict(padding="VALID", filter=(2, 3), stride=(1, 2)),
    "global_7x9": dict(padding="VALID", filter=(7, 9), stride=(1, 1)),
    "same_3x2_s1_relu6": dict(filter=(3, 2), stride=(1, 1), activation="RELU6"),
    "same_4x4_s3_relu": dict(filter=(4, 4), stride=(3, 3), activation="RELU"),
    "large_16x16_window": dict(in_shape=(1, 20, 20, 2), filter=(16, 16), stride=(3, 3)),
    "batch_2_same_s2x1": dict(in_shape=(2, 5, 6, 3), stride=(2, 1), activation="RELU_N1_TO_1"),
    # Channels in fours: AVERAGE_POOL_2D's c4 path (whole-width windows summed as one run).
    "c4_global_25x5": dict(in_shape=(1, 25, 5, 8), padding="VALID", filter=(25, 5), stride=(1, 1)),
    "c4_same_3x3_s2_partial_edges": dict(in_shape=(1, 7, 9, 12), activation="RELU"),
    "c4_valid_2x2_s2": dict(in_shape=(1, 4, 4, 12), padding="VALID", filter=(2, 2), stride=(2, 2)),
    "c4_16x17_window_batch_2": dict(in_shape=(2, 16, 17, 4), padding="VALID", filter=(16, 17), stride=(1, 1)),
    # 1x1 windows: the identity (a 1-D exit head's pool) is a copy; a clamp or a stride keeps the kernel.
    "identity_1x1_1d": dict(in_shape=(1, 24, 1, 12), filter=(1, 1), stride=(1, 1)),
    "identity_1x1_odd_bytes_batch_2": dict(in_shape=(2, 5, 3, 3), padding="VALID", filter=(1, 1), stride=(1, 1)),
    "1x1_relu_1d": dict(in_shape=(1, 24, 1, 12), filter=(1, 1), stride=(1, 1), activation="RELU"),
    "1x1_s2": dict(in_shape=(1, 7, 9, 4), filter=(1, 1), stride=(2, 2)),
}


@pytest.mark.parametrize("kind", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_pool_matches_tflm(kind, case, workdir):
    (reference,) = compare_with_tflm(pool_model(kind, seed=len(case), **CASES[case]), workdir)
    assert len(np.unique(reference)) >= 3


@pytest.mark.parametrize("counts", [{1}, {9}, {4, 6, 9}, {25, 30, 36}, {125}, {256}, {49 * 49}])
def test_reciprocal_division_is_exact(counts):
    shift, recip = pooling.reciprocal_table(counts, max(counts) + 1)
    for n in counts:
        q = np.arange(128 * n + n // 2 + 1, dtype=np.uint64)
        assert np.array_equal((q * np.uint64(recip[n])) >> np.uint64(shift), q // np.uint64(n))


def test_avgpool_takes_the_c4_path_for_channels_in_fours():
    for case, c4 in (("c4_global_25x5", 1), ("c4_valid_2x2_s2", 1), ("global_7x9", 0)):
        graph = parse_model(pool_model("AVERAGE_POOL_2D", seed=1, **CASES[case]))
        (call,) = pooling.prepare_average(graph, graph.ops[0])
        assert call.params.get("c4", 0) == c4


@pytest.mark.parametrize("kind", ["AVERAGE_POOL_2D", "MAX_POOL_2D"])
def test_1x1_identity_pool_is_one_copy(kind):
    prepare = pooling.prepare_average if kind == "AVERAGE_POOL_2D" else pooling.prepare_max
    for case, size in (("identity_1x1_1d", 24 * 12), ("identity_1x1_odd_bytes_batch_2", 2 * 5 * 3 * 3)):
        graph = parse_model(pool_model(kind, seed=1, **CASES[case]))
        (call,) = prepare(graph, graph.ops[0])
        assert call.kernel == "copy_channels_s8"
        assert call.params == {"rows": 1, "count": size, "in_stride": size, "in_start": 0, "out_stride": size,
                               "out_start": 0}
    for case in ("1x1_relu_1d", "1x1_s2", "same_3x3_s2_partial_edges"):
        graph = parse_model(pool_model(kind, seed=1, **CASES[case]))
        (call,) = prepare(graph, graph.ops[0])
        assert call.kernel == ("avgpool_s8" if kind == "AVERAGE_POOL_2D" else "maxpool_s8")


def test_avgpool_rounds_half_away_from_zero_like_tflm():
    """sign(s) * ((|s| + n/2) // n) is TFLM's (s +- n/2) / n with C truncation."""
    for n in (1, 2, 3, 4, 6, 9):
        for s in range(-128 * n, 127 * n + 1):
            tflm = int((s + n // 2) / n) if s > 0 else -int((-s + n // 2) / n)
            ours = (1 if s > 0 else -1) * ((abs(s) + n // 2) // n)
            assert ours == tflm


def test_pool_refuses_different_quantization():
    graph = parse_model(pool_model("MAX_POOL_2D", seed=1, out_scale=0.5), source="p.tflite")
    with pytest.raises(TinyexitError, match="p.tflite: op 0 MAX_POOL_2D: input .* quantized differently"):
        pooling.prepare_max(graph, graph.ops[0])
