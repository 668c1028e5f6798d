"""margin:M -- stop when the top-1 minus top-2 logit is at least M (natural units, M >= 0).

On the device q_top1 - q_top2 >= ceil(M / s) (form `gap`), computed with exact
rationals: the same decision as the real-number rule.

C: templates/library/policies/threshold.c.j2 (macro gap) calling
tx_policy_top2_gap_s8.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from ..data import ExitLogits, ExitRule, format_threshold, policy_error
from ..kind import ThresholdRule
from ..runs import real_logits
from ..tables import INT8_SPAN
from . import threshold

NAME = "margin"
EXAMPLE = "margin:2.5"
SCORE_NAME = "top-1 minus top-2 logit"


def check(spec: str, value: float, text: str) -> None:
    if value < 0.0:
        raise policy_error(spec, f"margin threshold {text} is negative",
                           f"give a logit difference >= 0, e.g. --policy {EXAMPLE}")


def score(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Top-1 minus top-2 real logit per sample, in float64."""
    top = np.sort(real_logits(np.atleast_2d(q), scale, zero_point), axis=1)
    return top[:, -1] - top[:, -2]


def stops(scores: np.ndarray, margin: float) -> np.ndarray:
    return scores >= margin


def lower_exit(index: int, exit_: ExitLogits, margin: float) -> ExitRule:
    threshold.check_exit(NAME, exit_)
    gap = max(0, min(INT8_SPAN + 1, math.ceil(Fraction(margin) / Fraction(exit_.scale))))
    return threshold.gap_rule(NAME, index, exit_, margin, gap, f"= ceil({format_threshold(margin)} / s), exact",
                              f"top-1 minus top-2 logit >= {format_threshold(margin)}", SCORE_NAME)


def candidates(exits: list[ExitLogits]) -> list[float]:
    """Round steps from beyond every possible int8 gap down to 0."""
    top = max(e.scale for e in exits) * 256
    return list(reversed(threshold.round_grid(top)))


EXIT_GRID = (16.0, 12.0, 10.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5, 0.0)


def exit_candidates(exit_: ExitLogits) -> list[float]:
    """Per-exit calibration: beyond every int8 gap of this exit (never stops), then a fixed list down to 0."""
    top = float(f"{exit_.scale * 256:.6g}")
    return [top] + [g for g in EXIT_GRID if g < top]


FORMS = {"gap": threshold.GAP}

RULE = ThresholdRule(score_name=SCORE_NAME, check=check, score=score, stops=stops, lower=lower_exit,
                     candidates=candidates, exit_candidates=exit_candidates)


KIND = threshold.threshold_kind(NAME, EXAMPLE, RULE, FORMS)
