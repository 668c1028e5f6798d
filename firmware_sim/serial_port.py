"""Read lines from a serial port (the ST-LINK virtual COM port) with termios: no extra dependency.

    read_lines(port, baud=115200, timeout=120) -> list[str]

Opens the port raw (8N1, no flow control, no echo), takes an exclusive lock
so that two readers do not split the lines between them, and reads until a
line starts with one of `until` ("TX EXIT", "TX FAULT") or `timeout` seconds
pass. Every problem (no such port, permission, busy, not a serial port,
nothing in time) is one TinyexitError line saying what to do.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import termios
import time
from collections.abc import Callable

from ..codegen.errors import TinyexitError

END_LINES = ("TX EXIT", "TX FAULT")


def open_port(port: str, baud: int) -> int:
    """A raw, exclusively locked file descriptor for `port` at `baud`."""
    speed = getattr(termios, f"B{baud}", None)
    if speed is None:
        raise TinyexitError(f"--baud {baud} is not a standard serial speed; the firmware prints at 115200")
    try:
        fd = os.open(port, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise TinyexitError(f"serial port {port} does not exist; plug in the board's ST-LINK USB and check "
                            "`ls /dev/ttyACM*`") from None  # fmt: skip
    except PermissionError:
        raise TinyexitError(f"cannot open {port}: permission denied; add yourself to the dialout group "
                            "(sudo usermod -aG dialout $USER) and log in again") from None  # fmt: skip
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            raise TinyexitError(f"serial port {port} is busy: another program has it open; close it") from None
        raise TinyexitError(f"cannot open {port}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise TinyexitError(f"serial port {port} is busy: another program (a terminal, ModemManager) has it open; "
                            "close it") from None  # fmt: skip
    try:
        attrs = termios.tcgetattr(fd)
    except termios.error:
        os.close(fd)
        raise TinyexitError(f"{port} is not a serial port; pass the board's port, e.g. --port /dev/ttyACM0") from None
    iflag, oflag, cflag, lflag, _, _, cc = attrs
    iflag = 0
    oflag = 0
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB | termios.CSTOPB)) | termios.CS8 | termios.CREAD | termios.CLOCAL
    cflag &= ~getattr(termios, "CRTSCTS", 0)
    lflag = 0
    cc[termios.VMIN], cc[termios.VTIME] = 0, 0
    termios.tcsetattr(fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc])
    termios.tcflush(fd, termios.TCIFLUSH)
    return fd


def read_lines(port: str, baud: int = 115200, timeout: float = 120.0, until: tuple[str, ...] = END_LINES,
               on_line: Callable[[str], None] | None = None,
               on_open: Callable[[], None] | None = None) -> list[str]:
    """Lines read from `port` until one starts with a prefix in `until`; TinyexitError after `timeout` seconds.

    `on_open` runs once the port is open and locked (e.g. to ask for a reset, which is pointless before)."""
    fd = open_port(port, baud)
    if on_open is not None:
        on_open()
    lines: list[str] = []
    pending = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TinyexitError(
                    f"no '{until[0]}' line from {port} within {timeout:.0f} s ({len(lines)} lines read); flash the "
                    "board firmware, start `tinyexit measure`, then press the board's reset button"
                )
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError as exc:
                raise TinyexitError(f"reading {port} failed after {len(lines)} lines ({exc.strerror}); was the board "
                                    "unplugged? Plug it in and measure again") from None  # fmt: skip
            if not chunk:
                continue
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                line = raw.decode("ascii", errors="replace").strip()
                lines.append(line)
                if on_line is not None:
                    on_line(line)
                if line.startswith(until):
                    return lines
    finally:
        os.close(fd)
