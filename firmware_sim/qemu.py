"""Run a firmware ELF in QEMU and count instructions per stage.

    run(elf, board, inputs, manifest) -> Results
    run_model(lib_dir, board, inputs) -> dict of arrays   (build + run)

QEMU runs with `-icount shift=0` and semihosting file I/O in a temporary
folder holding inputs.bin and results.bin; the tx_count TCG plugin
(plugin/tx_count.c) records running instruction-class totals each time the
guest calls a tx_* marker. Differences between consecutive markers give, per
sample and stage, the exact number of executed instructions (the stage's
kernels and its exit decision) and the class counts that cycles.py turns into
cycles_est. The same ELF and inputs give the same counts on every run.

A guest that hangs is stopped after `timeout` seconds and one that faults
stops itself (tx_startup.c); both are reported with the sample and stage
where they stopped.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..codegen.boards import Board, load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest

from . import cycles
from .build import BuildResult, build_firmware, elf_symbols, tool
from .harness import RunResult, input_bytes, parse_results

QEMU = "qemu-system-arm"
QEMU_INSTALL = "sudo apt-get install -y --no-install-recommends qemu-system-arm"
# The plugin's source ships inside the package; it is built on first use (or by
# `make install`) into the user's cache, never into the installed package.
PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
PLUGIN_BUILD = "tinyexit doctor --build-plugin"


def plugin_build_dir() -> Path:
    """Where the tx_count plugin is built: $XDG_CACHE_HOME/tinyexit/qemu-plugin (~/.cache by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tinyexit" / "qemu-plugin"

MARK_SAMPLE_BEGIN, MARK_SAMPLE_END, MARK_STAGE_BEGIN, MARK_STAGE_END, MARK_OP, MARK_EXIT = 1, 2, 3, 4, 5, 255
EXIT_FAULT = 101  # tx_io.h TX_EXIT_FAULT
EVENT_MAGIC = 0x56455854
EVENT_VERSION = 1


@dataclass
class Results:
    """Outputs and counts of one QEMU run over N samples of a model with S stages."""

    run: RunResult  # what the harness wrote: outputs per exit, exit taken, label (as the host target)
    stage_instructions: np.ndarray  # (N, S) int64, exact; 0 for stages not run
    cycles_est: np.ndarray  # (N, S) float64, estimate (see cycles.py)
    sample_instructions: np.ndarray  # (N,) int64: tx_sample_begin -> tx_sample_end
    stage_classes: np.ndarray  # (N, S, len(cycles.CLASSES)) int64
    total_instructions: int  # whole run, reset to exit
    board: str
    model: str  # timing model name
    wall_seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def outputs(self) -> dict[str, np.ndarray]:
        return self.run.outputs

    @property
    def exit_taken(self) -> np.ndarray:
        return self.run.exit_taken

    @property
    def labels(self) -> np.ndarray:
        return self.run.labels

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The host target's arrays plus stage_instructions and cycles_est."""
        arrays = self.run.to_arrays()
        arrays["stage_instructions"] = self.stage_instructions
        arrays["cycles_est"] = self.cycles_est
        return arrays

    @property
    def estimate_note(self) -> str:
        return cycles.note(self.model)


def qemu_binary() -> str:
    path = shutil.which(QEMU)
    if path is None:
        raise TinyexitError(f"{QEMU} is not installed; install it: {QEMU_INSTALL}")
    return path


def installed_qemu_version() -> str:
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f", "${source:Version}", "qemu-system-arm"], capture_output=True, text=True
    ) if shutil.which("dpkg-query") else None
    if proc is not None and proc.returncode == 0 and proc.stdout.strip():
        return proc.stdout.strip()
    out = subprocess.run([qemu_binary(), "--version"], capture_output=True, text=True).stdout
    return out.splitlines()[0] if out else ""


def plugin_path() -> Path:
    """The tx_count plugin, built for the installed QEMU (built now if needed)."""
    override = os.environ.get("TINYEXIT_QEMU_PLUGIN")
    if override:
        if not Path(override).is_file():
            raise TinyexitError(f"TINYEXIT_QEMU_PLUGIN={override} does not exist; unset it or build the plugin")
        return Path(override)
    build = plugin_build_dir()
    plugin = build / "tx_count.so"
    stamp = build / "qemu-version"
    current = installed_qemu_version()
    source = build / "source-sha256"  # the plugin source it was built from: a newer tinyexit rebuilds it
    digest = hashlib.sha256((PLUGIN_DIR / "tx_count.c").read_bytes()).hexdigest()

    def up_to_date() -> bool:
        return (plugin.is_file() and stamp.is_file() and stamp.read_text().strip() == current
                and source.is_file() and source.read_text().strip() == digest)  # fmt: skip

    if up_to_date():
        return plugin
    # Missing, or built for another QEMU: (re)build, one process at a time (pytest -n runs
    # several). Fetching the header needs network once.
    build.mkdir(parents=True, exist_ok=True)
    with open(build / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if up_to_date():
            return plugin
        if plugin.is_file():
            plugin.unlink()
        if stamp.is_file() and stamp.read_text().strip() != current:
            shutil.rmtree(build / "include", ignore_errors=True)  # the header must match the new QEMU
        proc = subprocess.run(["make", "-s", "-C", str(PLUGIN_DIR), f"BUILD={build}"], capture_output=True, text=True)
        if proc.returncode == 0 and plugin.is_file():
            source.write_text(digest + "\n")
    if proc.returncode != 0 or not plugin.is_file():
        reason = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise TinyexitError(
            f"the QEMU counting plugin is not built and building it failed ({reason}); run: {PLUGIN_BUILD}"
        )
    return plugin


def read_events(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(marker ids (E,), running class totals (E, C)) from the plugin's event file."""
    raw = path.read_bytes() if path.exists() else b""
    if len(raw) < 16:
        return np.zeros(0, np.uint32), np.zeros((0, len(cycles.CLASSES)), np.int64)
    magic, version, ncls, _ = np.frombuffer(raw[:16], "<u4")
    if magic != EVENT_MAGIC or version != EVENT_VERSION or ncls != len(cycles.CLASSES):
        raise TinyexitError(f"{path}: event file from another tx_count plugin version; rebuild it: {PLUGIN_BUILD}")
    rec = np.dtype([("id", "<u4"), ("reserved", "<u4"), ("totals", "<u8", (int(ncls),))])
    whole = (len(raw) - 16) // rec.itemsize
    events = np.frombuffer(raw[16 : 16 + whole * rec.itemsize], rec)
    return events["id"].copy(), events["totals"].astype(np.int64)


def where_stopped(ids: np.ndarray) -> str:
    """'sample i, stage k' (0-based) for the last marker reached; for error messages."""
    sample, stage, in_stage = -1, -1, False
    for m in ids:
        if m == MARK_SAMPLE_BEGIN:
            sample, stage, in_stage = sample + 1, -1, False
        elif m == MARK_STAGE_BEGIN:
            stage, in_stage = stage + 1, True
        elif m == MARK_STAGE_END:
            in_stage = False
    if sample < 0:
        return "before the first sample (start-up or reading inputs.bin)"
    if in_stage:
        return f"in sample {sample}, stage {stage}"
    if stage >= 0 and ids[-1] == MARK_STAGE_END:
        return f"in sample {sample}, after stage {stage} (harness)"
    if ids[-1] == MARK_SAMPLE_END:
        return f"after sample {sample} (writing results)"
    return f"in sample {sample}, before its first stage"


def split_events(ids: np.ndarray, totals: np.ndarray, samples: int, stages: int):
    """Per-sample, per-stage class counts from the marker sequence."""
    stage_classes = np.zeros((samples, stages, totals.shape[1]), np.int64)
    sample_classes = np.zeros((samples, totals.shape[1]), np.int64)
    stages_run = np.zeros(samples, np.int64)
    s = -1
    k = -1
    begin_sample = begin_stage = None
    for i, m in enumerate(ids):
        if m == MARK_SAMPLE_BEGIN:
            s += 1
            k = -1
            if s >= samples:
                raise TinyexitError(f"the guest ran more samples than the {samples} given; this is a bug")
            begin_sample = totals[i]
        elif m == MARK_STAGE_BEGIN:
            k += 1
            if k >= stages:
                raise TinyexitError(f"the guest ran more than the model's {stages} stages; this is a bug")
            begin_stage = totals[i]
        elif m == MARK_STAGE_END:
            stage_classes[s, k] = totals[i] - begin_stage
            stages_run[s] = k + 1
        elif m == MARK_SAMPLE_END:
            sample_classes[s] = totals[i] - begin_sample
    if s + 1 != samples:
        raise TinyexitError(f"the guest ran {s + 1} samples of {samples}; this is a bug")
    return stage_classes, sample_classes, stages_run


def split_op_events(ids: np.ndarray, totals: np.ndarray) -> list[list[np.ndarray]]:
    """Profiling builds: per sample, per stage run, an (ops, classes) array of class counts.

    The generated stage function calls tx_op_mark before each op and after
    its last, so the counts between consecutive marks in a stage are one op's:
    its kernel calls with their argument set-up, plus the two instructions of
    the next marker call (bl, bx lr).
    """
    samples: list[list[np.ndarray]] = []
    marks: list[np.ndarray] = []
    for i, m in enumerate(ids):
        if m == MARK_SAMPLE_BEGIN:
            samples.append([])
        elif m == MARK_STAGE_BEGIN:
            marks = []
        elif m == MARK_OP:
            marks.append(totals[i])
        elif m == MARK_STAGE_END and samples:
            samples[-1].append(np.diff(np.array(marks), axis=0) if len(marks) > 1 else
                               np.zeros((0, totals.shape[1]), np.int64))  # fmt: skip
    return samples


def qemu_command(elf: Path, board: Board, plugin_args: str, serial: bool = False) -> list[str]:
    return [
        qemu_binary(),
        "-M", board.qemu_machine,
        "-nographic",
        "-monitor", "none",
        "-serial", "stdio" if serial else "none",
        "-semihosting-config", "enable=on,target=native",
        "-icount", "shift=0",
        "-no-reboot",
        "-plugin", plugin_args,
        "-kernel", str(elf),
    ]  # fmt: skip


def run(
    elf: str | Path | BuildResult,
    board: str | Board,
    inputs: np.ndarray,
    manifest: dict,
    timeout: float | None = None,
    check: bool = False,
    model: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    keep_dir: Path | None = None,
    profile: bool = False,
) -> Results:
    """Run every sample through the ELF in QEMU; outputs, exits, per-stage counts.

    `inputs` is (N, *input shape) int8 (or float32, quantized with the input's
    scale). `timeout` (seconds, default 60 + 2 per sample) stops a guest that
    hangs. `check=True` also counts every instruction one by one in the plugin
    and fails if the two counts differ (slower; for tests). `progress(done, N)`
    is called as samples finish. `profile=True` adds a flat profile of the whole
    run, function -> class counts, in `Results.extra["profile"]`.
    """
    board = load_board(board)
    if isinstance(elf, BuildResult):
        if elf.memory_map != "qemu":
            raise TinyexitError(f"{elf.elf.name} is linked for the {board.mcu}'s memory map; build it with memory_map='qemu'")
        elf = elf.elf
    elf = Path(elf)
    data = input_bytes(inputs, manifest)
    per_sample = manifest["input"]["bytes"]
    samples = len(data) // per_sample
    stages = len(manifest["stages"])
    timeout = 60.0 + 2.0 * samples if timeout is None else timeout
    model = model or board.core
    markers = marker_addresses(elf)
    plugin = plugin_path()

    tmp_ctx = tempfile.TemporaryDirectory(prefix="tinyexit-qemu-") if keep_dir is None else None
    tmp = Path(tmp_ctx.name) if tmp_ctx else Path(keep_dir)
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        (tmp / "inputs.bin").write_bytes(data)
        events_path = tmp / "events.bin"
        args = ",".join(
            [str(plugin), f"out={events_path}"]
            + [f"{key}=0x{addr:x}" for key, addr in markers.items()]
            + (["check=on"] if check else [])
            + ([f"profile={tmp / 'profile.bin'}"] if profile else [])
        )
        cmd = qemu_command(elf, board, args)
        started = time.monotonic()
        proc = subprocess.Popen(cmd, cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        timed_out = False
        try:
            if progress is None:
                stdout, stderr = proc.communicate(timeout=timeout)
            else:
                stdout, stderr = _wait_with_progress(proc, events_path, samples, timeout, progress)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
            timed_out = True
        wall = time.monotonic() - started
        ids, totals = read_events(events_path)
        place = where_stopped(ids)
        what = f"{elf.name} on QEMU {board.qemu_machine}"
        if timed_out:
            raise TinyexitError(
                f"{what} did not finish within {timeout:.0f} s and was stopped: the guest hung {place}"
            )
        fault = next((ln for ln in stderr.splitlines() if ln.startswith("TX FAULT")), None)
        if proc.returncode == EXIT_FAULT or fault:
            raise TinyexitError(f"{what}: the guest faulted {place}: {(fault or 'TX FAULT').removeprefix('TX FAULT ')}")
        if proc.returncode == 3:
            raise TinyexitError(f"{what}: the guest could not open inputs.bin/results.bin over semihosting")
        if proc.returncode != 0:
            first = (stderr.strip().splitlines() or [stdout.strip() or "no output"])[0]
            raise TinyexitError(f"{what}: QEMU exited with code {proc.returncode} {place}: {first}")
        raw = (tmp / "results.bin").read_bytes() if (tmp / "results.bin").exists() else b""
        flat = read_profile(tmp / "profile.bin", elf) if profile else None
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()

    result = parse_results(raw, manifest, samples)
    stage_classes, sample_classes, stages_run = split_events(ids, totals, samples, stages)
    if not np.array_equal(stages_run - 1, result.exit_taken.astype(np.int64)):
        raise TinyexitError(f"{what}: the stage markers disagree with the exits in results.bin; this is a bug")
    ci = cycles.INDEX
    if check:
        diff = stage_classes[..., ci["check"]] - stage_classes[..., ci["insn"]]
        if np.any(diff):
            raise TinyexitError(f"{what}: per-block and per-instruction counts differ by {int(np.abs(diff).max())}")
    counts = stage_classes[..., ci["insn"]]
    timing = cycles.model_for(model)
    est = timing.estimate(stage_classes)
    est[counts == 0] = 0.0
    total = int(totals[-1, ci["insn"]]) if len(ids) and ids[-1] == MARK_EXIT else -1
    extra = {"profile": flat} if profile else {}
    if "op" in markers:
        extra["op_classes"] = split_op_events(ids, totals)
    return Results(
        run=result,
        stage_instructions=counts,
        cycles_est=est,
        sample_instructions=sample_classes[:, ci["insn"]],
        stage_classes=stage_classes,
        total_instructions=total,
        board=board.name,
        model=timing.name,
        wall_seconds=wall,
        extra=extra,
    )


def read_profile(path: Path, elf: Path) -> dict[str, np.ndarray]:
    """Function name -> class counts (len(cycles.CLASSES),) for the whole run, largest first."""
    raw = path.read_bytes() if path.exists() else b""
    if len(raw) < 16:
        raise TinyexitError(f"{path.name}: the plugin wrote no profile; rebuild it: {PLUGIN_BUILD}")
    magic, version, ncls, _ = np.frombuffer(raw[:16], "<u4")
    if magic != 0x50585854 or version != EVENT_VERSION or ncls != len(cycles.CLASSES):
        raise TinyexitError(f"{path.name}: profile from another tx_count plugin version; rebuild it: {PLUGIN_BUILD}")
    rec = np.dtype([("vaddr", "<u8"), ("count", "<u8"), ("taken", "<u8", (2,)), ("stats", "<u4", (int(ncls),))])
    segs = np.frombuffer(raw[16:], rec)
    out = subprocess.run([tool("arm-none-eabi-nm"), "-S", "-n", str(elf)], capture_output=True, text=True, check=True)
    funcs = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "Tt":
            funcs.append((int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]))
    starts = np.array([f[0] for f in funcs], np.int64)
    ci = cycles.INDEX
    totals: dict[str, np.ndarray] = {}
    for seg in segs:
        i = int(np.searchsorted(starts, int(seg["vaddr"]), side="right")) - 1
        name = funcs[i][2] if i >= 0 and int(seg["vaddr"]) < funcs[i][0] + max(funcs[i][1], 2) else f"0x{int(seg['vaddr']):08x}"
        v = seg["count"].astype(np.int64) * seg["stats"].astype(np.int64)
        v[ci["br_cond_taken_imm"]] += int(seg["taken"][0])
        v[ci["br_cond_taken_reg"]] += int(seg["taken"][1])
        v[ci["check"]] = 0
        totals[name] = totals.get(name, 0) + v
    return dict(sorted(totals.items(), key=lambda kv: -int(kv[1][ci["insn"]])))


def _wait_with_progress(proc, events_path: Path, samples: int, timeout: float, progress):
    """Wait for QEMU, reporting samples finished (from the event file) as it runs."""
    deadline = time.monotonic() + timeout
    done = -1
    while True:
        try:
            stdout, stderr = proc.communicate(timeout=0.2)
            progress(samples, samples)
            return stdout, stderr
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                raise
            try:
                ids, _ = read_events(events_path)
            except TinyexitError:
                continue
            now = int(np.count_nonzero(ids == MARK_SAMPLE_END))
            if now != done:
                done = now
                progress(done, samples)


def marker_addresses(elf: Path) -> dict[str, int]:
    symbols = elf_symbols(elf)
    keys = {"sample_begin": "tx_sample_begin", "sample_end": "tx_sample_end",
            "stage_begin": "tx_stage_begin", "stage_end": "tx_stage_end"}  # fmt: skip
    missing = [sym for sym in keys.values() if sym not in symbols]
    if missing:
        raise TinyexitError(f"{elf.name}: no {', '.join(missing)} symbol; build it with firmware_sim.build")
    markers = {key: symbols[sym] & ~1 for key, sym in keys.items()}
    if "tx_op_mark" in symbols:  # a profiling build (codegen Options.op_markers)
        markers["op"] = symbols["tx_op_mark"] & ~1
    return markers


def run_model(
    lib_dir: str | Path,
    board: str | Board,
    inputs: np.ndarray,
    opt: str = "-O2",
    timeout: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, np.ndarray]:
    """Build lib_dir for `board`, run `inputs` in QEMU; the arrays `tinyexit run` saves.

    As the host target (every exit's outputs, exit_taken, label), plus
    stage_instructions (N, S) int64 and cycles_est (N, S) float64.
    """
    return run_library(lib_dir, board, inputs, opt=opt, timeout=timeout, progress=progress).to_arrays()


def run_library(
    lib_dir: str | Path,
    board: str | Board,
    inputs: np.ndarray,
    opt: str = "-O2",
    timeout: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    check: bool = False,
) -> Results:
    """Build lib_dir for `board` in a temporary folder and run `inputs` in QEMU."""
    lib_dir = Path(lib_dir)
    manifest = load_manifest(lib_dir)
    with tempfile.TemporaryDirectory(prefix="tinyexit-fw-") as tmp:
        built = build_firmware(lib_dir, board, tmp, opt=opt)
        return run(built, built.board, inputs, manifest, timeout=timeout, progress=progress, check=check)
