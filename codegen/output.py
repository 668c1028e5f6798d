"""Output folders: written in a temporary sibling, moved into place at the end.

Every command that writes a folder (a generated library, firmware, a report)
goes through `staged_folder`, so a failure never leaves a half-written
output: the work happens in `.NAME.tmp-*` beside the destination, and only a
finished folder replaces the old one.

    with staged_folder(out) as tmp:     # tmp: an empty folder beside `out`
        ... write into tmp ...
    # here `out` holds what was written; on an exception nothing changed

    write_folder(out, {"a.c": "...", "plot.png": b"..."})
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import TinyexitError


def _fail(out: Path, what: str, exc: OSError) -> TinyexitError:
    return TinyexitError(f"{out}: cannot {what} ({exc.strerror or exc}); choose a writable -o")


def _make_stage(out: Path) -> Path:
    if out.exists() and not out.is_dir():
        raise TinyexitError(f"{out}: exists and is not a folder; choose another -o")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise _fail(out, "create the output folder", exc) from None


def move_into_place(src: Path, out: Path) -> None:
    """Replace `out` by the finished folder `src` (a sibling), keeping the old one until the swap."""
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
        src.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        src.rename(out)


@contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """An empty temporary folder beside `out` that replaces `out` when the block ends without error."""
    out = Path(out).resolve()
    stage = _make_stage(out)
    try:
        yield stage
        move_into_place(stage, out)
    except OSError as exc:
        raise _fail(out, "write the output folder", exc) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def write_folder(out: str | Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (name -> text or bytes) as the folder `out`, atomically; returns `out`."""
    with staged_folder(out) as stage:
        for name, data in files.items():
            path = stage / name
            if isinstance(data, bytes):
                path.write_bytes(data)
            else:
                path.write_text(data)
    return Path(out)
