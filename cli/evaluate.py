"""`tinyexit calibrate` and `tinyexit compare`: exit policies by accuracy and cost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..codegen.errors import TinyexitError
from ..codegen.options import check_optimize, read_policy
from ..codegen.output import write_file, write_folder
from ..evaluation.calibration import calibrate_model
from ..evaluation.compare import run_comparison, split_policies
from ..evaluation.data import check_metric, load_evaluation_data
from ..evaluation.plot import plot_png, plot_sensor_png
from ..evaluation.report import check_baseline, report_csv, report_json, report_markdown
from .common import OptimizeOpt, console, progress
from .tables import Column, Table, lines, render, terminal_width


def _num(x: float | None, digits: int) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def terminal_report(markdown: str, rows, width: int) -> str:
    """compare's report for the terminal: the policy table at `width` (details under each row when it is
    narrow) and report.md's paragraphs wrapped; report.md itself keeps its one-line Markdown rows."""
    table = Table([Column("policy", wrap=True), Column("accuracy", right=True), Column("exits taken", wrap=True),
                   Column("mean instr", right=True), Column("mean ms (est.)", right=True),
                   Column("saving vs none", right=True), Column("Pareto"),
                   Column("agreement with final", right=True, detail=True),
                   Column("mean cycles_est", right=True, detail=True),
                   Column("mean uJ (est.)", right=True, detail=True)])  # fmt: skip
    for r in rows:
        table.add(r.policy, _pct(r.accuracy), " / ".join(f"{100 * s:.0f}%" for s in r.exit_shares),
                  f"{r.mean_instructions:,.0f}", _num(r.mean_time_ms, 3), _pct(r.saving_vs_none),
                  "*" if r.pareto else "", _pct(r.agreement), f"{r.mean_cycles_est:,.0f}",
                  _num(r.mean_energy_uj, 2))  # fmt: skip
    paragraphs = [p.strip() for p in markdown.split("\n\n") if p.strip()]
    title = paragraphs[0].lstrip("# ")
    notes = [lines(p.replace("\n", " "), width) for p in paragraphs[1:] if not p.startswith(("|", "#"))]
    return "\n\n".join([lines(title, width), render(table, width), *notes])


def calibrate(
    model: Path = typer.Argument(..., help="int8 .tflite early-exit model"),
    data: Path = typer.Option(..., "--data", help=".npz with x (and y labels)"),
    policy: str = typer.Option(..., "--policy", help="confidence, margin or entropy"),
    max_drop: float = typer.Option(..., "--max-drop", help="Largest accuracy loss against the final exit, e.g. 0.01"),
    method: str = typer.Option("ltt", "--method", help="empirical, crc (conformal risk control) or ltt (Learn-then-Test)"),
    delta: float = typer.Option(0.1, "--delta", help="ltt: the guarantee holds with probability 1 - delta"),
    seed: int = typer.Option(0, "--seed", help="Seed of the calibration / held-out split"),
    metric: Optional[str] = typer.Option(None, "--metric", help="accuracy (needs labels) or agreement with the final exit"),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object"),
    split: str = typer.Option("auto", "--split", help="train (x, y), test (x_test, y_test) or auto (test if present)"),
    per_exit: bool = typer.Option(False, "--per-exit",
                                  help="One threshold per non-final exit (a comma list), the fewest expected MACs"),
    correction: str = typer.Option("fixed-sequence", "--correction",
                                   help="--per-exit with ltt: fixed-sequence (Pareto testing) or bonferroni"),
    risk: str = typer.Option("disagreement", "--risk",
                             help="--per-exit: what --max-drop bounds: disagreement (1[exit wrong, final right]) or "
                                  "accuracy (1[exit wrong] - 1[final wrong]: the accuracy loss itself; needs labels) or "
                                  "either (the accuracy loss, admitted when either test passes at half the level)"),
    out: Optional[Path] = typer.Option(None, "-o", "--out", help="Write the policy string to this file, for "
                                       "--policy @FILE in generate, build, simulate, run and compare"),
) -> None:
    """Pick a threshold whose accuracy loss stays within --max-drop; print the policy string."""
    x, y = load_evaluation_data(data, metric, split)
    found = calibrate_model(model, x, y, policy, max_drop, method=method, delta=delta, seed=seed,
                            per_exit=per_exit, correction=correction, risk=risk)
    if out is not None:
        write_file(out, f"{found.policy}\n".encode())
    if as_json:
        print(json.dumps(found.to_dict(), indent=2))
        return
    term = console()
    for line in found.lines():
        term.print(line)
    term.print(f"calibrated on {data.name} ({len(x)} samples): held-out means held out from calibration, so pass "
               "data the model was not trained on")
    if out is not None:
        term.print(f"wrote {out}: use it as --policy @{out}")


def compare(
    model: Path = typer.Argument(..., help="int8 .tflite early-exit model"),
    data: Path = typer.Option(..., "--data", help=".npz with x (and y labels), samples in stream order"),
    board: str = typer.Option(..., "--board", help="Board whose core QEMU simulates"),
    policies: str = typer.Option(..., "--policies", help='Policies separated by ";", e.g. "none; confidence:0.9"'),
    out: Path = typer.Option(..., "-o", "--out", help="Folder for report.md/.csv/.json and plot.png"),
    qemu_samples: int = typer.Option(16, "--qemu-samples", help="Samples simulated per policy for per-stage costs"),
    verify_qemu: int = typer.Option(0, "--verify-qemu", help="Check that N samples take the same exits in QEMU"),
    metric: Optional[str] = typer.Option(None, "--metric", help="accuracy (needs labels) or agreement"),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="A previous report.json to gate against"),
    max_regression: str = typer.Option("2%", "--max-regression", help="Allowed growth of mean instructions"),
    split: str = typer.Option("auto", "--split", help="train (x, y), test (x_test, y_test) or auto (test if present)"),
    samples: Optional[int] = typer.Option(None, "--samples", help="Use only the first N samples of the data"),
    optimize: str = OptimizeOpt,
    devices: Optional[str] = typer.Option(None, "--devices", help="Also a split deployment, BOARD_A:STAGES,BOARD_B:"
                                          "STAGES (the --split of simulate; here --split picks the data)"),
    link: str = typer.Option("uart:115200", "--link", help="With --devices: uart:BAUD or bytes-per-s:RATE, "
                             "optionally ,uj-per-byte:E"),
) -> None:
    """Accuracy and cost of each exit policy: tables, a plot, and a CI gate."""
    check_metric(metric)
    check_optimize(optimize)
    given = split_policies(policies)
    names = list(dict.fromkeys(read_policy(p) for p in given))  # an @FILE may hold a policy listed already
    for p in given:
        if p.startswith("@"):
            print(f"{p}: {read_policy(p)}")
    limit = parse_percent(max_regression)
    old = load_baseline(baseline) if baseline else None
    x, y = load_evaluation_data(data, metric, split, samples)
    term = console()
    with progress("compare", len(names)) as update:
        result = run_comparison(model, x, y, board, names, qemu_samples, verify_qemu,
                                progress=lambda policy, done, total: update(done, f"policy {policy}"),
                                optimize=optimize, data_name=data.name, split=split, devices=devices, link=link)
        update(len(names), "policies done")
    report = report_markdown(result.meta, result.rows)
    files = {
        "report.md": report,
        "report.csv": report_csv(result.rows),
        "report.json": report_json(result.meta, result.rows),
        "plot.png": plot_png(result.rows, f"{result.meta['model']} on {board}", result.meta.get("clock_hz")),
    }
    if devices:
        files["plot_sensor.png"] = plot_sensor_png(result.rows, f"{result.meta['model']}, split {devices}")
    write_folder(out, files)
    print(terminal_report(report, result.rows, terminal_width()))
    term.print(f"wrote {out}/" + ", ".join(files) + " (report.md: every column, p50/p95 and notes)")
    if result.problems:
        raise TinyexitError("--verify-qemu: " + "; ".join(result.problems))
    if old is not None:
        regressions = check_baseline(old, result.meta, result.rows, limit)
        if regressions:
            raise TinyexitError(f"regression against {baseline}: " + "; ".join(regressions))


def parse_percent(text: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise TinyexitError(f"--max-regression '{text}' is not a number or a percentage like 2%") from None
    if value < 0:
        raise TinyexitError(f"--max-regression '{text}' is negative")
    return value


def load_baseline(path: Path) -> dict:
    try:
        baseline = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TinyexitError(f"{path}: cannot read the baseline report.json ({exc})") from None
    if not isinstance(baseline, dict) or "meta" not in baseline or "policies" not in baseline:
        raise TinyexitError(f"{path}: not a tinyexit report.json (no meta/policies); pass a report.json from compare")
    return baseline
