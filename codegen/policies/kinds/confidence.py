"""confidence:TAU -- stop when the max softmax probability is at least TAU, TAU in (0, 1].

The rule of SDN and T-RecX (reference/early-exit.md). p_max = 1 / S with
S = sum_c exp(-s d_c), d_c = q_max - q_c (the zero point cancels), so the rule
is S <= 1/tau. On the device sum_c E[d_c] <= floor(2^K / tau) with
E[d] = round(2^K exp(-s d)) (form `exp_sum`); the floor loses nothing because
the sum is an integer. Each of the C-1 non-max terms is off by at most 1/2, so
the sum is 2^K S within eps = (C-1) 2^-(K+1) (relative to 2^K), and the
decision equals the float rule whenever |p_max - tau| > tau * eps.

K (tables.exp_bits) is 15 (uint16_t tables) unless the class count needs fewer
bits to keep sum_c E[d_c] <= C 2^K below 2^30. With 2 classes the rule is one
compare on the logit gap (kinds/threshold.py).

C: templates/library/policies/threshold.c.j2 (macro exp_sum) calling
tx_policy_exp_sum_s8.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..data import Constant, ExitLogits, ExitRule, Table, format_threshold, policy_error
from ..kind import IntegerForm, ThresholdRule
from ..runs import lookup, real_logits
from ..tables import EXACT, exp_bits, exp_table
from . import threshold

NAME = "confidence"
EXAMPLE = "confidence:0.9"
SCORE_NAME = "max softmax"


def check(spec: str, value: float, text: str) -> None:
    if not 0.0 < value <= 1.0:
        raise policy_error(spec, f"confidence threshold {text} is outside (0, 1]",
                           "give the max softmax probability to reach, e.g. --policy confidence:0.9")


def score(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Max softmax probability per sample, in float64."""
    z = real_logits(np.atleast_2d(q), scale, zero_point)
    return 1.0 / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)  # shifted <= 0: exp never overflows


def stops(scores: np.ndarray, tau: float) -> np.ndarray:
    return scores >= tau


def bound(num_classes: int, k_bits: int, tau: float) -> float:
    """|p_max - tau| beyond which the integer decision equals the float rule."""
    eps = (num_classes - 1) * 2.0 ** -(k_bits + 1)
    return tau * eps * (1 + EXACT) + 1e-12


def lower_exit(index: int, exit_: ExitLogits, tau: float) -> ExitRule:
    threshold.check_exit(NAME, exit_)
    description = f"max softmax >= {format_threshold(tau)}"
    if exit_.num_classes == 2:
        return threshold.two_class_rule(NAME, RULE, index, exit_, tau, description)
    c, s = exit_.num_classes, exit_.scale
    k = exp_bits(c)
    exp_values = exp_table(s, k)
    limit = min(math.floor(Fraction(1 << k) / Fraction(tau)), c << k)
    scale_text = f"{s:.9g}"
    name = f"POLICY_EXIT{index}"
    return ExitRule(
        index=index, exit=exit_, rule=NAME, threshold=tau, form="exp_sum",
        params={"exp_bits": k, "exp_len": len(exp_values), "exp_sum_max": limit},
        constants=(
            threshold.classes_constant(index, exit_),
            Constant(f"{name}_EXP_LEN", len(exp_values), "entries of the exp table"),
            Constant(f"{name}_EXP_SUM_MAX", limit,
                     f"floor(2^{k} / {format_threshold(tau)})"
                     + (", clamped to C 2^K: always stops" if limit == c << k else ""), unsigned=True),
        ),
        tables=(Table(f"policy_exit{index}_exp", "uint16_t", tuple(exp_values),
                      f"E[d] = round(2^{k} exp(-{scale_text} d)); 0 for d >= {len(exp_values)}"),),
        bound=bound(c, k, tau),
        description=description,
        integer_form=(
            f"sum_c E[q_max - q_c] <= {limit}, E[d] = round(2^{k} exp(-{scale_text} d))",
            f"({len(exp_values)} table entries, 0 beyond)",
        ),
        score_name=SCORE_NAME,
    )


def candidates(exits: list[ExitLogits]) -> list[float]:
    """1, then 1 - 10^-6 .. 1 - 10^-2.25 in quarter decades, then 0.995 .. 0.005 in steps of 0.005."""
    return [1.0] + [1 - 10.0 ** (-j / 4) for j in range(24, 8, -1)] + [k / 1000 for k in range(995, 0, -5)]


EXIT_GRID = (1.0, 0.9999, 0.999, 0.995, 0.99, 0.98, 0.97, 0.95, 0.93, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5,
               0.4, 0.3)


def exit_candidates(exit_: ExitLogits) -> list[float]:
    """Per-exit calibration: a fixed list from 1 (almost never stops) down to 0.3."""
    return list(EXIT_GRID)


def _exp_sum_stats(rule: ExitRule, q: np.ndarray) -> dict[str, np.ndarray]:
    """tx_policy_exp_sum_s8."""
    q = np.asarray(q, dtype=np.int64)
    d = q.max(axis=1, keepdims=True) - q
    return {"exp_sum": lookup(rule.tables[0].values, d).sum(axis=1)}


def _exp_sum_stops(rule: ExitRule, stats: dict[str, np.ndarray]) -> np.ndarray:
    return stats["exp_sum"] <= rule.params["exp_sum_max"]


EXP_SUM = IntegerForm(stats=_exp_sum_stats, stops=_exp_sum_stops)
FORMS = {"gap": threshold.GAP, "exp_sum": EXP_SUM}

RULE = ThresholdRule(score_name=SCORE_NAME, check=check, score=score, stops=stops, lower=lower_exit,
                     candidates=candidates, exit_candidates=exit_candidates)


KIND = threshold.threshold_kind(NAME, EXAMPLE, RULE, FORMS)
