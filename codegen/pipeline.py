"""The code generator's driver: .tflite -> passes -> C library folder.

    compile_graph(graph, options) -> Graph           the passes, in their one order
    generate(model, out, name, options, board) -> GeneratedLibrary
                                                      read, compile, emit, write
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .boards import Board, load_board
from .emitter import check_prefix, default_prefix, render_library
from .ir import Graph
from .options import Options
from .output import write_folder
from .passes.check_model import check_model
from .passes.lower_policy import lower_graph_policy
from .passes.partition_stages import partition_stages
from .passes.plan_memory import plan_memory
from .passes.prepare_ops import prepare_ops
from .project import render_project_files
from .reader import read_model


@dataclass(frozen=True)
class GeneratedLibrary:
    out_dir: Path
    prefix: str
    files: tuple[str, ...]
    graph: Graph


def compile_graph(graph: Graph, options: Options = Options()) -> Graph:
    """Run every pass in order; each returns a new Graph and records its name."""
    graph = check_model(graph)
    graph = prepare_ops(graph, options.optimize)
    graph = partition_stages(graph, list(options.exit_order) if options.exit_order else None)
    graph = plan_memory(graph, keep_all=options.trace)
    graph = lower_graph_policy(graph, options.policy)
    return graph


def generate(
    model_path: str | Path,
    out_dir: str | Path,
    name: str | None = None,
    options: Options = Options(),
    board: str | Path | Board | None = None,
) -> GeneratedLibrary:
    """Read, compile and emit a model as a C library in `out_dir` (replaced atomically).

    With a board, the folder also gets the project files for it (CMakeLists.txt,
    a Makefile fragment, compiler flags, STM32CubeIDE notes).
    """
    model_path, out_dir = Path(model_path), Path(out_dir)
    prefix = check_prefix(name) if name else default_prefix(model_path)
    spec = load_board(board) if board is not None else None
    graph = compile_graph(read_model(model_path), options)
    files = render_library(graph, prefix, options)
    if spec is not None:
        files.update(render_project_files(json.loads(files["manifest.json"]), out_dir.resolve().name, spec))
    write_folder(out_dir, files)
    return GeneratedLibrary(out_dir=out_dir, prefix=prefix, files=tuple(sorted(files)), graph=graph)
