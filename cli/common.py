"""What several commands share: options, input loading, the console."""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..codegen.errors import TinyexitError
from ..codegen.output import write_file

PolicyOpt = typer.Option("none", "--policy", help="Exit policy, e.g. none, exit:0, confidence:0.9, margin:2.5, "
                         "or @FILE: the policy `tinyexit calibrate -o FILE` wrote")
ExitsOpt = typer.Option(None, "--exits", help="Exit names in stage order, e.g. exit0,final (default: by MACs)")
BoardOpt = typer.Option(..., "--board", "-b", help="Board name (see `tinyexit boards`) or path to a board .toml")
OptOpt = typer.Option("-O2", "--opt", help="Optimisation level for arm-none-eabi-gcc")
OptimizeOpt = typer.Option("size", "--optimize",
                           help="size (default): int8 weights in flash, the fewest estimated cycles on the MLPerf "
                                "models; speed: GEMM weights widened to int16 in flash (about twice the flash)")  # fmt: skip
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


PLAIN_EVERY_S = 5.0  # plain progress: at most one line per this many seconds, besides changes of step


@contextmanager
def progress(what: str, total: int, quiet: bool = False) -> Iterator[Callable[..., None]]:
    """Yields update(done, note=""): a bar on a terminal, plain lines when stdout is a pipe or a file.

    Piped into a CI log, a long command prints "what: 3/7 note (12 s)" when
    the note changes, at the end, and at most every PLAIN_EVERY_S seconds
    between, so the log shows it is alive. stderr keeps only the error line.
    quiet: print nothing.
    """
    if quiet:  # e.g. --json: stdout holds one JSON object and nothing else
        yield lambda done, note="": None
        return
    if sys.stdout.isatty():
        columns = (TextColumn("[bold]{task.description}[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=Console(), transient=True) as bar:
            task = bar.add_task(what, total=total)
            yield lambda done, note="": bar.update(task, completed=done, description=f"{what} {note}".rstrip())
        return
    start = time.monotonic()
    last = {"at": -PLAIN_EVERY_S, "note": None}

    def update(done: int, note: str = "") -> None:
        now = time.monotonic()
        if done >= total or note != last["note"] or now - last["at"] >= PLAIN_EVERY_S:
            print(f"{what}: {done}/{total}{' ' + note if note else ''} ({now - start:.0f} s)", flush=True)
            last.update(at=now, note=note)

    yield update
