"""Split deployment in simulation: device A in one QEMU, its frames handed to device B in a second QEMU.

    build_split(lib_dir, split, segments, out_dir) -> (BuildResult A, BuildResult B)
    run_split(lib_dir, split, link, inputs) -> SplitResults

Both devices link the same generated library (every tensor at the same arena
offset) with their own harness (templates/harness/split_{a,b}.c.j2) and the
frame code (templates/link/tx_link.c). Device A runs stages 0..K-1 and their
decisions and writes a frame for each sample the policy sends on; device B
reads those frames, checks them, and runs stages K..S-1. Instructions are
exact per device and stage; the framing (A: gathering the boundary tensors and
sealing the frame, B: checking it and writing the tensors into the arena) is
counted apart, so A's stages + B's stages equal the single-device counts.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import __version__
from ..codegen.boards import Board
from ..codegen.emitter import template_env
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.paths import TEMPLATES_DIR
from ..codegen.split import STATUS, Link, Segment, Split, frame_bytes, payload_bytes
from . import cycles
from .build import BuildResult, build_firmware
from .harness import HEADER_BYTES, RunResult, input_bytes
from .qemu import (
    EXIT_FAULT, MARK_SAMPLE_BEGIN, MARK_SAMPLE_END, MARK_STAGE_BEGIN, MARK_STAGE_END, marker_addresses,
    plugin_path, qemu_command, read_events, where_stopped,
)  # fmt: skip

FORWARDED = 255  # device A's exit byte for a sample sent on; device B's for a refused frame


def write_split_harness(lib_dir: Path, dest: Path, role: str, boundary: int, segments: list[Segment]) -> list[Path]:
    """Render device `role` ('a' or 'b')'s harness with the frame code into dest; returns the C files."""
    manifest = load_manifest(lib_dir)
    ctx = {
        "version": __version__,
        "prefix": manifest["prefix"],
        "PREFIX": manifest["prefix"].upper(),
        "boundary": boundary,
        "num_stages": len(manifest["stages"]),
        "segments": segments,
        "payload_bytes": payload_bytes(segments),
        "max_exit_bytes": max(max(e["bytes"], e["logits"]) for e in manifest["exits"]),
    }
    dest.mkdir(parents=True, exist_ok=True)
    harness = dest / f"split_{role}.c"
    harness.write_text(template_env().get_template(f"harness/split_{role}.c.j2").render(ctx))
    for name in ("tx_markers.c", "tx_markers.h"):
        shutil.copyfile(TEMPLATES_DIR / "harness" / name, dest / name)
    for name in ("tx_link.c", "tx_link.h"):
        shutil.copyfile(TEMPLATES_DIR / "link" / name, dest / name)
    return [harness, dest / "tx_markers.c", dest / "tx_link.c"]


def build_split(lib_dir: str | Path, split: Split, segments: list[Segment], out_dir: str | Path,
                opt: str = "-O2") -> tuple[BuildResult, BuildResult]:
    """Device A's and device B's QEMU firmware, each for its own board."""
    lib_dir, out_dir = Path(lib_dir), Path(out_dir)
    prefix = load_manifest(lib_dir)["prefix"]
    built = []
    for role, device in (("a", split.a), ("b", split.b)):
        where = out_dir / f"device-{role}"
        built.append(build_firmware(
            lib_dir, device.board, where, opt=opt, elf_name=f"{prefix}-{device.board.name}-split-{role}.elf",
            harness=lambda work, role=role: write_split_harness(lib_dir, work, role, split.boundary, segments),
        ))  # fmt: skip
    return built[0], built[1]


def run_guest(built: BuildResult, files: dict[str, bytes], timeout: float) -> tuple[np.ndarray, np.ndarray, dict]:
    """Run one split firmware in QEMU with `files` in its semihosting folder: (marker ids, totals, files after)."""
    board, elf = built.board, built.elf
    args = ",".join([str(plugin_path()), "out={events}"] + [f"{k}=0x{a:x}" for k, a in marker_addresses(elf).items()])
    what = f"{elf.name} on QEMU {board.qemu_machine}"
    with tempfile.TemporaryDirectory(prefix="tinyexit-split-") as tmp:
        tmp = Path(tmp)
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        events = tmp / "events.bin"
        proc = subprocess.Popen(qemu_command(elf, board, args.format(events=events)), cwd=tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise TinyexitError(f"{what} did not finish within {timeout:.0f} s and was stopped: "
                                f"the guest hung {where_stopped(read_events(events)[0])}") from None
        ids, totals = read_events(events)
        if proc.returncode == EXIT_FAULT or "TX FAULT" in stderr:
            raise TinyexitError(f"{what}: the guest faulted {where_stopped(ids)}")
        if proc.returncode != 0:
            first = (stderr.strip().splitlines() or ["no output"])[0]
            raise TinyexitError(f"{what}: QEMU exited with code {proc.returncode} {where_stopped(ids)}: {first}")
        after = {p.name: p.read_bytes() for p in tmp.iterdir() if p.name != "events.bin"}
    return ids, totals, after


def marker_pairs(ids: np.ndarray, totals: np.ndarray) -> list[list[np.ndarray]]:
    """Per sample (tx_sample_begin .. end), the class counts of each tx_stage pair, in order."""
    samples, pairs, begin = [], None, None
    for i, m in enumerate(ids):
        if m == MARK_SAMPLE_BEGIN:
            pairs = []
        elif m == MARK_STAGE_BEGIN:
            begin = totals[i]
        elif m == MARK_STAGE_END:
            pairs.append(totals[i] - begin)
        elif m == MARK_SAMPLE_END:
            samples.append(pairs)
    return samples


@dataclass
class DeviceRun:
    """One device's exact counts: its stages (N, S) with 0 where not run, and its framing (N,)."""

    stage_classes: np.ndarray  # (N, S, classes) for the model's S stages, zero outside this device
    framing_classes: np.ndarray  # (N, classes): A gathers + seals, B checks + scatters; zero when no frame
    board: Board

    @property
    def stage_instructions(self) -> np.ndarray:
        return self.stage_classes[..., cycles.INDEX["insn"]]

    @property
    def framing_instructions(self) -> np.ndarray:
        return self.framing_classes[:, cycles.INDEX["insn"]]

    def cycles_est(self) -> np.ndarray:
        """(N,) cycles_est of this device per sample, stages and framing."""
        model = cycles.model_for(self.board.core)
        return model.estimate(self.stage_classes).sum(axis=1) + model.estimate(self.framing_classes)


@dataclass
class SplitResults:
    run: RunResult  # the single-device view: exits taken, labels, every exit's outputs and logits
    a: DeviceRun
    b: DeviceRun
    forwarded: np.ndarray  # (N,) bool: device A sent the sample on
    status: np.ndarray  # (N,) device B's tx_link status for forwarded samples (0 = ok), -1 otherwise
    frame_bytes: int
    link: Link

    @property
    def link_bytes(self) -> np.ndarray:
        return np.where(self.forwarded, self.frame_bytes, 0)

    def latency_ms(self) -> np.ndarray:
        """(N,) end to end: device A, then for forwarded samples the link and device B (estimates)."""
        a = self.a.board.time_ms(self.a.cycles_est())
        b = self.b.board.time_ms(self.b.cycles_est())
        return a + np.where(self.forwarded, 1e3 * self.link.seconds(self.link_bytes) + b, 0.0)


def parse_device_a(raw: bytes, manifest: dict, boundary: int, samples: int):
    """(exit taken (N,) with 255 for forwarded, labels, A's exits' outputs and logits) from A's results.bin."""
    exits = manifest["exits"][:boundary]
    record = HEADER_BYTES + sum(e["bytes"] + e["logits"] for e in exits)
    if len(raw) != record * samples:
        raise TinyexitError(f"device A wrote {len(raw)} result bytes, expected {record * samples}; it stopped early")
    return np.frombuffer(raw, np.uint8).reshape(samples, record), exits


def run_split(lib_dir: str | Path, split: Split, link: Link, segments: list[Segment], inputs: np.ndarray,
              opt: str = "-O2", timeout: float | None = None, work_dir=None) -> SplitResults:
    """Every sample on device A; the frames it sends, in order, on device B; results put back together."""
    lib_dir = Path(lib_dir)
    manifest = load_manifest(lib_dir)
    stages, boundary = len(manifest["stages"]), split.boundary
    data = input_bytes(inputs, manifest)
    samples = len(data) // manifest["input"]["bytes"]
    timeout = 60.0 + 2.0 * samples if timeout is None else timeout
    with tempfile.TemporaryDirectory(prefix="tinyexit-split-", dir=work_dir) as tmp:
        built_a, built_b = build_split(lib_dir, split, segments, tmp, opt=opt)
        ids, totals, files = run_guest(built_a, {"inputs.bin": data}, timeout)
        rows_a, exits_a = parse_device_a(files.get("results.bin", b""), manifest, boundary, samples)
        frames = files.get("frames.bin", b"")
        forwarded = rows_a[:, 0] == FORWARDED
        a = _device_counts(marker_pairs(ids, totals), forwarded, stages, 0, boundary, samples, built_a.board,
                           framing_last=True)  # fmt: skip
        taken_a = rows_a[:, 0].astype(np.int64)
        kept = int(forwarded.sum())
        if kept:
            ids, totals, files = run_guest(built_b, {"frames.bin": frames}, timeout)
            rows_b, status, taken_b = parse_device_b(files.get("results.bin", b""), manifest, boundary, kept)
            pairs_b = marker_pairs(ids, totals)
        else:
            rows_b, status, taken_b, pairs_b = None, np.zeros(0, np.int64), np.zeros(0, np.int64), []
    b = _device_counts_b(pairs_b, forwarded, taken_b, stages, boundary, samples, built_b.board)
    run = _combine(manifest, boundary, rows_a, exits_a, forwarded, rows_b, taken_b)
    full_status = np.full(samples, -1, np.int64)
    full_status[forwarded] = status
    return SplitResults(run=run, a=a, b=b, forwarded=forwarded, status=full_status,
                        frame_bytes=frame_bytes(segments), link=link)  # fmt: skip


def parse_device_b(raw: bytes, manifest: dict, boundary: int, frames: int):
    """(rows, tx_link status (F,), exit taken (F,) with 255 for refused) from B's results.bin."""
    exits = manifest["exits"][boundary:]
    record = 4 + sum(e["bytes"] + e["logits"] for e in exits)
    if len(raw) != record * frames:
        raise TinyexitError(f"device B wrote {len(raw)} result bytes, expected {record * frames}; it stopped early")
    rows = np.frombuffer(raw, np.uint8).reshape(frames, record)
    return rows, rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64)


def _device_counts(pairs, forwarded, stages, first, boundary, samples, board, framing_last) -> DeviceRun:
    width = len(cycles.CLASSES)
    stage_classes = np.zeros((samples, stages, width), np.int64)
    framing = np.zeros((samples, width), np.int64)
    if len(pairs) != samples:
        raise TinyexitError(f"device A ran {len(pairs)} samples of {samples}; this is a bug")
    for s, p in enumerate(pairs):
        ran = p[:-1] if forwarded[s] else p
        if forwarded[s]:
            framing[s] = p[-1]
        for k, counts in enumerate(ran):
            stage_classes[s, first + k] = counts
    return DeviceRun(stage_classes, framing, board)


def _device_counts_b(pairs, forwarded, taken_b, stages, boundary, samples, board) -> DeviceRun:
    width = len(cycles.CLASSES)
    stage_classes = np.zeros((samples, stages, width), np.int64)
    framing = np.zeros((samples, width), np.int64)
    if len(pairs) != int(forwarded.sum()):
        raise TinyexitError(f"device B ran {len(pairs)} frames of {int(forwarded.sum())}; this is a bug")
    for s, p in zip(np.flatnonzero(forwarded), pairs):
        framing[s] = p[0]
        for k, counts in enumerate(p[1:]):
            stage_classes[s, boundary + k] = counts
    return DeviceRun(stage_classes, framing, board)


def _combine(manifest, boundary, rows_a, exits_a, forwarded, rows_b, taken_b) -> RunResult:
    """The single-device results layout from A's records and, for forwarded samples, B's."""
    samples = len(rows_a)
    exits = manifest["exits"]
    taken = rows_a[:, 0].astype(np.int64)
    labels = (rows_a[:, 1].astype(np.int32) | (rows_a[:, 2].astype(np.int32) << 8)).astype(np.int64)
    outputs = {e["name"]: np.zeros((samples, *e["shape"]), e["dtype"]) for e in exits}
    logits = {e["name"]: np.zeros((samples, e["logits"]), np.int8) for e in exits}
    col = HEADER_BYTES
    for e in exits_a:
        outputs[e["name"]][:] = _view(rows_a[:, col: col + e["bytes"]], e, samples)
        col += e["bytes"]
    for e in exits_a:
        logits[e["name"]][:] = rows_a[:, col: col + e["logits"]].view(np.int8)
        col += e["logits"]
    if rows_b is not None:
        idx = np.flatnonzero(forwarded)
        taken[idx] = np.where(taken_b == FORWARDED, -1, taken_b)
        labels[idx] = rows_b[:, 2].astype(np.int32) | (rows_b[:, 3].astype(np.int32) << 8)
        col = 4
        for e in exits[boundary:]:
            outputs[e["name"]][idx] = _view(rows_b[:, col: col + e["bytes"]], e, len(idx))
            col += e["bytes"]
        for e in exits[boundary:]:
            logits[e["name"]][idx] = rows_b[:, col: col + e["logits"]].view(np.int8)
            col += e["logits"]
    return RunResult(exit_taken=taken.astype(np.int8), labels=labels.astype(np.int16), outputs=outputs,
                     logits=logits)  # fmt: skip


def _view(chunk: np.ndarray, e: dict, n: int) -> np.ndarray:
    return np.ascontiguousarray(chunk).view(np.dtype(e["dtype"]).newbyteorder("<")).reshape((n, *e["shape"]))


def status_name(code: int) -> str:
    return STATUS.get(int(code), f"unknown status {int(code)}")

