"""ADD, CONCATENATION, PAD/PADV2 and STRIDED_SLICE kernels against TFLM
(see test_kernels_conv.py for the method), and the errors for what they refuse."""

from __future__ import annotations

import numpy as np
import pytest
from kernel_harness import compare_with_tflm
from kernel_models import add_model, concat_model, pad_model, slice_model
from tflite_builder import TensorSpec, one_op_model, pad_options

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.ops import PREPARE
from tinyexit.codegen.reader import parse_model


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("kernels_data")


def _pad_requantizing():
    """PAD whose output is quantized differently: TFLM copies the bytes unchanged, so must we."""
    pads = np.array([[0, 0], [1, 1], [2, 0], [0, 1]], np.int32)
    return one_op_model("PAD", [TensorSpec((1, 4, 3, 2), scale=0.1, zero_point=3),
                                TensorSpec(pads.shape, dtype="int32", data=pads)],
                        [TensorSpec((1, 6, 5, 3), scale=0.2, zero_point=-3)], pad_options())


MODELS = {
    "add_different_scales": lambda: add_model(1),
    "add_relu": lambda: add_model(2, activation="RELU"),
    "add_equal_scales_relu6": lambda: add_model(3, scales=(0.05, 0.05, 0.05), activation="RELU6"),
    "add_scale_ratio_500": lambda: add_model(4, scales=(0.001, 0.5, 0.3)),
    "add_fine_output": lambda: add_model(5, scales=(0.1, 0.02, 0.004), activation="RELU_N1_TO_1"),
    "add_rank_3_vs_4": lambda: add_model(6, shapes=((1, 4, 5, 3), (4, 5, 3), (1, 4, 5, 3))),
    # size % 4 == 0: the rq_fast path (doubled tables, {m, c, r} record), with each activation clamp
    "add_fast_no_activation": lambda: add_model(7, shape=(1, 6, 8, 6)),
    "add_fast_relu": lambda: add_model(8, shape=(1, 6, 8, 6), activation="RELU"),
    "add_fast_relu6": lambda: add_model(9, shape=(1, 4, 6, 8), scales=(0.05, 0.05, 0.05), activation="RELU6"),
    "add_fast_relu_n1_to_1": lambda: add_model(10, shape=(1, 4, 6, 8), scales=(0.1, 0.02, 0.004),
                                               activation="RELU_N1_TO_1"),
    "concat_channels_3_inputs": lambda: concat_model([(1, 7, 9, 3), (1, 7, 9, 4), (1, 7, 9, 2)]),
    "concat_height": lambda: concat_model([(1, 3, 9, 3), (1, 4, 9, 3)], axis=1),
    "concat_width_negative_axis": lambda: concat_model([(1, 7, 2, 3), (1, 7, 5, 3)], axis=-2),
    "concat_2d": lambda: concat_model([(1, 5), (1, 4)], axis=1),
    "pad_height_width": lambda: pad_model((1, 7, 9, 4), [(0, 0), (1, 2), (2, 1), (0, 0)]),
    "pad_channels": lambda: pad_model((1, 7, 9, 4), [(0, 0), (0, 0), (0, 0), (1, 3)]),
    "pad_all_zero_point_100": lambda: pad_model((1, 5, 6, 3), [(0, 0), (2, 0), (0, 3), (2, 2)], zero_point=100),
    "pad_3d": lambda: pad_model((5, 6, 3), [(1, 1), (1, 1), (0, 0)]),
    "padv2_constant": lambda: pad_model((1, 5, 6, 3), [(0, 0), (1, 1), (1, 1), (0, 0)], constant=-100),
    "pad_output_quantized_differently": _pad_requantizing,
    "slice_channel_head": lambda: slice_model((1, 7, 9, 8), [0, 0, 0, 0], [1, 7, 9, 3], out_shape=(1, 7, 9, 3)),
    "slice_channel_mid": lambda: slice_model((1, 7, 9, 8), [0, 0, 0, 2], [1, 7, 9, 6], out_shape=(1, 7, 9, 4)),
    "slice_masks_negative_begin": lambda: slice_model((1, 7, 9, 8), [0, 0, 0, -3], [0, 0, 0, 0],
                                                      out_shape=(1, 7, 9, 3), begin_mask=7, end_mask=15),
    "slice_shrink_channel": lambda: slice_model((1, 7, 9, 8), [0, 0, 0, 5], [1, 7, 9, 6], out_shape=(1, 7, 9),
                                                shrink_axis_mask=8),
    "slice_height": lambda: slice_model((1, 7, 9, 8), [0, 2, 0, 0], [1, 5, 9, 8], out_shape=(1, 3, 9, 8)),
    "slice_2d_end_past_size": lambda: slice_model((1, 10), [0, 3], [1, 80], out_shape=(1, 7)),
    # Word-aligned rows (tx_copy_channels_s8's word path): 16-byte blocks, tail words, both.
    "slice_1d_head_tail_words": lambda: slice_model((1, 16, 1, 12), [0, 0, 0, 0], [1, 16, 1, 8],
                                                    out_shape=(1, 16, 1, 8)),
    "slice_1d_head_blocks_and_word": lambda: slice_model((1, 16, 1, 40), [0, 0, 0, 0], [1, 16, 1, 36],
                                                         out_shape=(1, 16, 1, 36)),
    "slice_1d_channel_mid_block": lambda: slice_model((1, 9, 1, 24), [0, 0, 0, 4], [1, 9, 1, 20],
                                                      out_shape=(1, 9, 1, 16)),
    "concat_channels_words": lambda: concat_model([(1, 5, 3, 4), (1, 5, 3, 8)]),
}


@pytest.mark.parametrize("case", sorted(MODELS))
def test_matches_tflm(case, workdir):
    (reference,) = compare_with_tflm(MODELS[case](), workdir)
    assert len(np.unique(reference)) >= 3


REFUSED = {
    "concat_input_scale_differs": (
        lambda: concat_model([(1, 3, 3, 2), (1, 3, 3, 2)], scales=[0.1, 0.2], zero_points=[3, 3]),
        "quantized differently from the output"),
    "concat_input_zero_point_differs": (
        lambda: concat_model([(1, 3, 3, 2), (1, 3, 3, 2)], scales=[0.1, 0.1], zero_points=[3, 5], out_zp=3),
        "quantized differently from the output"),
    "add_broadcast": (lambda: add_model(1, shapes=((1, 4, 5, 3), (1, 1, 1, 3), (1, 4, 5, 3))),
                      "need broadcasting"),
    "slice_stride_2": (lambda: slice_model((1, 4, 4, 8), [0, 0, 0, 0], [1, 4, 4, 8], strides=[1, 1, 1, 2],
                                           out_shape=(1, 4, 4, 4)), "strides [1, 1, 1, 2] are not all 1"),
    "slice_two_axes": (lambda: slice_model((1, 4, 4, 8), [0, 1, 0, 2], [1, 4, 4, 6], out_shape=(1, 3, 4, 4)),
                       "cuts 2 axes"),
    "slice_ellipsis": (lambda: slice_model((1, 4, 4, 8), [0, 0, 0, 2], [1, 4, 4, 6], out_shape=(1, 4, 4, 4),
                                           ellipsis_mask=1), "ellipsis_mask"),
    "pad_batch": (lambda: pad_model((1, 3, 3, 2), [(1, 0), (0, 0), (0, 0), (0, 0)]), "batch dimension"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_refused_with_a_clear_error(case):
    model, message = REFUSED[case]
    graph = parse_model(model(), source="m.tflite")
    op = graph.ops[0]
    with pytest.raises(TinyexitError) as err:
        PREPARE[op.kind](graph, op)
    assert err.value.message.startswith(f"m.tflite: op 0 {op.kind}: ") and message in err.value.message


def test_concat_refusal_matches_tflm():
    """TFLM's Prepare refuses the same model (so there is nothing to be bit-exact with)."""
    from tflite_micro import runtime

    with pytest.raises(RuntimeError):
        runtime.Interpreter.from_bytes(concat_model([(1, 3, 3, 2), (1, 3, 3, 2)], scales=[0.1, 0.2],
                                                    zero_points=[3, 3]))


def test_add_takes_the_table_variant():
    """Every ADD case above runs tx_add_lut_s8 (the output shift is never a left shift and the table
    sum stays below 2^29, so gemm.requant_records always has a record; tx_add_s8 is the fallback);
    those with size % 4 == 0 (and a right shift <= 22) its rq_fast path, the others the 64-bit one."""
    from tinyexit.codegen.ops import add

    fast = []
    for case in (c for c in MODELS if c.startswith("add_")):
        graph = parse_model(MODELS[case]())
        (call,) = add.prepare(graph, graph.ops[0])
        assert call.kernel == "add_lut_s8", case
        assert call.params["rq_fast"] == (call.params["size"] % 4 == 0), case
        assert len(call.arrays["requant"].values) == (3 if call.params["rq_fast"] else 6)
        fast.append(case) if call.params["rq_fast"] else None
    assert fast == ["add_rank_3_vs_4", "add_fast_no_activation", "add_fast_relu", "add_fast_relu6",
                    "add_fast_relu_n1_to_1"]
