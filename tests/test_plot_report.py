"""compare's plot and report: labels that do not overlap, time in ms with
instructions beside it, accuracy with its 95% interval, the Pareto front drawn;
report.md says whether the QEMU verification passed and gives ms per inference."""

from __future__ import annotations

import itertools

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from tinyexit.evaluation.compare import PolicyRow  # noqa: E402
from tinyexit.evaluation.plot import place_labels, plot_figure, plot_png, wilson_interval  # noqa: E402
from tinyexit.evaluation.report import report_markdown  # noqa: E402


def row(policy, accuracy, ms, instructions, pareto=False):
    return PolicyRow(policy=policy, samples=300, accuracy=accuracy, agreement=0.97, exit_shares=[0.5, 0.5],
                     mean_instructions=instructions, p50_instructions=instructions, p95_instructions=instructions,
                     mean_cycles_est=ms * 120e3, p50_cycles_est=ms * 120e3, p95_cycles_est=ms * 120e3,
                     mean_time_ms=ms, pareto=pareto, saving_vs_none=0.0)  # fmt: skip


ROWS = [row("none", 0.847, 65.2, 4.96e6, True), row("exit:0", 0.80, 37.1, 2.82e6, True),
        row("confidence:0.9", 0.843, 46.5, 3.54e6, True), row("margin:2", 0.843, 45.9, 3.43e6),
        row("entropy:0.3", 0.847, 47.0, 3.61e6), row("difference:4", 0.843, 49.8, 3.98e6),
        row("temporal-patience:3", 0.867, 48.0, 3.78e6, True)]  # fmt: skip


def test_wilson_interval():
    assert wilson_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    low, high = wilson_interval(1.0, 30)
    assert high == 1.0 and low == pytest.approx(0.8865, abs=1e-4)


def test_labels_of_nearby_points_do_not_overlap():
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=100)
    points = [(r.mean_time_ms, 100 * r.accuracy) for r in ROWS]
    ax.plot(*zip(*points), "o")
    ax.set_xlim(30, 70)
    ax.set_ylim(75, 90)
    place_labels(ax, points, [r.policy for r in ROWS])
    renderer = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    assert len(boxes) == len(ROWS)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), (a, b)
    frame = ax.get_window_extent(renderer)
    assert all(frame.x0 <= b.x0 and b.x1 <= frame.x1 and frame.y0 <= b.y0 and b.y1 <= frame.y1 for b in boxes)
    plt.close(fig)


def test_plot_is_a_deterministic_png():
    first = plot_png(ROWS, "kws on nucleo-l4r5zi", 120_000_000)
    assert first[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot_png(ROWS, "kws on nucleo-l4r5zi", 120_000_000) == first
    # All right or all wrong: the interval touches 100% or 0% and the error bar is never negative.
    assert plot_png([row("none", 1.0, 65.2, 4.96e6, True), row("exit:0", 0.0, 37.1, 2.82e6, True)], "t")[:4] == b"\x89PNG"


def test_plot_has_ms_instructions_interval_and_the_pareto_front():
    fig = plot_figure(ROWS, "kws on nucleo-l4r5zi", 120_000_000)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "mean time per inference (ms at the board clock; cycles_est, an estimate)"
    assert ax.get_ylabel() == "accuracy (%), n = 300"
    fig.canvas.draw()
    assert ax.xaxis.get_major_formatter().get_offset() == ""  # whole milliseconds, no "1e6" offset
    # The secondary axis: instructions, at the none policy's instructions per ms (4.96e6 / 65.2).
    top = ax.child_axes
    assert len(top) == 1 and top[0].get_xlabel() == "mean instructions (ms x 76,074: the none policy's instructions per ms)"
    # The Pareto front: a line through the pareto policies in order of time.
    (front,) = [line for line in ax.get_lines() if line.get_label().startswith("Pareto front")]
    assert list(front.get_xdata()) == [37.1, 46.5, 48.0, 65.2]
    assert list(front.get_ydata()) == pytest.approx([80.0, 84.3, 86.7, 84.7])
    labels = sorted(t.get_text() for t in ax.get_legend().get_texts())
    assert labels == ["Pareto front (no policy is both faster and more accurate)", "policy, 95% interval over 300 samples"]
    # The legend sits below the axes, so it hides no point; every policy is labelled.
    renderer = fig.canvas.get_renderer()
    assert ax.get_legend().get_window_extent(renderer).y1 < ax.get_window_extent(renderer).y0
    assert sorted(t.get_text() for t in ax.texts) == sorted(r.policy for r in ROWS)
    plt.close(fig)


def meta(check):
    return {"model": "kws.tflite", "board": "nucleo-l4r5zi", "samples": 300, "data": "stream.npz",
            "simulated_samples": 16, "exits": ["exit0", "final"], "clock_hz": 120_000_000, "energy": None,
            "devices": None, "qemu_verification": check}  # fmt: skip


def test_report_says_whether_qemu_verification_passed_and_gives_ms():
    passed = report_markdown(meta({"samples": 8, "passed": True, "problems": []}), ROWS)
    assert ("QEMU verification: passed. For every policy the first 8 samples took the same exits with "
            "byte-identical exit outputs in QEMU as in the host build.") in passed
    assert ("Milliseconds per inference at 120 MHz (mean cycles_est at the board's clock, an estimate): "
            "`none` 65.200 ms, `exit:0` 37.100 ms,") in passed
    failed = report_markdown(meta({"samples": 8, "passed": False,
                                   "problems": ["policy 'exit:0': QEMU and the host build took different exits"]}), ROWS)
    assert ("QEMU verification: FAILED on the first 8 samples: policy 'exit:0': QEMU and the host build took "
            "different exits.") in failed
    assert "QEMU verification: not run" in report_markdown(meta(None), ROWS)
