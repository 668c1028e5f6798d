"""What the per-exit threshold kinds (confidence, margin, entropy) share.

`kind:T` or `kind:T0,T1,...`: one threshold for every non-final exit, or one
per non-final exit in stage order. A sample stops at the first exit whose rule
holds; the last exit always stops. Each kind module supplies its
`ThresholdRule` (float score, rule, lowering of one exit) and the integer
forms its rules lower to; this module parses the list, lowers every exit,
writes the header lines and runs the policy over a batch.

With 2 classes every rule is a function of |q_0 - q_1| alone, so each kind
lowers to the `gap` form there, with the smallest gap that satisfies the
float64 rule found by scanning the 256 possible gaps (`two_class_gap`).

C: templates/library/policies/threshold.c.j2, one form macro per
ExitRule.form, calling templates/kernels/tx_policy.c.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ...errors import TinyexitError
from ..data import (
    Constant,
    ExitLogits,
    ExitRule,
    LoweredPolicy,
    PolicySpec,
    example_hint,
    format_threshold,
    parse_number,
    policy_error,
)
from ..kind import IntegerForm, PolicyKind, ThresholdRule
from ..runs import PolicyRun, first_stop, labels_at, top2_gap
from ..tables import EXACT, INT8_SPAN

TEMPLATE = "library/policies/threshold.c.j2"


def parse(name: str, example: str, rule: ThresholdRule, spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    """`name:T` or `name:T0,T1,...` against the exits, in stage order."""
    n = len(names)
    if n < 2:
        raise policy_error(spec, f"'{name}' needs an early exit, but the model has only one exit", "use --policy none")
    values = []
    for item in (a.strip() for a in args.split(",")):
        value = parse_number(spec, item, example)
        rule.check(spec, value, item)
        if not math.isfinite(value):
            raise policy_error(spec, f"{name} threshold {item} is not finite", example_hint(example))
        values.append(value)
    if len(values) == 1:
        values = values * (n - 1)
    elif len(values) != n - 1:
        raise policy_error(
            spec, f"gives {len(values)} thresholds, but the model has {n - 1} non-final exits ({','.join(names[:-1])})",
            f"give one threshold, or one per non-final exit, e.g. --policy {name}:"
            + ",".join([example.split(":")[1]] * (n - 1)),
        )
    canonical = f"{name}:" + ",".join(format_threshold(v) for v in values)
    return PolicySpec(kind=name, text=canonical, exit_names=names, thresholds=tuple(values))


def check_exit(name: str, exit_: ExitLogits) -> None:
    """An exit a threshold rule can read: 2 or more classes and a usable scale."""
    c, s = exit_.num_classes, exit_.scale
    if c < 2:
        raise TinyexitError(
            f"exit '{exit_.name}' has {c} class; {name}: needs 2 or more classes; use exit: or patience:"
        )
    if not (s > 0 and math.isfinite(s)):
        raise TinyexitError(f"exit '{exit_.name}': logit scale {s!r} is not a positive number; re-quantize the model")


def classes_constant(index: int, exit_: ExitLogits) -> Constant:
    return Constant(f"POLICY_EXIT{index}_CLASSES", exit_.num_classes, "logits this decision reads")


def two_class_gap(rule: ThresholdRule, scale: float, threshold: float) -> int:
    """Smallest |q_0 - q_1| at which the float64 rule stops (256: never)."""
    gaps = np.arange(INT8_SPAN + 1)
    q = np.stack([gaps - 128, np.full_like(gaps, -128)], axis=1).astype(np.int8)
    stops = rule.stops(rule.score(q, scale, 0), threshold)
    hits = np.nonzero(stops)[0]
    if len(hits) and not stops[hits[0]:].all():
        raise AssertionError(f"{rule.score_name} is not monotone in the logit gap at scale {scale}")
    return int(hits[0]) if len(hits) else INT8_SPAN + 1


def gap_rule(name: str, index: int, exit_: ExitLogits, threshold: float, gap: int, why: str,
             description: str, score_name: str) -> ExitRule:
    """The `gap` form: q_top1 - q_top2 >= gap (exact in integers)."""
    never = " (never: a gap is at most 255)" if gap > INT8_SPAN else ""
    return ExitRule(
        index=index, exit=exit_, rule=name, threshold=threshold, form="gap",
        params={"gap_min": gap},
        constants=(classes_constant(index, exit_),
                   Constant(f"POLICY_EXIT{index}_GAP_MIN", gap, f"q_top1 - q_top2 {why}{never}")),
        tables=(),
        bound=EXACT * max(1.0, abs(threshold)),
        description=description,
        integer_form=(f"q_top1 - q_top2 >= {gap} {why}{never}",),
        score_name=score_name,
    )


def two_class_rule(name: str, rule: ThresholdRule, index: int, exit_: ExitLogits, threshold: float,
                   description: str) -> ExitRule:
    gap = two_class_gap(rule, exit_.scale, threshold)
    return gap_rule(name, index, exit_, threshold, gap, "(2 classes: the smallest gap where the float64 rule holds)",
                    description, rule.score_name)


def _gap_stats(rule: ExitRule, q: np.ndarray) -> dict[str, np.ndarray]:
    return {"gap": top2_gap(q)}


def _gap_stops(rule: ExitRule, stats: dict[str, np.ndarray]) -> np.ndarray:
    return stats["gap"] >= rule.params["gap_min"]


GAP = IntegerForm(stats=_gap_stats, stops=_gap_stops)


def lower(name: str, rule: ThresholdRule, spec: PolicySpec, exits: tuple[ExitLogits, ...],
          template: str = TEMPLATE) -> LoweredPolicy:
    """One ExitRule per non-final exit; `template` writes their C (threshold.c.j2 knows gap, exp_sum, entropy)."""
    rules = tuple(rule.lower(k, exits[k], t) for k, t in enumerate(spec.thresholds))
    return LoweredPolicy(kind=name, spec=spec.text, exits=exits, template=template, rules=rules)


def summarize(policy: LoweredPolicy) -> list[str]:
    lines = []
    for r in policy.rules:
        e = r.exit
        lines.append(
            f'exit {r.index} "{e.name}" ({e.num_classes} classes, logits scale {e.scale:.9g}, '
            f"zero point {e.zero_point}): stop when {r.description}"
        )
        lines += [("  on the device: " if i == 0 else "    ") + line for i, line in enumerate(r.integer_form)]
        lines.append(
            f"  equals the float rule whenever |{r.score_name} - {format_threshold(r.threshold)}| > {r.bound:.3g}"
        )
    n = policy.num_exits
    lines.append(f'exit {n - 1} "{policy.exits[-1].name}" always stops.')
    return lines


def run_float(rule: ThresholdRule, spec: PolicySpec, exits: tuple[ExitLogits, ...],
              batches: list[np.ndarray]) -> PolicyRun:
    last = len(batches) - 1
    scores = np.stack([rule.score(batches[k], exits[k].scale, exits[k].zero_point) for k in range(last)], axis=1)
    stops = np.stack([rule.stops(scores[:, k], spec.thresholds[k]) for k in range(last)], axis=1)
    taken = first_stop(stops, last)
    return PolicyRun(taken, labels_at(batches, taken), scores)


def run_integer(forms: dict[str, IntegerForm], policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    last = len(batches) - 1
    stops = np.stack(
        [forms[r.form].stops(r, forms[r.form].stats(r, batches[r.index])) for r in policy.rules], axis=1
    )
    taken = first_stop(stops, last)
    return PolicyRun(taken, labels_at(batches, taken))


def threshold_kind(name: str, example: str, rule: ThresholdRule, forms: dict[str, IntegerForm]) -> PolicyKind:
    """The PolicyKind of a threshold policy: the shared steps above, bound to its rule and integer forms."""
    return PolicyKind(name=name, example=example, parse=functools.partial(parse, name, example, rule),
                      lower=functools.partial(lower, name, rule), summarize=summarize,
                      run_float=functools.partial(run_float, rule), run_integer=functools.partial(run_integer, forms),
                      threshold=rule)


def round_grid(top: float, most: int = 1024) -> list[float]:
    """0, step, 2 step, ... up to `top` with the smallest round step (1, 2 or 5 times a
    power of ten) that gives at most `most` steps: calibration's grid for unbounded rules."""
    step = top / most
    for exponent in range(-4, 6):
        found = next((m * 10.0**exponent for m in (1, 2, 5) if top / (m * 10.0**exponent) <= most), None)
        if found is not None:
            step = found
            break
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]
