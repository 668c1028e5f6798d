"""Plots: compare's accuracy against cost (the Pareto front marked), and the arena plan for inspect --memory."""

from __future__ import annotations

import io
import math

from ..codegen.ir import Graph
from .compare import PolicyRow


def wilson_interval(correct: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion `correct` measured on n samples."""
    if n <= 0:
        return 0.0, 1.0
    centre = (correct + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(correct * (1 - correct) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


# Label positions tried around a point, in points: beside, above, below, farther out.
_OFFSETS = [(7, 5), (7, -11), (-7, 5), (-7, -11), (0, 12), (0, -18), (12, 16), (12, -22), (-12, 16), (-12, -22),
            (0, 26), (0, -32), (20, 0), (-20, 0), (24, 30), (-24, 30), (24, -36), (-24, -36)]  # fmt: skip


def place_labels(ax, points: list[tuple[float, float]], texts: list[str], fontsize: int = 8) -> None:
    """Annotate each point with its text where it overlaps no other label, point or the axes' edge.

    Greedy and deterministic: points in the order given, each trying _OFFSETS
    in turn and keeping the first free spot (or the least crowded one).
    """
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    marks = []
    for x, y in points:
        px, py = ax.transData.transform((x, y))
        marks.append((px - 5, py - 5, px + 5, py + 5))
    taken: list[tuple[float, float, float, float]] = []

    def overlap(box, other) -> float:
        w = min(box[2], other[2]) - max(box[0], other[0])
        h = min(box[3], other[3]) - max(box[1], other[1])
        return w * h if w > 0 and h > 0 else 0.0

    centres = [ax.transData.transform(p) for p in points]
    for k, ((x, y), text) in enumerate(zip(points, texts)):
        best, best_cost = None, None
        for dx, dy in _OFFSETS:
            far = abs(dx) + abs(dy) > 20  # a label away from its point gets a leader line to it
            ann = ax.annotate(text, (x, y), textcoords="offset points", xytext=(dx, dy), fontsize=fontsize,
                              ha="left" if dx > 0 else "right" if dx < 0 else "center",
                              arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6, "shrinkA": 1, "shrinkB": 4}
                              if far else None)  # fmt: skip
            e = ann.get_window_extent(renderer)
            box = (e.x0 - 2, e.y0 - 1, e.x1 + 2, e.y1 + 1)
            outside = (max(0, frame.x0 - box[0]) + max(0, box[2] - frame.x1)) * (box[3] - box[1]) + \
                      (max(0, frame.y0 - box[1]) + max(0, box[3] - frame.y1)) * (box[2] - box[0])
            cost = outside + sum(overlap(box, o) for o in taken + marks)
            # A label nearer another point than its own would name the wrong point.
            cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            own = math.hypot(cx - centres[k][0], cy - centres[k][1])
            if any(math.hypot(cx - ox, cy - oy) < own for j, (ox, oy) in enumerate(centres) if j != k):
                cost += 10_000
            if best_cost is None or cost < best_cost:
                if best is not None:
                    best[0].remove()
                best, best_cost = (ann, box), cost
            else:
                ann.remove()
            if cost == 0:
                break
        taken.append(best[1])


def plot_png(rows: list[PolicyRow], title: str, clock_hz: int | None = None) -> bytes:
    """Accuracy (or agreement) against mean time per inference, one point per policy, as PNG bytes (plot_figure)."""
    fig = plot_figure(rows, title, clock_hz)
    import matplotlib.pyplot as plt  # imported here, as in plot_figure (which has chosen the Agg backend)

    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def plot_figure(rows: list[PolicyRow], title: str, clock_hz: int | None = None):
    """The figure of plot_png (the caller closes it).

    x: milliseconds at the board's clock (cycles_est, an estimate), with mean
    instructions on a secondary axis; y: accuracy with its 95% Wilson interval
    over the samples; the Pareto front as a line through its policies.
    """
    import matplotlib  # imported here: matplotlib takes a second to load and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter, ScalarFormatter

    plt.rcParams["svg.hashsalt"] = "tinyexit"
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=100)
    use_accuracy = all(r.accuracy is not None for r in rows)
    share = [r.accuracy if use_accuracy else r.agreement for r in rows]
    ms = [r.mean_time_ms if r.mean_time_ms is not None else 1e3 * r.mean_cycles_est / (clock_hz or 1) for r in rows]
    quality = [100 * q for q in share]
    low, high = zip(*(wilson_interval(q, r.samples) for q, r in zip(share, rows)))
    errors = [[max(0.0, 100 * (q - lo)) for q, lo in zip(share, low)],
              [max(0.0, 100 * (hi - q)) for q, hi in zip(share, high)]]  # fmt: skip
    n = max(r.samples for r in rows)
    ax.errorbar(ms, quality, yerr=errors, fmt="o", color="#4c72b0", ecolor="#9fb3d1", elinewidth=1.5, capsize=3,
                zorder=3, label=f"policy, 95% interval over {n:,} samples")  # fmt: skip
    front = sorted((x, y) for r, x, y in zip(rows, ms, quality) if r.pareto)
    if front:
        ax.plot([p[0] for p in front], [p[1] for p in front], "-", color="#dd8452", linewidth=1.5, zorder=2,
                marker="o", markersize=11, markerfacecolor="none", markeredgecolor="#dd8452",
                label="Pareto front (no policy is both faster and more accurate)")  # fmt: skip
    ax.set_xlabel("mean time per inference (ms at the board clock; cycles_est, an estimate)")
    what = "accuracy" if use_accuracy else "agreement with the final exit"
    ax.set_ylabel(f"{what} (%), n = {n:,}")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.xaxis.set_major_formatter(ScalarFormatter(useOffset=False))
    pad = 0.08 * (max(ms) - min(ms) or max(ms) or 1.0)
    ax.set_xlim(min(ms) - pad, max(ms) + pad)
    ys = [100 * v for v in low + high]
    ypad = 0.15 * (max(ys) - min(ys) or 1.0)
    ax.set_ylim(min(ys) - ypad, max(ys) + ypad)
    ratio = next((r.mean_instructions / x for r, x in zip(rows, ms) if r.policy == "none" and x > 0), None)
    if ratio is None and ms and max(ms) > 0:
        ratio = sum(r.mean_instructions for r in rows) / sum(ms)
    if ratio:
        top = ax.secondary_xaxis("top", functions=(lambda v: v * ratio, lambda v: v / ratio))
        top.set_xlabel(f"mean instructions (ms x {ratio:,.0f}: the none policy's instructions per ms)", fontsize=8)
        top.xaxis.set_major_formatter(EngFormatter(sep=""))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    fig.tight_layout()
    place_labels(ax, list(zip(ms, quality)), [r.policy for r in rows])
    return fig

def arena_png(graph: Graph, title: str) -> bytes:
    """The arena plan as PNG bytes: each buffer a box from its first to its last step (x) over its bytes (y)."""
    import matplotlib  # imported here, as in plot_png

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    plan = graph.plan
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    colors = plt.get_cmap("tab20").colors
    steps = max(len(plan.schedule), 1)
    for i, b in enumerate(sorted(plan.buffers, key=lambda b: (b.first, b.offset))):
        scratch = b.tensor < 0
        ax.add_patch(Rectangle((b.first, b.offset), b.last - b.first + 1, b.size, facecolor=colors[i % len(colors)],
                               edgecolor="black", linewidth=0.5, hatch="//" if scratch else None, alpha=0.85))  # fmt: skip
        if b.size >= 0.06 * plan.arena_bytes and (b.last - b.first + 1) >= 0.04 * steps:
            label = f"s{-1 - b.tensor}" if scratch else f"t{b.tensor}"
            ax.text(b.first + (b.last - b.first + 1) / 2, b.offset + b.size / 2, label, ha="center", va="center",
                    fontsize=7)  # fmt: skip
    ax.set_xlim(min((b.first for b in plan.buffers), default=0), max((b.last + 1 for b in plan.buffers), default=steps))
    ax.set_ylim(0, max(plan.arena_bytes, 1))
    ax.set_xlabel("schedule step (op, in stage order)")
    ax.set_ylabel("arena offset (bytes)")
    ax.set_title(f"{title}: arena {plan.arena_bytes:,} bytes (t<i>: tensor, s<op>: scratch, hatched)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def plot_sensor_png(rows: list[PolicyRow], title: str) -> bytes:
    """compare --devices: accuracy (or agreement) against the sensor device's energy per inference, as PNG bytes."""
    import matplotlib  # imported here: matplotlib takes a second to load and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "tinyexit"
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    shown = [r for r in rows if r.sensor_energy_uj is not None]
    use_accuracy = all(r.accuracy is not None for r in shown)
    quality = [100 * (r.accuracy if use_accuracy else r.agreement) for r in shown]
    energy = [r.sensor_energy_uj for r in shown]
    ax.scatter(energy, quality, color="#55a868", zorder=3)
    for r, x, y in zip(shown, energy, quality):
        ax.annotate(r.policy, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.set_xlabel("energy on the sensor device per inference, uJ (estimate)")
    ax.set_ylabel("accuracy (%)" if use_accuracy else "agreement with final exit (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()
