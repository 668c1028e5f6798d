"""Issue 14: malformed and hostile models are refused with one line, names never reach C verbatim."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_path
from fuzz_models import INJECTION, pack, unpack
from tflite_builder import TensorSpec, conv2d_options, depthwise_options, one_op_model, pad_options

from tinyexit.codegen.pipeline import generate
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.names import safe_text
from tinyexit.codegen.options import Options
from tinyexit.codegen.pipeline import compile_graph
from tinyexit.codegen.policies.spec import parse_policy
from tinyexit.codegen.reader import parse_model, read_model
from tinyexit.firmware_sim.host import build_host

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(14)


def refused(data: bytes, *fragments: str, policy: str = "none") -> str:
    with pytest.raises(TinyexitError) as info:
        compile_graph(parse_model(data, source="m.tflite"), Options(policy=policy))
    message = info.value.message
    assert "\n" not in message and len(message) < 600 and message.isprintable() and message.isascii(), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def accepted(data: bytes):
    return compile_graph(parse_model(data, source="m.tflite"))


def x_spec(shape, scale=0.05, zp=0, name=""):
    return TensorSpec(shape, scale=scale, zero_point=zp, name=name)


def conv_model(bias=None, w_scale=0.02, out_scale=0.1, inputs=None, **w):
    w_data = RNG.integers(-127, 128, size=(3, 1, 1, 2)).astype(np.int8)
    b = np.array(bias if bias is not None else [10, -20, 30], dtype=np.int32)
    specs = [x_spec([1, 4, 4, 2]), TensorSpec([3, 1, 1, 2], scale=w_scale, data=w_data, **w),
             TensorSpec([3], "int32", scale=0.001, data=b)]
    return one_op_model("CONV_2D", specs if inputs is None else inputs(specs),
                        [x_spec([1, 4, 4, 3], scale=out_scale)], conv2d_options())


def fc_model(bias=None, w_shape=(4, 8), w_scale=0.02):
    w_data = RNG.integers(-127, 128, size=w_shape).astype(np.int8)
    b = np.array(bias if bias is not None else [1, 2, 3, 4], dtype=np.int32)
    return one_op_model("FULLY_CONNECTED",
                        [x_spec([1, 8]), TensorSpec(list(w_shape), scale=w_scale, data=w_data),
                         TensorSpec([4], "int32", scale=0.001, data=b)],
                        [x_spec([1, 4], scale=0.1)])


def edited(data: bytes, edit) -> bytes:
    model = unpack(data)
    edit(model, model.subgraphs[0])
    return pack(model)


# ---------------------------------------------------------------------------
# Unsafe generated C


def test_builders_give_accepted_models():
    accepted(conv_model())
    accepted(fc_model())


def test_reshape_that_grows_the_tensor_is_refused():
    data = one_op_model("RESHAPE", [x_spec([1, 4])], [x_spec([1, 8])])
    refused(data, "op 0 RESHAPE", "element count")


def test_reshape_that_keeps_the_count_is_accepted():
    accepted(one_op_model("RESHAPE", [x_spec([1, 2, 4])], [x_spec([1, 8])]))


def test_fully_connected_output_whose_last_dimension_is_not_the_units_is_refused():
    """Fuzz seed 5, case 1830: output [1, 4, 1] holds the 4 units, but TFLM reads its last dimension as the units."""
    def edit(model, g):
        g.tensors[g.operators[0].outputs[0]].shape = np.array([1, 4, 1], np.int32)

    refused(edited(fc_model(), edit), "op 0 FULLY_CONNECTED", "output [1, 4, 1] do not fit together")


def test_fully_connected_bias_near_int32_max_is_refused():
    refused(fc_model(bias=[2**31 - 100, 0, 0, 0]), "op 0 FULLY_CONNECTED", "overflow the int32 accumulator")


def test_depthwise_bias_near_int32_max_is_refused():
    w = RNG.integers(-127, 128, size=(1, 3, 3, 2)).astype(np.int8)
    data = one_op_model("DEPTHWISE_CONV_2D",
                        [x_spec([1, 4, 4, 2]), TensorSpec([1, 3, 3, 2], scale=0.02, data=w, axis=3),
                         TensorSpec([2], "int32", scale=0.001, data=np.array([2**31 - 5, 0], np.int32))],
                        [x_spec([1, 4, 4, 2], scale=0.1)], depthwise_options())
    refused(data, "op 0 DEPTHWISE_CONV_2D", "overflow")


def _swap_first_two_ops(model, sub):
    sub.operators[0], sub.operators[1] = sub.operators[1], sub.operators[0]


def _self_read(model, sub):
    op = sub.operators[1]
    op.inputs = [int(op.outputs[0])] + [int(t) for t in op.inputs[1:]]


def _duplicate_producer(model, sub):
    sub.operators[2].outputs = [int(sub.operators[1].outputs[0])]


def _missing_producer(model, sub):
    t = sub.tensors[int(sub.operators[1].inputs[0])]
    clone = type(t)()
    clone.shape, clone.type, clone.quantization = t.shape, t.type, t.quantization
    clone.buffer, clone.name = 0, b"orphan"
    sub.tensors.append(clone)
    op = sub.operators[1]
    op.inputs = [len(sub.tensors) - 1] + [int(x) for x in op.inputs[1:]]


@pytest.mark.parametrize("edit, words", [
    (_swap_first_two_ops, ["op 0", "before any op writes it"]),
    (_self_read, ["op 1", "before any op writes it"]),
    (_duplicate_producer, ["op 2", "written by an earlier op"]),
    (_missing_producer, ["op 1", "'orphan' before any op writes it"]),
])
def test_graphs_out_of_order_are_refused(edit, words):
    refused(edited(fixture_path("ee_dscnn").read_bytes(), edit), *words)


def test_a_model_output_no_op_writes_is_refused():
    def edit(model, sub):
        t = sub.tensors[int(sub.outputs[0])]
        clone = type(t)()
        clone.shape, clone.type, clone.buffer, clone.quantization = t.shape, t.type, 0, t.quantization
        sub.tensors.append(clone)
        sub.outputs = [len(sub.tensors) - 1]
    refused(edited(fc_model(), edit), "not written by any op")


# ---------------------------------------------------------------------------
# Indices, arity, shapes, quantization, options


@pytest.mark.parametrize("index", [-2, -7, 99])
def test_operator_tensor_indices_out_of_range_are_refused(index):
    def edit(model, sub):
        sub.operators[0].inputs = [index] + [int(t) for t in sub.operators[0].inputs[1:]]
    refused(edited(conv_model(), edit), "op 0 CONV_2D", f"input tensor index {index} is out of range")


def test_buffer_index_out_of_range_is_refused():
    def edit(model, sub):
        sub.tensors[1].buffer = 57
    refused(edited(conv_model(), edit), "tensor 1", "buffer index 57 is out of range")


@pytest.mark.parametrize("kind, build", [("CONV_2D", conv_model), ("FULLY_CONNECTED", fc_model)])
def test_an_op_with_too_few_inputs_is_refused(kind, build):
    def edit(model, sub):
        sub.operators[0].inputs = [int(sub.operators[0].inputs[0])]
    refused(edited(build(), edit), f"op 0 {kind}", "has 1 inputs")


def test_an_op_without_outputs_is_refused():
    def edit(model, sub):
        sub.operators[0].outputs = []
    refused(edited(conv_model(), edit), "tensor 3", "not written by any op")


def test_a_required_input_omitted_is_refused():
    refused(conv_model(inputs=lambda s: [s[0], None, s[2]]), "op 0 CONV_2D", "input 1 is omitted")


@pytest.mark.parametrize("scale", [0.0, float("inf"), float("nan"), -0.5])
def test_unusable_scales_are_refused(scale):
    def edit(model, sub):
        sub.tensors[0].quantization.scale = [scale]
    refused(edited(conv_model(), edit), "tensor 0", "scale")


def test_a_huge_scale_ratio_is_refused():
    refused(conv_model(w_scale=1e6, out_scale=1e-6), "op 0 CONV_2D", "effective output scale")


@pytest.mark.parametrize("kind, build", [("CONV_2D", conv_model), ("FULLY_CONNECTED", fc_model)])
def test_weights_without_quantization_are_refused(kind, build):
    def edit(model, sub):
        sub.tensors[1].quantization = None
    refused(edited(build(), edit), f"op 0 {kind}", "no quantization parameters")


def test_wrong_rank_weights_are_refused():
    def edit(model, sub):
        sub.tensors[1].shape = [4, 2, 4]
    refused(edited(fc_model(), edit), "op 0 FULLY_CONNECTED", "expected 2-D")


@pytest.mark.parametrize("zero_point", [2**63 - 1, 128, -129])
def test_zero_points_out_of_range_are_refused(zero_point):
    def edit(model, sub):
        sub.tensors[0].quantization.zeroPoint = [zero_point]
    refused(edited(conv_model(), edit), "tensor 0", f"zero point {zero_point}")


def test_per_channel_scales_of_the_wrong_length_are_refused():
    def edit(model, sub):
        q = sub.tensors[1].quantization
        q.scale, q.zeroPoint, q.quantizedDimension = [0.1, 0.2], [0, 0], 0
    refused(edited(conv_model(), edit), "tensor 1", "per-channel scales")


@pytest.mark.parametrize("shape", [[1, 0, 4, 2], [1, 2**31 - 1, 4, 2]])
def test_zero_and_huge_dimensions_are_refused(shape):
    def edit(model, sub):
        sub.tensors[0].shape = shape
    refused(edited(conv_model(), edit), "tensor 0", "shape")


def test_missing_options_are_refused():
    def edit(model, sub):
        sub.operators[0].builtinOptionsType, sub.operators[0].builtinOptions = 0, None
    refused(edited(conv_model(), edit), "op 0 CONV_2D", "options table is missing")


@pytest.mark.parametrize("field, value", [("strideH", 0), ("dilationWFactor", -3), ("padding", 7)])
def test_options_out_of_range_are_refused(field, value):
    def edit(model, sub):
        setattr(sub.operators[0].builtinOptions, field, value)
    refused(edited(conv_model(), edit), "op 0 CONV_2D")


def test_a_signature_naming_a_missing_tensor_is_refused():
    def edit(model, sub):
        model.signatureDefs[0].outputs[0].tensorIndex = 999
    refused(edited(fixture_path("ee_dscnn").read_bytes(), edit), "signature 0", "tensor 999")


# ---------------------------------------------------------------------------
# Files


def test_endless_files_are_not_read_into_memory():
    code = "from tinyexit.codegen.reader import read_model; read_model('/dev/zero')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "larger than" in proc.stderr and "Traceback" in proc.stderr  # the TinyexitError, raised in 1 s
    assert "MemoryError" not in proc.stderr


def test_a_huge_file_is_refused(tmp_path):
    big = tmp_path / "big.tflite"
    with open(big, "wb") as f:
        f.truncate(65 * 1024 * 1024)
    with pytest.raises(TinyexitError, match="larger than 64 MiB"):
        read_model(big)


# ---------------------------------------------------------------------------
# Names


def _nasty_names(name: str):
    def edit(model, sub):
        for t in sub.tensors:
            t.name = name
        for entry in model.signatureDefs[0].outputs:
            entry.name = name + str(entry.tensorIndex)
    return edit


def _defined_macros(lib: Path) -> str:
    out = []
    for c in sorted(lib.glob("*.c")):
        proc = subprocess.run(["cc", "-std=c99", "-dM", "-E", "-I", str(lib), str(c)], capture_output=True,
                              text=True, check=True)
        out.append(proc.stdout)
    return "\n".join(out)


@pytest.mark.parametrize("name", [INJECTION, "a/*b", "??/", "x\\", "// c \x00\x1b[2J\xff"])
def test_model_names_never_reach_c_verbatim(name, tmp_path):
    model = tmp_path / "nasty.tflite"
    model.write_bytes(edited(fixture_path("ee_dscnn").read_bytes(), _nasty_names(name)))
    lib = tmp_path / "lib"
    generate(model, lib, options=Options(policy="confidence:0.9"))
    text = "".join(p.read_text() for p in lib.iterdir() if p.suffix in (".c", ".h"))
    assert not re.search(r"^\s*#\s*define\s+TX_INJECTED_BY_MODEL", text, re.M)
    assert "TX_INJECTED_BY_MODEL" not in _defined_macros(lib)
    assert name not in text
    assert all(ch == "\n" or " " <= ch <= "~" for ch in text)
    build_host(lib)  # -Werror


def test_a_refusal_prints_a_short_safe_line_for_a_huge_nasty_name():
    def edit(model, sub):
        sub.tensors[0].name = ("*/\n\x1b" + "é" * 3000).encode()
        sub.tensors[0].quantization.scale = [0.0]
    message = refused(edited(conv_model(), edit), "tensor 0")
    assert len(message) < 300


def test_safe_text_breaks_comment_and_trigraph_pairs():
    for raw in [INJECTION, "/*/", "**//", "???/", "a\\\nb", "\u2028x", "*" * 10 + "/" * 10]:
        s = safe_text(raw)
        assert s.isascii() and s.isprintable()
        assert not any(p in s for p in ("*/", "/*", "//", "??", "\\"))
    assert safe_text("model/conv2d/Conv2D;model/relu") == "model/conv2d/Conv2D;model/relu"
    assert len(safe_text("x" * 1000)) == 64


def test_duplicate_exit_names_after_sanitizing_are_refused():
    def edit(model, sub):
        outs = model.signatureDefs[0].outputs
        outs[0].name, outs[1].name = "exit*/", "exit*\n"
    refused(edited(fixture_path("ee_dscnn").read_bytes(), edit), "signature 0", "two outputs are named")


# ---------------------------------------------------------------------------
# Policy parameters


def test_temporal_patience_is_range_checked():
    with pytest.raises(TinyexitError, match="at most"):
        parse_policy("temporal-patience:99999999999999999999", ["exit0", "final"])
    assert parse_policy("temporal-patience:1000000", ["exit0", "final"]).count == 1_000_000


@pytest.mark.parametrize("tensor, what", [(1, "a constant"), (0, "a model input")])
def test_a_model_output_that_no_op_computes_is_refused(tensor, what):
    def edit(model, sub):
        sub.outputs = [tensor]
    refused(edited(fc_model(), edit), "model output list", what)


def test_a_damaged_table_is_refused_like_tflm_unpacks_it():
    data = bytearray(conv_model())
    # The root table's first field offset, pointed far outside the file.
    root = int.from_bytes(data[0:4], "little")
    vtable = root - int.from_bytes(data[root:root + 4], "little", signed=True)
    field = int.from_bytes(data[vtable + 6:vtable + 8], "little")  # Model.operator_codes
    data[root + field:root + field + 4] = (0x7FFFFF00).to_bytes(4, "little")
    refused(bytes(data), "damaged or truncated")


@pytest.mark.parametrize("tensor, shape", [(3, [1, 5]), (2, [5]), (0, [1, 7])])
def test_fully_connected_shapes_must_fit(tensor, shape):
    def edit(model, sub):
        sub.tensors[tensor].shape = shape
        if tensor == 2:
            model.buffers[sub.tensors[2].buffer].data = list(np.zeros(5, np.int32).view(np.uint8))
    refused(edited(fc_model(), edit), "op 0 FULLY_CONNECTED", "do not fit")


def test_a_schema_version_tflm_refuses_is_refused():
    def edit(model, sub):
        model.version = 4
    refused(edited(fc_model(), edit), "schema version 4")


@pytest.mark.parametrize("policy", ["confidence:5e-324", "margin:1e300", "entropy:1e300", "difference:1e300",
                                    "temporal-patience:1000000"])
def test_extreme_accepted_policy_values_give_compilable_c(policy, tmp_path):
    lib = tmp_path / "lib"
    generate(fixture_path("ee_dscnn"), lib, options=Options(policy=policy))
    build_host(lib)  # -Werror


def test_pad_paddings_must_match_the_input_rank():
    data = one_op_model("PAD", [x_spec([1, 4, 4, 2]),
                                TensorSpec([3], "int32", data=np.array([1, 1, 0], np.int32))],
                        [x_spec([1, 6, 6, 2])], pad_options())
    refused(data, "op 0 PAD", "paddings")


def test_a_two_dimensional_bias_is_refused():
    def edit(model, sub):
        sub.tensors[2].shape = [4, 1]
    refused(edited(fc_model(), edit), "op 0 FULLY_CONNECTED", "not 1-D")


def test_a_depthwise_convolution_without_bias_is_refused():
    w = RNG.integers(-127, 128, size=(1, 3, 3, 2)).astype(np.int8)
    data = one_op_model("DEPTHWISE_CONV_2D", [x_spec([1, 4, 4, 2]), TensorSpec([1, 3, 3, 2], scale=0.02, data=w,
                                                                               axis=3), None],
                        [x_spec([1, 4, 4, 2], scale=0.1)], depthwise_options())
    refused(data, "op 0 DEPTHWISE_CONV_2D", "input 2 is omitted")
