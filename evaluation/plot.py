"""Plots: compare's accuracy against cost (the Pareto front marked), and the arena plan for inspect --memory."""

from __future__ import annotations

import io

from ..codegen.ir import Graph
from .compare import PolicyRow


def plot_png(rows: list[PolicyRow], title: str) -> bytes:
    """Accuracy (or agreement) against mean cycles_est, one point per policy, as PNG bytes."""
    import matplotlib  # imported here: matplotlib takes a second to load and only plots need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "tinyexit"
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    use_accuracy = all(r.accuracy is not None for r in rows)
    quality = [100 * (r.accuracy if use_accuracy else r.agreement) for r in rows]
    cost = [r.mean_cycles_est for r in rows]
    ax.scatter(cost, quality, color="#4c72b0", zorder=3)
    for r, x, y in zip(rows, cost, quality):
        ax.annotate(r.policy, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    front = sorted((x, y) for r, x, y in zip(rows, cost, quality) if r.pareto)
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="#dd8452", label="Pareto front")
        ax.legend(loc="lower right")
    ax.set_xlabel("mean cycles_est per inference (estimate)")
    ax.set_ylabel("accuracy (%)" if use_accuracy else "agreement with final exit (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


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
