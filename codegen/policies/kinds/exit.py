"""exit:K -- always stop at exit K (an index or an exit name).

C: templates/library/policies/exit.c.j2.
"""

from __future__ import annotations

import re

import numpy as np

from ..data import ExitLogits, LoweredPolicy, PolicySpec, policy_error
from ..kind import PolicyKind
from ..runs import PolicyRun, run_at

NAME = "exit"
EXAMPLE = "exit:0"
TEMPLATE = "library/policies/exit.c.j2"


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    n = len(names)
    hint = f"the exits are {','.join(names)}; e.g. --policy {EXAMPLE}"
    if args in names:
        index = names.index(args)
    else:
        if not re.fullmatch(r"[+-]?\d+", args):
            raise policy_error(spec, f"'{args}' is neither an exit index nor an exit name", hint)
        index = int(args)
        if not 0 <= index < n:
            raise policy_error(spec, f"exit index {index} is out of range (the model has {n} exits, 0..{n - 1})", hint)
    return PolicySpec(kind=NAME, text=f"exit:{index}", exit_names=names, exit_index=index)


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return LoweredPolicy(kind=NAME, spec=spec.text, exits=exits, template=TEMPLATE, exit_index=spec.exit_index)


def summarize(policy: LoweredPolicy) -> list[str]:
    k = policy.exit_index
    return [f'always stops at exit {k} "{policy.exits[k].name}".']


def run(index: int, batches: list[np.ndarray]) -> PolicyRun:
    return run_at(batches, np.full(len(batches[0]), index))


def run_float(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    return run(spec.exit_index, batches)


def run_integer(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    return run(policy.exit_index, batches)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=summarize,
                  run_float=run_float, run_integer=run_integer)
