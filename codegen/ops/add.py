"""ADD: element-wise int8 addition of two same-shape tensors with their own scales.

TFLM's Prepare (micro/kernels/add_common.cc CalculateOpDataAdd), exactly:
- left_shift = 20 (int8);
- twice_max_input_scale = 2 * double(max(float s0, float s1)) (the max is
  taken on the float32 scales, the doubling in double);
- input multipliers s_i / twice_max_input_scale and the output multiplier
  twice_max_input_scale / (2^20 * s_out), each in double and split by
  QuantizeMultiplierSmallerThanOneExp (TFLM aborts unless 0 < real < 1;
  tinyexit raises an error instead);
- the activation clamp range from CalculateActivationRangeQuantized.
The kernel (templates/kernels/tx_add_s8.c) is reference_integer_ops::AddFunc
in a loop. Broadcasting is not supported.

MACs: 0 (element-wise; no weights).
"""

from __future__ import annotations

import numpy as np

from ..fixedpoint import multiply_by_quantized_multiplier
from ..ir import Graph, Op
from ..quant import quantize_multiplier
from .base import ConstArray, KernelCall
from .common import int8_activation, op_error
from .conv2d import fused_activation
from .gemm import fast_requant

LEFT_SHIFT = 20


def _smaller_than_one(graph: Graph, op: Op, real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp, with TFLM's checks as errors."""
    if not 0.0 < real < 1.0:
        raise op_error(graph, op, f"the {what} rescale factor {real:.6g} is outside (0, 1)",
                       "check the quantization scales of the ADD's inputs and output")
    multiplier, shift = quantize_multiplier(real)
    if shift > 0:
        raise op_error(graph, op, f"the {what} rescale factor {real:.6g} rounds up to 1",
                       "check the quantization scales of the ADD's inputs and output")
    return multiplier, shift


def _strip_leading_ones(shape: tuple[int, ...]) -> tuple[int, ...]:
    shape = tuple(shape)
    while len(shape) > 1 and shape[0] == 1:
        shape = shape[1:]
    return shape


def prepare(graph: Graph, op: Op) -> list[KernelCall]:
    a = int8_activation(graph, op, op.inputs[0], "first input")
    b = int8_activation(graph, op, op.inputs[1], "second input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    for t in (a, b):
        if t.is_constant:
            raise op_error(graph, op, f"input '{t.name}' is a constant tensor",
                           "tinyexit adds two activations only; fold the constant into a preceding layer")
    shapes = {_strip_leading_ones(t.shape) for t in (a, b, out)}
    if len(shapes) != 1:
        raise op_error(graph, op,
                       f"shapes {list(a.shape)} + {list(b.shape)} -> {list(out.shape)} need broadcasting",
                       "tinyexit supports ADD of same-shape tensors only")
    s0, s1, s_out = a.quant.scale, b.quant.scale, out.quant.scale
    twice_max = 2.0 * float(max(np.float32(s0), np.float32(s1)))
    in0_mult, in0_shift = _smaller_than_one(graph, op, s0 / twice_max, "first input")
    in1_mult, in1_shift = _smaller_than_one(graph, op, s1 / twice_max, "second input")
    out_mult, out_shift = _smaller_than_one(graph, op, twice_max / ((1 << LEFT_SHIFT) * s_out), "output")
    act_min, act_max = fused_activation(graph, op, out)
    t0 = rescale_table(-a.quant.zero_point, in0_mult, in0_shift)
    t1 = rescale_table(-b.quant.zero_point, in1_mult, in1_shift)
    bound = int(np.abs(t0).max() + np.abs(t1).max())
    fast = fast_requant(np.array([out_mult]), np.array([out_shift]), np.array([bound]))
    if fast is not None:
        return [
            KernelCall(
                kernel="add_lut_s8",
                params={
                    "size": out.size,
                    "act_min": act_min,
                    "act_max": act_max,
                },
                arrays={
                    # Doubled (|2t| < 2^29): the kernel's SMMULR takes 2 * acc (tx_mr) without a shift.
                    "in0_table": ConstArray("int32_t", 2 * t0, "twice the first input rescaled, by value + 128 [256]"),
                    "in1_table": ConstArray("int32_t", 2 * t1,
                                            "twice the second input rescaled, by value + 128 [256]"),
                    "requant": ConstArray("int32_t", mr_record(int(fast[0][0]), int(fast[1][0]),
                                                               out.quant.zero_point),
                                          "output requantization {m, c, r} (tx_mr)"),
                },
                inputs=(op.inputs[0], op.inputs[1]),
                outputs=(op.outputs[0],),
                inplace={0: 0, 1: 0},  # element i is read before it is written
            )
        ]
    return [
        KernelCall(
            kernel="add_s8",
            params={
                "size": out.size,
                "in0_offset": -a.quant.zero_point,
                "in1_offset": -b.quant.zero_point,
                "left_shift": LEFT_SHIFT,
                "in0_mult": in0_mult,
                "in0_shift": in0_shift,
                "in1_mult": in1_mult,
                "in1_shift": in1_shift,
                "out_mult": out_mult,
                "out_shift": out_shift,
                "output_offset": out.quant.zero_point,
                "act_min": act_min,
                "act_max": act_max,
            },
            inputs=(op.inputs[0], op.inputs[1]),
            outputs=(op.outputs[0],),
            # Element i is read before it is written: either input may share the output's bytes.
            inplace={0: 0, 1: 0},
        )
    ]


def mr_record(m: int, shift: int, z: int) -> np.ndarray:
    """tx_mr_record's {m, c, r} (tx_common.h): r = -shift (1 for a zero multiplier), c = 2^(r-1) + z * 2^r."""
    r = -shift if shift < 0 else 1
    return np.array([m, (1 << (r - 1)) + z * (1 << r), r], dtype=np.int32)


def rescale_table(input_offset: int, multiplier: int, shift: int) -> np.ndarray:
    """TFLM's rescaled input for every int8 value (index value + 128): tx_add_lut_s8's table.

    MultiplyByQuantizedMultiplier((value + input_offset) * 2^LEFT_SHIFT, multiplier, shift);
    |value + offset| <= 255 and the multiplier is below 1, so every entry is below 2^28.
    """
    return np.array([multiply_by_quantized_multiplier((v + input_offset) * (1 << LEFT_SHIFT), multiplier, shift)
                     for v in range(-128, 128)], dtype=np.int32)
