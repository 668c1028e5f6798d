"""Exit policies evaluated in Python, two ways, on the same int8 logits.

float: the rule as the literature states it, in float64 on the real logits
    z_c = scale * (q_c - zero_point). This is what a threshold means.
integer: a line-for-line numpy model of the generated C (the kind's template
    in templates/library/policies/ and templates/kernels/tx_policy.c) driven
    by the lowered constants and tables. Tests check that it equals the
    generated C exactly; calibration uses it so that the thresholds it picks
    are judged by the decisions the device will make.

The two agree on every sample whose float score lies farther than the
lowered rule's `bound` from its threshold.

Each kind's module (codegen/policies/kinds/) holds its own two runs; the
pieces they share are in runs.py. This module checks the logits and
dispatches. A run over a batch returns, per sample, the exit taken and the
label reported. Temporal policies (difference, temporal-patience) treat the
batch as one stream in order, starting from a reset state, exactly as the C
does when the application calls reset() and then runs the samples in order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .data import ExitLogits, ExitRule, LoweredPolicy, PolicySpec
from .kind import IntegerForm, PolicyKind
from .registry import FORMS, KINDS, threshold_rule
from .runs import PolicyRun, check_batches, ln_q16, real_logits

__all__ = ["PolicyRun", "float_scores", "float_stops", "integer_stats", "integer_stops", "ln_q16", "real_logits",
           "run_float", "run_integer"]


def float_scores(rule: str, q: np.ndarray, scale: float, zero_point: int,
                 kinds: Mapping[str, PolicyKind] = KINDS) -> np.ndarray:
    """The score a threshold kind thresholds, per sample: max softmax, top-2 margin, or entropy (nats)."""
    return threshold_rule(rule, kinds).score(q, scale, zero_point)


def float_stops(rule: str, scores: np.ndarray, threshold: float,
                kinds: Mapping[str, PolicyKind] = KINDS) -> np.ndarray:
    """Whether each score satisfies the rule's threshold."""
    return threshold_rule(rule, kinds).stops(scores, threshold)


def integer_stats(rule: ExitRule, q: np.ndarray, forms: Mapping[str, IntegerForm] = FORMS) -> dict[str, np.ndarray]:
    """The integers the device computes from the logits, before comparing with the threshold.

    They depend on the exit's scale and class count, not on the threshold, so
    calibration computes them once and compares against many thresholds.
    """
    return forms[rule.form].stats(rule, q)


def integer_stops(rule: ExitRule, stats: dict[str, np.ndarray],
                  forms: Mapping[str, IntegerForm] = FORMS) -> np.ndarray:
    """The device's decision at this exit from `integer_stats`."""
    return forms[rule.form].stops(rule, stats)


def run_float(spec: PolicySpec, exits: list[ExitLogits] | tuple[ExitLogits, ...], logits: list[np.ndarray],
              kinds: Mapping[str, PolicyKind] = KINDS) -> PolicyRun:
    """The policy evaluated in float64 on the int8 logits of every exit (stage order)."""
    exits = tuple(exits)
    return kinds[spec.kind].run_float(spec, exits, check_batches(logits, exits))


def run_integer(policy: LoweredPolicy, logits: list[np.ndarray],
                kinds: Mapping[str, PolicyKind] = KINDS) -> PolicyRun:
    """The policy as the generated C computes it, from the lowered constants."""
    return kinds[policy.kind].run_integer(policy, check_batches(logits, policy.exits))
