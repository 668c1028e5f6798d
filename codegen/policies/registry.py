"""The exit-policy kinds by name, and the integer forms by name.

`KINDS` maps the word before ':' in a policy string to its kind
(codegen/policies/kinds/); its order is the order error messages list
examples in. `FORMS` maps ExitRule.form to the numpy replica of that device
comparison. Nothing changes them at run time: the functions that dispatch
through them (spec.parse_policy, lowering.lower_policy, reference.run_float,
reference.run_integer, ...) take the mapping as an argument defaulting to
these, so a caller or a test can pass an extended one
(docs/adding-a-policy.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from .kind import IntegerForm, PolicyKind, ThresholdRule
from .kinds import confidence, difference, entropy, margin, none, patience, temporal_patience, threshold
from .kinds import exit as exit_

KINDS: Mapping[str, PolicyKind] = {
    "none": none.KIND,
    "exit": exit_.KIND,
    "confidence": confidence.KIND,
    "margin": margin.KIND,
    "entropy": entropy.KIND,
    "patience": patience.KIND,
    "difference": difference.KIND,
    "temporal-patience": temporal_patience.KIND,
}

FORMS: Mapping[str, IntegerForm] = {
    "gap": threshold.GAP,
    "exp_sum": confidence.EXP_SUM,
    "entropy": entropy.ENTROPY,
}


def threshold_rule(kind: str, kinds: Mapping[str, PolicyKind] = KINDS) -> ThresholdRule:
    """The per-exit rule of a threshold kind (confidence, margin, entropy)."""
    rule = kinds[kind].threshold
    if rule is None:
        raise ValueError(f"policy kind {kind!r} has no per-exit threshold")
    return rule


def threshold_kinds(kinds: Mapping[str, PolicyKind] = KINDS) -> tuple[str, ...]:
    """The kinds with a per-exit threshold, which calibration can sweep."""
    return tuple(name for name, kind in kinds.items() if kind.threshold is not None)
