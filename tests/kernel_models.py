"""Random one-op int8 models for the kernel tests (built with tests/tflite_builder.py).

Scales are drawn so that outputs spread over the int8 range rather than
saturate: the output scale of a convolution follows the spread of its
accumulator, so the requantization, rounding and clamping are all exercised.
"""

from __future__ import annotations

import math

import flatbuffers
import numpy as np
from tflite_builder import (TensorSpec, _tensor, add_options, concat_options, conv2d_options, depthwise_options,
                            one_op_model, pad_options, pool_options, schema, strided_slice_options)


def _out_hw(padding, size, k, stride, dil):
    eff = (k - 1) * dil + 1
    return -(-size // stride) if padding == "SAME" else (size - eff) // stride + 1


def _weights(rng, shape, channels, axis, per_channel):
    w = rng.integers(-128, 128, size=shape).astype(np.int8)
    if per_channel:
        scales = list(rng.uniform(0.002, 0.05, size=channels))
        return w, TensorSpec(shape, scale=scales, zero_point=[0] * channels, axis=axis, data=w)
    return w, TensorSpec(shape, scale=float(rng.uniform(0.002, 0.05)), zero_point=0, data=w)


def conv_model(seed, in_shape=(1, 7, 9, 5), out_c=4, kernel=(3, 3), padding="SAME", stride=(1, 1),
               dilation=(1, 1), activation="NONE", per_channel=True, bias=True, groups=1,
               out_scale_factor=1.0, in_zp=None, bias_values=None, out_zp=None) -> bytes:
    """bias_values: int32 biases to use instead of random ones; out_zp: the output zero point instead of a
    random one."""
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    fic = c // groups
    in_scale, zp = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    in_zp = zp if in_zp is None else in_zp
    wt, w_spec = _weights(rng, (out_c, kernel[0], kernel[1], fic), out_c, 0, per_channel)
    w_scales = np.broadcast_to(np.asarray(w_spec.scale, dtype=np.float64), (out_c,))
    inputs = [TensorSpec(in_shape, scale=in_scale, zero_point=in_zp), w_spec]
    if bias:
        b = rng.integers(-20000, 20000, size=out_c).astype(np.int32)
        b = b if bias_values is None else np.asarray(bias_values, dtype=np.int32)
        inputs.append(TensorSpec((out_c,), dtype="int32", scale=list(in_scale * w_scales),
                                 zero_point=[0] * out_c, data=b))
    terms = kernel[0] * kernel[1] * fic
    out_scale = in_scale * float(np.mean(w_scales)) * 128 * 74 * math.sqrt(terms) / 127 * out_scale_factor
    oh = _out_hw(padding, h, kernel[0], stride[0], dilation[0])
    ow = _out_hw(padding, w, kernel[1], stride[1], dilation[1])
    zp_out = int(rng.integers(-40, 40))
    out = TensorSpec((n, oh, ow, out_c), scale=out_scale, zero_point=zp_out if out_zp is None else out_zp)
    return one_op_model("CONV_2D", inputs, [out], conv2d_options(padding, stride, dilation, activation))


def depthwise_model(seed, in_shape=(1, 7, 9, 5), multiplier=1, kernel=(3, 3), padding="SAME", stride=(1, 1),
                    dilation=(1, 1), activation="NONE", per_channel=True, bias=True, out_scale_factor=1.0,
                    in_zp=None) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    out_c = c * multiplier
    in_scale, zp = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    in_zp = zp if in_zp is None else in_zp
    wt, w_spec = _weights(rng, (1, kernel[0], kernel[1], out_c), out_c, 3, per_channel)
    w_scales = np.broadcast_to(np.asarray(w_spec.scale, dtype=np.float64), (out_c,))
    inputs = [TensorSpec(in_shape, scale=in_scale, zero_point=in_zp), w_spec]
    if bias:
        b = rng.integers(-5000, 5000, size=out_c).astype(np.int32)
        inputs.append(TensorSpec((out_c,), dtype="int32", scale=list(in_scale * w_scales),
                                 zero_point=[0] * out_c, data=b))
    out_scale = (in_scale * float(np.mean(w_scales)) * 128 * 74 * math.sqrt(kernel[0] * kernel[1]) / 127
                 * out_scale_factor)
    oh = _out_hw(padding, h, kernel[0], stride[0], dilation[0])
    ow = _out_hw(padding, w, kernel[1], stride[1], dilation[1])
    out = TensorSpec((n, oh, ow, out_c), scale=out_scale, zero_point=int(rng.integers(-40, 40)))
    return one_op_model("DEPTHWISE_CONV_2D", inputs, [out],
                        depthwise_options(padding, stride, dilation, activation, multiplier))


def pool_model(kind, seed, in_shape=(1, 7, 9, 5), filter=(3, 3), padding="SAME", stride=(2, 2),
               activation="NONE", out_scale=None) -> bytes:
    rng = np.random.default_rng(seed)
    n, h, w, c = in_shape
    scale, zp = float(rng.uniform(0.01, 0.1)), int(rng.integers(-100, 100))
    oh = _out_hw(padding, h, filter[0], stride[0], 1)
    ow = _out_hw(padding, w, filter[1], stride[1], 1)
    return one_op_model(kind, [TensorSpec(in_shape, scale=scale, zero_point=zp)],
                        [TensorSpec((n, oh, ow, c), scale=out_scale or scale, zero_point=zp)],
                        pool_options(padding, stride, filter, activation))


def add_model(seed, shape=(1, 7, 9, 6), scales=(0.05, 0.2, 0.08), zero_points=None, activation="NONE",
              shapes=None) -> bytes:
    rng = np.random.default_rng(seed)
    zps = zero_points or [int(z) for z in rng.integers(-128, 128, size=3)]
    a_shape, b_shape, o_shape = shapes or (shape, shape, shape)
    return one_op_model("ADD", [TensorSpec(a_shape, scale=scales[0], zero_point=zps[0]),
                                TensorSpec(b_shape, scale=scales[1], zero_point=zps[1])],
                        [TensorSpec(o_shape, scale=scales[2], zero_point=zps[2])], add_options(activation))


def concat_model(shapes, axis=-1, scales=None, zero_points=None, out_scale=0.1, out_zp=3) -> bytes:
    scales = scales or [out_scale] * len(shapes)
    zero_points = zero_points or [out_zp] * len(shapes)
    rank = len(shapes[0])
    ax = axis % rank
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    return one_op_model("CONCATENATION",
                        [TensorSpec(s, scale=sc, zero_point=z) for s, sc, z in zip(shapes, scales, zero_points)],
                        [TensorSpec(out_shape, scale=out_scale, zero_point=out_zp)], concat_options(axis))


def pad_model(in_shape, paddings, zero_point=-7, constant=None) -> bytes:
    out_shape = [d + a + b for d, (a, b) in zip(in_shape, paddings)]
    pads = np.array(paddings, dtype=np.int32)
    inputs = [TensorSpec(in_shape, scale=0.05, zero_point=zero_point),
              TensorSpec(pads.shape, dtype="int32", data=pads)]
    kind, options = "PAD", pad_options()
    if constant is not None:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
        kind, options = "PADV2", (schema.BuiltinOptions.PadV2Options, schema.PadV2OptionsT())
        inputs.append(TensorSpec((1,), scale=0.05, zero_point=zero_point, data=np.array([constant], np.int8)))
    return one_op_model(kind, inputs, [TensorSpec(out_shape, scale=0.05, zero_point=zero_point)], options)


def slice_model(in_shape, begin, end, strides=None, out_shape=None, **masks) -> bytes:
    strides = strides or [1] * len(in_shape)
    consts = [np.array(v, dtype=np.int32) for v in (begin, end, strides)]
    inputs = [TensorSpec(in_shape, scale=0.05, zero_point=5)]
    inputs += [TensorSpec(c.shape, dtype="int32", data=c) for c in consts]
    return one_op_model("STRIDED_SLICE", inputs, [TensorSpec(out_shape, scale=0.05, zero_point=5)],
                        strided_slice_options(**masks))


def residual_add_model(seed, in_shape=(1, 6, 8, 8), activation="NONE", out_scale=0.08, out_zp=5) -> bytes:
    """A one-input model with an ADD of two different tensors (a ResNet block's shape): ADD(x, CONV_1x1(x)),
    channels kept, so that the ADD's inputs have their own scales and zero points and its result can run
    on the MCU (the harness feeds one input)."""
    model = schema.ModelT.InitFromPackedBuf(conv_model(seed, in_shape=in_shape, out_c=in_shape[-1], kernel=(1, 1)), 0)
    sub = model.subgraphs[0]
    (x,), (y,) = sub.inputs, sub.outputs
    out = TensorSpec(in_shape, scale=out_scale, zero_point=out_zp)
    sub.tensors.append(_tensor(out, len(sub.tensors), 0))
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
    code.version = 1
    model.operatorCodes.append(code)
    op = schema.OperatorT()
    op.opcodeIndex = len(model.operatorCodes) - 1
    op.inputs, op.outputs = [int(x), int(y)], [len(sub.tensors) - 1]
    op.builtinOptionsType, op.builtinOptions = add_options(activation)
    sub.operators.append(op)
    sub.outputs = [len(sub.tensors) - 1]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
