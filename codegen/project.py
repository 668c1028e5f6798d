"""What an STM32 project needs to take a generated library in.

    write_project_files(lib_dir, board) -> list of written paths

Writes, into the library folder (from templates/firmware/project/):
  CMakeLists.txt        a static library target named after the prefix
  <prefix>.mk           a Makefile fragment (sources, include path, core flags,
                        and a rule for lib<prefix>.a)
  compiler_flags.txt    the board's compiler flags on one line
  STM32CubeIDE.txt      how to add the folder to an STM32CubeIDE project
The lists of sources come from manifest.json.
"""

from __future__ import annotations

from pathlib import Path

from . import __version__
from .boards import Board, load_board
from .emitter import template_env
from .errors import TinyexitError
from .manifest import load_manifest

PROJECT_FILES = {
    "CMakeLists.txt": "firmware/project/CMakeLists.txt.j2",
    "{prefix}.mk": "firmware/project/library.mk.j2",
    "compiler_flags.txt": "firmware/project/compiler_flags.txt.j2",
    "STM32CubeIDE.txt": "firmware/project/STM32CubeIDE.txt.j2",
}


def render_project_files(manifest: dict, folder: str, board: str | Board) -> dict[str, str]:
    """File name -> text, for the library described by `manifest`, in a folder named `folder`."""
    board = load_board(board)
    prefix = manifest["prefix"]
    ctx = dict(
        version=__version__,
        board=board,
        prefix=prefix,
        PREFIX=prefix.upper(),
        folder=folder,
        sources=manifest["sources"],
        arena_bytes=manifest["arena_bytes"],
        weight_bytes=manifest.get("weight_bytes"),
    )
    env = template_env()
    return {name.format(prefix=prefix): env.get_template(t).render(ctx) for name, t in PROJECT_FILES.items()}


def write_project_files(lib_dir: str | Path, board: str | Board) -> list[Path]:
    """Write the project-integration files into lib_dir; returns their paths."""
    lib_dir = Path(lib_dir)
    if not lib_dir.is_dir():
        raise TinyexitError(f"{lib_dir} is not a folder; generate the library first")
    written = []
    for name, text in render_project_files(load_manifest(lib_dir), lib_dir.resolve().name, board).items():
        path = lib_dir / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written
