"""Exit-policy lowering: float thresholds -> integer constants and tables.

Everything a decision needs is computed at generation time from each exit's
logit scale s, so the device only adds, looks up and compares integers
(reference/early-exit.md, "Integer forms on int8 logits"). Each kind's module
(codegen/policies/kinds/) holds its own lowering and explains its integer form
and the bound within which it may differ from the float64 rule; this module
dispatches to it and adds the header lines.

Invariant: a LoweredPolicy's constants and tables are plain ints; nothing in
it needs float arithmetic on the device. The pass that stores it in the graph
is codegen/passes/lower_policy.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from ..errors import TinyexitError
from .data import ExitLogits, ExitRule, LoweredPolicy, PolicySpec
from .kind import PolicyKind
from .kinds.confidence import bound as confidence_bound
from .kinds.entropy import bound as entropy_bound
from .registry import KINDS, threshold_rule

__all__ = ["confidence_bound", "entropy_bound", "lower_exit", "lower_policy"]


def lower_policy(spec: PolicySpec, exits: list[ExitLogits] | tuple[ExitLogits, ...],
                 kinds: Mapping[str, PolicyKind] = KINDS) -> LoweredPolicy:
    """Lower a parsed policy to integer constants and tables for exits in stage order."""
    exits = tuple(exits)
    if len(exits) != spec.num_exits:
        raise ValueError(f"policy was parsed for {spec.num_exits} exits, lowering got {len(exits)}")
    for e in exits:
        if e.num_classes < 1:
            raise TinyexitError(f"exit '{e.name}' has no logits; check the model's outputs")
    kind = kinds[spec.kind]
    lowered = kind.lower(spec, exits)
    return dataclasses.replace(lowered, summary=(f"Exit policy {lowered.spec}", *kind.summarize(lowered)))


def lower_exit(index: int, exit_: ExitLogits, rule: str, threshold: float,
               kinds: Mapping[str, PolicyKind] = KINDS) -> ExitRule:
    """The integer form of one non-final exit's threshold rule (`rule`: a threshold kind's name)."""
    return threshold_rule(rule, kinds).lower(index, exit_, threshold)
