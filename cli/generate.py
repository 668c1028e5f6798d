"""`tinyexit inspect` and `tinyexit generate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from ..codegen.options import make_options
from ..codegen.pipeline import compile_graph, generate
from ..codegen.reader import read_model
from ..codegen.report import model_summary
from .common import ExitsOpt, ModelArg, OptimizeOpt, PolicyOpt, console


def inspect(
    model: Path = ModelArg,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
) -> None:
    """Show ops, MACs, weights, exits, stages and the planned arena."""
    graph = compile_graph(read_model(model), make_options(policy, exits, optimize))
    summary = model_summary(graph)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    out = console()
    ops = Table(title=f"{graph.source}: ops")
    for col in ("#", "op", "inputs", "output", "MACs", "weight bytes", "stage"):
        ops.add_column(col, justify="right" if col in ("#", "MACs", "weight bytes", "stage") else "left")
    for op in summary["ops"]:
        ops.add_row(
            str(op["index"]), op["op"], " ".join(str(s) for s in op["input_shapes"]), str(op["output_shape"]),
            f"{op['macs']:,}", f"{op['weight_bytes']:,}", "-" if op["stage"] is None else str(op["stage"]),
        )  # fmt: skip
    out.print(ops)
    stages = Table(title="stages (one per exit)")
    for col in ("stage", "exit", "ops", "MACs", "cumulative MACs", "share of model"):
        stages.add_column(col, justify="left" if col == "exit" else "right")
    for s in summary["stages"]:
        stages.add_row(
            str(s["index"]), s["exit"], str(len(s["ops"])), f"{s['macs']:,}", f"{s['cumulative_macs']:,}",
            f"{100 * s['share']:.1f}%",
        )  # fmt: skip
    out.print(stages)
    out.print(
        f"total: {summary['macs']:,} MACs, {summary['weight_bytes']:,} weight bytes (flash), "
        f"arena {summary['arena_bytes']:,} bytes; exits: {', '.join(summary['exits'])}"
    )


def generate_cmd(
    model: Path = ModelArg,
    out: Path = typer.Option(..., "-o", "--out", help="Output folder for the C library"),
    name: Optional[str] = typer.Option(None, "--name", help="C symbol prefix (default: from the file name)"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    board: Optional[str] = typer.Option(
        None, "--board", help="Also write CMakeLists.txt, a Makefile fragment and compiler flags for this board"
    ),
) -> None:
    """Generate the C library: header, graph, weights, kernels, manifest."""
    lib = generate(model, out, name=name, options=make_options(policy, exits, optimize), board=board)
    console().print(
        f"wrote {len(lib.files)} files to {out} (prefix {lib.prefix}, arena {lib.graph.plan.arena_bytes:,} bytes, "
        f"{len(lib.graph.stages)} stages)"
    )
