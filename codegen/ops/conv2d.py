"""CONV_2D: int8 convolution, NHWC, per-channel or per-tensor int8 weights.

TFLM's Prepare (micro/kernels/conv_common.cc, kernels/kernel_util.cc
PopulateConvolutionQuantizationParams), reproduced exactly:
- padding from ComputePaddingHeightWidth (see windowing.py);
- one (multiplier, shift) per output channel from the double
  input_scale * filter_scale / output_scale, where each scale is the float32
  stored in the model (a per-tensor weight scale is broadcast to every
  channel), through QuantizeMultiplier;
- the clamp range of the fused activation from CalculateActivationRangeQuantized.
The kernel (templates/kernels/tx_conv2d_s8.c) then only loops, as
reference_integer_ops::ConvPerChannel does. Grouped convolutions (input
channels a multiple of the weights' last dimension) are supported as TFLM
supports them.

MACs: batches * out_h * out_w * out_c * k_h * k_w * (input channels per group),
counting the taps that fall on padding too (the usual convention).
"""

from __future__ import annotations

import numpy as np

from ..errors import TinyexitError
from ..ir import Graph, Op, Tensor
from ..quant import activation_range, quantize_multiplier
from .base import ConstArray, KernelCall
from .common import constant, int8_activation, op_error
from .gemm import (channel_pair_words, fast_requant, frame_channels, gemm_fast_requant, packed_channel_words,
                   padded_length, pixelwise_inplace_offset, requant_records, rows_channel_words)
from .windowing import window

ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")
REQUANT_COMMENT = ("per-channel {{multiplier, high-word shift, rounding constant low, high, pre-shift, "
                   "negative mask}} [{channels}][6] (tx_output_rs)")

OPTIMIZE = ("speed", "size")


def check_optimize(optimize: str) -> None:
    if optimize not in OPTIMIZE:
        raise TinyexitError(f"optimize '{optimize}' is not one of speed, size")


def compact_requant(mults: np.ndarray, shifts: np.ndarray, channels: int) -> dict[str, ConstArray]:
    """optimize=size: each channel's multiplier (int32) and shift (int8); tx_output_ms2 derives the record."""
    m = np.asarray(mults, dtype=np.int64)
    sh = np.where(m == 0, 0, np.asarray(shifts, dtype=np.int64))  # a zero scale: any shift gives 0
    return {
        "mult": ConstArray("int32_t", m.astype(np.int32), f"per-channel Q31 output multiplier [{channels}]"),
        "shift": ConstArray("int8_t", sh.astype(np.int8), f"per-channel output shift (> 0: left) [{channels}]"),
    }


# |(q + input_offset) * w| <= 255 * 128 for int8 q, input zero point and weight.
MAX_TERM = 255 * 128


def nhwc(graph: Graph, op: Op, tensor: Tensor, role: str) -> tuple[int, int, int, int]:
    """The tensor's 4-D shape, or a clear error."""
    if len(tensor.shape) != 4:
        raise op_error(graph, op, f"{role} tensor '{tensor.name}' has shape {list(tensor.shape)}, not 4-D NHWC",
                       "re-export the model with 4-D activations")
    return tuple(int(d) for d in tensor.shape)  # type: ignore[return-value]


def fused_activation(graph: Graph, op: Op, out: Tensor) -> tuple[int, int]:
    """(act_min, act_max) of the op's fused activation on the int8 output."""
    activation = op.options.get("activation", "NONE")
    if activation not in ACTIVATIONS:
        raise op_error(graph, op, f"fused activation {activation} is not supported",
                       "use NONE, RELU, RELU6 or RELU_N1_TO_1")
    return activation_range(activation, out.quant.scale, out.quant.zero_point)


def symmetric_int8_weights(graph: Graph, op: Op, index: int, channels: int, axis: int) -> Tensor:
    """The constant int8 weight tensor, checked to be symmetric with 1 or `channels` scales on `axis`."""
    weights = constant(graph, op, index, "weights", "int8")
    q = weights.quant
    if q is None:
        raise op_error(graph, op, f"weights '{weights.name}' have no quantization parameters",
                       "convert the model to full int8")
    if len(q.scales) not in (1, channels) or (q.per_channel and q.axis != axis):
        raise op_error(graph, op,
                       f"weights '{weights.name}' have {len(q.scales)} scales on axis {q.axis}; expected 1 "
                       f"or {channels} on axis {axis}", "re-export the model")
    if any(z != 0 for z in q.zero_points):
        raise op_error(graph, op, f"weights '{weights.name}' have a non-zero zero point",
                       "quantize weights symmetrically (the int8 spec; TFLM ignores weight zero points)")
    return weights


def bias_values(graph: Graph, op: Op, channels: int) -> np.ndarray:
    """The int32 bias (zeros when the op has none)."""
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return np.zeros(channels, dtype=np.int32)
    bias = constant(graph, op, op.inputs[2], "bias", "int32")
    if bias.size != channels:
        raise op_error(graph, op, f"bias '{bias.name}' has {bias.size} values for {channels} channels",
                       "re-export the model")
    return bias.data.reshape(-1).astype(np.int32)


def channel_multipliers(inp: Tensor, weights: Tensor, out: Tensor, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (Q31 multiplier, shift) exactly as PopulateConvolutionQuantizationParams."""
    scales = weights.quant.scales
    mults, shifts = [], []
    for c in range(channels):
        filter_scale = scales[c] if len(scales) > 1 else scales[0]
        # double(input_scale) * double(filter_scale) / double(output_scale), each a float32.
        effective = inp.quant.scale * filter_scale / out.quant.scale
        m, s = quantize_multiplier(effective)
        mults.append(m)
        shifts.append(s)
    return np.array(mults, dtype=np.int32), np.array(shifts, dtype=np.int32)


def max_abs_acc(terms: int, bias: np.ndarray) -> np.ndarray:
    """Per channel, the largest |accumulator| with `terms` products per output and this bias."""
    return np.abs(bias.astype(np.int64)) + terms * MAX_TERM


def check_accumulator(graph: Graph, op: Op, terms: int, bias: np.ndarray) -> None:
    """Refuse layers whose int32 accumulator could overflow (TFLM would wrap silently)."""
    worst = int(max_abs_acc(terms, bias).max(initial=terms * MAX_TERM))
    if worst > 2**31 - 1:
        raise op_error(graph, op, f"{terms} products per output could overflow the int32 accumulator",
                       "split the layer into smaller ones")


def prepare(graph: Graph, op: Op, optimize: str = "speed") -> list[KernelCall]:
    """optimize: "speed" (int16 weights, 6-word records) or "size" (int8 weights, multiplier + shift)."""
    check_optimize(optimize)
    inp = int8_activation(graph, op, op.inputs[0], "input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    batches, in_h, in_w, in_c = nhwc(graph, op, inp, "input")
    out_b, out_h, out_w, out_c = nhwc(graph, op, out, "output")
    weights = symmetric_int8_weights(graph, op, op.inputs[1], out_c, axis=0)
    w_out_c, k_h, k_w, filter_in_c = nhwc(graph, op, weights, "weights")
    if w_out_c != out_c or out_b != batches or filter_in_c < 1 or in_c % filter_in_c:
        raise op_error(graph, op,
                       f"weights {list(weights.shape)} do not fit input {list(inp.shape)} and output "
                       f"{list(out.shape)}", "re-export the model")
    groups = in_c // filter_in_c
    if out_c % groups:
        raise op_error(graph, op, f"{out_c} output channels do not split into {groups} groups",
                       "re-export the model")
    geometry = window(graph, op, (in_h, in_w), (k_h, k_w), (out_h, out_w))
    bias = bias_values(graph, op, out_c)
    check_accumulator(graph, op, k_h * k_w * filter_in_c, bias)
    mults, shifts = channel_multipliers(inp, weights, out, out_c)
    act_min, act_max = fused_activation(graph, op, out)
    stride_h, stride_w = op.options["stride"]
    dil_h, dil_w = op.options["dilation"]
    records = requant_records(mults, shifts, max_abs_acc(k_h * k_w * filter_in_c, bias))
    if groups == 1 and records is not None:
        if optimize == "size" and in_c == 1 and (k_h, k_w) == (3, 3):
            return [c1_call(op, weights, bias, compact_requant(mults, shifts, out_c), act_min, act_max, geometry,
                            inp, out)]
        if optimize == "size":
            rows = rows_call(op, weights, bias, compact_requant(mults, shifts, out_c), act_min, act_max, geometry,
                             inp, out)
            if rows is not None:
                return [rows]
        requant = (compact_requant(mults, shifts, out_c) if optimize == "size" else
                   {"requant": ConstArray("int32_t", records, REQUANT_COMMENT.format(channels=out_c))})
        return [gemm_call(op, weights, bias, requant, act_min, act_max, geometry, inp, out)]
    return [
        KernelCall(
            kernel="conv2d_s8",
            params={
                "batches": batches,
                "in_h": in_h,
                "in_w": in_w,
                "in_c": in_c,
                "out_h": out_h,
                "out_w": out_w,
                "out_c": out_c,
                "k_h": k_h,
                "k_w": k_w,
                "filter_in_c": filter_in_c,
                "filters_per_group": out_c // groups,
                "stride_h": stride_h,
                "stride_w": stride_w,
                "dil_h": dil_h,
                "dil_w": dil_w,
                "pad_top": geometry.pad_top,
                "pad_left": geometry.pad_left,
                "input_offset": -inp.quant.zero_point,
                "output_offset": out.quant.zero_point,
                "act_min": act_min,
                "act_max": act_max,
            },
            arrays={
                "weights": ConstArray("int8_t", weights.data.reshape(-1).astype(np.int8),
                                      f"'{weights.name}' [{out_c}][{k_h}][{k_w}][{filter_in_c}]"),
                "bias": ConstArray("int32_t", bias, f"bias [{out_c}]"),
                "out_mult": ConstArray("int32_t", mults, f"per-channel Q31 output multiplier [{out_c}]"),
                "out_shift": ConstArray("int32_t", shifts, f"per-channel output shift (> 0: left) [{out_c}]"),
            },
            inputs=(op.inputs[0],),
            outputs=(op.outputs[0],),
            macs=batches * out_h * out_w * out_c * k_h * k_w * filter_in_c,
        )
    ]


def c1_frame(out_hw: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]) -> tuple[int, int]:
    """(frame_h, frame_w) of tx_conv2d_c1_s8's widened image: every tap of a 3x3 window, padding included."""
    return tuple((o - 1) * s + 2 * d + 1 for o, s, d in zip(out_hw, stride, dilation))  # type: ignore[return-value]


def c1_scratch(out_c: int, frame: tuple[int, int]) -> int:
    """TX_CONV2D_C1_S8_SCRATCH: 12-word channel blocks, then the int16 frame rounded up to 4 bytes."""
    return 48 * out_c + 4 * ((frame[0] * frame[1] + 1) // 2)


def c1_call(op: Op, weights: Tensor, bias: np.ndarray, requant: dict, act_min: int, act_max: int, geometry,
            inp: Tensor, out: Tensor) -> KernelCall:
    """tx_conv2d_c1_s8: a 3x3 convolution over one input channel, int8 weights (see its header)."""
    batches, in_h, in_w, _ = inp.shape
    _, out_h, out_w, out_c = out.shape
    stride, dilation = op.options["stride"], op.options["dilation"]
    frame = c1_frame((out_h, out_w), stride, dilation)
    requant, fast = with_fast_requant(requant, max_abs_acc(9, bias))
    return KernelCall(
        kernel="conv2d_c1_s8",
        params={
            "batches": batches,
            "in_h": in_h,
            "in_w": in_w,
            "out_h": out_h,
            "out_w": out_w,
            "out_c": out_c,
            "stride_h": stride[0],
            "stride_w": stride[1],
            "dil_h": dilation[0],
            "dil_w": dilation[1],
            "pad_top": geometry.pad_top,
            "pad_left": geometry.pad_left,
            "frame_h": frame[0],
            "frame_w": frame[1],
            "input_offset": -inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act_min,
            "act_max": act_max,
            "rq_fast": fast.get("rq_fast", 0),
        },
        arrays={
            "weights": ConstArray("int8_t", weights.data.reshape(-1).astype(np.int8),
                                  f"'{weights.name}' [{out_c}][3][3][1]"),
            "bias": ConstArray("int32_t", bias, f"bias [{out_c}]"),
            **requant,
        },
        inputs=(op.inputs[0],),
        outputs=(op.outputs[0],),
        macs=batches * out_h * out_w * out_c * 9,
        scratch=c1_scratch(out_c, frame),
    )


ROWS_IN_C = (2, 3, 5, 6)  # tx_conv2d_rows_s8's input channels: 4 or 6 widened values per pixel, not a multiple of 4
ROWS_KERNELS = ((1, 1), (3, 3))  # the kernels its DSP loops are written for (exit heads, first layers)
ROWS_MAX_OUT_C = 12  # see rows_call


def rows_frame_w(out_w: int, k_w: int) -> int:
    """Widened pixels per row slot of tx_conv2d_rows_s8: whole blocks of three output pixels and their taps."""
    return 3 * -(-out_w // 3) + k_w - 1


def rows_scratch(out_c: int, k_h: int, frame_w: int, frame_c: int) -> int:
    """TX_CONV2D_ROWS_S8_SCRATCH: {bias, m, c, r} records, a short block's outputs, then the k_h widened rows."""
    return 16 * out_c + 4 * ((3 * out_c + 3) // 4) + 2 * k_h * frame_w * frame_c


def rows_call(op: Op, weights: Tensor, bias: np.ndarray, requant: dict, act_min: int, act_max: int, geometry,
              inp: Tensor, out: Tensor) -> KernelCall | None:
    """tx_conv2d_rows_s8 (see its header) for the shapes of first layers and exit heads, or None (the GEMM).

    Taken with 2, 3, 5 or 6 input channels, a 1x1 or 3x3 kernel, stride 1 along the width, no dilation, an even number of output channels, no activation to clamp (its DSP loops
    saturate only) and tx_mr requantization: there the GEMM's columns cost a byte gather and a
    widen per element of every column, about as much as the products. At most 12 output channels:
    with more, the GEMM shares each column among more channel pairs, and a library whose only such
    layer is a wider stem (IC's 3 -> 16) keeps the code it needs anyway (its flash budget).
    """
    batches, in_h, in_w, in_c = inp.shape
    _, out_h, out_w, out_c = out.shape
    _, k_h, k_w, _ = weights.shape
    stride_h, stride_w = op.options["stride"]
    frame_c, frame_w = frame_channels(in_c), rows_frame_w(out_w, k_w)
    if (in_c not in ROWS_IN_C or (k_h, k_w) not in ROWS_KERNELS or stride_w != 1
            or tuple(op.options["dilation"]) != (1, 1) or out_c % 2 or out_c > ROWS_MAX_OUT_C
            or (act_min, act_max) != (-128, 127) or geometry.pad_left + in_w > frame_w):
        return None
    k = k_h * k_w * in_c
    requant, fast, bias = gemm_requant(requant, bias, k, out.quant.zero_point, act_min, act_max)
    if not fast:
        return None
    return KernelCall(
        kernel="conv2d_rows_s8",
        params={
            "batches": batches,
            "in_h": in_h,
            "in_w": in_w,
            "in_c": in_c,
            "out_h": out_h,
            "out_w": out_w,
            "out_c": out_c,
            "k_h": k_h,
            "k_w": k_w,
            "stride_h": stride_h,
            "pad_top": geometry.pad_top,
            "pad_left": geometry.pad_left,
            "frame_c": frame_c,
            "frame_w": frame_w,
            "input_offset": -inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act_min,
            "act_max": act_max,
        },
        arrays={
            "weights": ConstArray("int32_t", rows_channel_words(weights.data.astype(np.int8), frame_c),
                                  f"'{weights.name}' [{out_c}][{k_h}][{k_w}][{in_c}] as int8, 4 to a word, per "
                                  f"channel pair and kernel row (codegen/ops/gemm.py rows_channel_words)"),
            "bias": ConstArray("int32_t", bias, f"bias [{out_c}]"),
            **requant,
        },
        inputs=(op.inputs[0],),
        outputs=(op.outputs[0],),
        macs=batches * out_h * out_w * out_c * k,
        scratch=rows_scratch(out_c, k_h, frame_w, frame_c),
    )


def gemm_call(op: Op, weights: Tensor, bias: np.ndarray, requant: dict, act_min: int, act_max: int, geometry,
              inp: Tensor, out: Tensor) -> KernelCall:
    """The fast variant for one group: tx_conv2d_gemm_s8 over im2col columns (see its header).

    `requant` is {"requant": records} (optimize=speed: int16 weights) or
    compact_requant's {"mult", "shift"} (optimize=size: int8 weights, w8 = 1).
    """
    batches, in_h, in_w, in_c = inp.shape
    _, out_h, out_w, out_c = out.shape
    _, k_h, k_w, _ = weights.shape
    k = k_h * k_w * in_c
    col_words = padded_length(k) // 2
    stride_h, stride_w = op.options["stride"]
    dil_h, dil_w = op.options["dilation"]
    rows = weights.data.reshape(out_c, k)
    requant, fast, bias = gemm_requant(requant, bias, k, out.quant.zero_point, act_min, act_max)
    bias_array = gemm_bias(bias, rows, -inp.quant.zero_point, requant, f"[{out_c}]")
    # One output pixel per input pixel, in the same order: the output may overwrite read input.
    pointwise = (k_h, k_w, stride_h, stride_w, geometry.pad_top, geometry.pad_left) == (1, 1, 1, 1, 0, 0) and (
        (in_h, in_w) == (out_h, out_w))
    return KernelCall(
        kernel="conv2d_gemm_s8",
        params={
            "batches": batches,
            "in_h": in_h,
            "in_w": in_w,
            "in_c": in_c,
            "out_h": out_h,
            "out_w": out_w,
            "out_c": out_c,
            "k_h": k_h,
            "k_w": k_w,
            "stride_h": stride_h,
            "stride_w": stride_w,
            "dil_h": dil_h,
            "dil_w": dil_w,
            "pad_top": geometry.pad_top,
            "pad_left": geometry.pad_left,
            "col_words": col_words,
            "input_offset": -inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act_min,
            "act_max": act_max,
            **w8_param(requant),
            **fast,
        },
        arrays={
            "weights": gemm_weights(rows, requant, f"'{weights.name}' [{out_c}][{k_h}][{k_w}][{in_c}]"),
            "bias": bias_array,
            **requant,
        },
        inputs=(op.inputs[0],),
        outputs=(op.outputs[0],),
        macs=batches * out_h * out_w * out_c * k,
        scratch=gemm_scratch(col_words, in_c, out_c if "mult" in requant else None),
        inplace=({0: pixelwise_inplace_offset(inp.nbytes, out.nbytes)} if pointwise else {}),
    )


def gemm_bias(bias: np.ndarray, rows: np.ndarray, input_offset: int, requant: dict, shape: str) -> ConstArray:
    """tx_conv2d_gemm_s8's bias array. With int8 weights (size) its columns hold the raw input values, so the
    input offset times each row's weight sum moves into the bias: the accumulator is unchanged, and
    |bias + offset * sum| <= |bias| + K * 128 * 127 stays within check_accumulator's bound."""
    if "mult" not in requant:
        return ConstArray("int32_t", bias, f"bias {shape}")
    folded = bias.astype(np.int64) + input_offset * rows.astype(np.int64).sum(axis=1)
    return ConstArray("int32_t", folded.astype(np.int32),
                      f"bias + input_offset ({input_offset}) * row sums of the weights {shape} (raw columns)")


def gemm_scratch(col_words: int, in_c: int, w8_out_c: int | None = None) -> int:
    """Scratch bytes of tx_conv2d_gemm_s8: a byte gather row when in_c % 4, plus

    - int16 weights (w8_out_c None), TX_CONV2D_GEMM_S8_SCRATCH: two columns of pair words;
    - int8 weights, TX_CONV2D_GEMM_S8_W8_SCRATCH: three columns and w8_out_c 24-byte records.
    """
    gather = 2 * col_words if in_c % 4 else 0
    if w8_out_c is None:
        return 8 * col_words + gather
    return 12 * col_words + gather + 24 * w8_out_c


def w8_param(requant: dict) -> dict:
    """{"w8": 1} for the size layout (compact requantization), nothing for speed (the field defaults to 0)."""
    return {"w8": 1} if "mult" in requant else {}


def gemm_requant(requant: dict, bias: np.ndarray, k: int, z: int, act_min: int, act_max: int):
    """(requant, params, bias) of tx_conv2d_gemm_s8: with_fast_requant, and when that leaves the int8
    path on 64-bit records, gemm.gemm_fast_requant, which may move a channel's bias (step_channel)."""
    requant2, fast = with_fast_requant(requant, max_abs_acc(k, bias))
    if "mult" not in requant or fast:
        return requant2, fast, bias
    step = gemm_fast_requant(requant["mult"].values, requant["shift"].values, bias, k * MAX_TERM, z, act_min,
                             act_max)
    if step is None:
        return requant, {}, bias
    mults, shifts, bias2 = step
    return ({"mult": ConstArray("int32_t", mults, requant["mult"].comment + ", 2^30 on channels whose output "
                                "takes at most two values (gemm.step_channel)"),
             "shift": ConstArray("int8_t", shifts, requant["shift"].comment)}, {"rq_fast": 1}, bias2)


def with_fast_requant(requant: dict, bound: np.ndarray) -> tuple[dict, dict]:
    """(requant, params): the int8 path's mult/shift as gemm.fast_requant rewrites them and
    {"rq_fast": 1} when the kernel may requantize with tx_mr; otherwise both unchanged / empty."""
    if "mult" not in requant:
        return requant, {}
    fast = fast_requant(requant["mult"].values, requant["shift"].values, bound)
    if fast is None:
        return requant, {}
    mults, shifts = fast
    return {"mult": ConstArray("int32_t", mults, requant["mult"].comment + ", 0 where the output is constant"),
            "shift": ConstArray("int8_t", shifts, requant["shift"].comment)}, {"rq_fast": 1}


def gemm_weights(rows: np.ndarray, requant: dict, what: str) -> ConstArray:
    """The GEMM kernels' weight words: int16 pair words (speed) or packed int8 (size), see gemm.py."""
    r, k = rows.shape
    groups = padded_length(k) // 4
    if "mult" in requant:
        return ConstArray("int32_t", packed_channel_words(rows),
                          f"{what} as int8, 4 to a word, channel pairs interleaved [{(r + 1) // 2}][{groups}][2] "
                          "(codegen/ops/gemm.py packed_channel_words)")
    return ConstArray("int32_t", channel_pair_words(rows),
                      f"{what} as int16 pair words, channel pairs interleaved [{(r + 1) // 2}][{groups}][2][2] "
                      "(codegen/ops/gemm.py)")
