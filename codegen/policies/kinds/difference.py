"""difference:D -- temporal difference detection (Sponner et al.,
reference/early-exit.md): keep exit 0's logits of a reference sample; for a
new sample whose exit-0 logits lie within Euclidean distance D (natural logit
units) of the reference, stop at exit 0 and report the last decided label;
otherwise run the whole network and make this sample the reference.

On the device the squared quantized distance is compared with
floor((D / s)^2): exact, as the margin's ceiling is.

C: templates/library/policies/difference.c.j2 calling
tx_policy_difference_{early,final,reset}.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from ...errors import TinyexitError
from ..data import (
    DifferenceRule,
    ExitLogits,
    LoweredPolicy,
    PolicySpec,
    example_hint,
    format_threshold,
    parse_number,
    policy_error,
)
from ..kind import PolicyKind
from ..runs import PolicyRun
from ..tables import EXACT, INT8_SPAN

NAME = "difference"
EXAMPLE = "difference:0.1"
TEMPLATE = "library/policies/difference.c.j2"


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    value = parse_number(spec, args, EXAMPLE)
    if len(names) < 2:
        raise policy_error(spec, "difference needs an early exit, but the model has only one exit",
                           "use --policy none")
    if not math.isfinite(value) or value < 0.0:
        raise policy_error(spec, f"distance {args} must be a finite number >= 0 (natural logit units)",
                           example_hint(EXAMPLE))
    return PolicySpec(kind=NAME, text=f"difference:{format_threshold(value)}", exit_names=names, distance=value,
                      temporal=True)


def lower_difference(exit_: ExitLogits, distance: float) -> DifferenceRule:
    s = exit_.scale
    largest = exit_.num_classes * INT8_SPAN * INT8_SPAN
    if largest >= 1 << 32:
        raise TinyexitError(
            f"exit '{exit_.name}' has {exit_.num_classes} logits, too many for difference:'s 32-bit distance; "
            "use temporal-patience:"
        )
    dist2 = min(math.floor((Fraction(distance) / Fraction(s)) ** 2), largest)
    d = format_threshold(distance)
    return DifferenceRule(
        exit=exit_,
        distance=distance,
        dist2_max=dist2,
        bound=EXACT * max(1.0, distance),
        description=f"Euclidean distance of exit 0's logits to the reference sample's <= {d}",
        integer_form=(f"sum_c (q_c - r_c)^2 <= {dist2} = floor(({d} / {s:.9g})^2), exact",),
    )


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return LoweredPolicy(kind=NAME, spec=spec.text, exits=exits, template=TEMPLATE,
                         difference=lower_difference(exits[0], spec.distance), temporal=True)


def summarize(policy: LoweredPolicy) -> list[str]:
    rule = policy.difference
    last = f'exit {policy.num_exits - 1} "{policy.exits[-1].name}"'
    return [
        "difference detection: stop at exit 0 and report the last decided label when the",
        f"{rule.description};",
        f"otherwise run to {last} and make this sample the reference.",
        f"  on the device: {rule.integer_form[0]}",
        f"  equals the float rule whenever |distance - {format_threshold(rule.distance)}| > {rule.bound:.3g}.",
        "State persists between inferences; reset() clears it.",
    ]


def run(batches: list[np.ndarray], close: Callable[[np.ndarray, np.ndarray], tuple[bool, float]]) -> PolicyRun:
    """The stream in order from a reset state; `close(q, reference)` -> (stop, score)."""
    first, final = batches[0], batches[-1]
    last = len(batches) - 1
    n = len(first)
    taken = np.empty(n, dtype=np.int64)
    labels = np.empty(n, dtype=np.int64)
    scores = np.full((n, 1), np.nan)
    reference, last_label = None, -1
    for t in range(n):
        if reference is not None:
            stop, scores[t, 0] = close(first[t], reference)
            if stop and last_label >= 0:
                taken[t], labels[t] = 0, last_label
                continue
        reference = first[t]
        last_label = int(np.argmax(final[t]))
        taken[t], labels[t] = last, last_label
    return PolicyRun(taken, labels, scores)


def float_distance(q: np.ndarray, reference: np.ndarray, scale: float) -> float:
    """Euclidean distance between two samples' logits in natural units."""
    diff = float(scale) * (np.asarray(q, np.float64) - np.asarray(reference, np.float64))
    return float(np.sqrt(np.sum(diff * diff)))


def run_float(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    scale = exits[0].scale

    def close(q, ref):
        dist = float_distance(q, ref, scale)
        return dist <= spec.distance, dist

    return run(batches, close)


def run_integer(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    limit = policy.difference.dist2_max

    def close(q, ref):
        """tx_policy_difference_early's comparison (tx_policy_distance2_s8)."""
        diff = q.astype(np.int64) - ref.astype(np.int64)
        dist2 = int(np.sum(diff * diff))
        return dist2 <= limit, float(dist2)

    result = run(batches, close)
    return PolicyRun(result.exit_taken, result.labels)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=summarize,
                  run_float=run_float, run_integer=run_integer)
