"""Exit policies evaluated in Python, two ways, on the same int8 logits.

float: the rule as the literature states it, in float64 on the real logits
    z_c = scale * (q_c - zero_point). This is what a threshold means.
integer: a line-for-line numpy model of templates/library/decide.c.j2 driven by
    the lowered constants and tables. Tests check that it equals the generated
    C exactly; calibration uses it so that the thresholds it picks are judged
    by the decisions the device will make.

The two agree on every sample whose float score lies farther than the
lowered rule's `bound` from its threshold (see codegen/passes/lower_policy.py).

A run over a batch returns, per sample, the exit taken and the label reported.
Temporal policies (difference, temporal-patience) treat the batch as one
stream in order, starting from a reset state, exactly as the C does when the
application calls reset() and then runs the samples in order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import (
    THRESHOLD_KINDS,
    ExitLogits,
    ExitRule,
    LoweredPolicy,
    PolicySpec,
    as_int8_batch,
)
from .tables import LN2_Q16, LN_FRAC_BITS, LN_INDEX_BITS, ln_table

# ---------------------------------------------------------------------------
# float64 rules


def real_logits(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """z = scale * (q - zero_point) in float64, shape (samples, classes)."""
    return float(scale) * (np.asarray(q, dtype=np.float64) - float(zero_point))


def float_scores(rule: str, q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """The score each rule thresholds, per sample: max softmax, top-2 margin, or entropy (nats)."""
    z = real_logits(np.atleast_2d(q), scale, zero_point)
    if rule == "margin":
        top = np.sort(z, axis=1)
        return top[:, -1] - top[:, -2]
    shifted = z - z.max(axis=1, keepdims=True)  # <= 0, so exp never overflows
    weights = np.exp(shifted)
    total = weights.sum(axis=1)
    if rule == "confidence":
        return 1.0 / total
    if rule == "entropy":
        # H = -sum p ln p with ln p = shifted - ln S
        p = weights / total[:, None]
        return np.log(total) - (p * shifted).sum(axis=1)
    raise ValueError(f"no float score for rule {rule!r}")


def float_stops(rule: str, scores: np.ndarray, threshold: float) -> np.ndarray:
    """Whether each score satisfies the rule's threshold."""
    if rule in ("confidence", "margin"):
        return scores >= threshold
    if rule == "entropy":
        return scores <= threshold
    raise ValueError(f"no float rule {rule!r}")


def float_distance(q: np.ndarray, reference: np.ndarray, scale: float) -> float:
    """Euclidean distance between two samples' logits in natural units."""
    diff = float(scale) * (np.asarray(q, np.float64) - np.asarray(reference, np.float64))
    return float(np.sqrt(np.sum(diff * diff)))


# ---------------------------------------------------------------------------
# integer model of decide.c.j2


def top2_gap(q: np.ndarray) -> np.ndarray:
    top = np.sort(np.asarray(q, np.int64), axis=1)
    return top[:, -1] - top[:, -2]


def _lookup(table: tuple[int, ...], d: np.ndarray) -> np.ndarray:
    """table[d] where d < len(table), else 0 (the C's `if (d < len)`)."""
    values = np.asarray(table, dtype=np.int64)
    inside = d < len(values)
    return np.where(inside, values[np.minimum(d, len(values) - 1)], 0)


def ln_q16(x: np.ndarray, exp_bits: int) -> np.ndarray:
    """policy_ln_q16 of decide.c.j2: ln(x / 2^K) in Q16 for integers x >= 2^K."""
    x = np.asarray(x, dtype=np.int64)
    n = np.full(x.shape, exp_bits, dtype=np.int64)
    for bit in range(exp_bits + 1, 63):
        n = np.where((x >> bit) != 0, bit, n)
    mantissa = x >> (n - exp_bits)
    frac_bits = exp_bits - LN_INDEX_BITS
    i = (mantissa >> frac_bits) - (1 << LN_INDEX_BITS)
    frac = mantissa & ((1 << frac_bits) - 1)
    table = np.asarray(ln_table(), dtype=np.int64)
    lo, hi = table[i], table[i + 1]
    return (n - exp_bits) * LN2_Q16 + lo + (((hi - lo) * frac) >> frac_bits)


def integer_stats(rule: ExitRule, q: np.ndarray) -> dict[str, np.ndarray]:
    """The integers the device computes from the logits, before comparing with the threshold.

    They depend on the exit's scale and class count, not on the threshold, so
    calibration computes them once and compares against many thresholds.
    """
    q = np.asarray(q, dtype=np.int64)
    if rule.form == "gap":
        return {"gap": top2_gap(q)}
    d = q.max(axis=1, keepdims=True) - q
    exp_sum = _lookup(rule.tables[0].values, d).sum(axis=1)
    if rule.form == "exp_sum":
        return {"exp_sum": exp_sum}
    xexp_sum = _lookup(rule.tables[1].values, d).sum(axis=1)
    return {"exp_sum": exp_sum, "xexp_sum": xexp_sum, "ln_q16": ln_q16(exp_sum, rule.params["exp_bits"])}


def integer_stops(rule: ExitRule, stats: dict[str, np.ndarray]) -> np.ndarray:
    """The device's decision at this exit from `integer_stats`."""
    if rule.form == "gap":
        return stats["gap"] >= rule.params["gap_min"]
    if rule.form == "exp_sum":
        return stats["exp_sum"] <= rule.params["exp_sum_max"]
    return (stats["xexp_sum"] << LN_FRAC_BITS) <= stats["exp_sum"] * (rule.params["h_q16"] - stats["ln_q16"])


# ---------------------------------------------------------------------------
# whole-policy runs


@dataclass
class PolicyRun:
    """Per sample: the exit taken and the label reported; `scores` holds the
    float score each decision looked at (NaN where there was none), one
    column per non-final exit (threshold policies) or one column (difference)."""

    exit_taken: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None = None


def _batches(logits: list[np.ndarray], exits: tuple[ExitLogits, ...]) -> list[np.ndarray]:
    if len(logits) != len(exits):
        raise ValueError(f"got logits for {len(logits)} exits, the policy has {len(exits)}")
    batches = [as_int8_batch(q, e.num_classes, f"exit '{e.name}'") for q, e in zip(logits, exits)]
    if len({len(b) for b in batches}) != 1:
        raise ValueError("every exit needs logits for the same samples")
    return batches


def _first_stop(stops: np.ndarray, last: int) -> np.ndarray:
    """Index of the first True per row of (samples, exits-1), else the last exit."""
    any_stop = stops.any(axis=1)
    return np.where(any_stop, stops.argmax(axis=1), last)


def _labels_at(batches: list[np.ndarray], taken: np.ndarray) -> np.ndarray:
    labels = np.empty(len(taken), dtype=np.int64)
    for k, b in enumerate(batches):
        rows = taken == k
        labels[rows] = np.argmax(b[rows], axis=1)
    return labels


def _patience(batches: list[np.ndarray], patience: int) -> np.ndarray:
    """PABEE over exits: stop when `patience` consecutive exits agreed with the one before."""
    n, last = len(batches[0]), len(batches) - 1
    taken = np.full(n, last)
    done = np.zeros(n, dtype=bool)
    previous = np.argmax(batches[0], axis=1)
    count = np.zeros(n, dtype=np.int64)
    for k in range(1, last):
        label = np.argmax(batches[k], axis=1)
        count = np.where(label == previous, count + 1, 0)
        previous = label
        now = ~done & (count >= patience)
        taken[now] = k
        done |= now
    return taken


def _temporal_patience(batches: list[np.ndarray], patience: int) -> tuple[np.ndarray, np.ndarray]:
    first, final = batches[0], batches[-1]
    last = len(batches) - 1
    taken = np.empty(len(first), dtype=np.int64)
    labels = np.empty(len(first), dtype=np.int64)
    streak, last_label = 0, -1
    for t in range(len(first)):
        early = int(np.argmax(first[t]))
        if last_label >= 0 and streak >= patience and early == last_label:
            taken[t], labels[t] = 0, early
            continue
        decided = int(np.argmax(final[t]))
        if early != decided:
            streak = 0
        elif early == last_label:
            streak = min(streak + 1, patience)
        else:
            streak = 1
        last_label = decided
        taken[t], labels[t] = last, decided
    return taken, labels


def _difference(batches: list[np.ndarray], close) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference detection over the stream; `close(t, reference_row)` -> (stop, score)."""
    first, final = batches[0], batches[-1]
    last = len(batches) - 1
    n = len(first)
    taken = np.empty(n, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    scores = np.full((n, 1), np.nan)
    reference, last_label = None, -1
    for t in range(n):
        if reference is not None:
            stop, scores[t, 0] = close(first[t], reference)
            if stop and last_label >= 0:
                taken[t], labels[t] = 0, last_label
                continue
        reference = first[t]
        last_label = int(np.argmax(final[t]))
        taken[t], labels[t] = last, last_label
    return taken, labels, scores


def run_float(spec: PolicySpec, exits: list[ExitLogits], logits: list[np.ndarray]) -> PolicyRun:
    """The policy evaluated in float64 on the int8 logits of every exit (stage order)."""
    exits = tuple(exits)
    batches = _batches(logits, exits)
    n, last = len(batches[0]), len(batches) - 1
    if spec.kind in THRESHOLD_KINDS:
        scores = np.stack(
            [float_scores(spec.kind, batches[k], exits[k].scale, exits[k].zero_point) for k in range(last)], axis=1
        )
        stops = np.stack([float_stops(spec.kind, scores[:, k], spec.thresholds[k]) for k in range(last)], axis=1)
        taken = _first_stop(stops, last)
        return PolicyRun(taken, _labels_at(batches, taken), scores)
    if spec.kind == "difference":
        scale = exits[0].scale

        def close(q, ref):
            dist = float_distance(q, ref, scale)
            return dist <= spec.distance, dist

        taken, labels, scores = _difference(batches, close)
        return PolicyRun(taken, labels, scores)
    return _run_common(spec.kind, spec.exit_index, spec.count, batches)


def run_integer(policy: LoweredPolicy, logits: list[np.ndarray]) -> PolicyRun:
    """The policy as the generated C computes it, from the lowered constants."""
    batches = _batches(logits, policy.exits)
    last = len(batches) - 1
    if policy.rules:
        stops = np.stack([integer_stops(r, integer_stats(r, batches[r.index])) for r in policy.rules], axis=1)
        taken = _first_stop(stops, last)
        return PolicyRun(taken, _labels_at(batches, taken))
    if policy.kind == "difference":
        limit = policy.difference.dist2_max

        def close(q, ref):
            diff = q.astype(np.int64) - ref.astype(np.int64)
            dist2 = int(np.sum(diff * diff))
            return dist2 <= limit, float(dist2)

        taken, labels, _ = _difference(batches, close)
        return PolicyRun(taken, labels)
    count = policy.patience if policy.kind == "patience" else policy.temporal_patience
    return _run_common(policy.kind, policy.exit_index, count, batches)


def _run_common(kind: str, exit_index: int | None, count: int | None, batches: list[np.ndarray]) -> PolicyRun:
    """Rules that read only argmaxes: float and integer are the same computation."""
    n, last = len(batches[0]), len(batches) - 1
    if kind == "none":
        taken = np.full(n, last)
    elif kind == "exit":
        taken = np.full(n, exit_index)
    elif kind == "patience":
        taken = _patience(batches, count)
    elif kind == "temporal-patience":
        taken, labels = _temporal_patience(batches, count)
        return PolicyRun(taken, labels)
    else:
        raise ValueError(f"unknown policy kind {kind!r}")
    return PolicyRun(taken, _labels_at(batches, taken))
