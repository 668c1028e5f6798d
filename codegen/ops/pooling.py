"""AVERAGE_POOL_2D and MAX_POOL_2D on int8 NHWC tensors.

TFLM's Prepare (micro/kernels/pooling_common.cc): padding from
ComputePaddingHeightWidth with dilation 1, the activation clamp range, and a
check that input and output share scale (within 1e-6) and zero point: the
kernels never requantize. Windows at the edges of a SAME-padded input are
partial (padding takes no part), so the average divides by the number of
input pixels actually in the window, rounding as TFLM's
reference_integer_ops::AveragePool does.

A 1x1 window that keeps the shape and clamps to all of int8 is the identity
(exit heads of 1-D models have them): one tx_copy_channels_s8 run instead.

Average pooling over channels in multiples of 4 takes the kernel's c4 path
(params c4 = 1): four channels summed at a time, two per SXTAB16.

The C has no division: for each window size n that occurs, this module picks
recip[n] and one shift with q // n == (q * recip[n]) >> shift, and checks it
for every numerator q the kernel can form (0 .. 128*n + n//2) before
emitting the table.

MACs: 0 (no weights; pooling is counted as data movement, like ADD and PAD).
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Op, Tensor
from .base import ConstArray, KernelCall
from .common import int8_activation, op_error
from .concatenation import copy_call
from .conv2d import fused_activation, nhwc
from .windowing import Window, window


def window_sizes(in_size: int, kernel: int, stride: int, pad: int, out: int) -> list[int]:
    """Input pixels covered along one axis by each output position's window."""
    sizes = []
    for o in range(out):
        start = o * stride - pad
        sizes.append(min(start + kernel, in_size) - max(start, 0))
    return sizes


def reciprocal_table(counts: set[int], table_size: int) -> tuple[int, np.ndarray] | None:
    """(shift, recip) such that q // n == (q * recip[n]) >> shift for every n in `counts`
    and every q in [0, 128*n + n//2]; recip has `table_size` uint32 entries (unused ones 0).
    None when no shift below 64 works with 32-bit reciprocals."""
    for shift in range(64):
        table = np.zeros(table_size, dtype=np.uint64)
        for n in sorted(counts):
            m = -(-(1 << shift) // n)  # ceil(2^shift / n)
            if m > 0xFFFFFFFF:
                break
            q = np.arange(128 * n + n // 2 + 1, dtype=np.uint64)
            if not np.array_equal((q * np.uint64(m)) >> np.uint64(shift), q // np.uint64(n)):
                break
            table[n] = m
        else:
            return shift, table.astype(np.uint32)
    return None


def _pool_geometry(graph: Graph, op: Op) -> tuple[Tensor, Tensor, tuple[int, ...], Window, dict]:
    inp = int8_activation(graph, op, op.inputs[0], "input")
    out = int8_activation(graph, op, op.outputs[0], "output")
    batches, in_h, in_w, channels = nhwc(graph, op, inp, "input")
    out_b, out_h, out_w, out_c = nhwc(graph, op, out, "output")
    if (out_b, out_c) != (batches, channels):
        raise op_error(graph, op, f"output {list(out.shape)} does not match input {list(inp.shape)}",
                       "re-export the model")
    if abs(inp.quant.scale - out.quant.scale) > 1e-6 or inp.quant.zero_point != out.quant.zero_point:
        raise op_error(graph, op,
                       f"input (scale {inp.quant.scale:.9g}, zero point {inp.quant.zero_point}) and output "
                       f"(scale {out.quant.scale:.9g}, zero point {out.quant.zero_point}) are quantized "
                       "differently", "TFLM requires equal quantization for pooling; re-quantize the model")
    f_h, f_w = op.options["filter"]
    geometry = window(graph, op, (in_h, in_w), (f_h, f_w), (out_h, out_w))
    act_min, act_max = fused_activation(graph, op, out)
    stride_h, stride_w = op.options["stride"]
    params = {
        "batches": batches,
        "in_h": in_h,
        "in_w": in_w,
        "channels": channels,
        "out_h": out_h,
        "out_w": out_w,
        "f_h": f_h,
        "f_w": f_w,
        "stride_h": stride_h,
        "stride_w": stride_w,
        "pad_top": geometry.pad_top,
        "pad_left": geometry.pad_left,
        "act_min": act_min,
        "act_max": act_max,
    }
    rows = window_sizes(in_h, f_h, stride_h, geometry.pad_top, out_h)
    cols = window_sizes(in_w, f_w, stride_w, geometry.pad_left, out_w)
    if min(rows) < 1 or min(cols) < 1:
        raise op_error(graph, op, "a pooling window lies entirely in the padding",
                       "use a window larger than the stride")
    return inp, out, (rows, cols), geometry, params


def identity_copy(params: dict, source: int, dest: int) -> KernelCall | None:
    """A 1x1 window that keeps the shape, with no clamp narrower than int8, is the identity (every
    window holds one pixel: its average and its maximum are that pixel): one tx_copy_channels_s8 run."""
    same_shape = (params["out_h"], params["out_w"]) == (params["in_h"], params["in_w"])
    if (params["f_h"], params["f_w"]) != (1, 1) or not same_shape or (params["act_min"], params["act_max"]) != (-128, 127):
        return None
    size = params["batches"] * params["in_h"] * params["in_w"] * params["channels"]
    return copy_call(1, size, size, 0, size, 0, source, dest)


def prepare_max(graph: Graph, op: Op) -> list[KernelCall]:
    _, _, _, _, params = _pool_geometry(graph, op)
    copy = identity_copy(params, op.inputs[0], op.outputs[0])
    if copy is not None:
        return [copy]
    return [KernelCall(kernel="maxpool_s8", params=params, inputs=(op.inputs[0],), outputs=(op.outputs[0],))]


def prepare_average(graph: Graph, op: Op) -> list[KernelCall]:
    _, _, (rows, cols), _, params = _pool_geometry(graph, op)
    copy = identity_copy(params, op.inputs[0], op.outputs[0])
    if copy is not None:
        return [copy]
    counts = {r * c for r in set(rows) for c in set(cols)}
    found = reciprocal_table(counts, params["f_h"] * params["f_w"] + 1)
    if found is None:
        raise op_error(graph, op, f"a {params['f_h']}x{params['f_w']} window is too large for the "
                       "exact reciprocal division", "use a smaller pooling window (or MEAN)")
    shift, recip = found
    params["recip_shift"] = shift
    if params["channels"] % 4 == 0:
        params["c4"] = 1  # tx_avgpool_s8's 4-channel path (tx_sum4_s8)
    return [
        KernelCall(
            kernel="avgpool_s8",
            params=params,
            arrays={"recip": ConstArray("uint32_t", recip,
                                        f"recip[n] = ceil(2^{shift} / n) for the window sizes n in "
                                        f"{sorted(counts)}")},
            inputs=(op.inputs[0],),
            outputs=(op.outputs[0],),
        )
    ]
