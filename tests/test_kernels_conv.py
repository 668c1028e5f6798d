"""CONV_2D and DEPTHWISE_CONV_2D kernels against TFLM, one small odd-shaped op at a time.

Each case builds a one-op model (tests/kernel_models.py), runs its kernel
calls through tests/kernel_harness.py (strict flags + UBSan) and TFLM on 200
random int8 inputs (the first two all -128 and all 127), and requires
byte equality. Whole models go through the real pipeline in test_bit_exact.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import compare_with_tflm
from kernel_models import conv_model, depthwise_model
from tflite_builder import TensorSpec, conv2d_options, one_op_model, schema

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.fixedpoint import rounding_divide_by_pot, saturating_rounding_doubling_high_mul
from tinyexit.codegen.ops import conv2d, depthwise_conv2d, fully_connected, gemm
from tinyexit.codegen.reader import parse_model


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernels_conv")


CONV_CASES = {
    "same_s1_relu6": dict(activation="RELU6"),
    "same_s2_odd_edges": dict(stride=(2, 2)),
    "valid_s2_relu": dict(padding="VALID", stride=(2, 2), activation="RELU"),
    "dilation2_relu_n1_to_1": dict(dilation=(2, 2), activation="RELU_N1_TO_1", out_scale_factor=0.02),
    "dilation_2x3_valid_s1x2": dict(dilation=(2, 3), padding="VALID", stride=(1, 2)),
    "per_tensor_weights": dict(per_channel=False),
    "kernel_1x1": dict(kernel=(1, 1)),
    "no_bias": dict(bias=False),
    "kernel_5x3_s2x1": dict(kernel=(5, 3), stride=(2, 1)),
    "grouped": dict(in_shape=(1, 7, 9, 6), groups=2, out_c=4),
    "multiplier_above_one": dict(kernel=(1, 1), out_scale_factor=0.0015),
    "batch_2": dict(in_shape=(2, 5, 6, 3)),
    "input_zero_point_min": dict(in_zp=-128),
    "input_zero_point_max": dict(in_zp=127, stride=(2, 2)),
    "deep_3x3x64": dict(in_shape=(1, 5, 5, 64), out_c=8),
    "image_smaller_than_kernel": dict(in_shape=(1, 2, 3, 4), kernel=(5, 5)),
    "valid_single_output": dict(in_shape=(1, 3, 3, 4), padding="VALID", out_c=10),
    "same_s2_odd_total_padding": dict(in_shape=(1, 8, 6, 3), stride=(2, 2), activation="RELU"),
    "same_dilation_odd_total_padding": dict(in_shape=(1, 8, 7, 3), kernel=(2, 4), dilation=(3, 1)),
    # The GEMM variant's own paths: in_c % 4 == 0 (taps widened in place), odd out_c, odd pixel count,
    # pointwise with stride 2, a column longer than one unrolled step.
    "pointwise_c8_odd_out_c": dict(in_shape=(1, 5, 7, 8), kernel=(1, 1), out_c=7),
    # pointwise, stride 1 (columns widened straight from the input): in_c % 8 == 4 (a zero group
    # past each column), 25 pixels (a last block of 1).
    "pointwise_direct_c12_25px": dict(in_shape=(1, 5, 5, 12), kernel=(1, 1), out_c=6),
    "pointwise_s2_c16": dict(in_shape=(1, 9, 6, 16), kernel=(1, 1), stride=(2, 2), padding="VALID", out_c=6),
    "same_3x3_c4_zp_min": dict(in_shape=(1, 6, 5, 4), out_c=3, in_zp=-128),
    "same_3x3_c12_s2": dict(in_shape=(1, 7, 7, 12), out_c=10, stride=(2, 2), activation="RELU6"),
    # "Dead" channels: bias near +-2^30 and right shifts beyond 22 (gemm.step_channel, int8 path).
    "dead_channels": dict(in_shape=(1, 5, 6, 8), out_c=8, out_scale_factor=45000.0,
                          bias_values=[2**30 - 5000, -(2**30), 2**30 - 100, 12345, -777, 2**30 - 2**20,
                                       -(2**30) + 3 * 2**18, 2**29]),
}

# The variant prepare picks for each case (tinyexit kernel name): the reference kernel for grouped
# convolutions only (a left-shifting requantization goes fast too: gemm.requant_records).
REFERENCE_CASES = {"grouped"}
CONV_VARIANTS = {case: "conv2d_s8" if case in REFERENCE_CASES else "conv2d_gemm_s8" for case in CONV_CASES}
# With int8 weights (optimize=size) these take tx_conv2d_rows_s8 instead of the GEMM: 5 input channels, a 1x1 or
# 3x3 kernel, stride 1 along the width, even out_c <= 12, nothing to clamp (conv2d.rows_call).
ROWS_SIZE_CASES = {"batch_2", "input_zero_point_min", "kernel_1x1", "no_bias", "per_tensor_weights"}


def conv_variant(case: str, optimize: str) -> str:
    return "conv2d_rows_s8" if optimize == "size" and case in ROWS_SIZE_CASES else CONV_VARIANTS[case]

DEPTHWISE_CASES = {
    "m1_same_relu6": dict(activation="RELU6"),
    "m2_same_s2": dict(multiplier=2, stride=(2, 2)),
    "m3_valid_dilation2": dict(multiplier=3, padding="VALID", dilation=(2, 2)),
    "per_tensor_weights": dict(per_channel=False),
    "c1_m8_kernel_5x3": dict(in_shape=(1, 9, 7, 1), multiplier=8, kernel=(5, 3)),
    "no_bias_relu": dict(bias=False, activation="RELU"),
    "multiplier_above_one": dict(kernel=(1, 1), out_scale_factor=0.003),
    "input_zero_point_min_s2x1": dict(in_zp=-128, stride=(2, 1), dilation=(1, 2)),
    "batch_2_valid_s2": dict(in_shape=(2, 6, 5, 3), padding="VALID", stride=(2, 2)),
    "same_s2_odd_total_padding": dict(in_shape=(1, 8, 6, 4), stride=(2, 2), multiplier=2),
    # The planar 3x3 variant (multiplier 1, channels % 4 == 0, 3x3, stride 1 or 2 along its lines, one
    # batch, a right-shifting requantization): rows, or columns when there are more output rows.
    "p3_rows_same_s1_relu6": dict(in_shape=(1, 7, 9, 8), activation="RELU6"),
    "p3_columns_s2_odd_total_padding": dict(in_shape=(1, 8, 6, 12), stride=(2, 2)),
    "p3_columns_valid_s2_zp_min": dict(in_shape=(1, 9, 7, 4), padding="VALID", stride=(2, 2), in_zp=-128),
    "p3_rows_per_tensor_no_bias": dict(in_shape=(1, 5, 5, 16), per_channel=False, bias=False),
    "p3_columns_kws_shape_relu": dict(in_shape=(1, 25, 5, 8), activation="RELU"),
    "p3_rows_s2_even_relu_zp_max": dict(in_shape=(1, 10, 12, 8), stride=(2, 2), activation="RELU", in_zp=127),
    "p3_columns_stride_1x2": dict(in_shape=(1, 6, 9, 4), stride=(1, 2), activation="RELU_N1_TO_1",
                                  out_scale_factor=0.02),
    "p3_rows_stride_2x1_valid": dict(in_shape=(1, 6, 9, 4), stride=(2, 1), padding="VALID"),
    "p3_rows_4x4_s2": dict(in_shape=(1, 7, 8, 4), stride=(2, 2)),
    "p3_columns_5x2": dict(in_shape=(1, 5, 2, 4)),
    "k1_one_pixel": dict(in_shape=(1, 1, 1, 4)),  # one column wide: the column variant (was the planar one)
    "p3_rows_3x3_s2": dict(in_shape=(1, 6, 5, 8), stride=(2, 2)),
    # The c4 variant (multiplier 1, channels % 4 == 0, no dilation), 3x3 where the planar one does not fit.
    "c4_3x3_batch_2": dict(in_shape=(2, 5, 6, 8)),
    "c4_3x3_s3": dict(in_shape=(1, 9, 7, 4), stride=(3, 3)),
    "c4_3x3_left_shift": dict(in_shape=(1, 5, 4, 4), out_scale_factor=0.003),

    # Windows that do not overlap (stride >= kernel) take the kernel's direct path, padded ones too.
    "c4_kernel_2x2_s2_batch_2": dict(in_shape=(2, 6, 6, 4), kernel=(2, 2), stride=(2, 2), padding="VALID"),
    # The exit heads' 2x2 stride-2 variant (one batch, no padding before the first row and column).
    "h2_valid": dict(in_shape=(1, 6, 6, 4), kernel=(2, 2), stride=(2, 2), padding="VALID"),
    "h2_valid_odd_input": dict(in_shape=(1, 7, 9, 8), kernel=(2, 2), stride=(2, 2), padding="VALID"),
    "h2_same_odd_relu": dict(in_shape=(1, 7, 5, 8), kernel=(2, 2), stride=(2, 2), activation="RELU"),
    "h2_same_even_zp_max": dict(in_shape=(1, 12, 12, 12), kernel=(2, 2), stride=(2, 2), in_zp=127),
    "c4_kernel_3x2_s3x2_batch_2": dict(in_shape=(2, 7, 6, 4), kernel=(3, 2), stride=(3, 2)),
    "c4_kernel_5x3_batch_2": dict(in_shape=(2, 6, 5, 4), kernel=(5, 3), stride=(1, 2), activation="RELU"),
    "c4_shape_multiplier_above_one": dict(in_shape=(1, 5, 4, 4), kernel=(1, 1), out_scale_factor=0.003),
    # Layers one column wide (1-D models): the column variant, the live kernel column only.
    "k1_1d_3x3_s2_no_activation": dict(in_shape=(1, 33, 1, 8), stride=(2, 2)),
    "k1_1d_3x3_s1_relu6_odd_channels": dict(in_shape=(1, 20, 1, 5), activation="RELU6", out_scale_factor=0.2),
    "k1_1d_3x3_s2_relu": dict(in_shape=(1, 16, 1, 12), stride=(2, 1), activation="RELU"),
    "k1_1d_5x1_valid_relu": dict(in_shape=(1, 17, 1, 4), kernel=(5, 1), padding="VALID", activation="RELU"),
    "k1_1d_4x3_s3_same": dict(in_shape=(1, 10, 1, 6), kernel=(4, 3), stride=(3, 1)),
    "k1_1d_5x5_input_shorter_than_kernel": dict(in_shape=(1, 2, 1, 4), kernel=(5, 5)),
    "k1_1d_3x3_in_zp_max": dict(in_shape=(1, 12, 1, 4), in_zp=127),
}

DEPTHWISE_VARIANTS = {
    case: {"c4": "depthwise_conv2d_c4_s8", "p3": "depthwise_conv2d_3x3_s8", "h2": "depthwise_conv2d_2x2_s8",
           "k1": "depthwise_conv2d_col_s8"}.get(
        case[:2], "depthwise_conv2d_s8")
    for case in DEPTHWISE_CASES
}


GEMM_KERNELS = ("conv2d_gemm_s8", "fully_connected_gemv_s8")


def assert_layout(call, optimize: str) -> None:
    """The fast kernels' weight layout follows `optimize`: int16 pair words + records, or int8 + mult/shift."""
    if call.kernel == "depthwise_conv2d_c4_s8":
        channels, taps = call.params["in_c"], call.params["k_h"] * call.params["k_w"]
        size = optimize == "size"
        assert call.params.get("w8", 0) == size and ("requant" in call.arrays) != size
        assert call.arrays["weights"].values.size == taps * channels // (4 if size else 2)
        return
    if call.kernel not in GEMM_KERNELS:
        return
    out_c = call.params["out_c"] if "out_c" in call.params else call.params["units"]
    k = call.params["col_words"] * 2 if "col_words" in call.params else call.params["depth"]
    pairs = (out_c + 1) // 2
    if optimize == "size":
        assert call.params["w8"] == 1 and "requant" not in call.arrays
        assert call.arrays["weights"].values.size == pairs * 2 * (-(-k // 8) * 8) // 4  # one byte per weight
        assert call.arrays["mult"].ctype == "int32_t" and call.arrays["shift"].ctype == "int8_t"
        if call.kernel == "conv2d_gemm_s8":  # the 3 pixel x 2 channel blocks: three columns + records
            col_words, in_c = call.params["col_words"], call.params["in_c"]
            assert call.scratch == 12 * col_words + (2 * col_words if in_c % 4 else 0) + 24 * out_c
    else:
        assert "w8" not in call.params and "mult" not in call.arrays
        assert call.arrays["weights"].values.size == pairs * 2 * (-(-k // 8) * 8) // 2  # two bytes per weight
        assert call.arrays["requant"].values.size == 6 * out_c


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("case", sorted(CONV_CASES))
def test_conv2d_matches_tflm(case, optimize, workdir):
    model = conv_model(seed=len(case), **CONV_CASES[case])
    graph = parse_model(model)
    calls = conv2d.prepare(graph, graph.ops[0], optimize=optimize)
    assert [c.kernel for c in calls] == [conv_variant(case, optimize)]
    assert_layout(calls[0], optimize)
    (reference,) = compare_with_tflm(model, workdir, optimize=optimize)
    assert len(np.unique(reference)) >= 3  # the case exercises more than the clamp


FC_CASES = {  # case: (model arguments, the variant prepare picks)
    "depth_640_units_128": (dict(depth=640, units=128), "fully_connected_gemv_s8"),
    "depth_10_units_5_relu": (dict(depth=10, units=5, activation="RELU"), "fully_connected_s8"),
    "batch_3_odd_units_no_bias": (dict(depth=12, units=7, batches=3, bias=False), "conv2d_gemm_s8"),
    "per_channel_zp_min_odd_units": (dict(depth=24, units=7, per_channel=True, in_zp=-128),
                                     "fully_connected_gemv_s8"),
    "zp_max_relu": (dict(depth=16, units=4, in_zp=127, activation="RELU"), "fully_connected_gemv_s8"),
    "one_unit_depth_8": (dict(depth=8, units=1), "fully_connected_gemv_s8"),
    "units_7_relu": (dict(depth=32, units=7, activation="RELU", in_zp=-128), "fully_connected_gemv_s8"),
    "multiplier_above_one": (dict(depth=16, units=4, out_scale_factor=0.001), "fully_connected_gemv_s8"),
    "depth_12_multiplier_above_one": (dict(depth=12, units=3, out_scale_factor=0.003), "fully_connected_s8"),
}


def fc_model(seed, depth, units, batches=1, activation="NONE", bias=True, per_channel=False, in_zp=None,
             out_scale_factor=1.0) -> bytes:
    rng = np.random.default_rng(seed)
    in_scale, zp = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128)) if in_zp is None else in_zp
    w = rng.integers(-127, 128, size=(units, depth)).astype(np.int8)
    w_scales = list(rng.uniform(0.002, 0.02, size=units)) if per_channel else [0.01]
    inputs = [TensorSpec((batches, depth), scale=in_scale, zero_point=zp),
              TensorSpec((units, depth), scale=w_scales, zero_point=[0] * len(w_scales), data=w)]
    if bias:
        b_scales = [in_scale * s for s in w_scales]
        inputs.append(TensorSpec((units,), dtype="int32", scale=b_scales, zero_point=[0] * len(b_scales),
                                 data=rng.integers(-5000, 5000, size=units).astype(np.int32)))
    out_scale = in_scale * float(np.mean(w_scales)) * 128 * 74 * np.sqrt(depth) / 127 * out_scale_factor
    o = schema.FullyConnectedOptionsT()
    o.fusedActivationFunction = {"NONE": 0, "RELU": 1}[activation]
    return one_op_model("FULLY_CONNECTED", inputs,
                        [TensorSpec((batches, units), scale=out_scale, zero_point=int(rng.integers(-40, 40)))],
                        (schema.BuiltinOptions.FullyConnectedOptions, o))


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("case", sorted(FC_CASES))
def test_fully_connected_matches_tflm(case, optimize, workdir):
    kwargs, variant = FC_CASES[case]
    model = fc_model(seed=len(case), **kwargs)
    graph = parse_model(model)
    calls = fully_connected.prepare(graph, graph.ops[0], optimize=optimize)
    assert [c.kernel for c in calls] == [variant]
    assert_layout(calls[0], optimize)
    (reference,) = compare_with_tflm(model, workdir, optimize=optimize)
    assert len(np.unique(reference)) >= 3


# The one-input-channel 3x3 variant (optimize=size only; speed keeps the GEMM): the frame's padding,
# strides, dilation, both requantizations (rq_fast and the 64-bit records of a left shift), batches.
C1_CASES = {
    "c1_same_relu": dict(in_shape=(1, 9, 11, 1), out_c=8, activation="RELU"),
    "c1_same_s2_odd_out_c": dict(in_shape=(1, 8, 7, 1), out_c=5, stride=(2, 2)),
    "c1_valid_dilation_2x3_relu6": dict(in_shape=(1, 9, 10, 1), out_c=3, padding="VALID", dilation=(2, 3),
                                        activation="RELU6"),
    "c1_left_shift_zp_min": dict(in_shape=(1, 5, 6, 1), out_c=4, out_scale_factor=0.003, in_zp=-128),
    "c1_batch_2_s1x2_zp_max": dict(in_shape=(2, 6, 7, 1), out_c=6, stride=(1, 2), in_zp=127),
    "c1_image_smaller_than_kernel": dict(in_shape=(1, 2, 1, 1), out_c=2),
}


@pytest.mark.parametrize("case", sorted(C1_CASES))
def test_conv2d_c1_matches_tflm(case, workdir):
    model = conv_model(seed=len(case) + 3, **C1_CASES[case])
    graph = parse_model(model)
    assert [c.kernel for c in conv2d.prepare(graph, graph.ops[0], optimize="speed")] == ["conv2d_gemm_s8"]
    (call,) = conv2d.prepare(graph, graph.ops[0], optimize="size")
    assert call.kernel == "conv2d_c1_s8"
    p = call.params
    assert (p["frame_h"], p["frame_w"]) == ((p["out_h"] - 1) * p["stride_h"] + 2 * p["dil_h"] + 1,
                                           (p["out_w"] - 1) * p["stride_w"] + 2 * p["dil_w"] + 1)
    assert call.scratch == 48 * p["out_c"] + 4 * ((p["frame_h"] * p["frame_w"] + 1) // 2)
    assert p["rq_fast"] == (0 if case.startswith("c1_left_shift") else 1)
    (reference,) = compare_with_tflm(model, workdir, optimize="size")
    assert len(np.unique(reference)) >= 3


# The widened-rows variant (optimize=size; speed keeps the GEMM): the shapes of ee_resnet's stage 0 (3x3 over 3
# and 6 channels, a 1x1 exit head over 6), 2 channels, a short last block of each output row, stride 2 down
# the height, batches, both zero-point extremes.
ROWS_CASES = {
    "rows_3x3_c3_stem": dict(in_shape=(1, 12, 12, 3), out_c=6),
    "rows_3x3_c6_relu_zp_min": dict(in_shape=(1, 12, 12, 6), out_c=6, activation="RELU", out_zp=-128),
    "rows_1x1_c6_head": dict(in_shape=(1, 12, 12, 6), kernel=(1, 1), out_c=12),
    "rows_1x1_c3_short_block": dict(in_shape=(1, 4, 7, 3), kernel=(1, 1), out_c=2),
    "rows_3x3_c2_valid": dict(in_shape=(1, 6, 7, 2), out_c=2, padding="VALID"),
    "rows_3x3_c5_s2x1_batch_2": dict(in_shape=(2, 7, 8, 5), out_c=4, stride=(2, 1), in_zp=127),
    "rows_3x3_c3_short_block": dict(in_shape=(1, 9, 7, 3), out_c=8, in_zp=-128),
}
# Shapes that stay on the GEMM with int8 weights: too many output channels, an odd count, a clamp to apply,
# a kernel without a DSP loop, stride 2 along the width.
NOT_ROWS_CASES = {
    "out_c_14": dict(in_shape=(1, 6, 6, 3), out_c=14),
    "odd_out_c": dict(in_shape=(1, 6, 6, 6), out_c=5),
    "relu6": dict(in_shape=(1, 6, 6, 6), out_c=6, activation="RELU6"),
    "kernel_3x2": dict(in_shape=(1, 6, 6, 3), out_c=6, kernel=(3, 2)),
    "kernel_5x3": dict(in_shape=(1, 6, 6, 3), out_c=6, kernel=(5, 3)),
    "stride_1x2": dict(in_shape=(1, 6, 6, 3), out_c=6, stride=(1, 2)),
}


@pytest.mark.parametrize("case", sorted(ROWS_CASES))
def test_conv2d_rows_matches_tflm(case, workdir):
    model = conv_model(seed=len(case) + 5, **ROWS_CASES[case])
    graph = parse_model(model)
    assert [c.kernel for c in conv2d.prepare(graph, graph.ops[0], optimize="speed")] == ["conv2d_gemm_s8"]
    (call,) = conv2d.prepare(graph, graph.ops[0], optimize="size")
    assert call.kernel == "conv2d_rows_s8"
    p = call.params
    frame_c = 4 if p["in_c"] <= 4 else 6
    words_per_row = (p["k_w"] * frame_c) // 4 * 2 + (p["k_w"] * frame_c) % 4 // 2
    assert p["frame_c"] == frame_c and p["frame_w"] == 3 * -(-p["out_w"] // 3) + p["k_w"] - 1
    assert call.arrays["weights"].values.size == p["out_c"] // 2 * p["k_h"] * words_per_row
    assert call.scratch == (16 * p["out_c"] + 4 * ((3 * p["out_c"] + 3) // 4)
                            + 2 * p["k_h"] * p["frame_w"] * frame_c)
    (reference,) = compare_with_tflm(model, workdir, optimize="size")
    assert len(np.unique(reference)) >= 3


@pytest.mark.parametrize("case", sorted(NOT_ROWS_CASES))
def test_conv2d_rows_not_taken(case):
    graph = parse_model(conv_model(seed=len(case), **NOT_ROWS_CASES[case]))
    assert [c.kernel for c in conv2d.prepare(graph, graph.ops[0], optimize="size")] == ["conv2d_gemm_s8"]


def test_rows_weight_layout():
    """rows_channel_words: per channel pair and kernel row, [v0 v2 v1 v3] words per channel, then the last pair."""
    w = np.arange(2 * 1 * 3 * 6, dtype=np.int8).reshape(2, 1, 3, 6)  # channel 1's values are channel 0's + 18
    words = gemm.rows_channel_words(w, 6).view(np.uint32)
    b = [[int(x) >> (8 * j) & 0xFF for j in range(4)] for x in words]
    assert len(b) == 9
    assert b[0] == [0, 2, 1, 3] and b[1] == [18, 20, 19, 21] and b[6] == [12, 14, 13, 15]
    assert b[8] == [16, 34, 17, 35]
    padded = gemm.rows_channel_words(np.full((2, 1, 1, 3), 7, dtype=np.int8), 4).view(np.uint32)
    assert [int(x) for x in padded] == [0x00070707, 0x00070707]  # the padding channel: a zero weight


def test_every_conv2d_variant_is_tested():
    assert set(CONV_VARIANTS.values()) == {"conv2d_s8", "conv2d_gemm_s8"}
    assert ROWS_SIZE_CASES <= set(CONV_CASES) and ROWS_CASES
    assert set(DEPTHWISE_VARIANTS.values()) == {"depthwise_conv2d_s8", "depthwise_conv2d_c4_s8",
                                                "depthwise_conv2d_3x3_s8", "depthwise_conv2d_2x2_s8",
                                                "depthwise_conv2d_col_s8"}
    assert {v for _, v in FC_CASES.values()} == {"fully_connected_s8", "fully_connected_gemv_s8", "conv2d_gemm_s8"}


def test_gemm_weight_layout_round_trips():
    rng = np.random.default_rng(0)
    rows = rng.integers(-128, 128, size=(5, 27), dtype=np.int8)
    words = gemm.pair_words(rows)
    assert words.shape == (5, 16) and (gemm.unpack_pair_words(words, 27) == rows).all()
    # Group [k0 k1 k2 k3] -> words (k0, k2), (k1, k3): lo half first.
    assert [int(w) for w in gemm.pair_words(np.arange(8, dtype=np.int8)[None])[0]] == [
        0 | 2 << 16, 1 | 3 << 16, 4 | 6 << 16, 5 | 7 << 16]
    pairs = gemm.channel_pair_words(rows).reshape(3, 8, 2, 2)
    assert (pairs[:, :, 0].reshape(3, 16) == np.vstack([words, np.zeros((1, 16), np.int32)])[0::2]).all()
    assert (pairs[2, :, 1] == 0).all()


def test_packed_int8_layout_widens_to_the_int16_layout():
    """optimize=size: SXTB16 / SXTB16 ROR #8 of each packed word give the int16 layout's pair words."""
    rng = np.random.default_rng(1)
    rows = rng.integers(-128, 128, size=(5, 27), dtype=np.int8)
    packed = gemm.packed_channel_words(rows)
    assert packed.size == 3 * 8 * 2 and (gemm.unpack_packed_words(packed, 5, 27) == rows).all()
    u = packed.view(np.uint32).astype(np.int64)

    def sxtb16(v):  # (byte 0, byte 2) as a pair word, each sign-extended
        lo, hi = ((v & 0xFF) ^ 0x80) - 0x80, (((v >> 16) & 0xFF) ^ 0x80) - 0x80
        return (lo & 0xFFFF) | ((hi & 0xFFFF) << 16)

    widened = np.stack([sxtb16(u), sxtb16(u >> 8)], axis=-1).reshape(-1)
    assert (widened == gemm.channel_pair_words(rows).view(np.uint32)).all()
    # [k0 k1 k2 k3] -> little-endian bytes of one word.
    assert [int(w) for w in gemm.packed_channel_words(np.arange(8, dtype=np.int8)[None])[::2]] == [
        0x03020100, 0x07060504]


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("case", sorted(DEPTHWISE_CASES))
def test_depthwise_conv2d_matches_tflm(case, optimize, workdir):
    model = depthwise_model(seed=len(case), **DEPTHWISE_CASES[case])
    graph = parse_model(model)
    calls = depthwise_conv2d.prepare(graph, graph.ops[0], optimize=optimize)
    assert [c.kernel for c in calls] == [DEPTHWISE_VARIANTS[case]]
    assert_layout(calls[0], optimize)
    (reference,) = compare_with_tflm(model, workdir, optimize=optimize)
    assert len(np.unique(reference)) >= 3


def test_conv2d_multipliers_and_padding_match_tflm_prepare():
    """A hand-checked case: SAME, stride 2 on 7x9 pads (1, 1); per-channel multipliers from doubles."""
    graph = parse_model(conv_model(seed=3, stride=(2, 2)))
    (call,) = conv2d.prepare(graph, graph.ops[0])
    assert (call.params["pad_top"], call.params["pad_left"]) == (1, 1)
    assert (call.params["out_h"], call.params["out_w"]) == (4, 5)
    assert call.macs == 4 * 5 * 4 * 3 * 3 * 5
    inp, w, out = (graph.tensor(i) for i in (0, 1, 3))
    records = call.arrays["requant"].values  # {multiplier, r - 1, round low, round high, 0, 2^31}: shift = -r
    m, s = records[:, 0], -(records[:, 1] + 1)
    rounds = (records[:, 3].astype(np.int64) << 32) | (records[:, 2].astype(np.int64) & 0xFFFFFFFF)
    assert (rounds == 2**30 + 2.0 ** (30 - s)).all() and (records[:, 4] == 0).all()
    for c, ws in enumerate(w.quant.scales):
        real = inp.quant.scale * ws / out.quant.scale
        assert 2**30 <= m[c] < 2**31 and abs(m[c] * 2.0 ** (s[c] - 31) / real - 1) < 2**-30


def _conv_with(weights_zp=0, weights_dtype="int8", bias_dtype="int32", activation="NONE", out_shape=(1, 5, 5, 2)):
    w = np.ones((2, 3, 3, 3), dtype=np.int8)
    return one_op_model(
        "CONV_2D",
        [TensorSpec((1, 5, 5, 3), scale=0.1, zero_point=0),
         TensorSpec(w.shape, dtype=weights_dtype, scale=0.01, zero_point=weights_zp, data=w.astype(weights_dtype)),
         TensorSpec((2,), dtype=bias_dtype, scale=0.001, data=np.zeros(2, dtype=bias_dtype))],
        [TensorSpec(out_shape, scale=0.2, zero_point=0)],
        conv2d_options("SAME", activation="RELU" if activation == "NONE" else "NONE"),
    )


@pytest.mark.parametrize("model, message", [
    (lambda: _conv_with(weights_zp=3), "non-zero zero point"),
    (lambda: _conv_with(bias_dtype="int64"), "bias"),
    (lambda: _conv_with(out_shape=(1, 4, 4, 2)), "SAME padding"),
])
def test_conv2d_errors_name_the_op(model, message):
    graph = parse_model(model(), source="bad.tflite")
    with pytest.raises(TinyexitError) as err:
        conv2d.prepare(graph, graph.ops[0])
    assert "bad.tflite: op 0 CONV_2D" in err.value.message and message in err.value.message


def test_conv2d_refuses_possible_accumulator_overflow():
    with pytest.raises(TinyexitError, match="overflow the int32 accumulator"):  # codegen.verify, in the reader
        graph = parse_model(conv_model(seed=1, in_shape=(1, 3, 3, 8000), kernel=(3, 3), out_c=1))
        conv2d.prepare(graph, graph.ops[0])


def test_depthwise_one_column_keeps_the_live_kernel_column():
    """A 3x3 layer on a 1-D input: only kernel column pad_left = 1 meets the input; MACs stay the model's."""
    model = depthwise_model(seed=3, in_shape=(1, 33, 1, 8), stride=(2, 2))
    graph = parse_model(model)
    (call,) = depthwise_conv2d.prepare(graph, graph.ops[0])
    assert call.kernel == "depthwise_conv2d_col_s8"
    assert (call.params["k_h"], call.params["stride"], call.params["pad_top"], call.params["out_h"]) == (3, 2, 1, 17)
    assert call.macs == 17 * 8 * 9
    weights = graph.tensor(graph.ops[0].inputs[1]).data  # [1][3][3][8]
    assert (call.arrays["weights"].values.reshape(8, 3) == 2 * weights[0, :, 1, :].T.astype(np.int16)).all()
    assert depthwise_conv2d.single_column(1, 1, 3, 1, 1) == 1
    assert depthwise_conv2d.single_column(1, 1, 3, 2, 2) == 1  # dilation 2: tap 1 reads column 0
    assert depthwise_conv2d.single_column(1, 1, 3, 1, 2) is None  # every tap in the padding
    assert depthwise_conv2d.single_column(2, 1, 3, 0, 1) is None


def test_depthwise_refuses_inconsistent_depth_multiplier():
    graph = parse_model(depthwise_model(seed=1, multiplier=2))
    graph.ops[0].options["depth_multiplier"] = 3
    with pytest.raises(TinyexitError, match="depth multiplier 3"):
        depthwise_conv2d.prepare(graph, graph.ops[0])


def test_fast_requantization_equals_tflm_arithmetic():
    """tx_mr (tx_common.h): one SMMULR of 2 * acc, then (v + c + (v >> 31)) >> r with c = 2^(r-1) + z * 2^r,
    equals TFLM's SRDHM + RoundingDivideByPOT + zero point over |acc| < 2^30 and right shifts 1..22."""
    rng = np.random.default_rng(13)
    edges = [0, 1, -1, -2, -3, 2**30 - 1, -(2**30 - 1), 2**29, -(2**29)]
    for _ in range(20000):
        acc = int(rng.choice(edges)) if rng.random() < 0.1 else int(rng.integers(-(2**30) + 1, 2**30))
        m = int(rng.choice([0, 2**30, 2**31 - 1])) if rng.random() < 0.05 else int(rng.integers(2**30, 2**31))
        r = int(rng.integers(1, gemm.FAST_MAX_RIGHT_SHIFT + 1))
        z = int(rng.integers(-128, 128))
        expected = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(acc, m), r) + z
        v = (2 * acc * m + 2**31) >> 32  # SMMULR
        c = 2 ** (r - 1) + z * 2**r
        assert abs(v + c + (v >> 31)) < 2**31
        assert (v + c + (v >> 31)) >> r == expected, (acc, m, r, z)
        # The SMMLAR form (tx_conv2d_rows_s8's and tx_add_lut_s8's DSP loops): v + c in one instruction,
        # the rounding's -[v < 0] as -[acc < 0].
        vc = (2 * acc * m + c * 2**32 + 2**31) >> 32  # SMMLAR
        assert vc == v + c and (vc + (-1 if acc < 0 else 0)) >> r == expected, (acc, m, r, z)


def test_fast_requantization_choice():
    """rq_fast only for the int8 GEMM path, and not when a channel shifts left (multiplier above one)."""
    for case, fast in (("pointwise_direct_c12_25px", 1), ("pointwise_c8_odd_out_c", 1), ("multiplier_above_one", 0)):
        graph = parse_model(conv_model(seed=len(case), **CONV_CASES[case]))
        (size,) = conv2d.prepare(graph, graph.ops[0], optimize="size")
        (speed,) = conv2d.prepare(graph, graph.ops[0], optimize="speed")
        assert size.params.get("rq_fast", 0) == fast and "rq_fast" not in speed.params
    # A right shift beyond 22 is fine when the output can only be the zero point (multiplier 0) ...
    m, sh = gemm.fast_requant(np.array([2**30, 2**30]), np.array([-23, -3]), np.array([100, 100]))
    assert list(m) == [0, 2**30] and list(sh) == [-1, -3]
    # ... and not otherwise; nor an accumulator that 2 * acc could overflow.
    assert gemm.fast_requant(np.array([2**30]), np.array([-23]), np.array([2**23])) is None
    assert gemm.fast_requant(np.array([2**30]), np.array([-3]), np.array([2**30])) is None


def test_step_channels_equal_tflm():
    """gemm.step_channel: a channel whose TFLM output takes one or two values over bias +- terms gets
    a bias, multiplier and shift for tx_mr that give the same output on every accumulator (checked at
    both ends, around the step and at random points); three or more values: None."""
    rng = np.random.default_rng(17)
    kinds = {"one value": 0, "two values": 0, "none": 0}
    for _ in range(400):
        m, sh, z = int(rng.integers(2**30, 2**31)), -int(rng.integers(23, 32)), int(rng.integers(-128, 128))
        terms = int(rng.choice([9, 64, 128, 256, 1152])) * conv2d.MAX_TERM
        b = int(rng.choice([-1, 1])) * (2**30 - int(rng.integers(0, 2**22)))
        lo, hi = (-128, 127) if rng.random() < 0.7 else (z, 127)
        ends = {gemm.tflm_output(b - terms, m, sh, z, lo, hi), gemm.tflm_output(b + terms, m, sh, z, lo, hi)}
        step = gemm.step_channel(b, m, sh, terms, z, lo, hi)
        if step is None:
            kinds["none"] += 1
            continue
        kinds["one value" if len(ends) == 1 else "two values"] += 1
        b2, m2, s2 = step
        assert -22 <= s2 <= -1 and (m2 == 0 or abs(b2) + terms < 2**30)  # multiplier 0: acc unused
        accs = np.concatenate([np.arange(b - terms, b - terms + 40), np.arange(b + terms - 40, b + terms + 1),
                               rng.integers(b - terms, b + terms + 1, size=3000)])
        if len(ends) == 2:  # around the step
            t = next(a for a in range(b - terms, b + terms + 1, max(1, terms // 4096))
                     if gemm.tflm_output(a, m, sh, z, lo, hi) == max(ends))
            accs = np.concatenate([accs, np.arange(t - 5000, t + 1)])
        accs = accs[(accs >= b - terms) & (accs <= b + terms)]
        for a in accs.tolist():
            assert gemm.fast_output(a - b + b2, m2, -s2, z, lo, hi) == gemm.tflm_output(a, m, sh, z, lo, hi)
    assert kinds["one value"] > 50 and kinds["two values"] > 20 and kinds["none"] > 0, kinds
    assert gemm.step_channel(2**30, 0, 0, 64 * conv2d.MAX_TERM, -128, -128, 127) == (2**30, 0, -1)


def test_dead_channels_take_the_fast_requantization():
    """The dead_channels case: every channel on tx_mr (rq_fast), the dead ones with a moved bias."""
    graph = parse_model(conv_model(seed=len("dead_channels"), **CONV_CASES["dead_channels"]))
    (size,) = conv2d.prepare(graph, graph.ops[0], optimize="size")
    (speed,) = conv2d.prepare(graph, graph.ops[0], optimize="speed")
    assert size.params["rq_fast"] == 1 and np.all(size.arrays["shift"].values >= -22)
    original = CONV_CASES["dead_channels"]["bias_values"]
    # the size layout's bias also holds input_offset * the row sums (raw columns, conv2d.gemm_bias)
    rows = graph.tensor(graph.ops[0].inputs[1]).data.reshape(len(original), -1).astype(np.int64)
    folded = size.params["input_offset"] * rows.sum(axis=1)
    moved = size.arrays["bias"].values - folded != np.array(original)
    assert moved[[0, 1, 2, 5]].all() and not moved[[3, 4]].any()
    assert list(speed.arrays["bias"].values) == original


def test_fast_requantization_choice_depthwise():
    """The int8 depthwise c4 variant takes rq_fast too, except with a left shift."""
    for case, fast in (("c4_3x3_batch_2", 1), ("c4_kernel_2x2_s2_batch_2", 1), ("c4_shape_multiplier_above_one", 0)):
        graph = parse_model(depthwise_model(seed=len(case), **DEPTHWISE_CASES[case]))
        (size,) = depthwise_conv2d.prepare(graph, graph.ops[0], optimize="size")
        (speed,) = depthwise_conv2d.prepare(graph, graph.ops[0], optimize="speed")
        assert size.kernel == "depthwise_conv2d_c4_s8"
        assert size.params.get("rq_fast", 0) == fast and "rq_fast" not in speed.params
