"""Read a .tflite flatbuffer into the graph IR, without importing TensorFlow.

The schema module is the `tflite` package (generated flatbuffer accessors).
Exits are the SignatureDef output names, mapped to tensors by name; a model
without a signature names its outputs `output_<i>` in output-list order.
Every problem with the file becomes a TinyexitError naming the file and what
to do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tflite

from .errors import TinyexitError
from .ir import Exit, Graph, Op, Quantization, Tensor
from .names import MESSAGE_MAX, safe_text
from .verify import read_model_bytes, verify_flatbuffer, verify_graph

# TensorType enum value -> numpy dtype name.
_DTYPES = {
    0: "float32",
    1: "float16",
    2: "int32",
    3: "uint8",
    4: "int64",
    6: "bool",
    7: "int16",
    9: "int8",
    10: "float64",
}

_OP_NAMES = {
    value: name
    for name, value in vars(tflite.BuiltinOperator).items()
    if not name.startswith("_") and isinstance(value, int)
}

_PADDING = {0: "SAME", 1: "VALID"}
_ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def read_model(path: str | Path) -> Graph:
    """Parse the .tflite file at `path` into a Graph."""
    path = Path(path)
    data = read_model_bytes(path)
    return parse_model(data, source=safe_text(path.name), name=safe_text(path.stem))


def parse_model(data: bytes, source: str = "model", name: str = "model") -> Graph:
    """Parse .tflite bytes into a Graph; `source` names the file in errors.

    codegen.verify checks the flatbuffer before the graph is read and the
    graph before it is returned; model strings pass through names.safe_text.
    """
    source = safe_text(source)
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TinyexitError(
            f"{source}: not a TFLite flatbuffer (no 'TFL3' identifier); "
            "pass a .tflite file from the TFLite converter"
        )
    try:
        model = tflite.Model.GetRootAs(data, 0)
        verify_flatbuffer(model, data, source)
        graph = verify_graph(_read_graph(model, data, source, name))
    except TinyexitError:
        raise
    except Exception as exc:  # the flatbuffer accessors fail in many ways on a damaged file
        raise TinyexitError(
            f"{source}: the flatbuffer is damaged or truncated "
            f"({type(exc).__name__}: {safe_text(str(exc), MESSAGE_MAX)}); "
            "re-export the model"
        ) from None
    return graph


def _read_graph(model, data: bytes, source: str, name: str) -> Graph:
    if model.SubgraphsLength() < 1:
        raise TinyexitError(f"{source}: the model has no subgraph; re-export the model")
    if model.SubgraphsLength() > 1:
        raise TinyexitError(
            f"{source}: the model has {model.SubgraphsLength()} subgraphs (control flow); "
            "tinyexit supports single-subgraph models"
        )
    sg = model.Subgraphs(0)
    tensors = [_read_tensor(model, sg.Tensors(i), i, data, source) for i in range(sg.TensorsLength())]
    opcodes = [model.OperatorCodes(i) for i in range(model.OperatorCodesLength())]
    ops = [_read_op(sg.Operators(i), i, opcodes, tensors, source) for i in range(sg.OperatorsLength())]
    inputs = [int(t) for t in sg.InputsAsNumpy()] if sg.InputsLength() else []
    outputs = [int(t) for t in sg.OutputsAsNumpy()] if sg.OutputsLength() else []
    if not inputs or not outputs:
        raise TinyexitError(f"{source}: the model declares no inputs or no outputs; re-export the model")
    exits = _read_exits(model, tensors, outputs, source)
    return Graph(
        name=name,
        tensors=tensors,
        ops=ops,
        inputs=inputs,
        outputs=outputs,
        exits=exits,
        source=source,
    )


def _read_tensor(model, t, index: int, data: bytes, source: str) -> Tensor:
    tensor_name = safe_text(t.Name()) if t.Name() else f"tensor_{index}"
    dtype = _DTYPES.get(t.Type())
    if dtype is None:
        raise TinyexitError(
            f"{source}: tensor {index} '{tensor_name}' has TFLite type {t.Type()}, which tinyexit does not read"
        )
    shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
    signature = tuple(int(d) for d in t.ShapeSignatureAsNumpy()) if t.ShapeSignatureLength() else ()
    # A -1 batch dimension is normal (TFLM runs batch 1); -1 anywhere else is a dynamic shape.
    if any(d < 0 for d in shape) or any(d < 0 for d in signature[1:]):
        raise TinyexitError(
            f"{source}: tensor {index} '{tensor_name}' has a dynamic shape {list(signature or shape)}; "
            "convert with fixed input shapes (e.g. a Keras Input with batch_size=1)"
        )
    quant = _read_quantization(t.Quantization())
    buffer = model.Buffers(t.Buffer()) if t.Buffer() > 0 else None
    array = _read_buffer(buffer, data, dtype, shape) if buffer is not None else None
    return Tensor(index=index, name=tensor_name, shape=shape, dtype=dtype, quant=quant, data=array)


def _read_quantization(q) -> Quantization | None:
    if q is None or q.ScaleLength() == 0:
        return None
    scales = tuple(float(s) for s in q.ScaleAsNumpy())
    zero_points = tuple(int(z) for z in q.ZeroPointAsNumpy()) if q.ZeroPointLength() else (0,) * len(scales)
    return Quantization(scales=scales, zero_points=zero_points, axis=int(q.QuantizedDimension()))


def _read_buffer(buffer, data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if buffer.Offset() > 1:  # large models keep buffers after the flatbuffer
        raw = data[buffer.Offset() : buffer.Offset() + buffer.Size()]
    elif buffer.DataLength() > 0:
        raw = buffer.DataAsNumpy().tobytes()
    else:
        return None
    array = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<"))
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if array.size != count:
        raise ValueError(f"buffer holds {array.size} values for shape {list(shape)}")
    return array.astype(dtype).reshape(shape)


def _read_op(o, index: int, opcodes, tensors: list[Tensor], source: str) -> Op:
    code = opcodes[o.OpcodeIndex()]
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    kind = _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")
    if kind == "CUSTOM":
        custom = safe_text(code.CustomCode()) if code.CustomCode() else "?"
        kind = f"CUSTOM({custom})"
    inputs = tuple(int(t) for t in o.InputsAsNumpy()) if o.InputsLength() else ()
    outputs = tuple(int(t) for t in o.OutputsAsNumpy()) if o.OutputsLength() else ()
    for t in inputs + outputs:
        if t >= len(tensors):
            raise ValueError(f"op {index} refers to tensor {t}, beyond the {len(tensors)} tensors")
    return Op(index=index, kind=kind, inputs=inputs, outputs=outputs, options=_read_options(o, kind))


def _options_table(o, cls):
    table = o.BuiltinOptions()
    if table is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _read_options(o, kind: str) -> dict:
    """The builtin options tinyexit uses, as plain values."""
    if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        cls = tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions
        x = _options_table(o, cls)
        opts = {
            "padding": _PADDING[x.Padding()],
            "stride": (x.StrideH(), x.StrideW()),
            "dilation": (x.DilationHFactor(), x.DilationWFactor()),
            "activation": _ACTIVATIONS.get(x.FusedActivationFunction(), "UNKNOWN"),
        }
        if kind == "DEPTHWISE_CONV_2D":
            opts["depth_multiplier"] = x.DepthMultiplier()
        return opts
    if kind in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        x = _options_table(o, tflite.Pool2DOptions)
        return {
            "padding": _PADDING[x.Padding()],
            "stride": (x.StrideH(), x.StrideW()),
            "filter": (x.FilterHeight(), x.FilterWidth()),
            "activation": _ACTIVATIONS.get(x.FusedActivationFunction(), "UNKNOWN"),
        }
    if kind == "FULLY_CONNECTED":
        x = _options_table(o, tflite.FullyConnectedOptions)
        if x is None:
            return {"activation": "NONE", "keep_num_dims": False, "weights_format": 0}
        return {
            "activation": _ACTIVATIONS.get(x.FusedActivationFunction(), "UNKNOWN"),
            "keep_num_dims": bool(x.KeepNumDims()),
            "weights_format": x.WeightsFormat(),
        }
    if kind == "ADD":
        x = _options_table(o, tflite.AddOptions)
        return {"activation": _ACTIVATIONS.get(x.FusedActivationFunction(), "UNKNOWN") if x else "NONE"}
    if kind == "CONCATENATION":
        x = _options_table(o, tflite.ConcatenationOptions)
        return {"axis": x.Axis(), "activation": _ACTIVATIONS.get(x.FusedActivationFunction(), "UNKNOWN")}
    if kind == "MEAN":
        x = _options_table(o, tflite.ReducerOptions)
        return {"keep_dims": bool(x.KeepDims()) if x else False}
    if kind == "SOFTMAX":
        x = _options_table(o, tflite.SoftmaxOptions)
        return {"beta": float(x.Beta()) if x else 1.0}
    if kind == "STRIDED_SLICE":
        x = _options_table(o, tflite.StridedSliceOptions)
        return {
            "begin_mask": x.BeginMask(),
            "end_mask": x.EndMask(),
            "ellipsis_mask": x.EllipsisMask(),
            "new_axis_mask": x.NewAxisMask(),
            "shrink_axis_mask": x.ShrinkAxisMask(),
            "offset": bool(x.Offset()) if hasattr(x, "Offset") else False,
        }
    return {}


def _read_exits(model, tensors: list[Tensor], outputs: list[int], source: str) -> list[Exit]:
    position = {t: i for i, t in enumerate(outputs)}
    if model.SignatureDefsLength() == 0:
        return [Exit(name=f"output_{i}", tensor=t, output_index=i) for i, t in enumerate(outputs)]
    sig = model.SignatureDefs(0)
    exits = []
    for i in range(sig.OutputsLength()):
        entry = sig.Outputs(i)
        key = safe_text(entry.Name() or b"")
        tensor = int(entry.TensorIndex())
        if tensor not in position:
            raise TinyexitError(
                f"{source}: signature output '{key}' names tensor {tensor}, which is not a model output; "
                "re-export the model"
            )
        exits.append(Exit(name=key, tensor=tensor, output_index=position[tensor]))
    return exits
