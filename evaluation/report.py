"""compare's reports: report.md, report.csv, report.json, and the --baseline gate."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict

from ..codegen.errors import TinyexitError
from .compare import PolicyRow

CSV_COLUMNS = [
    "policy", "samples", "accuracy", "agreement", "exit_shares", "mean_instructions", "p50_instructions",
    "p95_instructions", "mean_cycles_est", "p50_cycles_est", "p95_cycles_est", "mean_time_ms", "mean_energy_uj",
    "p95_energy_uj", "saving_vs_none", "pareto", "sensor_energy_uj", "link_bytes", "link_energy_uj",
    "remote_energy_uj", "latency_ms", "p95_latency_ms",
]


def report_json(meta: dict, rows: list[PolicyRow]) -> str:
    return json.dumps({"meta": meta, "policies": [asdict(r) for r in rows]}, indent=2, sort_keys=True) + "\n"


def report_csv(rows: list[PolicyRow]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        d = asdict(r)
        d["exit_shares"] = " ".join(f"{s:.4f}" for s in r.exit_shares)
        writer.writerow(["" if d[c] is None else d[c] for c in CSV_COLUMNS])
    return buf.getvalue()


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _energy_sentence(meta: dict) -> str:
    """What the time and energy columns are (meta['energy'] is None when the board file has no [power])."""
    clock = meta.get("clock_hz")
    time = f"Time is cycles_est at the board's {clock / 1e6:g} MHz clock. " if clock else ""
    if not meta.get("energy"):
        return time + "No energy estimate: the board file has no [power] table."
    return time + f"Energy is an {meta['energy']}."


def _devices_table(meta: dict, rows: list[PolicyRow]) -> list[str]:
    """compare --devices: energy on each device, the link and end-to-end latency per policy (estimates)."""
    d = meta.get("devices")
    if not d:
        return []
    lines = [
        "", f"## Split deployment {d['split']} over {d['link']} (estimates)", "",
        f"Device A ({d['a']}) runs stages 0-{d['boundary'] - 1} and sends the {len(d['boundary_tensors'])} boundary "
        f"tensor(s) in a {d['frame_bytes']:,}-byte frame when the policy goes on; device B ({d['b']}) runs the rest. "
        "Per inference, from the exits the host build took and per-stage costs from two QEMUs. Policies whose "
        "decision carries state across exits or samples are not split (`-`).",
        "",
        "| policy | sensor uJ (A) | link bytes | link uJ | remote uJ (B) | latency ms | p95 latency ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r.policy}` | {_num(r.sensor_energy_uj, 2)} | {_num(r.link_bytes, 1)} | {_num(r.link_energy_uj, 2)} | "
            f"{_num(r.remote_energy_uj, 2)} | {_num(r.latency_ms, 3)} | {_num(r.p95_latency_ms, 3)} |"
        )
    return lines


def _verification_sentence(meta: dict) -> str:
    check = meta.get("qemu_verification")
    if not check:
        return ("QEMU verification: not run (`--verify-qemu N` checks that the first N samples take the same exits "
                "with byte-identical outputs in QEMU as in the host build).")
    if check["passed"]:
        return (f"QEMU verification: passed. For every policy the first {check['samples']} samples took the same "
                "exits with byte-identical exit outputs in QEMU as in the host build.")
    return f"QEMU verification: FAILED on the first {check['samples']} samples: " + "; ".join(check["problems"]) + "."


def _time_sentence(meta: dict, rows: list[PolicyRow]) -> str:
    timed = [r for r in rows if r.mean_time_ms is not None]
    if not timed:
        return ""
    clock = meta.get("clock_hz")
    at = f" at {clock / 1e6:g} MHz" if clock else ""
    return (f"Milliseconds per inference{at} (mean cycles_est at the board's clock, an estimate): "
            + ", ".join(f"`{r.policy}` {r.mean_time_ms:.3f} ms" for r in timed) + ".")


def report_markdown(meta: dict, rows: list[PolicyRow]) -> str:
    lines = [
        f"# Exit policies for {meta['model']} on {meta['board']}",
        "",
        f"{meta['samples']} samples from {meta['data']}; accuracy and exits from the bit-exact host build, "
        f"per-stage costs from QEMU over {meta['simulated_samples']} simulated samples per policy. "
        "`instructions` are exact guest instruction counts; `cycles_est` is an estimate from a static "
        "Cortex-M timing model (flash wait states and caches are not modelled). "
        + _energy_sentence(meta),
        "",
        "| policy | accuracy | agreement with final | exits taken | mean instr | p50 | p95 | mean cycles_est | "
        "mean ms (est.) | mean uJ (est.) | p95 uJ (est.) | saving vs none | Pareto |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        shares = " / ".join(f"{100 * s:.0f}%" for s in r.exit_shares)
        lines.append(
            f"| `{r.policy}` | {_pct(r.accuracy)} | {_pct(r.agreement)} | {shares} | {r.mean_instructions:,.0f} | "
            f"{r.p50_instructions:,.0f} | {r.p95_instructions:,.0f} | {r.mean_cycles_est:,.0f} | "
            f"{_num(r.mean_time_ms, 3)} | {_num(r.mean_energy_uj, 2)} | {_num(r.p95_energy_uj, 2)} | "
            f"{_pct(r.saving_vs_none)} | {'*' if r.pareto else ''} |"
        )
    lines += ["", "Exit shares are listed in stage order: " + ", ".join(meta["exits"]) + "."]
    lines += ["", _verification_sentence(meta), "", _time_sentence(meta, rows)]
    lines += _devices_table(meta, rows)
    return "\n".join(lines) + "\n"


def check_baseline(baseline: dict, meta: dict, rows: list[PolicyRow], max_regression: float) -> list[str]:
    """Regressions against a previous report.json: one message per offending policy."""
    if baseline.get("meta", {}).get("model_sha256") != meta["model_sha256"]:
        raise TinyexitError(
            f"the baseline was made for another model ({baseline.get('meta', {}).get('model', '?')}); "
            "compare against a report.json of the same model"
        )
    old = {r["policy"]: r for r in baseline.get("policies", [])}
    problems = []
    for r in rows:
        before = old.get(r.policy)
        if before is None:
            continue
        growth = r.mean_instructions / before["mean_instructions"] - 1.0 if before["mean_instructions"] else 0.0
        if growth > max_regression:
            problems.append(
                f"policy '{r.policy}': mean instructions grew {100 * growth:.2f}% "
                f"({before['mean_instructions']:,.0f} -> {r.mean_instructions:,.0f}), limit {100 * max_regression:.2f}%"
            )
        if r.accuracy is not None and before.get("accuracy") is not None and r.accuracy < before["accuracy"]:
            problems.append(
                f"policy '{r.policy}': accuracy fell from {100 * before['accuracy']:.2f}% to {100 * r.accuracy:.2f}%"
            )
    return problems
