"""What every kind's reference runs share (codegen/policies/kinds/): the run
record, checking logits, the exit-taken and label bookkeeping, and numpy
replicas of the integer helpers in templates/kernels/tx_policy.c.

reference.py dispatches run_float / run_integer to the kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .data import ExitLogits, as_int8_batch
from .tables import LN2_Q16, LN_INDEX_BITS, ln_table


@dataclass
class PolicyRun:
    """Per sample: the exit taken and the label reported; `scores` holds the
    float score each decision looked at (NaN where there was none), one
    column per non-final exit (threshold policies) or one column (difference)."""

    exit_taken: np.ndarray
    labels: np.ndarray
    scores: np.ndarray | None = None


def real_logits(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """z = scale * (q - zero_point) in float64, shape (samples, classes)."""
    return float(scale) * (np.asarray(q, dtype=np.float64) - float(zero_point))


def check_batches(logits: list[np.ndarray], exits: tuple[ExitLogits, ...]) -> list[np.ndarray]:
    """Every exit's logits as (samples, classes) int8, the same samples at every exit."""
    if len(logits) != len(exits):
        raise ValueError(f"got logits for {len(logits)} exits, the policy has {len(exits)}")
    batches = [as_int8_batch(q, e.num_classes, f"exit '{e.name}'") for q, e in zip(logits, exits)]
    if len({len(b) for b in batches}) != 1:
        raise ValueError("every exit needs logits for the same samples")
    return batches


def first_stop(stops: np.ndarray, last: int) -> np.ndarray:
    """Index of the first True per row of (samples, exits-1), else the last exit."""
    any_stop = stops.any(axis=1)
    return np.where(any_stop, stops.argmax(axis=1), last)


def labels_at(batches: list[np.ndarray], taken: np.ndarray) -> np.ndarray:
    """Each sample's argmax at the exit it took (tx_policy_argmax_s8: the lowest index wins a tie)."""
    labels = np.empty(len(taken), dtype=np.int64)
    for k, b in enumerate(batches):
        rows = taken == k
        labels[rows] = np.argmax(b[rows], axis=1)
    return labels


def run_at(batches: list[np.ndarray], taken: np.ndarray) -> PolicyRun:
    """The run of a policy that reports the argmax of the exit each sample took."""
    return PolicyRun(taken, labels_at(batches, taken))


# ---------------------------------------------------------------------------
# numpy replicas of templates/kernels/tx_policy.c


def top2_gap(q: np.ndarray) -> np.ndarray:
    """tx_policy_top2_gap_s8."""
    top = np.sort(np.asarray(q, np.int64), axis=1)
    return top[:, -1] - top[:, -2]


def lookup(table: tuple[int, ...], d: np.ndarray) -> np.ndarray:
    """table[d] where d < len(table), else 0 (the C's `if (d < table_len)`)."""
    values = np.asarray(table, dtype=np.int64)
    inside = d < len(values)
    return np.where(inside, values[np.minimum(d, len(values) - 1)], 0)


def ln_q16(x: np.ndarray, exp_bits: int) -> np.ndarray:
    """tx_policy_ln_q16: ln(x / 2^K) in Q16 for integers x >= 2^K."""
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
