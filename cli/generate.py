"""`tinyexit inspect` and `tinyexit generate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..codegen.options import make_options
from ..codegen.output import write_file
from ..codegen.passes.plan_memory import timeline
from ..codegen.pipeline import compile_graph, generate
from ..codegen.reader import read_model
from ..codegen.summary import model_summary
from ..evaluation.plot import arena_png
from .common import ExitsOpt, ModelArg, OptimizeOpt, PolicyOpt, console
from .tables import Column, Table, lines, render, shape, terminal_width


def inspect(
    model: Path = ModelArg,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    memory: bool = typer.Option(False, "--memory", help="Also draw the arena plan: buffers by step and offset"),
    png: Optional[Path] = typer.Option(None, "--png", help="Write the arena plan as a PNG picture to this file"),
) -> None:
    """Show ops, MACs, weights, exits, stages and the planned arena."""
    graph = compile_graph(read_model(model), make_options(policy, exits, optimize))
    summary = model_summary(graph)
    if png is not None:
        write_file(png, arena_png(graph, graph.source))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    width = terminal_width()
    ops = Table([Column("#", right=True), Column("op"), Column("inputs", wrap=True), Column("output"),
                 Column("MACs", right=True), Column("weight bytes", right=True), Column("stage", right=True)],
                title=f"{graph.source}: ops")  # fmt: skip
    for op in summary["ops"]:
        ops.add(
            op["index"], op["op"], " ".join(shape(s) for s in op["input_shapes"]), shape(op["output_shape"]),
            f"{op['macs']:,}", f"{op['weight_bytes']:,}", "-" if op["stage"] is None else op["stage"],
        )  # fmt: skip
    print(render(ops, width))
    stages = Table([Column("stage", right=True), Column("exit"), Column("ops", right=True), Column("MACs", right=True),
                    Column("cumulative MACs", right=True), Column("share of model", right=True)],
                   title="\nstages (one per exit)")  # fmt: skip
    for s in summary["stages"]:
        stages.add(s["index"], s["exit"], len(s["ops"]), f"{s['macs']:,}", f"{s['cumulative_macs']:,}",
                   f"{100 * s['share']:.1f}%")  # fmt: skip
    print(render(stages, width))
    print()
    print(lines(f"total: {summary['macs']:,} MACs, {summary['weight_bytes']:,} weight bytes (flash), "
                f"arena {summary['arena_bytes']:,} bytes; exits: {', '.join(summary['exits'])}", width))
    if memory:
        columns = max(16, min(96, width - 13))
        print()
        print(lines(f"arena plan: {graph.plan.arena_bytes:,} bytes across {columns} columns; one row per op in "
                    "schedule order; a letter is a live buffer, '.' free", width))
        print("\n".join(lines(row, width) for row in timeline(graph, columns)))
    if png is not None:
        print(lines(f"wrote {png}", width))


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
