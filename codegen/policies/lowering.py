"""Exit-policy lowering: float thresholds -> integer constants and tables.

Everything a decision needs is computed here from each exit's logit scale s,
so the device only adds, looks up and compares integers
(reference/early-exit.md, "Integer forms on int8 logits"). With
d_c = q_max - q_c (the zero point cancels):

confidence, max softmax >= tau. p_max = 1 / S with S = sum_c exp(-s d_c), so
    the rule is S <= 1/tau. On the device sum_c E[d_c] <= floor(2^K / tau)
    with E[d] = round(2^K exp(-s d)); the floor loses nothing because the sum is
    an integer. Each of the C-1 non-max terms is off by at most 1/2, so the
    sum is 2^K S within eps = (C-1) 2^-(K+1) (relative to 2^K), and the
    decision equals the float rule whenever |p_max - tau| > tau * eps.

margin, z_top1 - z_top2 >= M. On the device q_top1 - q_top2 >= ceil(M / s),
    computed with exact rationals: the same decision as the real-number rule.

entropy, H <= h. With A = s sum_c d_c exp(-s d_c): H = A/S + ln S, so
    H <= h  <=>  A <= S (h - ln S). On the device, with F[d] =
    round(2^K s d exp(-s d)) and ln S from a 65-entry Q16 table of ln(1 + u)
    with linear interpolation: sum F * 2^16 <= sum E * (round(h 2^16) - ln_q16)
    in int64. The decision equals the float rule whenever
    |H - h| > (eps (1 + h) + e_ln + 2^-17) / (1 - eps), where e_ln bounds the
    error of the computed ln S (see `entropy_bound`).

With 2 classes every rule is a function of |q_0 - q_1| alone, so confidence
and entropy become the same one compare as margin, with the smallest gap that
satisfies the float64 rule found by scanning the 256 possible gaps.

K (EXP_BITS) is 15 (uint16_t tables) unless the class count needs fewer bits
to keep sum_c E[d_c] <= C 2^K below 2^30.

difference:D compares the squared quantized distance to exit 0's reference
sample with floor((D / s)^2), exact for the same reason as the margin.

Invariant: a LoweredPolicy's constants and tables are plain ints; nothing in
it needs float arithmetic on the device. The pass that stores it in the graph
is codegen/passes/lower_policy.py.
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from ..errors import TinyexitError
from .reference import float_scores, float_stops
from .spec import (
    Constant,
    DifferenceRule,
    ExitLogits,
    ExitRule,
    LoweredPolicy,
    PolicySpec,
    Table,
    format_threshold,
    parse_policy,
)
from .tables import (
    EXACT,
    INT8_SPAN,
    LN2_Q16,
    LN_FRAC_BITS,
    LN_INDEX_BITS,
    exp_bits,
    exp_table,
    ln_table,
    round_half_up,
    xexp_table,
)


def confidence_bound(num_classes: int, k_bits: int, tau: float) -> float:
    eps = (num_classes - 1) * 2.0 ** -(k_bits + 1)
    return tau * eps * (1 + EXACT) + 1e-12


def entropy_bound(num_classes: int, k_bits: int, h: float) -> float:
    """|H - h| beyond which the integer entropy decision equals the float rule.

    eps: error of sum E / 2^K against S and of sum F / 2^K against A (C-1 rounded
    terms of at most 1/2, divided by sum E >= 2^K). e_ln: error of the computed
    ln S: the S error (eps / (1 - eps)), truncating the mantissa to K bits
    (2^-K), linear interpolation of ln(1 + u) on steps of 2^-6 (2^-12 / 8),
    table rounding and the interpolation's floor (1.5 * 2^-16), and n rounded
    copies of ln 2 (n <= floor(log2 C), 2^-17 each). The threshold itself is
    rounded to Q16 (2^-17).
    """
    eps = (num_classes - 1) * 2.0 ** -(k_bits + 1)
    q = 2.0 ** -LN_FRAC_BITS
    e_ln = (eps / (1 - eps) + 2.0 ** -k_bits + 2.0 ** (-2 * LN_INDEX_BITS) / 8
            + 1.5 * q + 0.5 * q * math.floor(math.log2(num_classes)))
    e_h = 0.5 * q
    return (eps * (1 + h) + e_ln + e_h) / (1 - eps) * (1 + EXACT) + 1e-12


def two_class_gap(rule: str, scale: float, threshold: float) -> int:
    """Smallest |q_0 - q_1| at which the float64 rule stops (256: never)."""
    gaps = np.arange(INT8_SPAN + 1)
    q = np.stack([gaps - 128, np.full_like(gaps, -128)], axis=1).astype(np.int8)
    stops = float_stops(rule, float_scores(rule, q, scale, 0), threshold)
    hits = np.nonzero(stops)[0]
    if len(hits) and not stops[hits[0]:].all():
        raise AssertionError(f"{rule} is not monotone in the logit gap at scale {scale}")
    return int(hits[0]) if len(hits) else INT8_SPAN + 1


def _describe(rule: str, threshold: float) -> str:
    t = format_threshold(threshold)
    return {
        "confidence": f"max softmax >= {t}",
        "margin": f"top-1 minus top-2 logit >= {t}",
        "entropy": f"softmax entropy <= {t} nats",
    }[rule]


def lower_exit(index: int, exit_: ExitLogits, rule: str, threshold: float) -> ExitRule:
    """The integer form of one non-final exit's rule."""
    c = exit_.num_classes
    s = exit_.scale
    if c < 2:
        raise TinyexitError(
            f"exit '{exit_.name}' has {c} class; {rule}: needs 2 or more classes; use exit: or patience:"
        )
    if not (s > 0 and math.isfinite(s)):
        raise TinyexitError(
            f"exit '{exit_.name}': logit scale {s!r} is not a positive number; re-quantize the model"
        )
    name = f"POLICY_EXIT{index}"
    classes = Constant(f"{name}_CLASSES", c, "logits this decision reads")
    description = _describe(rule, threshold)
    scale_text = f"{s:.9g}"

    if rule == "margin" or c == 2:
        if rule == "margin":
            gap = max(0, min(INT8_SPAN + 1, math.ceil(Fraction(threshold) / Fraction(s))))
            why = f"= ceil({format_threshold(threshold)} / s), exact"
        else:
            gap = two_class_gap(rule, s, threshold)
            why = "(2 classes: the smallest gap where the float64 rule holds)"
        never = " (never: a gap is at most 255)" if gap > INT8_SPAN else ""
        return ExitRule(
            index=index, exit=exit_, rule=rule, threshold=threshold, form="gap",
            params={"gap_min": gap},
            constants=(classes, Constant(f"{name}_GAP_MIN", gap, f"q_top1 - q_top2 {why}{never}")),
            tables=(),
            bound=EXACT * max(1.0, abs(threshold)),
            description=description,
            integer_form=(f"q_top1 - q_top2 >= {gap} {why}{never}",),
        )

    k = exp_bits(c)
    exp_values = exp_table(s, k)
    if rule == "confidence":
        limit = min(math.floor(Fraction(1 << k) / Fraction(threshold)), c << k)
        table = Table(f"policy_exit{index}_exp", "uint16_t", tuple(exp_values),
                      f"E[d] = round(2^{k} exp(-{scale_text} d)); 0 for d >= {len(exp_values)}")
        return ExitRule(
            index=index, exit=exit_, rule=rule, threshold=threshold, form="exp_sum",
            params={"exp_bits": k, "exp_len": len(exp_values), "exp_sum_max": limit},
            constants=(
                classes,
                Constant(f"{name}_EXP_LEN", len(exp_values), "entries of the exp table"),
                Constant(f"{name}_EXP_SUM_MAX", limit,
                         f"floor(2^{k} / {format_threshold(threshold)})"
                         + (", clamped to C 2^K: always stops" if limit == c << k else ""), unsigned=True),
            ),
            tables=(table,),
            bound=confidence_bound(c, k, threshold),
            description=description,
            integer_form=(
                f"sum_c E[q_max - q_c] <= {limit}, E[d] = round(2^{k} exp(-{scale_text} d))",
                f"({len(exp_values)} table entries, 0 beyond)",
            ),
        )

    # entropy
    xexp_values = xexp_table(s, k)
    length = max(len(exp_values), len(xexp_values))
    exp_values += [0] * (length - len(exp_values))
    xexp_values += [0] * (length - len(xexp_values))
    h_clamped = min(threshold, math.log(c) + 1.0)  # H <= ln C: larger thresholds always stop
    h_q16 = round_half_up(math.ldexp(h_clamped, LN_FRAC_BITS))
    return ExitRule(
        index=index, exit=exit_, rule=rule, threshold=threshold, form="entropy",
        params={"exp_bits": k, "exp_len": length, "h_q16": h_q16},
        constants=(
            classes,
            Constant(f"{name}_EXP_BITS", k, "fraction bits of the E and F tables"),
            Constant(f"{name}_EXP_LEN", length, "entries of the E and F tables"),
            Constant(f"{name}_H_Q16", h_q16, f"round({format_threshold(h_clamped)} * 2^16)"),
        ),
        tables=(
            Table(f"policy_exit{index}_exp", "uint16_t", tuple(exp_values),
                  f"E[d] = round(2^{k} exp(-{scale_text} d))"),
            Table(f"policy_exit{index}_xexp", "uint16_t", tuple(xexp_values),
                  f"F[d] = round(2^{k} {scale_text} d exp(-{scale_text} d))"),
        ),
        bound=entropy_bound(c, k, threshold),
        description=description,
        integer_form=(
            f"sum F * 2^16 <= sum E * ({h_q16} - ln_q16(sum E)), E[d] = round(2^{k} exp(-{scale_text} d)),",
            f"F[d] = round(2^{k} {scale_text} d exp(-{scale_text} d)) ({length} entries), ln from a 65-entry Q16 table",
        ),
    )


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


def lower_policy(spec: PolicySpec, exits: list[ExitLogits]) -> LoweredPolicy:
    """Lower a parsed policy to integer constants and tables for exits in stage order."""
    exits = tuple(exits)
    if len(exits) != spec.num_exits:
        raise ValueError(f"policy was parsed for {spec.num_exits} exits, lowering got {len(exits)}")
    for e in exits:
        if e.num_classes < 1:
            raise TinyexitError(f"exit '{e.name}' has no logits; check the model's outputs")
    base = {"kind": spec.kind, "spec": spec.text, "exits": exits}
    if spec.kind in ("confidence", "margin", "entropy"):
        rules = tuple(lower_exit(k, exits[k], spec.kind, t) for k, t in enumerate(spec.thresholds))
        lowered = LoweredPolicy(**base, rules=rules)
        if any(r.form == "entropy" for r in rules):
            lowered = dataclasses.replace(lowered, ln_table=tuple(ln_table()), ln2_q16=LN2_Q16)
    elif spec.kind == "exit":
        lowered = LoweredPolicy(**base, exit_index=spec.exit_index)
    elif spec.kind == "patience":
        lowered = LoweredPolicy(**base, patience=spec.count)
    elif spec.kind == "temporal-patience":
        lowered = LoweredPolicy(**base, temporal_patience=spec.count)
    elif spec.kind == "difference":
        lowered = LoweredPolicy(**base, difference=lower_difference(exits[0], spec.distance))
    else:
        lowered = LoweredPolicy(**base)
    return dataclasses.replace(lowered, summary=summarize(lowered))


def summarize(policy: LoweredPolicy) -> tuple[str, ...]:
    """Lines for the generated header: each exit's float rule and its integer form."""
    n = policy.num_exits
    last = f'exit {n - 1} "{policy.exits[-1].name}"'
    lines = [f"Exit policy {policy.spec}"]
    if policy.kind == "none":
        lines.append(f"every stage runs; decisions stop only at the last exit, {last}.")
    elif policy.kind == "exit":
        k = policy.exit_index
        lines.append(f'always stops at exit {k} "{policy.exits[k].name}".')
    elif policy.kind == "patience":
        t = policy.patience
        lines += [
            f"PABEE patience {t}: stop at exit k once exits k-{t}..k all have the same argmax",
            f"({t} consecutive exit{'s' if t > 1 else ''} agreeing with the one before); otherwise stop at {last}.",
        ]
    elif policy.kind == "temporal-patience":
        lines += [
            f"temporal patience {policy.temporal_patience}: stop at exit 0 when its argmax equals the last",
            f"decided label and exit 0 agreed with the decided label for {policy.temporal_patience} consecutive",
            f"samples; otherwise run to {last}.",
            "State persists between inferences; reset() clears it.",
        ]
    elif policy.kind == "difference":
        rule = policy.difference
        lines += [
            f"difference detection: stop at exit 0 and report the last decided label when the",
            f"{rule.description};",
            f"otherwise run to {last} and make this sample the reference.",
            f"  on the device: {rule.integer_form[0]}",
            f"  equals the float rule whenever |distance - {format_threshold(rule.distance)}| > {rule.bound:.3g}.",
            "State persists between inferences; reset() clears it.",
        ]
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
    if policy.rules:
        lines.append(f"{last} always stops.")
    return tuple(lines)
