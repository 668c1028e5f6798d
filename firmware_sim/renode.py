"""Renode: scripts for users who have it, and a runner where `renode` is on PATH.

Renode has no semihosting file I/O, so its firmware is the UART build
(templates/firmware/tx_io_uart.c.j2): the samples are compiled into flash and
results come back on the board's UART as "TXR <hex>" lines, ending with
"TX EXIT <code>". The ELF is linked for the real part's memory map.

    expected_uart(lib_dir, inputs) -> ExpectedUart    the lines the firmware must print, from the host build
    write_renode_files(build, out_dir, expected) -> RenodeFiles (.repl, .resc, .robot, .expected.txt)
    write_ci_workflow(out_dir, command, out) -> Path  a GitHub Actions job that runs the .robot
    run(lib_dir, board, inputs) -> RunResult          (needs `renode` on PATH)

The expected lines: the UART firmware prints results.bin (firmware_sim.harness)
32 bytes a line as "TXR <hex>", whatever sizes newlib hands to _write (its
stdio buffer, 1024 bytes, is a multiple of 32), then "TX EXIT 0". The host
build of the same library gives the same results.bin (the bit-exactness
contract), so the .robot can check every line; tests/test_renode.py checks the
lines against the UART firmware's own output in QEMU, byte for byte.

Renode counts instructions, not cycles, and tinyexit does not read its
counters: per-stage instruction counts come from the QEMU target.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import __version__
from ..codegen.emitter import template_env
from ..codegen.boards import Board, load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest

from .build import BuildResult, build_firmware
from .harness import RunResult, parse_results, results_bytes
from .host import run_host
from .qemu import qemu_binary

TIMING_LINE_PREFIXES = ("TX CLOCK ", "TXC ", "TXS ")  # the board firmware's timing lines (templates/firmware/tx_markers_dwt.c)
UART_LINE_BYTES = 32  # results bytes per "TXR" line (put_hex_line in templates/firmware/tx_io_uart.c.j2)
EXIT_LINE = "TX EXIT 0"
RENODE_REVISION = "v1.15.3"  # the released Renode the CI workflow builds and runs (a tag, never a branch)
CI_PYTHON = "3.11"

RENODE_INSTALL = (
    "Renode is not installed (no `renode` on PATH); it is not in Debian or on PyPI: download the portable "
    "Linux package from https://github.com/renode/renode/releases, unpack it and add its folder to PATH"
)


@dataclass(frozen=True)
class RenodeFiles:
    repl: Path
    resc: Path
    robot: Path
    log: Path  # where the .resc writes the UART output
    expected: Path  # the lines the .robot waits for, as the UART prints them


@dataclass(frozen=True)
class ExpectedUart:
    lines: tuple[str, ...]  # every line the firmware prints: "TXR <hex>" ..., then "TX EXIT 0"
    exit_taken: tuple[int, ...]  # per sample, for the .robot's comments
    labels: tuple[int, ...]
    exits: tuple[str, ...]  # exit names in stage order


def uart_lines(raw: bytes) -> list[str]:
    """The lines the UART firmware prints for results.bin `raw`: "TXR <hex>" per 32 bytes, then "TX EXIT 0"."""
    return [f"TXR {raw[i : i + UART_LINE_BYTES].hex()}" for i in range(0, len(raw), UART_LINE_BYTES)] + [EXIT_LINE]


def expected_uart(lib_dir: str | Path, inputs: np.ndarray) -> ExpectedUart:
    """What the UART firmware for `lib_dir` prints for `inputs`, from the host build of the same C."""
    manifest = load_manifest(lib_dir)
    result = run_host(lib_dir, inputs)
    return ExpectedUart(
        lines=tuple(uart_lines(results_bytes(result, manifest))),
        exit_taken=tuple(int(k) for k in result.exit_taken),
        labels=tuple(int(v) for v in result.labels),
        exits=tuple(e["name"] for e in manifest["exits"]),
    )


def uart_name(board: Board) -> str:
    if board.renode_uart is None or not board.renode_uart.name:
        raise TinyexitError(f"board {board.name} names no Renode UART; add [renode] uart = {{name=..., ...}} to {board.path}")
    return board.renode_uart.name


def write_renode_files(build: BuildResult, out_dir: str | Path, expected: ExpectedUart, timeout: int = 600) -> RenodeFiles:
    """Write <board>.repl, <stem>.resc, <stem>.robot and <stem>.expected.txt next to the ELF.

    The .robot waits, in order, for every line of `expected` (each matched whole),
    so it fails on the first result byte that differs from the host build's.
    """
    board = build.board
    if build.memory_map != "board" or build.io != "uart":
        raise TinyexitError("Renode runs the UART build linked for the part's memory map (memory_map='board', io='uart')")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = build.elf.stem
    prefix = stem.split("-")[0]
    env = template_env()
    uart = uart_name(board)
    repl = out_dir / f"{board.name}.repl"
    resc = out_dir / f"{stem}.resc"
    robot = out_dir / f"{stem}.robot"
    log = out_dir / f"{stem}.uart.txt"
    expected_file = out_dir / f"{stem}.expected.txt"
    ctx = dict(
        version=__version__, board=board, prefix=prefix, samples=len(expected.exit_taken), uart=uart,
        elf_name=build.elf.name, log_name=log.name, repl_name=repl.name, resc_name=resc.name,
        robot_name=robot.name, expected_name=expected_file.name, timeout=timeout, expected=expected,
        patterns=[robot_line_pattern(line) for line in expected.lines],
    )  # fmt: skip
    repl.write_text(env.get_template("firmware/renode/board.repl.j2").render(ctx))
    resc.write_text(env.get_template("firmware/renode/run.resc.j2").render(ctx))
    robot.write_text(env.get_template("firmware/renode/run.robot.j2").render(ctx))
    expected_file.write_text("".join(line + "\n" for line in expected.lines))
    return RenodeFiles(repl=repl, resc=resc, robot=robot, log=log, expected=expected_file)


def robot_line_pattern(line: str) -> str:
    """A regex that matches exactly `line` (Renode's "Wait For Line On Uart" otherwise matches a substring)."""
    if not all(c.isalnum() or c == " " for c in line):
        raise ValueError(f"UART line {line!r} holds characters other than letters, digits and spaces")
    return f"^{line}$"


def write_ci_workflow(out_dir: str | Path, command: list[str], out: str) -> Path:
    """Write renode-ci.yml: a GitHub Actions job for the user's repository that reruns `command`
    (a `tinyexit build`), runs the .robot in a pinned Renode and uploads the logs."""
    path = Path(out_dir) / "renode-ci.yml"
    text = template_env().get_template("firmware/renode/renode-ci.yml.j2").render(
        version=__version__, python=CI_PYTHON, renode_revision=RENODE_REVISION,
        command=shlex.join(command), out=out.rstrip("/") or ".",
    )  # fmt: skip
    path.write_text(text)
    return path


def uart_mismatch(text: str, expected: ExpectedUart) -> str | None:
    """Where the UART output `text` first differs from the expected lines (None when it holds exactly them).

    The board firmware's timing lines ("TX CLOCK", "TXC", "TXS": firmware_sim.board_log) vary from run
    to run and are not results, so they are skipped."""
    got = [line for line in text.splitlines() if not line.startswith(TIMING_LINE_PREFIXES)]
    for i, want in enumerate(expected.lines):
        if i >= len(got):
            return f"the UART output stops after {len(got)} of {len(expected.lines)} lines; line {i + 1} should be '{want}'"
        if got[i].rstrip("\r") != want:
            return f"UART line {i + 1} is '{got[i]}', the host build printed '{want}'"
    if len(got) > len(expected.lines):
        return f"the UART output goes on after '{expected.lines[-1]}': line {len(expected.lines) + 1} is '{got[len(expected.lines)]}'"
    return None


def parse_uart_log(text: str, manifest: dict, samples: int, where: str) -> RunResult:
    """results.bin from the firmware's UART output ("TXR <hex>" lines, then "TX EXIT <code>")."""
    raw = bytearray()
    code = None
    fault = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("TXR "):
            raw += bytes.fromhex(line[4:])
        elif line.startswith("TX EXIT "):
            code = int(line[8:])
        elif line.startswith("TX FAULT"):
            fault = line
    if fault:
        raise TinyexitError(f"{where}: the guest faulted: {fault.removeprefix('TX FAULT ')}")
    if code is None:
        raise TinyexitError(f"{where}: the program did not finish (no 'TX EXIT' line on the UART)")
    if code != 0:
        raise TinyexitError(f"{where}: the program exited with code {code}")
    return parse_results(bytes(raw), manifest, samples)


def run(lib_dir: str | Path, board: str | Board, inputs: np.ndarray, opt: str = "-O2", timeout: float = 600.0) -> RunResult:
    """Build the UART firmware for the part and run it in Renode; outputs and exits."""
    renode = shutil.which("renode")
    if renode is None:
        raise TinyexitError(RENODE_INSTALL)
    board = load_board(board)
    manifest = load_manifest(lib_dir)
    with tempfile.TemporaryDirectory(prefix="tinyexit-renode-") as tmp:
        built = build_firmware(lib_dir, board, tmp, opt=opt, memory_map="board", io="uart", inputs=inputs)
        samples = len(np.asarray(inputs)) if np.asarray(inputs).ndim else 0
        expected = expected_uart(lib_dir, inputs)
        files = write_renode_files(built, tmp, expected)
        cmd = [renode, "--disable-xwt", "--console", "--plain", "-e", f"include @{files.resc}", "-e", "start"]
        errors = Path(tmp) / "renode.stderr.txt"
        with errors.open("w") as err:  # a file, not a pipe: a chatty Renode never blocks on it
            proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.DEVNULL, stderr=err)
            text, ended = wait_for_exit_line(proc, files.log, timeout)
        where = f"{built.elf.name} on Renode ({board.name})"
        if "TX EXIT" not in text and "TX FAULT" not in text:
            if ended is not None:
                last = (errors.read_text(errors="replace").strip().splitlines() or ["(nothing on stderr)"])[-1]
                raise TinyexitError(f"{where}: renode exited with code {ended} before the firmware finished: {last}")
            raise TinyexitError(f"{where}: no 'TX EXIT' line on the UART within {timeout:.0f} s "
                                f"({len(text.splitlines())} lines printed)")
        result = parse_uart_log(text, manifest, samples, where)
        mismatch = uart_mismatch(text, expected)
        if mismatch:
            raise TinyexitError(f"{where}: {mismatch}")
        return result


def wait_for_exit_line(proc: subprocess.Popen, log: Path, timeout: float) -> tuple[str, int | None]:
    """Poll the UART log until its last line is a whole "TX EXIT"/"TX FAULT" line, the process ends or
    `timeout` passes; then stop the process. Returns the log and the exit code if it ended by itself."""
    deadline = time.monotonic() + timeout
    ended = None
    try:
        while time.monotonic() < deadline:
            ended = proc.poll()
            text = log.read_text(errors="replace") if log.exists() else ""
            if (("TX EXIT" in text or "TX FAULT" in text) and text.endswith("\n")) or ended is not None:
                break
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    return (log.read_text(errors="replace") if log.exists() else ""), ended


def run_uart_in_qemu(lib_dir: str | Path, board: str | Board, inputs: np.ndarray, timeout: float = 120.0) -> RunResult:
    """The UART build on the QEMU machine (mps2 CMSDK UART, STM32F405 USART): tests the UART glue."""
    manifest = load_manifest(lib_dir)
    text, where = uart_text_in_qemu(lib_dir, board, inputs, timeout)
    return parse_uart_log(text, manifest, len(np.asarray(inputs)), where)


def uart_text_in_qemu(lib_dir: str | Path, board: str | Board, inputs: np.ndarray, timeout: float = 120.0) -> tuple[str, str]:
    """Everything the UART build prints on the QEMU machine, and a name for it in messages."""
    board = load_board(board)
    with tempfile.TemporaryDirectory(prefix="tinyexit-uart-") as tmp:
        built = build_firmware(lib_dir, board, tmp, memory_map="qemu", io="uart", inputs=inputs)
        cmd = [qemu_binary(), "-M", board.qemu_machine, "-nographic", "-monitor", "none", "-serial", "stdio",
               "-icount", "shift=0", "-no-reboot", "-kernel", str(built.elf)]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TinyexitError(f"{built.elf.name} on QEMU {board.qemu_machine} (UART build) did not finish in {timeout:.0f} s") from None
        return proc.stdout.decode(errors="replace"), f"{built.elf.name} (UART build)"
