"""What several commands share: options, input loading, the console."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import typer
from rich.console import Console

from ..codegen.errors import TinyexitError
from ..codegen.output import write_file

PolicyOpt = typer.Option("none", "--policy", help="Exit policy, e.g. none, exit:0, confidence:0.9, margin:2.5")
ExitsOpt = typer.Option(None, "--exits", help="Exit names in stage order, e.g. exit0,final (default: by MACs)")
BoardOpt = typer.Option(..., "--board", "-b", help="Board name (see `tinyexit boards`) or path to a board .toml")
OptOpt = typer.Option("-O2", "--opt", help="Optimisation level for arm-none-eabi-gcc")
OptimizeOpt = typer.Option("speed", "--optimize",
                           help="speed: GEMM weights widened to int16 in flash; size: int8 weights, widened in the "
                                "inner loop (about half the flash)")  # fmt: skip
ModelArg = typer.Argument(..., help="int8 .tflite model")


def console() -> Console:
    """A console made per command, so COLUMNS and the terminal are read when it runs."""
    return Console()


def load_inputs(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise TinyexitError(f"{path}: cannot read a .npy array ({exc}); save inputs with numpy.save") from None


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Save arrays as an .npz, atomically; like numpy, a name without .npz gets it. Returns the path written."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return write_file(path, buf.getvalue())
