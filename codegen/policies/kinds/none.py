"""none -- run every stage; the only decision is at the last exit.

C: templates/library/policies/none.c.j2.
"""

from __future__ import annotations

import numpy as np

from ..data import ExitLogits, LoweredPolicy, PolicySpec
from ..kind import PolicyKind
from ..runs import PolicyRun, run_at

NAME = "none"
EXAMPLE = "none"
TEMPLATE = "library/policies/none.c.j2"


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    return PolicySpec(kind=NAME, text=NAME, exit_names=names)


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return LoweredPolicy(kind=NAME, spec=spec.text, exits=exits, template=TEMPLATE)


def summarize(policy: LoweredPolicy) -> list[str]:
    n = policy.num_exits
    return [f'every stage runs; decisions stop only at the last exit, exit {n - 1} "{policy.exits[-1].name}".']


def run(batches: list[np.ndarray]) -> PolicyRun:
    return run_at(batches, np.full(len(batches[0]), len(batches) - 1))


def run_float(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    return run(batches)


def run_integer(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    return run(batches)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=summarize,
                  run_float=run_float, run_integer=run_integer, parameter=False)
