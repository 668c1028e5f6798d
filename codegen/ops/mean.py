"""MEAN over height and width of an NHWC int8 tensor.

TFLM's prepare (reduce_common.cc) computes QuantizeMultiplier(input_scale /
output_scale) in double. Older TFLM releases then chose among three int8
paths (a 4-D keep_dims kernel that rounds (acc +- n/2) / n, a truncating
sum / n when input and output quantization match, and QuantizedMeanOrSum).
The tflite-micro build tinyexit checks against (0.dev20261023) gives the
QuantizedMeanOrSum result in every case: keep_dims true or false, axes
(1, 2), (2, 1) or (-3, -2), matched or different quantization (measured on
one-op models in tests/test_kernels_fixedpoint.py). That path folds 1/n into
the multiplier once:

    s = min(floor(log2 n), 32, 31 + shift)
    multiplier' = (int64(multiplier) << s) / n        truncating, at generation time
    shift'      = shift - s
    out = clamp(MultiplyByQuantizedMultiplier(sum(x) - input_zp * n, multiplier', shift')
                + output_zp, -128, 127)

so the device (tx_mean_s8) sums, adds a constant and requantizes: no division.
With channels in multiples of 4 (params c4 = 1) it sums four channels at a time, two per
SXTAB16 on DSP cores; with 4 or 8 channels (params packed = 1) a batch is one byte stream whose
byte j belongs to channel j % C, summed 16 bytes per LDM and 8 SXTAB16.
"""

from __future__ import annotations

from ..ir import Graph, Op
from ..quant import quantize_multiplier
from .base import KernelCall
from .common import constant, int8_activation, op_error

PACKED_CHANNELS = (4, 8)  # tx_mean_s8's byte-stream path: channel = byte index % C, C divides 8
MAX_SPATIAL = (1 << 23) - 1  # |sum - zp * n| <= 256 n stays inside int32


def mean_multiplier(input_scale: float, output_scale: float, count: int) -> tuple[int, int]:
    """(multiplier, shift) of QuantizedMeanOrSum with 1/count folded in, bit-exact with TFLM."""
    multiplier, shift = quantize_multiplier(float(input_scale) / float(output_scale))
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << s) // count, shift - s


def prepare(graph: Graph, op: Op) -> list[KernelCall]:
    inp = int8_activation(graph, op, op.inputs[0], "input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    if len(op.inputs) < 2:
        raise op_error(graph, op, "no axes input", "check the model")
    axes_tensor = constant(graph, op, op.inputs[1], "axes", "int32")
    if len(inp.shape) != 4:
        raise op_error(graph, op, f"input shape {list(inp.shape)} is not 4-D NHWC",
                       "tinyexit supports MEAN over height and width of NHWC tensors")
    axes = [int(a) for a in axes_tensor.data.reshape(-1)]
    if any(not -4 <= a < 4 for a in axes) or {a % 4 for a in axes} != {1, 2}:
        raise op_error(graph, op, f"reduction axes {axes}",
                       "tinyexit supports MEAN over height and width only (axes [1, 2])")
    batches, height, width, channels = (int(d) for d in inp.shape)
    count = height * width
    if not 1 <= count <= MAX_SPATIAL:
        raise op_error(graph, op, f"{count} positions per mean", f"tinyexit supports 1..{MAX_SPATIAL}")
    if out.size != batches * channels:
        raise op_error(graph, op, f"output shape {list(out.shape)} does not hold {batches} x {channels} means",
                       "check the model")
    multiplier, shift = mean_multiplier(inp.quant.scale, out.quant.scale, count)
    return [
        KernelCall(
            kernel="mean_s8",
            params={
                "batches": batches,
                "spatial": count,
                "channels": channels,
                "input_offset": -inp.quant.zero_point * count,
                "output_offset": out.quant.zero_point,
                "multiplier": multiplier,
                "shift": shift,
                **({"c4": 1} if channels % 4 == 0 else {}),  # tx_mean_s8's 4-channel path (tx_sum4_s8)
                **({"packed": 1} if channels in PACKED_CHANNELS else {}),  # its byte-stream path
            },
            inputs=(op.inputs[0],),
            outputs=(op.outputs[0],),
        )
    ]
