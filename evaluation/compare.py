"""Compare exit policies: accuracy from the host build, cost from the simulator.

For each policy the bit-exact host build runs the whole dataset (in order, so
temporal policies see the stream as it is) and gives the exit each sample
takes and the label it reports. The simulator gives instructions and
cycles_est per stage for a few samples run under the same policy; a sample's
cost is the sum of the mean costs of the stages it ran. Reports and the plot
are in report.py and plot.py; the CLI does the writing.
"""

from __future__ import annotations

import hashlib
import tempfile
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen.boards import Board, load_board
from ..codegen.errors import TinyexitError
from ..codegen.options import Options
from ..codegen.pipeline import generate
from ..codegen.split import MEMORYLESS, Split, boundary_segments, frame_bytes, parse_link, resolve_split
from ..firmware_sim import cycles as timing
from ..firmware_sim.host import run_host
from ..firmware_sim.qemu import run_library
from ..firmware_sim.split import SplitResults, run_split
from .data import load_dataset


@dataclass(frozen=True)
class StageCosts:
    """Per-stage cost measured in the simulator for one policy."""

    instructions: np.ndarray  # (M, S) int64, M simulated samples
    cycles_est: np.ndarray  # (M, S)
    ran: np.ndarray  # (M, S) bool: which stages each simulated sample ran

    def mean(self, which: str) -> np.ndarray:
        """Mean cost of each stage over the samples that ran it (S,)."""
        values = getattr(self, which).astype(np.float64)
        counts = self.ran.sum(axis=0)
        sums = np.where(self.ran, values, 0.0).sum(axis=0)
        return np.divide(sums, counts, out=np.full(values.shape[1], np.nan), where=counts > 0)

    def spread(self, which: str) -> list[dict]:
        values = getattr(self, which)
        out = []
        for s in range(values.shape[1]):
            v = values[self.ran[:, s], s]
            out.append(
                {"samples": int(v.size), "min": int(v.min()) if v.size else None, "max": int(v.max()) if v.size else None}
            )
        return out


@dataclass
class PolicyRow:
    policy: str
    samples: int
    accuracy: float | None
    agreement: float
    exit_shares: list[float]
    mean_instructions: float
    p50_instructions: float
    p95_instructions: float
    mean_cycles_est: float
    p50_cycles_est: float
    p95_cycles_est: float
    # Estimates at the board's clock and typical run current (boards/<board>.toml [power]); None without [power].
    mean_time_ms: float | None = None
    mean_energy_uj: float | None = None
    p95_energy_uj: float | None = None
    saving_vs_none: float | None = None  # fraction of mean instructions saved against `none`
    # --devices (split deployment) estimates, per inference; None without --devices or for policies with state.
    sensor_energy_uj: float | None = None  # device A: its stages and the framing
    link_bytes: float | None = None
    link_energy_uj: float | None = None
    remote_energy_uj: float | None = None  # device B: the frame check and its stages
    latency_ms: float | None = None  # end to end: A, then the link and B for the samples sent on
    p95_latency_ms: float | None = None
    pareto: bool = False
    stage_spread: list[dict] = field(default_factory=list)


def none_stage_means(lib_dir: Path, board: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean instructions and cycles_est of every stage under policy `none` (every sample runs every stage)."""
    sim = run_library(lib_dir, board, x)
    costs = StageCosts(sim.stage_instructions, sim.cycles_est, np.ones(sim.stage_instructions.shape, dtype=bool))
    return costs.mean("instructions"), costs.mean("cycles_est")


def fill_missing_stage_means(means: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Stages no simulated sample reached under this policy take the `none` run's cost."""
    return np.where(np.isnan(means), fallback, means)


def per_sample_cost(exit_taken: np.ndarray, stage_mean: np.ndarray) -> np.ndarray:
    """Cost of each sample: the stages 0..exit_taken it ran."""
    cumulative = np.cumsum(stage_mean)
    return cumulative[exit_taken.astype(np.int64)]


def summarize_policy(
    policy: str,
    exit_taken: np.ndarray,
    labels: np.ndarray,
    final_labels: np.ndarray,
    y: np.ndarray | None,
    instr_mean: np.ndarray,
    cycles_mean: np.ndarray,
    spread: list[dict],
    board: Board | None = None,
) -> PolicyRow:
    """One report row. With a board, also time (ms) and energy (uJ) estimates from each sample's cycles_est."""
    stages = len(instr_mean)
    instr = per_sample_cost(exit_taken, instr_mean)
    cycles = per_sample_cost(exit_taken, cycles_mean)
    shares = np.bincount(exit_taken.astype(np.int64), minlength=stages) / len(exit_taken)
    row = PolicyRow(
        policy=policy,
        samples=int(len(exit_taken)),
        accuracy=None if y is None else float(np.mean(labels == y)),
        agreement=float(np.mean(labels == final_labels)),
        exit_shares=[float(s) for s in shares],
        mean_instructions=float(instr.mean()),
        p50_instructions=float(np.percentile(instr, 50)),
        p95_instructions=float(np.percentile(instr, 95)),
        mean_cycles_est=float(cycles.mean()),
        p50_cycles_est=float(np.percentile(cycles, 50)),
        p95_cycles_est=float(np.percentile(cycles, 95)),
        stage_spread=spread,
    )
    if board is not None:
        row.mean_time_ms = float(board.time_ms(cycles.mean()))
        energy = board.energy_uj(cycles)
        if energy is not None:
            row.mean_energy_uj = float(energy.mean())
            row.p95_energy_uj = float(np.percentile(energy, 95))
    return row


def mark_pareto(rows: list[PolicyRow]) -> None:
    """A row is on the front when no other row is at least as accurate (or agreeing) and cheaper."""

    def quality(r: PolicyRow) -> float:
        return r.accuracy if r.accuracy is not None else r.agreement

    for r in rows:
        r.pareto = not any(
            quality(o) >= quality(r)
            and o.mean_cycles_est <= r.mean_cycles_est
            and (quality(o) > quality(r) or o.mean_cycles_est < r.mean_cycles_est)
            for o in rows
        )


def add_savings(rows: list[PolicyRow]) -> None:
    base = next((r for r in rows if r.policy == "none"), None)
    for r in rows:
        if base is not None and base.mean_instructions > 0:
            r.saving_vs_none = 1.0 - r.mean_instructions / base.mean_instructions


_SEPARATOR = re.compile(r",\s*(?=[A-Za-z])")  # a comma before a policy name, where ';' belongs


def split_policies(text: str) -> list[str]:
    """'none; confidence:0.9' -> ['none', 'confidence:0.9'], refusing empty or repeated entries."""
    items = [p.strip() for p in text.split(";")]
    if not text.strip() or any(not p for p in items):
        raise TinyexitError(
            f"--policies '{text}' has an empty entry; separate policies with ';', e.g. \"none; confidence:0.9\""
        )
    if _SEPARATOR.search(text):
        raise TinyexitError(
            f"--policies '{text}': separate policies with ';', not ',' (a comma separates per-exit "
            f"thresholds, as in confidence:0.95,0.8), e.g. \"{_SEPARATOR.sub('; ', text.strip())}\""
        )
    repeated = sorted({p for p in items if items.count(p) > 1})
    if repeated:
        raise TinyexitError(f"--policies lists '{repeated[0]}' twice; list each policy once")
    return items


@dataclass(frozen=True)
class SplitCosts:
    """Mean cycles_est per stage on the device that runs it, and of the framing, from a split run."""

    a_stage: np.ndarray  # (S,) device A's stages (NaN where not measured, or not A's)
    b_stage: np.ndarray  # (S,) device B's stages
    a_framing: float  # gather + CRC + seal, per frame sent
    b_framing: float  # check + copy, per frame received

    @classmethod
    def measure(cls, res: SplitResults) -> "SplitCosts":
        def means(dev, ran):
            per_stage = timing.model_for(dev.board.core).estimate(dev.stage_classes)  # (N, S)
            counts = ran.sum(axis=0)
            return np.divide(np.where(ran, per_stage, 0.0).sum(axis=0), counts, out=np.full(counts.shape, np.nan),
                             where=counts > 0)  # fmt: skip

        def framing(dev):
            f = timing.model_for(dev.board.core).estimate(dev.framing_classes)[res.forwarded]
            return float(f.mean()) if f.size else float("nan")

        return cls(means(res.a, res.a.stage_instructions > 0), means(res.b, res.b.stage_instructions > 0),
                   framing(res.a), framing(res.b))  # fmt: skip

    def fill(self, other: "SplitCosts") -> "SplitCosts":
        """Stages or framing this run never reached take `other`'s (the `none` run, which reaches all)."""
        pick = lambda a, b: b if np.isnan(a) else a  # noqa: E731
        return SplitCosts(fill_missing_stage_means(self.a_stage, other.a_stage),
                          fill_missing_stage_means(self.b_stage, other.b_stage),
                          pick(self.a_framing, other.a_framing), pick(self.b_framing, other.b_framing))  # fmt: skip


def add_split_costs(row: PolicyRow, exit_taken: np.ndarray, split: Split, link, frame: int, costs: SplitCosts) -> None:
    """Per-sample energies on each device, link bytes and end-to-end latency from the exits taken (estimates)."""
    k = split.boundary
    taken = exit_taken.astype(np.int64)
    sent = taken >= k
    a_cum = np.cumsum(costs.a_stage[:k])
    b_cum = np.cumsum(costs.b_stage[k:])
    a = a_cum[np.minimum(taken, k - 1)] + np.where(sent, costs.a_framing, 0.0)
    b = np.where(sent, costs.b_framing + b_cum[np.clip(taken - k, 0, None)], 0.0)
    nbytes = np.where(sent, frame, 0)
    link_ms = 1e3 * link.seconds(nbytes)
    latency = split.a.board.time_ms(a) + np.where(sent, link_ms + split.b.board.time_ms(b), 0.0)
    energy_a, energy_b, energy_link = split.a.board.energy_uj(a), split.b.board.energy_uj(b), link.energy_uj(nbytes)
    row.sensor_energy_uj = None if energy_a is None else float(energy_a.mean())
    row.remote_energy_uj = None if energy_b is None else float(energy_b.mean())
    row.link_bytes = float(nbytes.mean())
    row.link_energy_uj = None if energy_link is None else float(energy_link.mean())
    row.latency_ms = float(latency.mean())
    row.p95_latency_ms = float(np.percentile(latency, 95))


@dataclass(frozen=True)
class Comparison:
    meta: dict
    rows: list[PolicyRow]
    problems: list[str]  # exits/outputs that QEMU and the host disagreed on (--verify-qemu)


def run_comparison(
    model_path: str | Path,
    x: np.ndarray,
    y: np.ndarray | None,
    board: str,
    policies: list[str],
    qemu_samples: int = 16,
    verify_qemu: int = 0,
    work_dir=None,
    progress=None,
    optimize: str = "size",
    data_name: str = "arrays",
    split: str | None = None,
    devices: str | None = None,
    link: str = "uart:115200",
) -> Comparison:
    """Every policy on all of x (host) and on its first samples (QEMU).

    y: labels, or None to measure agreement with the final exit only.
    devices: a split deployment (BOARD_A:STAGES,BOARD_B:STAGES, codegen.split) whose costs per device, link
    and latency are added for each policy that decides from one exit's logits; `link` as --link.
    """
    model_path = Path(model_path)
    if len(x) == 0:
        raise TinyexitError(f"{data_name}: no samples to compare on")
    simulated = max(qemu_samples, verify_qemu)
    if simulated < 1:
        raise TinyexitError("--qemu-samples must be at least 1: per-stage costs come from simulated samples")
    simulated = min(simulated, len(x))
    target = load_board(board)
    link_spec = parse_link(link) if devices else None
    rows, problems, none_means = [], [], None
    with tempfile.TemporaryDirectory(prefix="tinyexit-compare-", dir=work_dir) as tmp:
        libs = {p: generate(model_path, Path(tmp) / f"lib{i}", name="model", options=Options(policy=p, optimize=optimize))
                for i, p in enumerate(policies)}
        exits = [e.name for e in next(iter(libs.values())).graph.exits]
        deploy = resolve_split(devices, len(exits)) if devices else None
        if deploy is not None:
            none_lib = libs.get("none") or generate(model_path, Path(tmp) / "lib_split_none", name="model",
                                                    options=Options(policy="none", optimize=optimize))  # fmt: skip
            segments = boundary_segments(none_lib.graph, deploy.boundary)
            frame = frame_bytes(segments)
            split_none = SplitCosts.measure(run_split(none_lib.out_dir, deploy, link_spec, segments,
                                                      x[:min(qemu_samples, len(x))], work_dir=tmp))  # fmt: skip
        none_dir = libs["none"].out_dir if "none" in libs else generate(
            model_path, Path(tmp) / "lib_none", name="model", options=Options(policy="none", optimize=optimize)).out_dir
        final_labels = run_host(none_dir, x).labels
        for n, policy in enumerate(policies):
            if progress:
                progress(policy, n, len(policies))
            host = run_host(libs[policy].out_dir, x)
            sim = run_library(libs[policy].out_dir, board, x[:simulated])
            ran = np.arange(len(exits))[None, :] <= sim.run.exit_taken.astype(np.int64)[:, None]
            costs = StageCosts(sim.stage_instructions[:qemu_samples], sim.cycles_est[:qemu_samples], ran[:qemu_samples])
            instr_mean, cycles_mean = costs.mean("instructions"), costs.mean("cycles_est")
            if policy == "none":
                none_means = (instr_mean, cycles_mean)
            elif none_means is None and np.isnan(instr_mean).any():
                # no simulated sample reached some stage: cost it under `none` on the same samples
                none_means = none_stage_means(none_dir, board, x[:min(qemu_samples, len(x))])
            if none_means is not None:
                instr_mean = fill_missing_stage_means(instr_mean, none_means[0])
                cycles_mean = fill_missing_stage_means(cycles_mean, none_means[1])
            if verify_qemu:
                k = verify_qemu
                if not np.array_equal(sim.run.exit_taken[:k], host.exit_taken[:k]):
                    problems.append(f"policy '{policy}': QEMU and the host build took different exits")
                for name in exits:
                    if not np.array_equal(sim.run.outputs[name][:k], host.outputs[name][:k]):
                        problems.append(f"policy '{policy}': exit {name} differs between QEMU and the host build")
            rows.append(
                summarize_policy(policy, host.exit_taken, host.labels, final_labels, y, instr_mean, cycles_mean,
                                 costs.spread("instructions"), target)
            )
            if deploy is not None and policy.strip().split(":", 1)[0] in MEMORYLESS:
                measured = split_none if policy == "none" else SplitCosts.measure(run_split(
                    libs[policy].out_dir, deploy, link_spec, boundary_segments(libs[policy].graph, deploy.boundary),
                    x[:min(qemu_samples, len(x))], work_dir=tmp))  # fmt: skip
                add_split_costs(rows[-1], host.exit_taken, deploy, link_spec, frame, measured.fill(split_none))
    add_savings(rows)
    mark_pareto(rows)
    meta = {
        "model": model_path.name,
        "model_sha256": hashlib.sha256(model_path.read_bytes()).hexdigest(),
        "data": data_name,
        "split": split,
        "samples": int(len(x)),
        "labels": y is not None,
        "board": board,
        "exits": exits,
        "simulated_samples": int(min(qemu_samples, len(x))),
        "verified_samples": int(min(verify_qemu, len(x))),
        "qemu_verification": None if not verify_qemu else {
            "samples": int(min(verify_qemu, len(x))), "passed": not problems, "problems": list(problems),
        },
        "instructions": "exact guest instructions (QEMU -icount shift=0, TCG plugin)",
        "cycles_est": "estimate from a static Cortex-M timing model; flash wait states and caches not modelled",
        "clock_hz": target.clock_hz,
        "devices": None if deploy is None else {
            "split": deploy.text, "boundary": deploy.boundary, "a": deploy.a.board.name, "b": deploy.b.board.name,
            "link": link_spec.text, "frame_bytes": frame, "boundary_tensors": [s.tensor for s in segments],
        },
        "energy": None if target.power is None else (
            f"estimate: cycles_est / {target.clock_hz} Hz x {target.power.supply_v:g} V x {target.power.run_ma:g} mA "
            f"typical run current ({target.power.source}); flash wait states, peripherals and caches left out"
        ),
    }
    return Comparison(meta=meta, rows=rows, problems=problems)
