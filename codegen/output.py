"""Output folders: written in a temporary sibling, swapped into place at the end.

Every command that writes a folder (a generated library, firmware, a report)
goes through `staged_folder`, so a failure never leaves a half-written
output: the work happens in `.NAME.tmp-*` beside the destination, and only a
finished folder replaces the old one.

    with staged_folder(out) as tmp:     # tmp: an empty folder beside `out`
        ... write into tmp ...
    # here `out` holds what was written; on an exception nothing changed

    write_folder(out, {"a.c": "...", "plot.png": b"..."})

Safety: an output folder is replaced as a whole, so tinyexit refuses one that
is the current folder or contains it, the home folder, the filesystem root,
and any existing non-empty folder it did not write itself (each folder it
writes carries a MARKER file). The swap is one atomic rename exchange where
the system has it, and Ctrl-C is held back while the old folder is swapped
out and the temporary one removed: an interrupt at any moment leaves either
the old or the new folder in place, and no temporary folder behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import __version__
from .errors import TinyexitError

MARKER = ".tinyexit"  # in every folder tinyexit writes; lets it replace that folder later
RENAME_EXCHANGE = 2  # renameat2 flag (Linux >= 3.15)
AT_FDCWD = -100
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _fail(out: Path, what: str, exc: OSError) -> TinyexitError:
    return TinyexitError(f"{out}: cannot {what} ({exc.strerror or exc}); choose a writable -o")


def written_by_tinyexit(folder: Path) -> bool:
    return (folder / MARKER).is_file()


def check_output_folder(out: Path) -> None:
    """Refuse an output folder whose replacement would delete what the user did not ask to."""
    cwd, home = Path.cwd().resolve(), Path.home().resolve()
    if out == Path(out.anchor):
        raise TinyexitError(f"-o {out}: is the filesystem root; give a new folder for the output, e.g. -o out/")
    if out == home:
        raise TinyexitError(f"-o {out}: is your home folder; give a new folder for the output, e.g. -o out/")
    if cwd == out or out in cwd.parents:
        raise TinyexitError(
            f"-o {out}: is the current folder or contains it, and an output folder is replaced as a whole; "
            "give a new folder for the output, e.g. -o out/"
        )
    if out.exists() and not out.is_dir():
        raise TinyexitError(f"{out}: exists and is not a folder; choose another -o")
    if out.is_dir() and any(out.iterdir()) and not written_by_tinyexit(out):
        raise TinyexitError(
            f"{out}: exists and holds files tinyexit did not write; choose a new folder for -o, or empty this one"
        )


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM back for the block, then deliver the first one that came.

    Python runs signal handlers in the main thread whichever thread the kernel
    hands a signal to, so swapping the handlers (not the thread's signal mask)
    is what holds them back. A no-op outside the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum)) for sig in DEFERRED_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)
        if received:
            signal.raise_signal(received[0])  # now, to the handler that was in place


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically (Linux renameat2); False where the system cannot."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE)
    return done == 0


def move_into_place(src: Path, out: Path) -> None:
    """Replace `out` by the finished folder `src` (a sibling); `src` is gone afterwards."""
    with signals_deferred():
        if not out.exists():
            src.rename(out)
        elif _exchange(src, out):
            shutil.rmtree(src, ignore_errors=True)  # src now holds the old folder
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            old.rmdir()
            out.rename(old)
            src.rename(out)
            shutil.rmtree(old, ignore_errors=True)


@contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """An empty temporary folder beside `out` that replaces `out` when the block ends without error."""
    out = Path(out).absolute().resolve()
    check_output_folder(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    except OSError as exc:
        raise _fail(out, "create the output folder", exc) from None
    try:
        yield stage
        (stage / MARKER).write_text(f"written by tinyexit {__version__}; tinyexit may replace this folder\n")
        move_into_place(stage, out)
    except OSError as exc:
        raise _fail(out, "write the output folder", exc) from None
    finally:
        with signals_deferred():
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


def write_file(out: str | Path, data: bytes) -> Path:
    """Write one file atomically (a temporary sibling renamed over it); returns its path."""
    out = Path(out).absolute()
    if out.is_dir():
        raise TinyexitError(f"{out}: is a folder; give a file name for -o, e.g. -o results.npz")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.tmp-", dir=out.parent)
    except OSError as exc:
        raise TinyexitError(f"{out}: cannot create the file ({exc.strerror or exc}); choose a writable -o") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with signals_deferred():
            os.replace(tmp, out)
    except OSError as exc:
        raise TinyexitError(f"{out}: cannot write the file ({exc.strerror or exc}); choose a writable -o") from None
    finally:
        with signals_deferred():
            if os.path.exists(tmp):
                os.unlink(tmp)
    return out
