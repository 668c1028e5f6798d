"""The model verifier: refuse a malformed or hostile .tflite before anything trusts it.

A .tflite file is input from outside. In the spirit of TFLM's flatbuffer
verification and its kernels' Prepare checks, this module checks, in order:

1. `read_model_bytes`: the file is at most MAX_MODEL_BYTES (read with a cap,
   so /dev/zero-like files are never read into memory);
2. `verify_flatbuffer`, on the raw flatbuffer before the reader builds the
   IR: buffer, tensor, opcode and signature indices in range (-1 only where
   an optional operator input may be omitted); shapes static, positive and
   bounded; constant buffers inside the file and of the size their shape
   needs; scales finite and positive, zero points in range, per-channel
   arrays as long as their axis; the options table each op kind needs,
   present, of the right type and in range; ops in an order where every
   tensor read is a model input, a constant or written by an earlier op,
   and no tensor written twice (so no cycles, no op reading its own or a
   later output, no tensor without a producer);
3. `verify_graph`, on the IR the reader built: every operator has the
   input/output count and constant operands its kind needs, weights of the
   right rank and with quantization, RESHAPE/SQUEEZE keep the element
   count, requantization scale ratios give a usable multiplier and shift,
   every multiply-accumulate kernel's int32 accumulator cannot overflow,
   exit names unique.

Each failure is a TinyexitError with one line naming the op (index and kind)
or the tensor and what is wrong. Names from the model are printed through
names.safe_text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import tflite

from .errors import TinyexitError
from .ir import Graph, Op
from .names import safe_text

SCHEMA_VERSION = 3  # TFLM refuses any other Model.version
MAX_MODEL_BYTES = 64 * 1024 * 1024  # far above any model that fits a microcontroller's flash
MAX_TENSORS = 100_000
MAX_OPS = 100_000
MAX_OP_OPERANDS = 1_000
MAX_RANK = 6
MAX_DIM = 1 << 20
MAX_ELEMENTS = 1 << 26  # per tensor
MAX_WINDOW = 1 << 12  # strides, dilations, pooling filters, depth multipliers
SCALE_MIN, SCALE_MAX = 2.0**-64, 2.0**64  # any usable scale lies far inside
MULTIPLIER_MAX = 2.0**16  # effective requantization scales at or above this give shifts the kernels cannot take
RATIO_MIN, RATIO_MAX = 2.0**-32, 2.0**32  # input/output scale ratios of requantizing ops without weights
INT32_MAX = 2**31 - 1
MAX_TERM = 255 * 128  # |(q + input_offset) * w| for int8 q, input zero point and weight

_ITEMSIZE = {0: 4, 1: 2, 2: 4, 3: 1, 4: 8, 6: 1, 7: 2, 9: 1, 10: 8}
_INT8 = 9
_OPTIONS = tflite.BuiltinOptions
# kind -> (options type, required): the reader reads these tables.
_OPTION_TABLES = {
    "CONV_2D": (_OPTIONS.Conv2DOptions, True),
    "DEPTHWISE_CONV_2D": (_OPTIONS.DepthwiseConv2DOptions, True),
    "AVERAGE_POOL_2D": (_OPTIONS.Pool2DOptions, True),
    "MAX_POOL_2D": (_OPTIONS.Pool2DOptions, True),
    "FULLY_CONNECTED": (_OPTIONS.FullyConnectedOptions, False),
    "ADD": (_OPTIONS.AddOptions, False),
    "CONCATENATION": (_OPTIONS.ConcatenationOptions, True),
    "MEAN": (_OPTIONS.ReducerOptions, False),
    "SOFTMAX": (_OPTIONS.SoftmaxOptions, False),
    "STRIDED_SLICE": (_OPTIONS.StridedSliceOptions, True),
}
_OPTION_CLASSES = {
    _OPTIONS.Conv2DOptions: tflite.Conv2DOptions,
    _OPTIONS.DepthwiseConv2DOptions: tflite.DepthwiseConv2DOptions,
    _OPTIONS.Pool2DOptions: tflite.Pool2DOptions,
    _OPTIONS.FullyConnectedOptions: tflite.FullyConnectedOptions,
    _OPTIONS.AddOptions: tflite.AddOptions,
    _OPTIONS.ConcatenationOptions: tflite.ConcatenationOptions,
    _OPTIONS.ReducerOptions: tflite.ReducerOptions,
    _OPTIONS.SoftmaxOptions: tflite.SoftmaxOptions,
    _OPTIONS.StridedSliceOptions: tflite.StridedSliceOptions,
}
_ACTIVATION_CODES = range(0, 6)  # NONE .. SIGN_BIT; the ops refuse the ones they do not support

# kind -> (fewest inputs, most inputs, outputs, input positions that may be omitted (-1)).
ARITY = {
    "CONV_2D": (2, 3, 1, {2}),
    "DEPTHWISE_CONV_2D": (2, 3, 1, set()),  # TFLM crashes on a bias given as -1 (fuzz); leaving it out is fine
    "FULLY_CONNECTED": (2, 3, 1, {2}),
    "AVERAGE_POOL_2D": (1, 1, 1, set()),
    "MAX_POOL_2D": (1, 1, 1, set()),
    "ADD": (2, 2, 1, set()),
    "CONCATENATION": (1, MAX_OP_OPERANDS, 1, set()),
    "PAD": (2, 2, 1, set()),
    "PADV2": (2, 3, 1, {2}),
    "STRIDED_SLICE": (4, 4, 1, set()),
    "SOFTMAX": (1, 1, 1, set()),
    "LOGISTIC": (1, 1, 1, set()),
    "MEAN": (2, 2, 1, set()),
    "QUANTIZE": (1, 1, 1, set()),
    "DEQUANTIZE": (1, 1, 1, set()),
    "RESHAPE": (1, 2, 1, {1}),
    "SQUEEZE": (1, 1, 1, set()),
}
# kind -> {input position: (role, dtype)} of operands that must be constants.
CONSTANT_OPERANDS = {
    "CONV_2D": {1: ("weights", "int8"), 2: ("bias", "int32")},
    "DEPTHWISE_CONV_2D": {1: ("weights", "int8"), 2: ("bias", "int32")},
    "FULLY_CONNECTED": {1: ("weights", "int8"), 2: ("bias", "int32")},
    "PAD": {1: ("paddings", "int32")},
    "PADV2": {1: ("paddings", "int32"), 2: ("constant_values", "int8")},
    "STRIDED_SLICE": {1: ("begin", "int32"), 2: ("end", "int32"), 3: ("strides", "int32")},
    "MEAN": {1: ("axes", "int32")},
}
WEIGHT_RANK = {"CONV_2D": 4, "DEPTHWISE_CONV_2D": 4, "FULLY_CONNECTED": 2}


def _fail(source: str, where: str, problem: str, advice: str = "re-export the model") -> TinyexitError:
    return TinyexitError(f"{source}: {where}: {problem}; {advice}")


# ---------------------------------------------------------------------------
# 1. the file


def read_model_bytes(path: str | Path, limit: int = MAX_MODEL_BYTES) -> bytes:
    """The file's bytes, refusing files larger than `limit` without reading more than limit + 1 bytes."""
    path = Path(path)
    shown = safe_text(str(path), 200)
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise TinyexitError(f"{shown}: cannot read the model ({exc.strerror}); check the path") from None
    if len(data) > limit:
        raise TinyexitError(f"{shown}: the file is larger than {limit // (1024 * 1024)} MiB, "
                            "too large for a microcontroller model; pass a .tflite model")
    return data


# ---------------------------------------------------------------------------
# 2. the flatbuffer


def _tensor_where(sg, index: int) -> str:
    raw = sg.Tensors(index).Name()
    return f"tensor {index} '{safe_text(raw)}'" if raw else f"tensor {index}"


def _op_kind(model, o) -> str:
    code = model.OperatorCodes(o.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    for name, value in vars(tflite.BuiltinOperator).items():
        if value == builtin and not name.startswith("_"):
            return name
    return f"BUILTIN_{builtin}"


# union accessor -> the enum that names its table type (read through the accessor's ...Type()).
_UNIONS = {
    "BuiltinOptions": tflite.BuiltinOptions,
    "BuiltinOptions2": tflite.BuiltinOptions2,
    "Details": tflite.QuantizationDetails,
    "ArraySegments": tflite.SparseIndexVector,
    "ArrayIndices": tflite.SparseIndexVector,
}
_SKIP_SUFFIXES = ("AsNumpy", "IsNone", "Length", "BufferHasIdentifier")


def _union_class(enum, value: int):
    for name, v in vars(enum).items():
        if v == value and not name.startswith("_") and name != "NONE":
            return getattr(tflite, name, None)
    return None


def walk_tables(obj, data_len: int, depth: int = 0) -> int:
    """Read every field of every table reachable from `obj`, as a full unpack does; returns tables visited.

    A damaged file fails here (offsets outside the file, vector lengths that
    cannot fit) instead of in whatever reads that field later. The caller
    turns the exception into one line.
    """
    if depth > 16:
        raise ValueError("tables nested deeper than the schema allows")
    cls = type(obj)
    visited = 1
    for name in [m for m in vars(cls) if m[:1].isupper()]:
        if name.startswith("GetRootAs") or name == "Init" or name.endswith(_SKIP_SUFFIXES):
            continue
        if hasattr(cls, name + "Length"):
            n = getattr(obj, name + "Length")()
            if not 0 <= n <= data_len:
                raise ValueError(f"{cls.__name__}.{name} claims {n} entries, more than the file can hold")
            if hasattr(cls, name + "AsNumpy"):
                if n:
                    getattr(obj, name + "AsNumpy")()  # numpy checks the vector lies inside the file
                continue
            if 4 * n > data_len:
                raise ValueError(f"{cls.__name__}.{name} claims {n} entries, more than the file can hold")
            for j in range(n):
                item = getattr(obj, name)(j)
                if hasattr(item, "_tab"):
                    visited += walk_tables(item, data_len, depth + 1)
            continue
        method = getattr(obj, name)
        if getattr(getattr(method, "__code__", None), "co_argcount", 0) != 1:
            continue
        value = method()
        if name in _UNIONS:
            table_cls = _union_class(_UNIONS[name], getattr(obj, name + "Type")()) if value is not None else None
            if table_cls is not None:
                union = table_cls()
                union.Init(value.Bytes, value.Pos)
                visited += walk_tables(union, data_len, depth + 1)
        elif hasattr(value, "_tab"):
            visited += walk_tables(value, data_len, depth + 1)
    return visited


def verify_flatbuffer(model, data: bytes, source: str) -> None:
    """Structural checks on the raw flatbuffer (see the module docstring, step 2)."""
    walk_tables(model, len(data))
    if model.Version() != SCHEMA_VERSION:
        raise _fail(source, "model", f"schema version {model.Version()} is not {SCHEMA_VERSION}, "
                    "the one TFLM reads", "convert the model with a current TFLite converter")
    if model.SubgraphsLength() != 1:
        return  # the reader explains subgraph counts
    sg = model.Subgraphs(0)
    n_tensors, n_buffers, n_codes, n_ops = (sg.TensorsLength(), model.BuffersLength(),
                                            model.OperatorCodesLength(), sg.OperatorsLength())
    if n_tensors > MAX_TENSORS or n_ops > MAX_OPS:
        raise TinyexitError(f"{source}: the model has {n_tensors} tensors and {n_ops} ops, more than tinyexit "
                            f"reads ({MAX_TENSORS}, {MAX_OPS}); pass a microcontroller-sized model")
    constants = set()
    for i in range(n_tensors):
        if _verify_tensor(model, sg, i, n_buffers, data, source):
            constants.add(i)
    for side, count, values in (("input", sg.InputsLength(), sg.InputsAsNumpy),
                                ("output", sg.OutputsLength(), sg.OutputsAsNumpy)):
        indices = [int(t) for t in values()] if count else []
        for t in indices:
            if not 0 <= t < n_tensors:
                raise _fail(source, f"model {side} list", f"tensor index {t} is out of range "
                            f"(the model has {n_tensors} tensors)")
        if len(set(indices)) != len(indices):
            raise _fail(source, f"model {side} list", f"a tensor is listed twice ({indices})")
    model_inputs = set(int(t) for t in sg.InputsAsNumpy()) if sg.InputsLength() else set()
    available = model_inputs | constants
    produced: set[int] = set()
    for i in range(n_ops):
        o = sg.Operators(i)
        if not 0 <= o.OpcodeIndex() < n_codes:
            raise _fail(source, f"op {i}", f"opcode index {o.OpcodeIndex()} is out of range "
                        f"(the model has {n_codes} operator codes)")
        kind = _op_kind(model, o)
        where = f"op {i} {kind}"
        inputs = [int(t) for t in o.InputsAsNumpy()] if o.InputsLength() else []
        outputs = [int(t) for t in o.OutputsAsNumpy()] if o.OutputsLength() else []
        if len(inputs) > MAX_OP_OPERANDS or len(outputs) > MAX_OP_OPERANDS:
            raise _fail(source, where, f"{len(inputs)} inputs and {len(outputs)} outputs are too many")
        for t in inputs:
            if not -1 <= t < n_tensors:
                raise _fail(source, where, f"input tensor index {t} is out of range "
                            f"(-1 for an omitted input, else 0..{n_tensors - 1})")
        for t in outputs:
            if not 0 <= t < n_tensors:
                raise _fail(source, where, f"output tensor index {t} is out of range (0..{n_tensors - 1})")
        _verify_options(o, kind, where, source)
        for t in inputs:
            if t >= 0 and t not in available:
                raise _fail(source, where, f"reads {_tensor_where(sg, t)} before any op writes it "
                            "(ops out of order, a cycle, or a tensor without a producer)")
        if len(set(outputs)) != len(outputs):
            raise _fail(source, where, f"lists an output tensor twice ({outputs})")
        for t in outputs:
            if t in available:
                if t in constants:
                    what = "a constant"
                elif t in model_inputs:
                    what = "a model input"
                else:
                    what = "written by an earlier op"
                raise _fail(source, where, f"writes {_tensor_where(sg, t)}, which is {what}")
            available.add(t)
            produced.add(t)
    for t in ([int(x) for x in sg.OutputsAsNumpy()] if sg.OutputsLength() else []):
        if t not in produced:
            what = "a constant" if t in constants else "a model input" if t in model_inputs else "not written by any op"
            raise _fail(source, "model output list", f"{_tensor_where(sg, t)} is {what}",
                        "tinyexit needs every output computed by an op")
    _verify_signatures(model, n_tensors, source)


def _verify_tensor(model, sg, index: int, n_buffers: int, data: bytes, source: str) -> bool:
    """Checks one tensor; True when it holds constant data."""
    t = sg.Tensors(index)
    where = _tensor_where(sg, index)
    shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() else []
    if len(shape) > MAX_RANK:
        raise _fail(source, where, f"rank {len(shape)} is above {MAX_RANK}")
    # Negative dimensions are dynamic shapes, which the reader explains.
    if any(d == 0 or d > MAX_DIM for d in shape):
        raise _fail(source, where, f"shape {shape} has a dimension that is 0 or above {MAX_DIM}",
                    "tinyexit needs static shapes with positive dimensions")
    count = math.prod(max(d, 1) for d in shape)
    if count > MAX_ELEMENTS:
        raise _fail(source, where, f"shape {shape} has {count} elements, more than {MAX_ELEMENTS}")
    b = t.Buffer()
    if not 0 <= b < n_buffers:
        raise _fail(source, where, f"buffer index {b} is out of range (the model has {n_buffers} buffers)")
    constant = False
    if b > 0:
        buf = model.Buffers(b)
        if buf.Offset() > 1:
            if buf.Offset() + buf.Size() > len(data):
                raise _fail(source, where, f"its data (bytes {buf.Offset()}..{buf.Offset() + buf.Size()}) "
                            f"lies beyond the end of the {len(data)}-byte file")
            nbytes = buf.Size()
        else:
            nbytes = buf.DataLength()
        itemsize = _ITEMSIZE.get(t.Type())
        if nbytes and itemsize is not None and nbytes != count * itemsize:
            raise _fail(source, where, f"its buffer holds {nbytes} bytes, but shape {shape} needs "
                        f"{count * itemsize}")
        constant = nbytes > 0
    _verify_quantization(t.Quantization(), t.Type(), shape, where, source)
    return constant


def _verify_quantization(q, dtype: int, shape: list[int], where: str, source: str) -> None:
    if q is None or q.ScaleLength() == 0:
        return
    scales = [float(s) for s in q.ScaleAsNumpy()]
    for s in scales:
        if not (math.isfinite(s) and SCALE_MIN <= s <= SCALE_MAX):
            raise _fail(source, where, f"quantization scale {s!r} is not a finite positive number "
                        "in a usable range", "re-quantize the model")
    zero_points = [int(z) for z in q.ZeroPointAsNumpy()] if q.ZeroPointLength() else []
    if len(zero_points) != len(scales):
        raise _fail(source, where, f"{len(scales)} scales but {len(zero_points)} zero points",
                    "re-quantize the model")
    lo, hi = (-128, 127) if dtype == _INT8 else (-(2**15), 2**16)
    for z in zero_points:
        if not lo <= z <= hi:
            raise _fail(source, where, f"zero point {z} is outside {lo}..{hi}", "re-quantize the model")
    if len(scales) > 1:
        axis = q.QuantizedDimension()
        if not 0 <= axis < len(shape) or shape[axis] != len(scales):
            raise _fail(source, where, f"{len(scales)} per-channel scales on axis {axis} do not match "
                        f"shape {shape}", "re-quantize the model")


def _verify_options(o, kind: str, where: str, source: str) -> None:
    expected = _OPTION_TABLES.get(kind)
    if expected is None:
        return
    options_type, required = expected
    present = o.BuiltinOptionsType() != 0 and o.BuiltinOptions() is not None
    if not present:
        if required:
            raise _fail(source, where, "the builtin options table is missing")
        return
    if o.BuiltinOptionsType() != options_type:
        raise _fail(source, where, f"builtin options of type {o.BuiltinOptionsType()}, expected {options_type}")
    table = o.BuiltinOptions()
    x = _OPTION_CLASSES[options_type]()
    x.Init(table.Bytes, table.Pos)
    if hasattr(x, "FusedActivationFunction") and x.FusedActivationFunction() not in _ACTIVATION_CODES:
        raise _fail(source, where, f"fused activation code {x.FusedActivationFunction()} is unknown")
    if hasattr(x, "Padding") and x.Padding() not in (0, 1):
        raise _fail(source, where, f"padding code {x.Padding()} is neither SAME (0) nor VALID (1)")
    values = {}
    if hasattr(x, "StrideH"):
        values.update(stride_h=x.StrideH(), stride_w=x.StrideW())
    if hasattr(x, "DilationHFactor"):
        values.update(dilation_h=x.DilationHFactor(), dilation_w=x.DilationWFactor())
    if hasattr(x, "FilterHeight"):
        values.update(filter_h=x.FilterHeight(), filter_w=x.FilterWidth())
    if hasattr(x, "DepthMultiplier"):
        values.update(depth_multiplier=x.DepthMultiplier())
    for name, value in values.items():
        if not 1 <= value <= MAX_WINDOW:
            raise _fail(source, where, f"{name} {value} is outside 1..{MAX_WINDOW}")


def _verify_signatures(model, n_tensors: int, source: str) -> None:
    for s in range(model.SignatureDefsLength()):
        sig = model.SignatureDefs(s)
        where = f"signature {s}"
        if sig.SubgraphIndex() != 0:
            raise _fail(source, where, f"subgraph index {sig.SubgraphIndex()} is not 0")
        for side, count, entry in (("input", sig.InputsLength(), sig.Inputs),
                                   ("output", sig.OutputsLength(), sig.Outputs)):
            names = set()
            for i in range(count):
                e = entry(i)
                name = safe_text(e.Name() or b"")
                if not 0 <= e.TensorIndex() < n_tensors:
                    raise _fail(source, where, f"{side} '{name}' names tensor {e.TensorIndex()}, "
                                f"out of range (0..{n_tensors - 1})")
                if name in names:
                    raise _fail(source, where, f"two {side}s are named '{name}' (after removing characters "
                                "unsafe in C comments)", "give the signature's outputs distinct plain names")
                names.add(name)


# ---------------------------------------------------------------------------
# 3. the graph IR


def verify_graph(graph: Graph) -> Graph:
    """Per-op checks on the IR the reader built (see the module docstring, step 3)."""
    for op in graph.ops:
        _verify_op(graph, op)
    names = [e.name for e in graph.exits]
    if len(set(names)) != len(names):
        raise TinyexitError(f"{graph.source}: two exits have the same name ({', '.join(names)}); "
                            "give the signature's outputs distinct names")
    return graph


def _op_fail(graph: Graph, op: Op, problem: str, advice: str = "re-export the model") -> TinyexitError:
    return TinyexitError(f"{graph.source}: op {op.index} {op.kind}: {problem}; {advice}")


def _verify_op(graph: Graph, op: Op) -> None:
    arity = ARITY.get(op.kind)
    if arity is None:
        return  # check_model names unsupported kinds
    low, high, n_out, optional = arity
    if not low <= len(op.inputs) <= high:
        count = f"{low}" if low == high else f"{low} to {high}"
        raise _op_fail(graph, op, f"has {len(op.inputs)} inputs, {op.kind} takes {count}")
    if len(op.outputs) != n_out:
        raise _op_fail(graph, op, f"has {len(op.outputs)} outputs, {op.kind} has {n_out}")
    for position, t in enumerate(op.inputs):
        if t < 0 and position not in optional:
            raise _op_fail(graph, op, f"input {position} is omitted (-1), but {op.kind} needs it")
    for position, (role, dtype) in CONSTANT_OPERANDS.get(op.kind, {}).items():
        if position >= len(op.inputs) or op.inputs[position] < 0:
            continue
        t = graph.tensor(op.inputs[position])
        if not t.is_constant:  # the op's prepare checks the dtype (after check_model named float models)
            raise _op_fail(graph, op, f"{role} tensor '{t.name}' is not a constant",
                           f"tinyexit needs constant {dtype} {role}")
    if op.kind in ("RESHAPE", "SQUEEZE"):
        src, dst = graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0])
        if src.size != dst.size or src.dtype != dst.dtype:
            raise _op_fail(graph, op, f"turns {src.dtype} {list(src.shape)} ({src.size} values) into "
                           f"{dst.dtype} {list(dst.shape)} ({dst.size} values)",
                           f"a {op.kind} must keep the element count and type")
    _verify_operand_shapes(graph, op)
    if op.kind in WEIGHT_RANK:
        _verify_mac(graph, op)
    else:
        _verify_ratios(graph, op)


def _verify_mac(graph: Graph, op: Op) -> None:
    """Weights of the right rank with quantization, usable multipliers, no accumulator overflow."""
    inp, out, w = (graph.tensor(op.inputs[0]), graph.tensor(op.outputs[0]), graph.tensor(op.inputs[1]))
    if w.dtype != "int8":
        return  # check_model and the op's prepare explain float and other weight types
    rank = WEIGHT_RANK[op.kind]
    if len(w.shape) != rank:
        raise _op_fail(graph, op, f"weights '{w.name}' have shape {list(w.shape)}, expected {rank}-D")
    if w.quant is None:
        raise _op_fail(graph, op, f"weights '{w.name}' have no quantization parameters",
                       "convert the model to full int8")
    if inp.quant is None or out.quant is None:
        return  # the op's prepare names the unquantized activation
    for s in w.quant.scales:
        effective = inp.quant.scale * s / out.quant.scale
        if not effective < MULTIPLIER_MAX:
            raise _op_fail(graph, op, f"the effective output scale input * weight / output = {effective:.6g} "
                           f"is not below {MULTIPLIER_MAX:g}", "re-quantize the model")
    if op.kind == "FULLY_CONNECTED":
        units, terms = w.shape
        bias_size = graph.tensor(op.inputs[2]).size if len(op.inputs) > 2 and op.inputs[2] >= 0 else units
        # TFLM takes the output's last dimension as the units and the rest as the batches.
        if (inp.size % terms or out.size != inp.size // terms * units or out.shape[-1] != units
                or bias_size != units):
            raise _op_fail(graph, op, f"input {list(inp.shape)}, weights {list(w.shape)}, {bias_size} biases and "
                           f"output {list(out.shape)} do not fit together")
    elif op.kind == "CONV_2D":
        terms = w.shape[1] * w.shape[2] * w.shape[3]
    else:
        terms = w.shape[1] * w.shape[2]
    bias = 0
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        b = graph.tensor(op.inputs[2])
        if len(b.shape) != 1:
            raise _op_fail(graph, op, f"bias '{b.name}' has shape {list(b.shape)}, not 1-D")
        bias = int(np.abs(b.data.astype(np.int64)).max(initial=0))
    if bias + terms * MAX_TERM > INT32_MAX:
        raise _op_fail(graph, op, f"{terms} products per output plus a bias of magnitude {bias} could overflow "
                       "the int32 accumulator", "split the layer or re-quantize the bias")


def _verify_ratios(graph: Graph, op: Op) -> None:
    """Input/output scale ratios of an op without weights in a range the requantization handles."""
    outs = [graph.tensor(t) for t in op.outputs if t >= 0]
    ins = [graph.tensor(t) for t in op.inputs if t >= 0]
    for o in outs:
        if o.quant is None:
            continue
        for i in ins:
            if i.quant is None or i.is_constant:
                continue
            ratio = i.quant.scale / o.quant.scale
            if not RATIO_MIN <= ratio <= RATIO_MAX:
                raise _op_fail(graph, op, f"input scale / output scale = {ratio:.6g} is outside "
                               f"2^-32..2^32", "re-quantize the model")


def _verify_operand_shapes(graph: Graph, op: Op) -> None:
    """Constant operands that describe the input (paddings, slice bounds, axes) fit the input's rank."""
    rank = len(graph.tensor(op.inputs[0]).shape)
    if op.kind in ("PAD", "PADV2"):
        paddings = graph.tensor(op.inputs[1])
        if tuple(paddings.shape) != (rank, 2):
            raise _op_fail(graph, op, f"paddings '{paddings.name}' have shape {list(paddings.shape)}, "
                           f"expected [{rank}, 2] for a {rank}-D input")
        if op.kind == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0 and graph.tensor(op.inputs[2]).size != 1:
            raise _op_fail(graph, op, "constant_values is not a single value")
    elif op.kind == "STRIDED_SLICE":
        for position, role in ((1, "begin"), (2, "end"), (3, "strides")):
            t = graph.tensor(op.inputs[position])
            if len(t.shape) != 1 or t.size != rank:
                raise _op_fail(graph, op, f"{role} '{t.name}' has shape {list(t.shape)}, expected [{rank}]")
        if any(int(v) == 0 for v in graph.tensor(op.inputs[3]).data.reshape(-1)):
            raise _op_fail(graph, op, "a stride is 0")
    elif op.kind == "MEAN":
        axes = graph.tensor(op.inputs[1])
        values = [int(v) for v in axes.data.reshape(-1)]
        if len(axes.shape) > 1 or not values or any(not -rank <= v < rank for v in values):
            raise _op_fail(graph, op, f"axes {values} do not fit a {rank}-D input")
