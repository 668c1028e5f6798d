"""Emitter: a compiled Graph -> a folder of C sources, through jinja2 templates.

Python builds plain dictionaries (names, offsets, numbers); every line of C
is in templates/. Files are rendered into a temporary folder beside the
destination and moved into place at the end, so a failure never leaves a
half-written output folder.
"""

from __future__ import annotations

import json
import keyword
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from . import __version__
from .errors import TinyexitError
from .ir import Graph, KernelCall
from .names import c_identifier, safe_text
from .paths import TEMPLATES_DIR
from .pipeline import Options, compile_graph
from .reader import read_model

C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while _Bool _Complex _Imaginary main".split()
)
CTYPES = {"int8": "int8_t", "int32": "int32_t", "float32": "float", "int16": "int16_t", "uint8": "uint8_t"}


@dataclass(frozen=True)
class GeneratedLibrary:
    out_dir: Path
    prefix: str
    files: tuple[str, ...]
    graph: Graph


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
    }


def op_weight_bytes(graph: Graph, op_index: int) -> int:
    """Bytes of constant arrays one op's kernel calls keep in flash."""
    return sum(int(np.asarray(a.values).nbytes) for c in graph.calls.get(op_index, ()) for a in c.arrays.values())


def weight_bytes(graph: Graph) -> int:
    """Bytes of constant arrays the generated code keeps in flash."""
    return sum(op_weight_bytes(graph, i) for i in graph.calls)


def manifest(graph: Graph, context: dict, files: list[str]) -> dict:
    inp = graph.tensor(graph.inputs[0])
    return {
        "tinyexit_version": __version__,
        "name": context["prefix"],
        "prefix": context["prefix"],
        "source": graph.source,
        "policy": context["policy_spec"],
        "optimize": context["optimize"],
        "arena_bytes": context["arena_bytes"],
        "weight_bytes": context["weight_bytes"],
        "macs": context["total_macs"],
        "input": {
            "shape": list(inp.shape),
            "dtype": inp.dtype,
            "bytes": inp.nbytes,
            "scale": inp.quant.scale if inp.quant else None,
            "zero_point": inp.quant.zero_point if inp.quant else None,
        },
        "exits": [
            {
                "name": e.name,
                "shape": list(graph.tensor(e.tensor).shape),
                "dtype": graph.tensor(e.tensor).dtype,
                "bytes": graph.tensor(e.tensor).nbytes,
                "stage": k,
                "logits": graph.tensor(graph.stages[k].logits_tensor).size,
                "logits_scale": graph.tensor(graph.stages[k].logits_tensor).quant.scale,
                "logits_zero_point": graph.tensor(graph.stages[k].logits_tensor).quant.zero_point,
            }
            for k, e in enumerate(graph.exits)
        ],
        "stages": [{"index": s.index, "ops": list(s.ops), "macs": s.macs} for s in graph.stages],
        "scratch": {str(s["op"]): {"offset": s["offset"], "bytes": s["bytes"]} for s in context["scratch"]},
        "sources": sorted(f for f in files if f.endswith(".c")),
        "headers": sorted(f for f in files if f.endswith(".h")),
        "passes": graph.passes_run,
        "trace": context["trace"],
        "tensors": {
            str(t): {
                "name": graph.tensor(t).name,
                "offset": offset,
                "shape": list(graph.tensor(t).shape),
                "dtype": graph.tensor(t).dtype,
                "bytes": graph.tensor(t).nbytes,
            }
            for t, offset in sorted(graph.plan.offsets.items())
        },
    }


def specialize_common(text: str, optimize: str) -> str:
    """tx_common.h with the library's weight layout fixed (TX_W8 in tx_common.h): only that path is compiled."""
    guard = "#define TX_COMMON_H\n"
    macro = "TX_WEIGHTS_INT8_ONLY" if optimize == "size" else "TX_WEIGHTS_INT16_ONLY"
    return text.replace(guard, f"{guard}\n/* optimize={optimize}: generated by tinyexit */\n#define {macro} 1\n", 1)


def render_library(graph: Graph, prefix: str, options: Options) -> dict[str, str]:
    """File name -> text of every file of the generated library."""
    env = template_env()
    ctx = build_context(graph, prefix, options)
    files = {
        f"{prefix}.h": env.get_template("library/model.h.j2").render(ctx),
        f"{prefix}.c": env.get_template("library/model.c.j2").render(ctx),
        f"{prefix}_weights.h": env.get_template("library/weights.h.j2").render(ctx),
        f"{prefix}_weights.c": env.get_template("library/weights.c.j2").render(ctx),
        "tx_common.h": specialize_common((TEMPLATES_DIR / "kernels" / "tx_common.h").read_text(), options.optimize),
    }
    for kernel in ctx["kernels"]:
        for ext in ("h", "c"):
            files[f"tx_{kernel}.{ext}"] = (TEMPLATES_DIR / "kernels" / f"tx_{kernel}.{ext}").read_text()
    files["manifest.json"] = json.dumps(manifest(graph, ctx, list(files)), indent=2, sort_keys=True) + "\n"
    return files


def write_atomically(out_dir: Path, files: dict[str, str], binary: dict[str, bytes] | None = None) -> None:
    """Write `files` (text) and `binary` into a temporary sibling folder, then swap it into `out_dir`."""
    out_dir = out_dir.resolve()
    parent = out_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=parent))
    except OSError as exc:
        raise TinyexitError(f"{out_dir}: cannot create the output folder ({exc.strerror}); choose a writable -o") from None
    if out_dir.exists() and not out_dir.is_dir():
        shutil.rmtree(tmp, ignore_errors=True)
        raise TinyexitError(f"{out_dir}: exists and is not a folder; choose another -o")
    try:
        for name, text in files.items():
            (tmp / name).write_text(text)
        for name, data in (binary or {}).items():
            (tmp / name).write_bytes(data)
        move_into_place(tmp, out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TinyexitError(f"{out_dir}: cannot write the output folder ({exc.strerror}); choose a writable -o") from None


def move_into_place(src: Path, out_dir: Path) -> None:
    """Replace `out_dir` by the finished folder `src` (a sibling), keeping the old one until the swap."""
    if out_dir.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
        old.rmdir()
        out_dir.rename(old)
        src.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(out_dir)


def generate(
    model_path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    options: Options = Options(),
) -> GeneratedLibrary:
    """Read, compile and emit a model as a C library in `out_dir`."""
    model_path = Path(model_path)
    prefix = check_prefix(name) if name else default_prefix(model_path)
    graph = compile_graph(read_model(model_path), options)
    files = render_library(graph, prefix, options)
    write_atomically(Path(out_dir), files)
    return GeneratedLibrary(out_dir=Path(out_dir), prefix=prefix, files=tuple(sorted(files)), graph=graph)
