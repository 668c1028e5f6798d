"""entropy:H -- stop when the softmax entropy is at most H nats (BranchyNet), H >= 0.

With d_c = q_max - q_c, S = sum_c exp(-s d_c) and A = s sum_c d_c exp(-s d_c):
H = A/S + ln S, so H <= h <=> A <= S (h - ln S). On the device (form
`entropy`), with E[d] = round(2^K exp(-s d)), F[d] = round(2^K s d exp(-s d))
and ln S from a 65-entry Q16 table of ln(1 + u) with linear interpolation:
sum F * 2^16 <= sum E * (round(h 2^16) - ln_q16(sum E)) in int64. The decision
equals the float rule whenever |H - h| > (eps (1 + h) + e_ln + 2^-17) / (1 - eps),
where e_ln bounds the error of the computed ln S (see `bound`). With 2 classes
the rule is one compare on the logit gap (kinds/threshold.py).

C: templates/library/policies/threshold.c.j2 (macro entropy) calling
tx_policy_entropy_at_most_s8 (its ln table is in tx_policy.c).
"""

from __future__ import annotations

import math

import numpy as np

from ..data import Constant, ExitLogits, ExitRule, Table, format_threshold, policy_error
from ..kind import IntegerForm, ThresholdRule
from ..runs import ln_q16, lookup, real_logits
from ..tables import EXACT, LN_FRAC_BITS, LN_INDEX_BITS, exp_bits, exp_table, round_half_up, xexp_table
from . import threshold

NAME = "entropy"
EXAMPLE = "entropy:0.4"
SCORE_NAME = "softmax entropy (nats)"


def check(spec: str, value: float, text: str) -> None:
    if value < 0.0:
        raise policy_error(spec, f"entropy threshold {text} is negative",
                           f"give an entropy in nats >= 0, e.g. --policy {EXAMPLE}")


def score(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Softmax entropy in nats per sample, in float64."""
    z = real_logits(np.atleast_2d(q), scale, zero_point)
    shifted = z - z.max(axis=1, keepdims=True)  # <= 0, so exp never overflows
    weights = np.exp(shifted)
    total = weights.sum(axis=1)
    p = weights / total[:, None]
    return np.log(total) - (p * shifted).sum(axis=1)  # H = -sum p ln p with ln p = shifted - ln S


def stops(scores: np.ndarray, h: float) -> np.ndarray:
    return scores <= h


def bound(num_classes: int, k_bits: int, h: float) -> float:
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


def lower_exit(index: int, exit_: ExitLogits, h: float) -> ExitRule:
    threshold.check_exit(NAME, exit_)
    description = f"softmax entropy <= {format_threshold(h)} nats"
    if exit_.num_classes == 2:
        return threshold.two_class_rule(NAME, RULE, index, exit_, h, description)
    c, s = exit_.num_classes, exit_.scale
    k = exp_bits(c)
    exp_values = exp_table(s, k)
    xexp_values = xexp_table(s, k)
    length = max(len(exp_values), len(xexp_values))
    exp_values += [0] * (length - len(exp_values))
    xexp_values += [0] * (length - len(xexp_values))
    h_clamped = min(h, math.log(c) + 1.0)  # H <= ln C: larger thresholds always stop
    h_q16 = round_half_up(math.ldexp(h_clamped, LN_FRAC_BITS))
    scale_text = f"{s:.9g}"
    name = f"POLICY_EXIT{index}"
    return ExitRule(
        index=index, exit=exit_, rule=NAME, threshold=h, form="entropy",
        params={"exp_bits": k, "exp_len": length, "h_q16": h_q16},
        constants=(
            threshold.classes_constant(index, exit_),
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
        bound=bound(c, k, h),
        description=description,
        integer_form=(
            f"sum F * 2^16 <= sum E * ({h_q16} - ln_q16(sum E)), E[d] = round(2^{k} exp(-{scale_text} d)),",
            f"F[d] = round(2^{k} {scale_text} d exp(-{scale_text} d)) ({length} entries), ln from a 65-entry Q16 table",
        ),
        score_name=SCORE_NAME,
    )


def candidates(exits: list[ExitLogits]) -> list[float]:
    """Round steps from 0 up to the largest possible entropy, ln C."""
    return threshold.round_grid(math.log(max(e.num_classes for e in exits)))


EXIT_GRID = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.2, 1.6, 2.0)


def exit_candidates(exit_: ExitLogits) -> list[float]:
    """Per-exit calibration: a fixed list from 0 up to ln C, the largest entropy of this exit."""
    top = math.log(exit_.num_classes)
    return [g for g in EXIT_GRID if g < top] + [float(f"{top:.6g}")]


def _entropy_stats(rule: ExitRule, q: np.ndarray) -> dict[str, np.ndarray]:
    """The sums tx_policy_entropy_at_most_s8 computes, and its ln."""
    q = np.asarray(q, dtype=np.int64)
    d = q.max(axis=1, keepdims=True) - q
    exp_sum = lookup(rule.tables[0].values, d).sum(axis=1)
    xexp_sum = lookup(rule.tables[1].values, d).sum(axis=1)
    return {"exp_sum": exp_sum, "xexp_sum": xexp_sum, "ln_q16": ln_q16(exp_sum, rule.params["exp_bits"])}


def _entropy_stops(rule: ExitRule, stats: dict[str, np.ndarray]) -> np.ndarray:
    return (stats["xexp_sum"] << LN_FRAC_BITS) <= stats["exp_sum"] * (rule.params["h_q16"] - stats["ln_q16"])


ENTROPY = IntegerForm(stats=_entropy_stats, stops=_entropy_stops)
FORMS = {"gap": threshold.GAP, "entropy": ENTROPY}

RULE = ThresholdRule(score_name=SCORE_NAME, check=check, score=score, stops=stops, lower=lower_exit,
                     candidates=candidates, exit_candidates=exit_candidates)


KIND = threshold.threshold_kind(NAME, EXAMPLE, RULE, FORMS)
