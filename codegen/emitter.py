"""Emitter: a compiled Graph -> the text of every file of the C library.

Python builds plain dictionaries (names, offsets, numbers); every line of C
is in templates/. Writing the files is the pipeline's job
(codegen/pipeline.py, through codegen/output.py).
"""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path

import jinja2
import numpy as np

from . import __version__
from .errors import TinyexitError
from .ir import Graph, KernelCall
from .manifest import build_manifest
from .names import c_identifier, safe_text
from .options import Options
from .paths import TEMPLATES_DIR

C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary main".split()
)
CTYPES = {"int8": "int8_t", "int32": "int32_t", "float32": "float", "int16": "int16_t", "uint8": "uint8_t"}


def default_prefix(model_path: Path) -> str:
    """A valid C identifier from the model's file name: 'kws-ref.tflite' -> 'kws_ref'."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", model_path.stem).lower() or "model"
    if name[0].isdigit():
        name = "m_" + name
    return name if name not in C_KEYWORDS else name + "_model"


def check_prefix(prefix: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,30}", prefix) or prefix in C_KEYWORDS or keyword.iskeyword(prefix):
        raise TinyexitError(
            f"--name '{prefix}' is not a usable C identifier; use letters, digits and '_', "
            "starting with a letter, at most 31 characters (e.g. --name kws)"
        )
    if prefix.startswith("tx_"):
        raise TinyexitError(f"--name '{prefix}' starts with 'tx_', which the kernels use; choose another name")
    return prefix


def template_env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["c_rows"] = c_rows
    return env


def c_rows(values: np.ndarray, per_line: int = 16) -> list[str]:
    """Array values as lines of C initializer text."""
    flat = np.asarray(values).reshape(-1)
    if flat.dtype.kind == "f":
        items = [f"{float(v)!r}f" for v in flat]
    else:
        items = [str(int(v)) for v in flat]
    return [", ".join(items[i : i + per_line]) + "," for i in range(0, len(items), per_line)]


def short_name(name: str) -> str:
    """A tensor name fit for a comment: TF joins the names of fused ops with ';', keep the first."""
    first = name.split(";")[0]
    return first + ";..." if first != name else name


def _tensor_comment(graph: Graph, index: int) -> str:
    t = graph.tensor(index)
    quant = ""
    if t.quant is not None and not t.quant.per_channel:
        quant = f", scale {t.quant.scale:.9g}, zero point {t.quant.zero_point}"
    return f"'{short_name(t.name)}' {t.dtype} {list(t.shape)}{quant}"


def _call_context(graph: Graph, prefix: str, op_index: int, call_index: int, call: KernelCall, many: bool):
    tag = f"op{op_index}_{call_index}" if many else f"op{op_index}"
    arrays = []
    for field, array in call.arrays.items():
        arrays.append(
            {
                "field": field,
                "symbol": c_identifier(f"{prefix}_{tag}_{field}"),
                "ctype": array.ctype,
                "length": int(np.asarray(array.values).size),
                "data": array.values,
                "comment": array.comment,
                "per_line": 16 if array.ctype in ("int8_t", "uint8_t") else 8,
            }
        )
    args = [f"ARENA(TENSOR_{t}_OFFSET)" for t in call.inputs + call.outputs]
    if call.scratch:
        args.append(f"ARENA(SCRATCH_OP{op_index}_OFFSET)")
    return {
        "tag": tag,
        "kernel": call.kernel,
        "params": call.params,
        "arrays": arrays,
        "args": args,
        "macs": call.macs,
    }


def _op_context(graph: Graph, prefix: str, op_index: int) -> dict:
    op = graph.ops[op_index]
    calls = graph.calls.get(op_index, ())
    return {
        "index": op_index,
        "kind": op.kind,
        "output": _tensor_comment(graph, op.outputs[0]),
        "calls": [_call_context(graph, prefix, op_index, j, c, len(calls) > 1) for j, c in enumerate(calls)],
    }


def build_context(graph: Graph, prefix: str, options: Options) -> dict:
    """Everything the templates need, as plain data."""
    plan = graph.plan
    input_tensor = graph.tensor(graph.inputs[0])
    stages = []
    for stage in graph.stages:
        exit_ = graph.exits[stage.exit_index]
        out = graph.tensor(exit_.tensor)
        logits = graph.tensor(stage.logits_tensor)
        stages.append(
            {
                "index": stage.index,
                "exit_name": exit_.name,
                "ops": [_op_context(graph, prefix, i) for i in stage.ops if graph.calls.get(i)],
                "deferred": [_op_context(graph, prefix, i) for i in stage.deferred_ops],
                "macs": stage.macs,
                "exit_tensor": exit_.tensor,
                "exit_bytes": out.nbytes,
                "exit_ctype": CTYPES[out.dtype],
                "exit_shape": list(out.shape),
                "exit_comment": _tensor_comment(graph, exit_.tensor),
                "logits_tensor": stage.logits_tensor,
                "logits_count": logits.size,
                "logits_comment": _tensor_comment(graph, stage.logits_tensor),
            }
        )
    all_ops = [c for s in stages for c in s["ops"] + s["deferred"]]
    kernels = sorted({call["kernel"] for op in all_ops for call in op["calls"]})
    used = sorted({t for t in plan.offsets})
    offsets = [
        {"tensor": t, "offset": plan.offsets[t], "comment": _tensor_comment(graph, t)} for t in used
    ]
    scratch = [
        {"op": i, "offset": off, "kind": graph.ops[i].kind,
         "bytes": max(c.scratch for c in graph.calls[i])}
        for i, off in sorted(plan.scratch.items())
    ]
    exit_ctypes = {s["exit_ctype"] for s in stages}
    total_macs = sum(s["macs"] for s in stages)
    return {
        "version": __version__,
        "source": graph.source,
        "prefix": prefix,
        "PREFIX": prefix.upper(),
        "policy_spec": safe_text(options.policy, 200),
        "optimize": options.optimize,
        "exit_order": ",".join(e.name for e in graph.exits),
        "arena_bytes": plan.arena_bytes,
        "input": {
            "tensor": graph.inputs[0],
            "bytes": input_tensor.nbytes,
            "ctype": CTYPES[input_tensor.dtype],
            "comment": _tensor_comment(graph, graph.inputs[0]),
        },
        "output_ctype": exit_ctypes.pop() if len(exit_ctypes) == 1 else "void",
        "stages": stages,
        "num_stages": len(stages),
        "kernels": kernels,
        "offsets": offsets,
        "scratch": scratch,
        "total_macs": total_macs,
        "weight_bytes": weight_bytes(graph),
        "policy": graph.policy,
        "trace": options.trace,
        "op_markers": options.op_markers,
    }


def op_weight_bytes(graph: Graph, op_index: int) -> int:
    """Bytes of constant arrays one op's kernel calls keep in flash."""
    return sum(int(np.asarray(a.values).nbytes) for c in graph.calls.get(op_index, ()) for a in c.arrays.values())


def weight_bytes(graph: Graph) -> int:
    """Bytes of constant arrays the generated code keeps in flash."""
    return sum(op_weight_bytes(graph, i) for i in graph.calls)


def gemm_direct(call: KernelCall) -> bool:
    """Whether tx_conv2d_gemm_s8 widens this call's columns straight from its input (conv_w8's `direct`:
    a 1x1 convolution whose output pixels are its input pixels, channels in fours)."""
    p = call.params
    return call.kernel == "conv2d_gemm_s8" and (p.get("k_h"), p.get("k_w")) == (1, 1) and (
        (p.get("in_h"), p.get("in_w")) == (p.get("out_h"), p.get("out_w"))) and p.get("in_c", 1) % 4 == 0


def gemm_groups(call: KernelCall) -> int | None:
    """Groups of 4 column elements of a tx_conv2d_gemm_s8 call (col_words / 2), None for other kernels."""
    return call.params.get("col_words", 0) // 2 if call.kernel == "conv2d_gemm_s8" else None


def gemm_odd(call: KernelCall) -> bool:
    """Whether a tx_conv2d_gemm_s8 call's columns hold 4k + 2 groups of 4 elements, k >= 1: pairs_wide runs
    such layers with a copy of its loop whose first pass starts at its third group."""
    groups = gemm_groups(call)
    return groups is not None and groups % 4 == 2 and groups > 2


def gemm_g2(call: KernelCall) -> bool:
    """Whether a tx_conv2d_gemm_s8 call's columns hold 2 groups (pointwise over 8 channels, or K <= 8):
    pairs_wide runs such layers with a copy without a pass loop."""
    return gemm_groups(call) == 2


def gemm_slow(call: KernelCall) -> bool:
    """Whether an int8-weight tx_conv2d_gemm_s8 call needs the 64-bit requantization records (not rq_fast)."""
    return call.kernel == "conv2d_gemm_s8" and call.params.get("w8", 0) == 1 and not call.params.get("rq_fast", 0)


def add_slow(call: KernelCall) -> bool:
    """Whether a tx_add_lut_s8 call needs its 64-bit requantization (not rq_fast)."""
    return call.kernel == "add_lut_s8" and not call.params.get("rq_fast", 0)


def rows_loop(call: KernelCall) -> str | None:
    """The asm loop of tx_conv2d_rows_s8 a call takes on DSP cores ("C4_K3": frame_c 4, a 3x3 kernel), None
    for other kernels and for calls that take the C block (an activation to clamp, other kernel sizes)."""
    p = call.params
    if call.kernel != "conv2d_rows_s8" or (p["act_min"], p["act_max"]) != (-128, 127):
        return None
    if p["frame_c"] not in (4, 6) or (p["k_h"], p["k_w"]) not in ((1, 1), (3, 3)):
        return None
    return f"C{p['frame_c']}_K{p['k_h']}"


ROWS_LOOPS = ("C4_K1", "C4_K3", "C6_K1", "C6_K3")


def gemv_last_unit(call: KernelCall) -> bool:
    """Whether an int8-weight tx_fully_connected_gemv_s8 call has an odd last unit (unit_last)."""
    return call.kernel == "fully_connected_gemv_s8" and call.params.get("w8", 0) == 1 and call.params["units"] % 2 == 1


def left_out_paths(calls: list[KernelCall]) -> list[str]:
    """The defines that leave kernel paths no call of the library takes out of it (flash), in tx_common.h:
    without a gemm_direct call TX_CONV2D_GEMM_NO_DIRECT, without a gemm_odd or gemm_g2 call
    TX_CONV2D_GEMM_NO_ODD or TX_CONV2D_GEMM_NO_G2 (copies of the pair loop), without an add_slow call
    TX_ADD_LUT_FAST_ONLY, without a gemm_slow call TX_CONV2D_GEMM_MR_ONLY, without a gemv_last_unit
    call TX_GEMV_NO_LAST_UNIT; the tx_conv2d_rows_s8 loops no call takes (TX_CONV2D_ROWS_NO_<loop>),
    and its C block when every rows call has a loop (TX_CONV2D_ROWS_ASM_ONLY)."""
    # define -> whether a call takes the path it leaves out
    used = {name: any(test(c) for c in calls) for name, test in (
        ("TX_CONV2D_GEMM_NO_DIRECT", gemm_direct), ("TX_CONV2D_GEMM_NO_ODD", gemm_odd),
        ("TX_ADD_LUT_FAST_ONLY", add_slow), ("TX_CONV2D_GEMM_MR_ONLY", gemm_slow),
        ("TX_CONV2D_GEMM_NO_G2", gemm_g2), ("TX_GEMV_NO_LAST_UNIT", gemv_last_unit))}
    rows = [rows_loop(c) for c in calls if c.kernel == "conv2d_rows_s8"]
    used |= {f"TX_CONV2D_ROWS_NO_{loop}": loop in rows for loop in ROWS_LOOPS}
    used["TX_CONV2D_ROWS_ASM_ONLY"] = None in rows
    return [name for name, is_used in used.items() if not is_used]


def specialize_common(text: str, optimize: str, left_out: list[str] | tuple[str, ...] = ()) -> str:
    """tx_common.h with the library's weight layout fixed (TX_W8 in tx_common.h): only that path is compiled;
    `left_out` (left_out_paths) are defined too."""
    guard = "#define TX_COMMON_H\n"
    macro = "TX_WEIGHTS_INT8_ONLY" if optimize == "size" else "TX_WEIGHTS_INT16_ONLY"
    defines = "".join(f"#define {name} 1\n" for name in left_out)
    header = f"\n/* optimize={optimize}: generated by tinyexit */\n#define {macro} 1\n{defines}"
    return text.replace(guard, guard + header, 1)


def render_library(graph: Graph, prefix: str, options: Options) -> dict[str, str]:
    """File name -> text of every file of the generated library."""
    env = template_env()
    ctx = build_context(graph, prefix, options)
    all_calls = [c for calls in graph.calls.values() for c in calls]
    files = {
        f"{prefix}.h": env.get_template("library/model.h.j2").render(ctx),
        f"{prefix}.c": env.get_template("library/model.c.j2").render(ctx),
        f"{prefix}_weights.h": env.get_template("library/weights.h.j2").render(ctx),
        f"{prefix}_weights.c": env.get_template("library/weights.c.j2").render(ctx),
        "tx_common.h": specialize_common((TEMPLATES_DIR / "kernels" / "tx_common.h").read_text(), options.optimize,
                                         left_out_paths(all_calls)),
    }
    for kernel in ctx["kernels"] + list(graph.policy.kernels):  # the decisions' helpers: tx_policy
        for ext in ("h", "c"):
            files[f"tx_{kernel}.{ext}"] = (TEMPLATES_DIR / "kernels" / f"tx_{kernel}.{ext}").read_text()
    files["manifest.json"] = json.dumps(build_manifest(graph, ctx, list(files)), indent=2, sort_keys=True) + "\n"
    return files
