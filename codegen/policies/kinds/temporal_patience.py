"""temporal-patience:P -- temporal (Sponner et al., reference/early-exit.md):
stop at exit 0 once it agreed with the decided labels for P consecutive
samples and repeats the last decided label; a disagreement resets the count
and runs the full network.

Reads argmaxes only, so the float and the integer rule are the same computation.

C: templates/library/policies/temporal_patience.c.j2 calling
tx_policy_temporal_patience_{early,final,reset}.
"""

from __future__ import annotations

import numpy as np

from ..data import ExitLogits, LoweredPolicy, PolicySpec, example_hint, parse_integer, policy_error
from ..kind import PolicyKind
from ..runs import PolicyRun

NAME = "temporal-patience"
EXAMPLE = "temporal-patience:3"
TEMPLATE = "library/policies/temporal_patience.c.j2"
MAX_PATIENCE = 1_000_000  # samples; the device counts them in an int


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    value = parse_integer(spec, args, EXAMPLE)
    if len(names) < 2:
        raise policy_error(spec, "temporal-patience needs an early exit, but the model has only one exit",
                           "use --policy none")
    if not 1 <= value <= MAX_PATIENCE:
        raise policy_error(spec, f"temporal patience {value} must be 1 or more and at most {MAX_PATIENCE}",
                           example_hint(EXAMPLE))
    return PolicySpec(kind=NAME, text=f"temporal-patience:{value}", exit_names=names, count=value, temporal=True)


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return LoweredPolicy(kind=NAME, spec=spec.text, exits=exits, template=TEMPLATE, temporal_patience=spec.count,
                         temporal=True)


def summarize(policy: LoweredPolicy) -> list[str]:
    p = policy.temporal_patience
    last = f'exit {policy.num_exits - 1} "{policy.exits[-1].name}"'
    return [
        f"temporal patience {p}: stop at exit 0 when its argmax equals the last",
        f"decided label and exit 0 agreed with the decided label for {p} consecutive",
        f"samples; otherwise run to {last}.",
        "State persists between inferences; reset() clears it.",
    ]


def run(patience: int, batches: list[np.ndarray]) -> PolicyRun:
    """The stream in order from a reset state, as tx_policy_temporal_patience_* do."""
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
    return PolicyRun(taken, labels)


def run_float(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    return run(spec.count, batches)


def run_integer(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    return run(policy.temporal_patience, batches)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=summarize,
                  run_float=run_float, run_integer=run_integer)
