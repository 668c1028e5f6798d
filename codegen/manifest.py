"""manifest.json: what a generated library holds, for the tools that build and run it.

Written by the emitter beside the C files; read back by the project-file
writer and by firmware_sim (sources, shapes, stages, scratch), never by
parsing C.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import __version__
from .errors import TinyexitError
from .ir import Graph


def build_manifest(graph: Graph, context: dict, files: list[str]) -> dict:
    """The manifest of a generated library; `context` is the emitter's template context."""
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


def load_manifest(lib_dir: str | Path) -> dict:
    path = Path(lib_dir) / "manifest.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        raise TinyexitError(f"{lib_dir}: no readable manifest.json; run `tinyexit generate` to make the library") from None
