"""What the real-board firmware prints, read back: clock, cycles per stage and per inference, results.

The board firmware (`tinyexit build --board B` writes it as <prefix>-<board>-board.elf/.bin/.hex)
prints on the ST-LINK virtual COM port, from reset:

    TX CLOCK <Hz>                   the SYSCLK it set up (tx_board.c), once
    TXC <sample> <stage> <cycles>   every stage that ran: DWT CYCCNT from tx_stage_begin to tx_stage_end
    TXS <sample> <cycles>           the whole inference: tx_sample_begin to tx_sample_end
    TXR <hex>                       results.bin, as the Renode UART build prints it (firmware_sim.renode)
    TX EXIT <code>                  the end; "TX FAULT ..." if it faulted

`parse_board_log(lines, manifest, where)` turns those lines into a BoardRun (pure:
no I/O; `firmware_sim.serial_port` reads a port, a file holds a captured log).
Lines before the last "TX CLOCK" (an earlier run, a reset during capture) and
lines that are not the firmware's are skipped; every problem is one line
naming where and what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ..codegen.errors import TinyexitError
from .harness import HEADER_BYTES, RunResult, parse_results

CLOCK = re.compile(r"TX CLOCK (\d+)$")
STAGE = re.compile(r"TXC (\d+) (\d+) (\d+)$")
SAMPLE = re.compile(r"TXS (\d+) (\d+)$")
RESULT = re.compile(r"TXR ((?:[0-9a-f]{2})+)$")
EXIT = re.compile(r"TX EXIT (-?\d+)$")
SOURCE = "measured on the board (DWT cycle counter)"


@dataclass(frozen=True)
class BoardRun:
    """One run of the board firmware over N samples of a model with S stages."""

    run: RunResult  # outputs, exits and labels, as every other target gives them
    clock_hz: int  # the SYSCLK the firmware reported ("TX CLOCK")
    stage_cycles: np.ndarray  # (N, S) int64: measured cycles per stage, 0 for stages not run
    sample_cycles: np.ndarray  # (N,) int64: measured cycles per whole inference

    def time_ms(self, cycles):
        """Milliseconds at the clock the board ran at."""
        return np.asarray(cycles, dtype=np.float64) * 1e3 / self.clock_hz

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The target's arrays (outputs, logits.<exit>, exit_taken, label) plus the measured cycles."""
        arrays = self.run.to_arrays()
        arrays["stage_cycles"] = self.stage_cycles
        arrays["sample_cycles"] = self.sample_cycles
        arrays["clock_hz"] = np.array(self.clock_hz, dtype=np.int64)
        return arrays


def record_bytes(manifest: dict) -> int:
    """Bytes of one sample in results.bin."""
    return HEADER_BYTES + sum(e["bytes"] + e["logits"] for e in manifest["exits"])


def last_run(lines: list[str]) -> list[str]:
    """The lines from the last "TX CLOCK" on (an earlier run or a reset mid-capture is dropped)."""
    starts = [i for i, line in enumerate(lines) if CLOCK.match(line)]
    return lines[starts[-1]:] if starts else []


def parse_board_log(lines: Iterable[str], manifest: dict, where: str) -> BoardRun:
    """A BoardRun from the board firmware's output lines (see the module docstring)."""
    text = [line.strip().replace("\x00", "") for line in lines]
    run = last_run(text)
    if not run:
        raise TinyexitError(
            f"{where}: no 'TX CLOCK' line, so not the output of a tinyexit board firmware from reset; flash "
            "the board ELF `tinyexit build --board` wrote, start `tinyexit measure`, then press the board's reset button"
        )
    clock = int(CLOCK.match(run[0]).group(1))
    if clock <= 0:
        raise TinyexitError(f"{where}: the firmware reported a clock of {clock} Hz; this is a bug in its set-up")
    raw = bytearray()
    stages: dict[tuple[int, int], int] = {}
    totals: dict[int, int] = {}
    code = None
    for line in run[1:]:
        if line.startswith("TX FAULT"):
            raise TinyexitError(f"{where}: the board faulted after {len(totals)} samples: {line.removeprefix('TX FAULT ')}")
        if m := STAGE.match(line):
            stages[int(m.group(1)), int(m.group(2))] = int(m.group(3))
        elif m := SAMPLE.match(line):
            totals[int(m.group(1))] = int(m.group(2))
        elif m := RESULT.match(line):
            raw += bytes.fromhex(m.group(1))
        elif m := EXIT.match(line):
            code = int(m.group(1))
            break
    record = record_bytes(manifest)
    if code is None:
        raise TinyexitError(
            f"{where}: the log ends before 'TX EXIT' ({len(totals)} samples timed, {len(raw) // record} results "
            "read); capture from reset until the firmware prints 'TX EXIT 0'"
        )
    if code != 0:
        reason = " (it could not open inputs.bin/results.bin)" if code == 3 else ""
        raise TinyexitError(f"{where}: the firmware exited with code {code}{reason}")
    if len(raw) % record:
        raise TinyexitError(
            f"{where}: {len(raw)} result bytes are not a whole number of {record}-byte samples; TXR lines were "
            "lost or garbled: check the baud rate (115200) and capture again"
        )
    samples = len(raw) // record
    if sorted(totals) != list(range(samples)):
        raise TinyexitError(
            f"{where}: {len(totals)} samples timed (TXS lines) but {samples} in the results (TXR lines); lines "
            "were lost: capture again"
        )
    result = parse_results(bytes(raw), manifest, samples)
    n_stages = len(manifest["stages"])
    stage_cycles = np.zeros((samples, n_stages), np.int64)
    for i in range(samples):
        ran = int(result.exit_taken[i]) + 1
        for k in range(n_stages):
            if (i, k) in stages and k >= ran:
                raise TinyexitError(f"{where}: sample {i} has cycles for stage {k} but stopped at exit {ran - 1}")
            if k < ran:
                if (i, k) not in stages:
                    raise TinyexitError(f"{where}: sample {i} ran stage {k} but has no 'TXC {i} {k}' line; "
                                        "lines were lost: capture again")  # fmt: skip
                stage_cycles[i, k] = stages[i, k]
    sample_cycles = np.array([totals[i] for i in range(samples)], np.int64)
    return BoardRun(run=result, clock_hz=clock, stage_cycles=stage_cycles, sample_cycles=sample_cycles)


def format_board_log(board_run: BoardRun, manifest: dict) -> list[str]:
    """The lines the firmware would print for a BoardRun (the inverse of parse_board_log; for tests and tools)."""
    lines = [f"TX CLOCK {board_run.clock_hz}"]
    for i, total in enumerate(board_run.sample_cycles):
        for k in range(int(board_run.run.exit_taken[i]) + 1):
            lines.append(f"TXC {i} {k} {int(board_run.stage_cycles[i, k])}")
        lines.append(f"TXS {i} {int(total)}")
    raw = results_bytes(board_run.run, manifest)
    lines += [f"TXR {raw[j:j + 32].hex()}" for j in range(0, len(raw), 32)]
    lines.append("TX EXIT 0")
    return lines


def results_bytes(run: RunResult, manifest: dict) -> bytes:
    """results.bin for a RunResult (the harness's record layout)."""
    out = bytearray()
    for i in range(len(run.exit_taken)):
        label = int(run.labels[i]) & 0xFFFF
        out += bytes([int(run.exit_taken[i]) & 0xFF, label & 0xFF, label >> 8])
        for e in manifest["exits"]:
            out += np.ascontiguousarray(run.outputs[e["name"]][i]).astype(np.dtype(e["dtype"]).newbyteorder("<")).tobytes()
        for e in manifest["exits"]:
            out += run.logits[e["name"]][i].astype(np.int8).tobytes()
    return bytes(out)
