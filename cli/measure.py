"""`tinyexit measure`: cycles and ms measured on a real board, in simulate's report format."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Optional

import numpy as np
import typer

from ..codegen.boards import load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.options import make_options
from ..codegen.output import write_file
from ..codegen.pipeline import generate
from ..firmware_sim.board_log import SOURCE, BoardRun, parse_board_log
from ..firmware_sim.host import run_host
from ..firmware_sim.serial_port import read_lines
from .common import ExitsOpt, ModelArg, OptimizeOpt, PolicyOpt, console, load_inputs, save_npz
from .simulate import _uj, summary_json
from .tables import Column, Table, lines, render, terminal_width


def measure(
    model: Path = ModelArg,
    board: str = typer.Option(..., "--board", "-b", help="The board the firmware runs on (see `tinyexit boards`)"),
    port: Optional[str] = typer.Option(None, "--port", help="Serial port of the board's ST-LINK virtual COM port, "
                                       "e.g. /dev/ttyACM0"),
    from_log: Optional[Path] = typer.Option(None, "--from-log", help="Read a captured UART log instead of a port"),
    policy: str = PolicyOpt,
    exits: Optional[str] = ExitsOpt,
    optimize: str = OptimizeOpt,
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Also save the arrays to this .npz (and, from a "
                                       "port, the log beside it as .uart.txt)"),
    baud: int = typer.Option(115200, "--baud", help="Serial speed (the firmware prints at 115200)"),
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for the firmware's last line"),
    show: int = typer.Option(20, "--show", help="Samples listed in the per-sample table"),
    inputs: Optional[Path] = typer.Option(None, "--inputs", help="The .npy the firmware was built with (build "
                                          "--inputs): check the board's outputs equal the host build's"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (the keys of simulate --json)"),
) -> None:
    """Read the board firmware's results and DWT cycles from a serial port (or a log): measured ms per stage."""
    if (port is None) == (from_log is None):
        raise TinyexitError("measure reads either --port /dev/ttyACM0 (the board) or --from-log FILE (a captured "
                            "log); give one of them")  # fmt: skip
    b = load_board(board)
    if b.hardware is None:
        raise TinyexitError(f"board {b.name} has no [hardware] table in {b.path}, so no board firmware to measure")
    with tempfile.TemporaryDirectory(prefix="tinyexit-measure-") as tmp:
        # The library first: a bad model or option fails before the board is waited for.
        lib = generate(model, Path(tmp) / "lib", options=make_options(policy, exits, optimize))
        manifest = load_manifest(lib.out_dir)
        x = load_inputs(inputs) if inputs is not None else None
        text, where = read_log(from_log) if from_log is not None else (read_port(port, baud, timeout, as_json), port)
        measured = parse_board_log(text, manifest, where)
        host = run_host(lib.out_dir, x) if x is not None else None
    stage_cost = stage_means(measured)
    report = summary_json(lib.prefix, b, policy, manifest, stage_cost, stages_run(measured),
                          measured.run.exit_taken, measured.run.labels, None, measured.sample_cycles.astype(float),
                          SOURCE, measured.clock_hz, None, SOURCE)  # fmt: skip
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print_tables(lib.prefix, b, policy, manifest, measured, stage_cost, show)
    if out is not None:
        written = save_npz(out, measured.to_arrays())
        if port is not None:
            write_file(written.with_suffix(".uart.txt"), ("\n".join(text) + "\n").encode())
        if not as_json:
            console().print(f"wrote {written}")
    if host is not None:
        check = compare_with_host(measured, host.to_arrays(), str(inputs))
        if not as_json:
            console().print(check, highlight=False, soft_wrap=True)


def compare_with_host(measured: BoardRun, host: dict[str, np.ndarray], source: str) -> str:
    """One line: the board's outputs equal the host build's, byte for byte; TinyexitError naming the first difference."""
    board = measured.run.to_arrays()
    samples = len(measured.run.exit_taken)
    if len(host["exit_taken"]) != samples:
        raise TinyexitError(f"the board ran {samples} samples but {source} holds {len(host['exit_taken'])}; pass the "
                            "--inputs the firmware was built with")  # fmt: skip
    differ = np.zeros(samples, bool)
    for key, value in host.items():
        differ |= (board[key].reshape(samples, -1) != value.reshape(samples, -1)).any(axis=1)
    if differ.any():
        first = int(np.argmax(differ))
        raise TinyexitError(f"the board's outputs differ from the host build's in {int(differ.sum())} of {samples} "
                            f"samples (first: sample {first}); check that build and measure used the same model, "
                            f"options and {source}")  # fmt: skip
    return f"outputs: identical to the host build's on all {samples} samples of {source} (every exit, byte for byte)"


def read_log(path: Path) -> tuple[list[str], str]:
    """A captured UART log's lines, and the name errors use for it."""
    try:
        return path.read_text(errors="replace").splitlines(), str(path)
    except OSError as exc:
        raise TinyexitError(f"cannot read the log {path}: {exc.strerror}") from None


def read_port(port: str, baud: int, timeout: float, quiet: bool) -> list[str]:
    """The firmware's lines from the board's serial port, from its reset to TX EXIT."""
    def ask_for_reset() -> None:
        console().print(f"reading {port} at {baud} baud: press the board's reset button", highlight=False)

    return read_lines(port, baud, timeout, on_open=None if quiet else ask_for_reset)


def stages_run(measured: BoardRun) -> np.ndarray:
    """(N, S) bool: the stages each sample ran (every stage up to the exit it took)."""
    return np.arange(measured.stage_cycles.shape[1])[None, :] <= measured.run.exit_taken[:, None].astype(np.int64)


def stage_means(measured: BoardRun) -> np.ndarray:
    """(S, 2): instructions (NaN: a board counts none) and mean measured cycles over the samples that ran each stage."""
    ran = stages_run(measured)
    with np.errstate(invalid="ignore", divide="ignore"):
        cyc = measured.stage_cycles.sum(axis=0) / ran.sum(axis=0)
    return np.stack([np.full_like(cyc, np.nan), cyc], axis=1)


def print_tables(prefix: str, b, policy: str, manifest: dict, measured: BoardRun, stage_cost: np.ndarray,
                 show: int) -> None:
    width = terminal_width()
    clock = measured.clock_hz
    n = len(measured.sample_cycles)
    exit_names = [e["name"] for e in manifest["exits"]]
    reached = stages_run(measured).sum(axis=0)
    stages = Table([Column("stage", right=True), Column("exit"), Column("samples", right=True),
                    Column("MACs", right=True), Column("cycles", right=True), Column("ms", right=True),
                    Column("uJ (est.)", right=True)],
                   title=f"{prefix} on {b.name} ({b.mcu} at {clock / 1e6:g} MHz), policy {policy}: measured on the board")
    for k, st in enumerate(manifest["stages"]):
        cyc = stage_cost[k, 1]
        known = not np.isnan(cyc)
        stages.add(k, exit_names[k], f"{reached[k]}/{n}", f"{st['macs']:,}", f"{cyc:,.0f}" if known else "-",
                   f"{1e3 * cyc / clock:.3f}" if known else "-", _uj(b, cyc * b.clock_hz / clock) if known else "-")
    print(render(stages, width))
    samples = Table([Column("sample", right=True), Column("exit taken"), Column("label", right=True),
                     Column("cycles", right=True), Column("ms", right=True)], title="\nper sample")  # fmt: skip
    for i in range(min(n, show)):
        k = int(measured.run.exit_taken[i])
        samples.add(i, f"{k} ({exit_names[k]})", int(measured.run.labels[i]), f"{measured.sample_cycles[i]:,}",
                    f"{float(measured.time_ms(measured.sample_cycles[i])):.3f}")
    if n > show:
        samples.caption = f"first {show} of {n} samples (--show N for more)"
    print(render(samples, width))
    mean = float(measured.sample_cycles.mean()) if n else 0.0
    print(lines(f"mean per sample: {mean:,.0f} cycles, {1e3 * mean / clock:.3f} ms at {clock / 1e6:g} MHz", width))
    print(lines(f"cycles {SOURCE}, at the clock the firmware reported (TX CLOCK {clock}); energy is an estimate "
                "from the board file's run current", width))  # fmt: skip
    if n and not measured.sample_cycles.any():
        print(lines("note: the cycle counter read 0 throughout: this log is not from a board (QEMU and Renode model "
                    "no DWT cycle counter)", width))  # fmt: skip
    if clock != b.hardware.sysclk_hz:
        print(lines(f"note: the board ran at {clock / 1e6:g} MHz, not the {b.hardware.sysclk_hz / 1e6:g} MHz its "
                    "file sets up: a clock set-up step did not complete", width))  # fmt: skip
