"""patience:T -- PABEE over exits: stop at exit k once T consecutive exits
agreed with the exit before them (needs 3 or more exits; T in 1..exits-2).

Reads argmaxes only, so the float and the integer rule are the same computation.

C: templates/library/policies/patience.c.j2 calling tx_policy_patience_step.
"""

from __future__ import annotations

import numpy as np

from ..data import ExitLogits, LoweredPolicy, PolicySpec, example_hint, parse_integer, policy_error
from ..kind import PolicyKind
from ..runs import PolicyRun, run_at

NAME = "patience"
EXAMPLE = "patience:2"
TEMPLATE = "library/policies/patience.c.j2"


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    value = parse_integer(spec, args, EXAMPLE)
    n = len(names)
    if n < 3:
        raise policy_error(spec, f"patience needs 3 or more exits, but the model has {n}",
                           "use confidence:, margin: or entropy: instead")
    if not 1 <= value <= n - 2:
        raise policy_error(spec, f"patience {value} is out of range: with {n} exits it must be 1..{n - 2} "
                           "to ever stop before the last exit", example_hint(f"patience:{max(1, n - 2)}"))
    return PolicySpec(kind=NAME, text=f"patience:{value}", exit_names=names, count=value)


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return LoweredPolicy(kind=NAME, spec=spec.text, exits=exits, template=TEMPLATE, patience=spec.count)


def summarize(policy: LoweredPolicy) -> list[str]:
    t = policy.patience
    last = f'exit {policy.num_exits - 1} "{policy.exits[-1].name}"'
    return [
        f"PABEE patience {t}: stop at exit k once exits k-{t}..k all have the same argmax",
        f"({t} consecutive exit{'s' if t > 1 else ''} agreeing with the one before); otherwise stop at {last}.",
    ]


def run(patience: int, batches: list[np.ndarray]) -> PolicyRun:
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
    return run_at(batches, taken)


def run_float(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    return run(spec.count, batches)


def run_integer(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    return run(policy.patience, batches)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=summarize,
                  run_float=run_float, run_integer=run_integer)
