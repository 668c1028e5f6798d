"""FULLY_CONNECTED: out[b, o] = requantize(sum_i (in[b, i] - in_zp) * w[o, i] + bias[o]).

TFLM's prepare: the effective scale in_scale * w_scale / out_scale is formed
in double from float32 scales, split into a Q31 multiplier and shift, one per
output channel when the weights are quantized per channel.

Variants, all with TFLM's exact sums and MultiplyByQuantizedMultiplier:
- tx_fully_connected_gemv_s8 for one batch row whose depth is a multiple of
  8 (the input zero point folded into the bias; no scratch);
- tx_conv2d_gemm_s8 for several batch rows: FULLY_CONNECTED is a 1x1
  convolution over `batches` pixels;
- tx_fully_connected_s8 (portable reference loops) otherwise, and for
  layers gemm.requant_records cannot serve (a left shift with a large
  accumulator bound).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op
from ..quant import activation_range, quantize_multiplier
from .base import ConstArray, KernelCall
from .common import constant, int8_activation, op_error
from .conv2d import (REQUANT_COMMENT, check_optimize, compact_requant, gemm_bias, gemm_scratch, gemm_weights,
                     max_abs_acc, w8_param, with_fast_requant)
from .gemm import padded_length, pixelwise_inplace_offset, requant_records


def prepare(graph: Graph, op: Op, optimize: str = "speed") -> list[KernelCall]:
    """optimize: "speed" (int16 weights, 6-word records) or "size" (int8 weights, multiplier + shift)."""
    check_optimize(optimize)
    inp = int8_activation(graph, op, op.inputs[0], "input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    weights = constant(graph, op, op.inputs[1], "weights", "int8")
    if op.options.get("weights_format", 0) != 0:
        raise op_error(graph, op, "shuffled weights format", "convert with the default weights format")
    if op.options["activation"] not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise op_error(graph, op, f"fused activation {op.options['activation']} is not supported",
                       "use NONE, RELU, RELU6 or RELU_N1_TO_1")
    units, depth = weights.shape
    if inp.size % depth:
        raise op_error(graph, op, f"input of {inp.size} values does not split into rows of {depth}",
                       "check the model")
    batches = inp.size // depth
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        bias = constant(graph, op, op.inputs[2], "bias", "int32").data.astype(np.int32)
    else:
        bias = np.zeros(units, dtype=np.int32)

    w_scales = weights.quant.scales
    if len(w_scales) not in (1, units):
        raise op_error(graph, op, f"{len(w_scales)} weight scales for {units} units", "check the model")
    multipliers, shifts = [], []
    for s in (w_scales if len(w_scales) > 1 else w_scales[:1]):
        real = float(np.float64(inp.quant.scale) * np.float64(s)) / float(np.float64(out.quant.scale))
        m, sh = quantize_multiplier(real)
        multipliers.append(m)
        shifts.append(sh)
    if len(multipliers) == 1:
        multipliers *= units
        shifts *= units
    act_min, act_max = activation_range(op.options["activation"], out.quant.scale, out.quant.zero_point)
    w_zero_points = set(weights.quant.zero_points)
    if w_zero_points != {0}:
        raise op_error(graph, op, "weights have a non-zero zero point", "quantize weights symmetrically")

    mults = np.array(multipliers, dtype=np.int32)
    shifts = np.array(shifts, dtype=np.int32)
    records = requant_records(mults, shifts, max_abs_acc(depth, bias))
    col_words = padded_length(depth) // 2
    w8 = weights.data.astype(np.int8)
    if records is None:
        return [reference_call(op, inp, out, weights, bias, mults, shifts, act_min, act_max, batches, depth, units)]
    requant = (compact_requant(mults, shifts, units) if optimize == "size" else
               {"requant": ConstArray("int32_t", records, REQUANT_COMMENT.format(channels=units))})
    input_offset = -inp.quant.zero_point
    folded = bias.astype(np.int64) + input_offset * w8.astype(np.int64).sum(axis=1)
    if batches == 1 and depth % 8 == 0 and int(np.abs(folded).max(initial=0)) + depth * 128 * 128 < 2**31:
        return [
            KernelCall(
                kernel="fully_connected_gemv_s8",
                params={
                    "depth": depth,
                    "units": units,
                    "output_offset": out.quant.zero_point,
                    "act_min": act_min,
                    "act_max": act_max,
                    **w8_param(requant),
                },
                arrays={
                    "weights": gemm_weights(w8, requant, f"'{weights.name}' [{units}][{depth}]"),
                    "bias": ConstArray("int32_t", folded.astype(np.int32),
                                       f"bias + input_offset ({input_offset}) * row sums of the weights [{units}]"),
                    **requant,
                },
                inputs=(op.inputs[0],),
                outputs=(op.outputs[0],),
                macs=units * depth,
            )
        ]
    if batches == 1:
        return [reference_call(op, inp, out, weights, bias, mults, shifts, act_min, act_max, batches, depth, units)]
    requant, fast = with_fast_requant(requant, max_abs_acc(depth, bias))
    return [
        KernelCall(
            kernel="conv2d_gemm_s8",
            params={
                "batches": 1,
                "in_h": 1,
                "in_w": batches,
                "in_c": depth,
                "out_h": 1,
                "out_w": batches,
                "out_c": units,
                "k_h": 1,
                "k_w": 1,
                "stride_h": 1,
                "stride_w": 1,
                "dil_h": 1,
                "dil_w": 1,
                "pad_top": 0,
                "pad_left": 0,
                "col_words": col_words,
                "input_offset": -inp.quant.zero_point,
                "output_offset": out.quant.zero_point,
                "act_min": act_min,
                "act_max": act_max,
                **w8_param(requant),
                **fast,
            },
            arrays={
                "weights": gemm_weights(w8, requant, f"'{weights.name}' [{units}][{depth}]"),
                "bias": gemm_bias(bias, w8, -inp.quant.zero_point, requant, f"[{units}]"),
                **requant,
            },
            inputs=(op.inputs[0],),
            outputs=(op.outputs[0],),
            macs=batches * units * depth,
            scratch=gemm_scratch(col_words, depth, units if optimize == "size" else None),
            inplace={0: pixelwise_inplace_offset(inp.nbytes, out.nbytes)},
        )
    ]


def reference_call(op: Op, inp, out, weights, bias, mults, shifts, act_min, act_max, batches, depth, units):
    """tx_fully_connected_s8: the portable reference loops."""
    return KernelCall(
        kernel="fully_connected_s8",
        params={
            "batches": batches,
            "depth": depth,
            "units": units,
            "input_offset": -inp.quant.zero_point,
            "output_offset": out.quant.zero_point,
            "act_min": act_min,
            "act_max": act_max,
        },
        arrays={
            "weights": ConstArray("int8_t", weights.data.astype(np.int8), f"'{weights.name}' [{units}][{depth}]"),
            "bias": ConstArray("int32_t", bias, f"bias [{units}]"),
            "multiplier": ConstArray("int32_t", mults, "per-unit Q31 output multiplier"),
            "shift": ConstArray("int32_t", shifts, "per-unit output shift (> 0: left)"),
        },
        inputs=(op.inputs[0],),
        outputs=(op.outputs[0],),
        macs=batches * units * depth,
    )
