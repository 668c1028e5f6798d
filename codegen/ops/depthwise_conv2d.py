"""DEPTHWISE_CONV_2D: int8 depthwise convolution, NHWC, with a depth multiplier.

TFLM's Prepare (micro/kernels/depthwise_conv_common.cc) computes the same
things as CONV_2D's (see conv2d.py): padding, per-channel multipliers from
the double input_scale * filter_scale / output_scale, where the weights are
quantized along their last axis, and the activation clamp range. The kernel
(templates/kernels/tx_depthwise_conv2d_s8.c) loops as
reference_integer_ops::DepthwiseConvPerChannel.

MACs: batches * out_h * out_w * out_c * k_h * k_w.

Variants: tx_depthwise_conv2d_3x3_s8 (planar two-output kernel, see
planar_call) for 3x3 kernels with stride 1 or 2 along its lines, one batch
and a requantization tx_mr handles (gemm.fast_requant);
tx_depthwise_conv2d_2x2_s8 (head_2x2_call) for the 2x2 stride-2 layers of
exit heads, on the same conditions;
tx_depthwise_conv2d_c4_s8 (widened row ring, 4 channels at a time,
16x16 MACs) when the depth multiplier is 1, the channels a multiple of 4,
there is no dilation, k_h <= C4_MAX_KH and every channel's requantization
shifts right (gemm.requant_records); tx_depthwise_conv2d_s8 otherwise.
Before all of them: a layer one column wide (input and output width 1, as in
1-D models), one batch, depth multiplier 1, takes tx_depthwise_conv2d_col_s8
(column_call) with the one kernel column that meets the input (single_column);
its MACs stay the model's (k_h * k_w per output).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..ir import Graph, Op
from .base import ConstArray, KernelCall
from .common import int8_activation, op_error
from .conv2d import (REQUANT_COMMENT, bias_values, channel_multipliers, check_accumulator, check_optimize, compact_requant,
                     fused_activation, max_abs_acc, nhwc, symmetric_int8_weights, with_fast_requant)
from .gemm import fast_requant, pair_words, requant_records
from .windowing import window

C4_MAX_KH = 8  # rows[] in tx_depthwise_conv2d_c4_s8.c


def prepare(graph: Graph, op: Op, optimize: str = "speed") -> list[KernelCall]:
    """optimize: "speed" (int16 pair-word weights, 6-word records) or "size" (int8 weights, multiplier + shift)."""
    check_optimize(optimize)
    inp = int8_activation(graph, op, op.inputs[0], "input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    batches, in_h, in_w, in_c = nhwc(graph, op, inp, "input")
    out_b, out_h, out_w, out_c = nhwc(graph, op, out, "output")
    weights = symmetric_int8_weights(graph, op, op.inputs[1], out_c, axis=3)
    one, k_h, k_w, w_out_c = nhwc(graph, op, weights, "weights")
    multiplier = op.options["depth_multiplier"]
    if one != 1 or w_out_c != out_c or out_b != batches or in_c * multiplier != out_c:
        raise op_error(graph, op,
                       f"weights {list(weights.shape)} and depth multiplier {multiplier} do not fit input "
                       f"{list(inp.shape)} and output {list(out.shape)}", "re-export the model")
    geometry = window(graph, op, (in_h, in_w), (k_h, k_w), (out_h, out_w))
    bias = bias_values(graph, op, out_c)
    check_accumulator(graph, op, k_h * k_w, bias)
    mults, shifts = channel_multipliers(inp, weights, out, out_c)
    act_min, act_max = fused_activation(graph, op, out)
    stride_h, stride_w = op.options["stride"]
    dil_h, dil_w = op.options["dilation"]
    records = requant_records(mults, shifts, max_abs_acc(k_h * k_w, bias))
    column = single_column(in_w, out_w, k_w, geometry.pad_left, dil_w)
    if column is not None and batches == 1 and multiplier == 1 and dil_h == 1:
        col = column_call(inp, out, weights.data[:, :, column, :], bias, mults, shifts, stride_h, geometry.pad_top,
                          (act_min, act_max), batches * out_h * out_w * out_c * k_h * k_w)
        if col is not None:
            return [replace(col, inputs=(op.inputs[0],), outputs=(op.outputs[0],))]
    planar = planar_call(inp, out, weights.data, bias, mults, shifts, (stride_h, stride_w), (dil_h, dil_w),
                         multiplier, geometry, (act_min, act_max))
    if planar is None:
        planar = head_2x2_call(inp, out, weights.data, bias, mults, shifts, (stride_h, stride_w), (dil_h, dil_w),
                               multiplier, geometry, (act_min, act_max))
    if planar is not None:
        return [replace(planar, inputs=(op.inputs[0],), outputs=(op.outputs[0],))]
    if multiplier == 1 and in_c % 4 == 0 and (dil_h, dil_w) == (1, 1) and k_h <= C4_MAX_KH and records is not None:
        row_w = (out_w - 1) * stride_w + k_w
        size = optimize == "size"
        requant, fast = with_fast_requant(
            compact_requant(mults, shifts, out_c) if size else
            {"requant": ConstArray("int32_t", records, REQUANT_COMMENT.format(channels=out_c))},
            max_abs_acc(k_h * k_w, bias))
        return [
            KernelCall(
                kernel="depthwise_conv2d_c4_s8",
                params={
                    "batches": batches,
                    "in_h": in_h,
                    "in_w": in_w,
                    "in_c": in_c,
                    "out_h": out_h,
                    "out_w": out_w,
                    "k_h": k_h,
                    "k_w": k_w,
                    "stride_h": stride_h,
                    "stride_w": stride_w,
                    "pad_top": geometry.pad_top,
                    "pad_left": geometry.pad_left,
                    "row_w": row_w,
                    "input_offset": -inp.quant.zero_point,
                    "output_offset": out.quant.zero_point,
                    "act_min": act_min,
                    "act_max": act_max,
                    **({"w8": 1} if size else {}),
                    **fast,  # int8 path: requantize with tx_mr where exact (gemm.fast_requant)
                },
                arrays={
                    "weights": (ConstArray("int32_t", group_major_packed(weights.data, k_h * k_w, out_c),
                                           f"'{weights.name}' [{k_h}][{k_w}][{out_c}] as int8, 4 channels to a "
                                           f"word [{out_c // 4}][{k_h}][{k_w}]") if size else
                                ConstArray("int32_t", group_major_words(weights.data, k_h * k_w, out_c),
                                           f"'{weights.name}' [{k_h}][{k_w}][{out_c}] as int16 pair words "
                                           f"[{out_c // 4}][{k_h}][{k_w}][2] (codegen/ops/gemm.py)")),
                    "bias": ConstArray("int32_t", bias, f"bias [{out_c}]"),
                    **requant,
                },
                inputs=(op.inputs[0],),
                outputs=(op.outputs[0],),
                macs=batches * out_h * out_w * out_c * k_h * k_w,
                # TX_DEPTHWISE_CONV2D_C4_S8_SCRATCH: k_h widened rows, a zero row, k_h row numbers.
                # With w8, TX_DEPTHWISE_CONV2D_C4_S8_W8_EXTRA: one group's widened taps, every record.
                scratch=4 * k_h + 2 * (k_h + 1) * row_w * in_c + ((8 * k_h * k_w + 24 * in_c) if size else 0),
                inplace={0: 0} if rows_widened_before_overwritten(batches, in_h, in_w, out_h, out_w, k_h,
                                                                  stride_h, geometry.pad_top) else {},
            )
        ]
    return [
        KernelCall(
            kernel="depthwise_conv2d_s8",
            params={
                "batches": batches,
                "in_h": in_h,
                "in_w": in_w,
                "in_c": in_c,
                "out_h": out_h,
                "out_w": out_w,
                "depth_multiplier": multiplier,
                "k_h": k_h,
                "k_w": k_w,
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
                                      f"'{weights.name}' [{k_h}][{k_w}][{out_c}]"),
                "bias": ConstArray("int32_t", bias, f"bias [{out_c}]"),
                "out_mult": ConstArray("int32_t", mults, f"per-channel Q31 output multiplier [{out_c}]"),
                "out_shift": ConstArray("int32_t", shifts, f"per-channel output shift (> 0: left) [{out_c}]"),
            },
            inputs=(op.inputs[0],),
            outputs=(op.outputs[0],),
            macs=batches * out_h * out_w * out_c * k_h * k_w,
        )
    ]


def single_column(in_w: int, out_w: int, k_w: int, pad_left: int, dil_w: int) -> int | None:
    """The one kernel column that meets the input when input and output are one column wide (a 1-D
    model's k x k layer with SAME padding, or a k x 1 one): tap kx reads input column
    kx * dil_w - pad_left, so only kx = pad_left / dil_w is inside; the others read padding, which TFLM
    skips. None otherwise."""
    if in_w != 1 or out_w != 1 or pad_left % dil_w or pad_left // dil_w >= k_w:
        return None
    return pad_left // dil_w


def column_call(inp, out, weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
                stride: int, pad_top: int, act: tuple[int, int], macs: int) -> KernelCall | None:
    """The tx_depthwise_conv2d_col_s8 call (inputs/outputs left to the caller) for a layer one column
    wide, from its one live kernel column `weights` [1][k_h][channels], or None when the requantization
    is not in tx_mr's form or the folded accumulator could leave int32. `macs`: the model's count
    (k_h * k_w per output, as TFLM's layer)."""
    _, in_h, _, channels = (int(d) for d in inp.shape)
    _, out_h, _, _ = (int(d) for d in out.shape)
    k_h = int(weights.shape[1])
    fast = fast_requant(mults, shifts, max_abs_acc(k_h, bias))
    bias2 = folded_bias2(inp, weights, bias, k_h)
    if fast is None or bias2 is None:
        return None
    m, sh = fast
    doubled = 2 * weights.reshape(k_h, channels).T.astype(np.int16)  # [channels][k_h]
    return KernelCall(
        kernel="depthwise_conv2d_col_s8",
        params={
            "in_h": in_h,
            "out_h": out_h,
            "channels": channels,
            "k_h": k_h,
            "stride": stride,
            "pad_top": pad_top,
            "input_zp": inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act[0],
            "act_max": act[1],
        },
        arrays={
            "weights": ConstArray("int16_t", doubled.reshape(-1), f"2 * weights [{channels}][{k_h}] (the live column)"),
            "bias2": ConstArray("int32_t", bias2.astype(np.int32),
                                f"2 * (bias + input_offset * sum of weights) [{channels}]"),
            "mult": ConstArray("int32_t", m, f"per-channel Q31 output multiplier [{channels}], 0: constant output"),
            "shift": ConstArray("int8_t", sh, f"per-channel output shift, < 0 [{channels}]"),
        },
        macs=macs,
    )


def group_major_words(weights: np.ndarray, taps: int, channels: int) -> np.ndarray:
    """[taps][channels] int8 -> pair words [channels / 4][taps][2] (tx_depthwise_conv2d_c4_s8.h)."""
    words = pair_words(weights.reshape(taps, channels), 4)  # [taps][channels / 2]
    return np.ascontiguousarray(words.reshape(taps, channels // 4, 2).transpose(1, 0, 2)).reshape(-1)


def rows_widened_before_overwritten(batches: int, in_h: int, in_w: int, out_h: int, out_w: int, k_h: int,
                                    stride_h: int, pad_top: int) -> bool:
    """Whether tx_depthwise_conv2d_c4_s8 may write its output over its input (same offset).

    It writes output row y after widening every input row up to
    y * stride_h - pad_top + k_h - 1 into its ring; rows it still needs later
    are either in the ring already or not yet reached. So the output may
    overwrite the input if output rows 0..y (ending at (y+1) * out_w) never
    reach an input row that is not yet widened (from row
    y * stride_h - pad_top + k_h on, at in_w bytes per pixel row).
    """
    if batches != 1:
        return False
    for y in range(out_h):
        next_row = y * stride_h - pad_top + k_h
        if next_row < in_h and (y + 1) * out_w > next_row * in_w:
            return False
    return True


def group_major_packed(weights: np.ndarray, taps: int, channels: int) -> np.ndarray:
    """[taps][channels] int8 -> words [channels / 4][taps], channels 4g..4g+3 as little-endian bytes (optimize=size).

    SXTB16 of a word gives (c0, c2) and SXTB16 ROR #8 gives (c1, c3): group_major_words' two pair words.
    """
    b = weights.reshape(taps, channels // 4, 4).astype(np.int8).view(np.uint8).astype(np.uint32)
    words = b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16 | b[..., 3] << 24  # [taps][groups]
    return np.ascontiguousarray(words.T).reshape(-1).view(np.int32)


# |raw int8 input * 2 * weight| <= 128 * 254: tx_depthwise_conv2d_3x3_s8 accumulates 2 * acc from raw inputs.
PLANAR_TERM = 128 * 254


def planar_call(inp, out, weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
                stride: tuple[int, int], dilation: tuple[int, int], multiplier: int, geometry,
                act: tuple[int, int]) -> KernelCall | None:
    """The tx_depthwise_conv2d_3x3_s8 call for this layer (inputs/outputs left to the caller), or None.

    The kernel walks output rows, or output columns when there are more rows than columns (its
    lines are then longer); stride 1 or 2 along a line. The input offset is folded into the bias:
    bias2 = 2 * (bias + input_offset * sum of the channel's weights) and the kernel multiplies raw
    int8 inputs (padding = the zero point) by doubled weights, so that its accumulator is 2 * acc.
    """
    batches, in_h, in_w, channels = (int(d) for d in inp.shape)
    _, out_h, out_w, _ = (int(d) for d in out.shape)
    _, k_h, k_w, _ = weights.shape
    if (batches != 1 or multiplier != 1 or channels % 4 or (k_h, k_w) != (3, 3) or dilation != (1, 1)):
        return None
    columns = out_h > out_w
    stride_line, stride_pix = (stride[1], stride[0]) if columns else stride
    if stride_pix not in (1, 2):
        return None
    taps = 9
    fast = fast_requant(mults, shifts, max_abs_acc(taps, bias))
    if fast is None:
        return None
    m, sh = fast
    w = weights.reshape(3, 3, channels).astype(np.int64)  # [ky][kx][c]
    input_offset = -inp.quant.zero_point
    bias2 = 2 * (bias.astype(np.int64) + input_offset * w.sum(axis=(0, 1)))
    if int(np.abs(bias2).max(initial=0)) + taps * PLANAR_TERM >= 2**31:
        return None
    ordered = w.transpose(2, 1, 0) if columns else w.transpose(2, 0, 1)  # [c][line tap][pixel tap]
    lines, length = (out_w, out_h) if columns else (out_h, out_w)
    words = stride_pix * ((length + 1) // 2) + 1  # TX_DW3_WORDS
    row_bytes = in_w * channels
    in_len, pad_pix = (in_h, geometry.pad_top) if columns else (in_w, geometry.pad_left)
    j0 = min(words, (pad_pix + 1) // 2)  # word j holds pixels 2j - pad_pix and 2j - pad_pix + 1
    j1 = max(j0, min(words, (in_len + pad_pix) // 2))
    params = {
        "lines": lines,
        "len": length,
        "in_lines": in_w if columns else in_h,
        "in_len": in_h if columns else in_w,
        "in_line_step": channels if columns else row_bytes,
        "in_pix_step": row_bytes if columns else channels,
        "out_line_step": channels if columns else out_w * channels,
        "out_pix_step": out_w * channels if columns else channels,
        "stride_line": stride_line,
        "stride_pix": stride_pix,
        "pad_line": geometry.pad_left if columns else geometry.pad_top,
        "pad_pix": geometry.pad_top if columns else geometry.pad_left,
        "channels": channels,
        "words": words,
        "j0": j0,
        "j1": j1,
        "input_zp": inp.quant.zero_point,
        "output_offset": out.quant.zero_point,
        "act_min": act[0],
        "act_max": act[1],
    }
    if columns:
        inplace = (in_h, in_w) == (out_h, out_w) and stride == (1, 1)
    else:
        inplace = rows_widened_before_overwritten(1, in_h, in_w, out_h, out_w, 3, stride[0], geometry.pad_top)
    return KernelCall(
        kernel="depthwise_conv2d_3x3_s8",
        params=params,
        arrays={
            "weights": ConstArray("int8_t", ordered.reshape(-1).astype(np.int8),
                                  f"weights [{channels}][3][3], {'columns' if columns else 'rows'} first"),
            "bias2": ConstArray("int32_t", bias2.astype(np.int32),
                                f"2 * (bias + input_offset * sum of weights) [{channels}]"),
            "mult": ConstArray("int32_t", m, f"per-channel Q31 output multiplier [{channels}], 0: constant output"),
            "shift": ConstArray("int8_t", sh, f"per-channel output shift, in [-22, -1] [{channels}]"),
        },
        macs=out_h * out_w * channels * taps,
        # TX_DEPTHWISE_CONV2D_3X3_S8_SCRATCH: the ring, the records, the slot tags.
        scratch=48 * words + 768 + 12,
        inplace={0: 0} if inplace else {},
    )


def folded_bias2(inp, weights: np.ndarray, bias: np.ndarray, taps: int) -> np.ndarray | None:
    """2 * (bias + input_offset * sum of each channel's weights), or None when a partial sum of raw int8
    inputs times doubled weights could leave int32 (the fast depthwise kernels' accumulators)."""
    w = weights.reshape(taps, -1).astype(np.int64)
    bias2 = 2 * (bias.astype(np.int64) - inp.quant.zero_point * w.sum(axis=0))
    if int(np.abs(bias2).max(initial=0)) + taps * PLANAR_TERM >= 2**31:
        return None
    return bias2


def head_2x2_call(inp, out, weights: np.ndarray, bias: np.ndarray, mults: np.ndarray, shifts: np.ndarray,
                  stride: tuple[int, int], dilation: tuple[int, int], multiplier: int, geometry,
                  act: tuple[int, int]) -> KernelCall | None:
    """The tx_depthwise_conv2d_2x2_s8 call (inputs/outputs left to the caller) for a 2x2 stride-2
    layer with no padding before the first row and column, one batch, channels in fours, or None."""
    batches, in_h, in_w, channels = (int(d) for d in inp.shape)
    _, out_h, out_w, _ = (int(d) for d in out.shape)
    _, k_h, k_w, _ = weights.shape
    if (batches != 1 or multiplier != 1 or channels % 4 or (k_h, k_w) != (2, 2) or stride != (2, 2)
            or dilation != (1, 1) or (geometry.pad_top, geometry.pad_left) != (0, 0)):
        return None
    fast = fast_requant(mults, shifts, max_abs_acc(4, bias))
    bias2 = folded_bias2(inp, weights, bias, 4)
    if fast is None or bias2 is None:
        return None
    m, sh = fast
    grouped = weights.reshape(4, channels // 4, 4).transpose(1, 0, 2)  # [group][tap (ky, kx)][4 channels]
    return KernelCall(
        kernel="depthwise_conv2d_2x2_s8",
        params={
            "in_h": in_h,
            "in_w": in_w,
            "channels": channels,
            "out_h": out_h,
            "out_w": out_w,
            "input_zp": inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act[0],
            "act_max": act[1],
        },
        arrays={
            "weights": ConstArray("int8_t", np.ascontiguousarray(grouped).reshape(-1).astype(np.int8),
                                  f"weights [{channels // 4}][2x2 taps][4 channels]"),
            "bias2": ConstArray("int32_t", bias2.astype(np.int32),
                                f"2 * (bias + input_offset * sum of weights) [{channels}]"),
            "mult": ConstArray("int32_t", m, f"per-channel Q31 output multiplier [{channels}], 0: constant output"),
            "shift": ConstArray("int8_t", sh, f"per-channel output shift, in [-22, -1] [{channels}]"),
        },
        macs=out_h * out_w * channels * 4,
        scratch=120,  # TX_DEPTHWISE_CONV2D_2X2_S8_SCRATCH: the group record, one window's padded taps
        # Output pixel (y, x) is written after the window's input pixels, which lie at or after it
        # (2y * in_w + 2x >= y * out_w + x): the output may overwrite the input.
        inplace={0: 0},
    )
