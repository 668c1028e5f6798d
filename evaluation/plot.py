"""compare's plot: accuracy against cost, the Pareto front marked."""

from __future__ import annotations

import io

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
