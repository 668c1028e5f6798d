"""SOFTMAX, LOGISTIC, MEAN, QUANTIZE, DEQUANTIZE: prepare + C kernels vs TFLM, byte for byte.

The kernels are compiled once into a shared library and called through
ctypes, so each case costs one TFLM invoke on a batch of rows plus one C
call: many scales, zero points and shapes run in a few seconds. The one-op
models are written with the flatbuffer object API (no TensorFlow).

Also checked: the Python emulation of gemmlowp's fixed-point primitives
(codegen/fixedpoint.py) against the C helpers in tx_common.h, and the
one-line errors of each prepare function.
"""

from __future__ import annotations

import ctypes
import subprocess

import flatbuffers
import numpy as np
import pytest
from tflite_micro import runtime
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from tinyexit.codegen import fixedpoint as fx
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.ops import logistic, mean, quantize, softmax
from tinyexit.codegen.paths import TEMPLATES_DIR
from tinyexit.codegen.reader import parse_model

KERNELS = TEMPLATES_DIR / "kernels"
SOURCES = ["softmax_s8", "lut_s8", "mean_s8", "quantize_s8", "quantize_f32_s8", "dequantize_s8"]
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]

# Exposes the static inline helpers of tx_common.h to ctypes.
SHIM = r"""
#include "tx_common.h"
int32_t shim_srdhm(int32_t a, int32_t b) { return tx_sat_rounding_doubling_high_mul(a, b); }
int32_t shim_rdbpot(int32_t x, int32_t e) { return tx_rounding_divide_by_pot(x, e); }
int32_t shim_requantize(int32_t x, int32_t m, int32_t s) { return tx_requantize(x, m, s); }
int32_t shim_sat_left_shift(int32_t x, int32_t e) { return tx_saturating_left_shift(x, e); }
int32_t shim_rounding_half_sum(int32_t a, int32_t b) { return tx_rounding_half_sum(a, b); }
int32_t shim_one_over_one_plus_x(int32_t a) { return tx_one_over_one_plus_x(a); }
"""

I32 = ctypes.c_int32
P_I32 = ctypes.POINTER(ctypes.c_int32)
P_I8 = ctypes.POINTER(ctypes.c_int8)


class SoftmaxParams(ctypes.Structure):
    _fields_ = [("rows", I32), ("depth", I32), ("exp_table", P_I32)]


class LutParams(ctypes.Structure):
    _fields_ = [("count", I32), ("table", P_I8)]


class MeanParams(ctypes.Structure):
    _fields_ = [(n, I32) for n in ("batches", "spatial", "channels", "input_offset", "output_offset",
                                    "multiplier", "shift", "c4", "packed")]


class QuantizeParams(ctypes.Structure):
    _fields_ = [(n, I32) for n in ("count", "input_zero_point", "output_zero_point", "multiplier", "shift")]


class FloatBoundaryParams(ctypes.Structure):  # tx_quantize_f32_s8_params and tx_dequantize_s8_params
    _fields_ = [("count", I32), ("zero_point", I32), ("scale_bits", ctypes.c_uint32)]


@pytest.fixture(scope="session")
def lib(tmp_path_factory):
    work = tmp_path_factory.mktemp("fixedpoint_kernels")
    (work / "shim.c").write_text(SHIM)
    so = work / "kernels.so"
    cmd = ["gcc", *CFLAGS, f"-I{KERNELS}", str(work / "shim.c"),
           *[str(KERNELS / f"tx_{k}.c") for k in SOURCES], "-o", str(so)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return ctypes.CDLL(str(so))


def _ptr(array: np.ndarray, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def call(lib, kernel: str, params, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x)
    getattr(lib, f"tx_{kernel}")(ctypes.byref(params), _ptr(x, ctypes.c_int8), _ptr(out, ctypes.c_int8))
    return out


# ---------------------------------------------------------------------------
# one-op models and TFLM

_TYPES = {"float32": 0, "int32": 2, "int8": 9}


def _tensor(name, shape, dtype, scale=None, zero_point=0, buffer=0):
    t = schema.TensorT()
    t.name, t.shape, t.type, t.buffer = name, list(shape), _TYPES[dtype], buffer
    if scale is not None:
        q = schema.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(np.float32(scale))], [int(zero_point)]
        t.quantization = q
    return t


def one_op(kind: str, x, y, options=None, axes=None) -> bytes:
    """A model running op `kind` on input tensor x into y; axes become a constant second input."""
    buffers, tensors = [schema.BufferT()], [x]
    if axes is not None:
        b = schema.BufferT()
        b.data = list(np.asarray(axes, dtype="<i4").tobytes())
        buffers.append(b)
        tensors.append(_tensor("axes", [len(axes)], "int32", buffer=1))
    tensors.append(y)
    code = schema.OperatorCodeT()
    code.builtinCode = getattr(schema.BuiltinOperator, kind)
    code.deprecatedBuiltinCode, code.version = min(code.builtinCode, 127), 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, list(range(len(tensors) - 1)), [len(tensors) - 1]
    if options is not None:
        op.builtinOptionsType, op.builtinOptions = options
    sub = schema.SubGraphT()
    sub.tensors, sub.operators, sub.inputs, sub.outputs = tensors, [op], [0], [len(tensors) - 1]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs, model.buffers = 3, [code], [sub], buffers
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def tflm(model: bytes, x: np.ndarray) -> np.ndarray:
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=max(1 << 16, 8 * x.nbytes))
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return np.array(interpreter.get_output(0))


def prepared(model: bytes, prepare):
    graph = parse_model(model, source="one_op.tflite")
    (kernel_call,) = prepare(graph, graph.ops[0])
    return kernel_call


def softmax_model(shape, scale, zero_point, beta=1.0, out_scale=1 / 256, out_zero_point=-128) -> bytes:
    o = schema.SoftmaxOptionsT()
    o.beta = beta
    return one_op("SOFTMAX", _tensor("x", shape, "int8", scale, zero_point),
                  _tensor("y", shape, "int8", out_scale, out_zero_point), (schema.BuiltinOptions.SoftmaxOptions, o))


def mean_model(shape, axes, keep_dims, in_q, out_q) -> bytes:
    o = schema.ReducerOptionsT()
    o.keepDims = keep_dims
    reduced = {a % len(shape) for a in axes}
    out_shape = [1 if i in reduced else d for i, d in enumerate(shape) if keep_dims or i not in reduced]
    return one_op("MEAN", _tensor("x", shape, "int8", *in_q), _tensor("y", out_shape, "int8", *out_q),
                  (schema.BuiltinOptions.ReducerOptions, o), axes=axes)


# ---------------------------------------------------------------------------
# fixed-point primitives: Python emulation == C helpers

EDGES = [0, 1, -1, 2, -2, 3, (1 << 30), -(1 << 30), (1 << 30) - 1, fx.INT32_MAX, fx.INT32_MIN, fx.INT32_MIN + 1]


def _samples(rng, n):
    return [int(v) for v in rng.integers(fx.INT32_MIN, fx.INT32_MAX, n, endpoint=True)] + EDGES


def test_fixedpoint_primitives_match_c_helpers(lib):
    for name in ("shim_srdhm", "shim_rdbpot", "shim_requantize", "shim_sat_left_shift",
                 "shim_rounding_half_sum", "shim_one_over_one_plus_x"):
        getattr(lib, name).restype = I32
    rng = np.random.default_rng(0)
    xs, ys = _samples(rng, 3000), _samples(rng, 3000)
    for a, b in zip(xs, ys):
        assert lib.shim_srdhm(a, b) == fx.saturating_rounding_doubling_high_mul(a, b), (a, b)
        assert lib.shim_rounding_half_sum(a, b) == fx.rounding_half_sum(a, b), (a, b)
    assert lib.shim_srdhm(fx.INT32_MIN, fx.INT32_MIN) == fx.INT32_MAX
    for a in xs:
        for e in (0, 1, 5, 12, 23, 30, 31):
            assert lib.shim_rdbpot(a, e) == fx.rounding_divide_by_pot(a, e), (a, e)
        for e in (1, 2, 7, 30):
            assert lib.shim_sat_left_shift(a, e) == fx.saturating_rounding_multiply_by_pot(a, e), (a, e)
        m, s = int(rng.integers(1 << 30, 1 << 31)), int(rng.integers(-31, 8))
        assert lib.shim_requantize(a, m, s) == fx.multiply_by_quantized_multiplier(a, m, s), (a, m, s)
    for a in [abs(v) & fx.INT32_MAX for v in xs]:  # x in [0, 1) as Q0.31
        assert lib.shim_one_over_one_plus_x(a) == fx.one_over_one_plus_x_for_x_in_0_1(a), a


def test_fixedpoint_known_values():
    assert fx.exp_on_negative_values(0, 5) == fx.INT32_MAX  # exp(0) = 1
    for x in (-0.1, -1.0, -3.7, -10.0):  # within ~1e-6 of exp (gemmlowp's own tolerance is looser)
        raw = fx.exp_on_negative_values(round(x * (1 << 26)), 5)
        assert abs(raw / 2**31 - np.exp(x)) < 2e-6
    assert fx.logistic(0, 4) == 1 << 30
    assert abs(fx.logistic(1 << 27, 4) / 2**31 - 1 / (1 + np.exp(-1.0))) < 2e-6
    recip, bits = fx.get_reciprocal(3 << 19, 12)  # 1 / 3.0 = 0.666.. * 2^-1
    assert bits == 1 and abs(recip / 2**31 - 2 / 3) < 1e-8


# ---------------------------------------------------------------------------
# SOFTMAX

SOFTMAX_CASES = [  # (input scale, input zero point, beta, depth)
    (0.05, 0, 1.0, 10), (0.0625, -3, 1.0, 12), (0.1, 5, 1.0, 2), (0.17, -20, 1.0, 37),
    (0.25, 11, 1.0, 10), (0.33, 0, 1.0, 100), (0.5, -128, 1.0, 12), (0.0039, 0, 1.0, 10),
    (0.012, 7, 1.0, 300), (1.3, 0, 1.0, 10), (3.0, 2, 1.0, 5), (0.1, 0, 0.5, 12),
    (0.2, 0, 2.0, 12), (0.08, 0, 1.0, 1), (0.4, 3, 1.0, 511),
]


def softmax_rows(rng, rows, depth):
    x = rng.integers(-128, 128, (rows, depth)).astype(np.int8)
    x[: rows // 4] = np.clip(rng.normal(0, 6, (rows // 4, depth)), -128, 127).astype(np.int8)  # close logits
    x[rows // 4] = -128
    x[rows // 4 + 1] = 127
    x[rows // 4 + 2] = rng.integers(-128, 128)  # a row of equal values
    x[rows // 4 + 3, :] = -128
    x[rows // 4 + 3, 0] = 127  # one clear winner, the rest far below diff_min
    return x


@pytest.mark.parametrize("scale,zero_point,beta,depth", SOFTMAX_CASES)
def test_softmax_matches_tflm(lib, scale, zero_point, beta, depth):
    rows = 200
    model = softmax_model([rows, depth], scale, zero_point, beta)
    x = softmax_rows(np.random.default_rng(depth), rows, depth)
    expected = tflm(model, x)
    kc = prepared(model, softmax.prepare)
    assert kc.kernel == "softmax_s8" and kc.params == {"rows": rows, "depth": depth} and kc.macs == 0
    table = np.ascontiguousarray(kc.arrays["exp_table"].values, dtype=np.int32)
    params = SoftmaxParams(rows, depth, _ptr(table, ctypes.c_int32))
    got = call(lib, "softmax_s8", params, x, np.zeros_like(x))
    bad = np.argwhere(got != expected)
    assert bad.size == 0, f"{len(bad)} differ, first at {tuple(bad[0])}: {got[tuple(bad[0])]} vs TFLM {expected[tuple(bad[0])]}"


def test_softmax_prepare_matches_tflm_constants():
    # TFLM's CalculateSoftmaxParams for scale 0.1, beta 1: 0.1 * 2^26 -> multiplier/shift, diff_min.
    m, s, diff_min = softmax.softmax_scaling(0.1, 1.0)
    assert (m, s) == (1717986918, 23) and diff_min == -fx.calculate_input_radius(5, 23) == -248
    table = softmax.exp_table(0.1, 1.0)
    assert table[0] == fx.INT32_MAX and (table[249:] == 0).all()  # differences below diff_min are skipped
    d = np.arange(249)
    assert np.abs(table[:249] / 2**31 - np.exp(-0.1 * d)).max() < 2e-6


# ---------------------------------------------------------------------------
# LOGISTIC

LOGISTIC_SCALES = [0.0001, 0.0039, 0.012, 0.03125, 0.05, 0.0625, 0.1, 0.17, 0.25, 0.33, 0.5, 1.3, 3.0, 20.0]


@pytest.mark.parametrize("scale", LOGISTIC_SCALES)
def test_logistic_matches_tflm_for_every_code(lib, scale):
    codes = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for zero_point in (-128, -37, 0, 5, 127):
        model = one_op("LOGISTIC", _tensor("x", [1, 256], "int8", scale, zero_point),
                       _tensor("y", [1, 256], "int8", 1 / 256, -128))
        expected = tflm(model, codes)
        kc = prepared(model, logistic.prepare)
        assert kc.kernel == "lut_s8" and kc.params == {"count": 256}
        table = np.ascontiguousarray(kc.arrays["table"].values, dtype=np.int8)
        got = call(lib, "lut_s8", LutParams(256, _ptr(table, ctypes.c_int8)), codes, np.zeros_like(codes))
        assert np.array_equal(got, expected), (zero_point, np.argwhere(got != expected)[:5])


# ---------------------------------------------------------------------------
# MEAN

MEAN_SHAPES = [(1, 5, 5, 8), (1, 3, 7, 4), (2, 4, 4, 3), (1, 1, 1, 6), (1, 12, 5, 3), (1, 49, 1, 5), (1, 16, 16, 2),
               (1, 16, 17, 4),  # c4 with more than 255 positions (tx_sum4_s8 sums 255 at a time)
               (1, 4, 4, 12), (1, 16, 17, 8)]  # c4 only; packed over 128 16-byte chunks, 8 bytes left


def test_mean_takes_the_c4_path_for_channels_in_fours():
    for shape, c4, packed in (((1, 5, 5, 8), 1, 1), ((1, 16, 17, 4), 1, 1), ((1, 4, 4, 12), 1, 0),
                              ((1, 4, 4, 16), 1, 0), ((1, 3, 3, 6), 0, 0), ((1, 3, 3, 2), 0, 0)):
        kc = prepared(mean_model(shape, (1, 2), True, (0.1, 3), (0.1, 3)), mean.prepare)
        assert (kc.params.get("c4", 0), kc.params.get("packed", 0)) == (c4, packed), shape


@pytest.mark.parametrize("shape", MEAN_SHAPES)
def test_mean_matches_tflm(lib, shape):
    """keep_dims true/false, axes (1, 2) / (2, 1) / (-3, -2), matched and different quantization."""
    rng = np.random.default_rng(sum(shape))
    samples = 24
    for axes in ((1, 2), (2, 1), (-3, -2)):
        for keep_dims in (True, False):
            for matched in (True, False):
                in_q = (float(rng.uniform(0.01, 0.5)), int(rng.integers(-128, 128)))
                out_q = in_q if matched else (in_q[0] * float(rng.uniform(0.2, 3)), int(rng.integers(-128, 128)))
                batch_shape = (samples * shape[0],) + shape[1:]
                model = mean_model(batch_shape, axes, keep_dims, in_q, out_q)
                x = rng.integers(-128, 128, batch_shape).astype(np.int8)
                x[:2] = rng.integers(-128, -120, (2,) + shape[1:])  # sums near the int8 edge
                x[2], x[3] = -128, 127
                expected = tflm(model, x)
                kc = prepared(model, mean.prepare)
                params = MeanParams(**kc.params)
                got = call(lib, "mean_s8", params, x, np.zeros(expected.size, dtype=np.int8))
                assert np.array_equal(got, expected.reshape(-1)), (axes, keep_dims, matched, in_q, out_q)


@pytest.mark.parametrize("ratio", [2.0**-29, 1e-3, 0.37, 1.0, 3.3, 250.0])
def test_mean_extreme_scale_ratios_and_sizes(lib, ratio):
    """The 31 + shift clamp on the folded shift, and a large spatial size."""
    rng = np.random.default_rng(7)
    for shape in ((1, 2, 3, 4), (1, 48, 48, 2)):
        model = mean_model(shape, (1, 2), True, (0.05, 3), (0.05 / ratio, -7))
        x = rng.integers(-128, 128, (1,) + shape[1:]).astype(np.int8)
        x[..., 0] = 127
        expected = tflm(model, x)
        params = MeanParams(**prepared(model, mean.prepare).params)
        got = call(lib, "mean_s8", params, x, np.zeros(expected.size, dtype=np.int8))
        assert np.array_equal(got, expected.reshape(-1))


# ---------------------------------------------------------------------------
# QUANTIZE / DEQUANTIZE

@pytest.mark.parametrize("scale,zero_point", [(0.1, 0), (1 / 255, -128), (0.02, -1), (1 / 128, 17), (0.5, 127),
                                              (0.003, 5)])
def test_quantize_float_matches_tflm(lib, scale, zero_point):
    rng = np.random.default_rng(int(zero_point) + 200)
    halves = ((rng.integers(-300, 300, 400) + 0.5) * np.float32(scale)).astype(np.float32)
    x = np.concatenate([rng.normal(0, 0.7, 2000).astype(np.float32), halves,
                        np.array([0.0, -0.0, 1e30, -1e30, 3e9, -3e9, 1e6, -1e6, 1e-30, 300.0, -300.0,
                                  np.inf, -np.inf, np.nan], np.float32)])
    x = x.reshape(1, -1)
    model = one_op("QUANTIZE", _tensor("x", x.shape, "float32"), _tensor("y", x.shape, "int8", scale, zero_point))
    expected = tflm(model, x)
    kc = prepared(model, quantize.prepare)
    assert kc.kernel == "quantize_f32_s8"
    got = call(lib, "quantize_f32_s8", FloatBoundaryParams(**kc.params), x.view(np.int8), np.zeros(x.shape, np.int8))
    bad = np.argwhere(got != expected)
    assert bad.size == 0, f"{len(bad)} differ, first input {x[tuple(bad[0])]!r}: {got[tuple(bad[0])]} vs {expected[tuple(bad[0])]}"


def test_requantize_int8_matches_tflm_for_every_code(lib):
    rng = np.random.default_rng(3)
    codes = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for _ in range(40):
        in_q = (float(rng.uniform(0.001, 1)), int(rng.integers(-128, 128)))
        factor = 1.0 if rng.random() < 0.2 else float(rng.uniform(0.05, 20))
        out_q = (in_q[0] * factor, int(rng.integers(-128, 128)))
        model = one_op("QUANTIZE", _tensor("x", [1, 256], "int8", *in_q), _tensor("y", [1, 256], "int8", *out_q))
        expected = tflm(model, codes)
        kc = prepared(model, quantize.prepare)
        assert kc.kernel == "quantize_s8"
        got = call(lib, "quantize_s8", QuantizeParams(**kc.params), codes, np.zeros_like(codes))
        assert np.array_equal(got, expected), (in_q, out_q)


def test_dequantize_matches_tflm_for_every_code(lib):
    rng = np.random.default_rng(4)
    codes = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    for _ in range(20):
        scale, zero_point = float(rng.uniform(1e-4, 3)), int(rng.integers(-128, 128))
        model = one_op("DEQUANTIZE", _tensor("x", [1, 256], "int8", scale, zero_point), _tensor("y", [1, 256], "float32"))
        expected = tflm(model, codes)
        kc = prepared(model, quantize.prepare_dequantize)
        out = np.zeros((1, 256), np.float32)
        call(lib, "dequantize_s8", FloatBoundaryParams(**kc.params), codes, out.view(np.int8))
        assert out.tobytes() == expected.astype(np.float32).tobytes()


# ---------------------------------------------------------------------------
# prepare errors: one line naming op index, kind, what and what to do

def _error(model: bytes, prepare) -> str:
    with pytest.raises(TinyexitError) as info:
        prepared(model, prepare)
    message = info.value.message
    assert "\n" not in message and "op 0 " in message
    return message


def test_prepare_errors_name_the_op_and_the_fix():
    msg = _error(softmax_model([1, 10], 0.1, 0, out_scale=0.01, out_zero_point=0), softmax.prepare)
    assert "SOFTMAX" in msg and "1/256" in msg
    msg = _error(softmax_model([1, 10], 1e-9, 0), softmax.prepare)
    assert "beta" in msg
    msg = _error(one_op("LOGISTIC", _tensor("x", [1, 4], "int8", 0.1, 0), _tensor("y", [1, 4], "int8", 1 / 256, 0)),
                 logistic.prepare)
    assert "LOGISTIC" in msg and "-128" in msg
    msg = _error(mean_model([1, 4, 4, 3], (3,), False, (0.1, 0), (0.1, 0)), mean.prepare)
    assert "MEAN" in msg and "axes" in msg and "height and width" in msg
    msg = _error(mean_model([1, 4, 4, 3], (1, 2, 3), False, (0.1, 0), (0.1, 0)), mean.prepare)
    assert "[1, 2, 3]" in msg
    msg = _error(one_op("QUANTIZE", _tensor("x", [1, 4], "int32", 0.1, 0), _tensor("y", [1, 4], "int8", 0.1, 0)),
                 quantize.prepare)
    assert "QUANTIZE" in msg and "int32" in msg
