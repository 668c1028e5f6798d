"""Lowering thresholds to integers: constants, tables, stated bounds, and the
integer model of the C against the float64 rules (pure Python, many samples)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from policy_support import adversarial_logits

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.policies.lowering import entropy_bound, lower_exit, lower_policy
from tinyexit.codegen.policies.reference import float_scores, float_stops, integer_stats, integer_stops, ln_q16
from tinyexit.codegen.policies.spec import ExitLogits, parse_policy
from tinyexit.codegen.policies.tables import EXP_BITS_MAX, LN_FRAC_BITS, LN_INDEX_BITS, exp_bits, exp_table, xexp_table

SCALES = [0.007, 0.02, 0.05, 0.1, 0.25, 0.5]
CLASSES = [2, 3, 10, 12]
GRID = {
    "confidence": [0.2, 0.5, 0.7, 0.9, 0.99, 0.999, 1.0],
    "margin": [0.0, 0.1, 0.5, 1.0, 2.5, 5.0, 20.0, 70.0],
    "entropy": [0.0, 0.01, 0.1, 0.4, 1.0, 2.0, 3.0],
}


def test_exp_bits_keep_the_sums_in_int32():
    for c in (2, 10, 12, 1000, 32768, 65536, 1 << 22):
        k = exp_bits(c)
        assert c * (1 << k) <= 1 << 30
    assert exp_bits(10) == EXP_BITS_MAX
    with pytest.raises(TinyexitError, match="too wide"):
        exp_bits((1 << 22) + 1)


@pytest.mark.parametrize("scale", SCALES)
def test_tables_start_at_one_decrease_and_stop_at_the_last_nonzero_entry(scale):
    e = exp_table(scale, 15)
    assert e[0] == 1 << 15
    assert all(a >= b for a, b in zip(e, e[1:]))
    assert e[-1] > 0 and len(e) <= 256
    # past the table, 2^K exp(-s d) rounds to 0
    assert len(e) == 256 or (1 << 15) * math.exp(-scale * len(e)) < 0.5
    f = xexp_table(scale, 15)
    assert f[0] == 0 and max(f) <= round((1 << 15) / math.e) + 1


def test_confidence_constant_is_the_floor_of_2k_over_tau():
    rule = lower_exit(0, ExitLogits("e", 10, 0.0625, -3), "confidence", 0.9)
    assert rule.form == "exp_sum"
    assert rule.params["exp_sum_max"] == math.floor((1 << 15) / 0.9)
    # a threshold at or below 1/C always holds: clamped to the largest possible sum
    low = lower_exit(0, ExitLogits("e", 10, 0.0625, -3), "confidence", 0.05)
    assert low.params["exp_sum_max"] == 10 << 15


def test_margin_constant_is_an_exact_ceiling():
    assert lower_exit(0, ExitLogits("e", 10, 0.25, 0), "margin", 2.5).params["gap_min"] == 10
    assert lower_exit(0, ExitLogits("e", 10, 0.25, 0), "margin", 2.51).params["gap_min"] == 11
    assert lower_exit(0, ExitLogits("e", 10, 0.1, 0), "margin", 0.3).params["gap_min"] == 3
    assert lower_exit(0, ExitLogits("e", 10, 0.01, 0), "margin", 100.0).params["gap_min"] == 256  # never


@pytest.mark.parametrize("tau", [0.5, 0.6, 0.9, 0.99])
def test_two_classes_lower_to_one_compare_on_the_gap(tau):
    s = 0.05
    rule = lower_exit(0, ExitLogits("e", 2, s, 7), "confidence", tau)
    assert rule.form == "gap" and not rule.tables
    expected = math.ceil(math.log(tau / (1 - tau)) / s)
    assert abs(rule.params["gap_min"] - expected) <= 1  # the float64 scan decides ties


def test_exits_with_one_class_or_a_bad_scale_are_refused():
    with pytest.raises(TinyexitError, match="exit 'e' has 1 class"):
        lower_exit(0, ExitLogits("e", 1, 0.1, 0), "margin", 1.0)
    with pytest.raises(TinyexitError, match="not a positive number"):
        lower_exit(0, ExitLogits("e", 4, 0.0, 0), "margin", 1.0)


def test_ln_q16_error_is_within_the_stated_components():
    """Every possible sum E for 12 classes: the computed ln stays within the bound."""
    k = 15
    x = np.arange(1 << k, 12 << k, dtype=np.int64)
    err = np.abs(ln_q16(x, k) / 2.0**LN_FRAC_BITS - np.log(x / 2.0**k))
    q = 2.0**-LN_FRAC_BITS
    stated = 2.0**-k + 2.0 ** (-2 * LN_INDEX_BITS) / 8 + 1.5 * q + 0.5 * q * math.floor(math.log2(12))
    assert err.max() <= stated
    assert err.max() > stated / 10  # and the bound is not wildly loose


def test_entropy_bound_is_small_for_typical_heads():
    assert entropy_bound(10, 15, 0.4) < 1e-3
    assert entropy_bound(12, 15, 2.0) < 2e-3


@pytest.mark.parametrize("rule", sorted(GRID))
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("classes", CLASSES)
def test_integer_decision_equals_the_float_rule_outside_the_bound(rule, scale, classes):
    rng = np.random.default_rng(hash((rule, scale, classes)) % 2**32)
    zero_point = int(rng.integers(-128, 128))
    q = adversarial_logits(rng, 6000, classes, scale)
    exit_ = ExitLogits("e", classes, scale, zero_point)
    scores = float_scores(rule, q, scale, zero_point)
    stats = None
    for threshold in GRID[rule]:
        lowered = lower_exit(0, exit_, rule, threshold)
        if stats is None:
            stats = integer_stats(lowered, q)
        device = integer_stops(lowered, stats)
        exact = float_stops(rule, scores, threshold)
        near = np.abs(scores - threshold) <= lowered.bound
        wrong = device != exact
        assert not (wrong & ~near).any(), (
            f"{rule}:{threshold} at scale {scale}, {classes} classes: "
            f"{int((wrong & ~near).sum())} decisions differ outside the bound {lowered.bound:.3g}; "
            f"worst score {scores[wrong & ~near][:3]}"
        )
        assert lowered.bound < 2e-3


def test_lowered_policy_carries_float_thresholds_and_integer_constants_for_the_header():
    exits = [ExitLogits("exit0", 10, 0.0625, -3), ExitLogits("exit1", 2, 0.1, 0), ExitLogits("final", 10, 0.1, 0)]
    policy = lower_policy(parse_policy("confidence:0.9,0.8", [e.name for e in exits]), exits)
    text = "\n".join(policy.summary)
    assert "max softmax >= 0.9" in text and "max softmax >= 0.8" in text
    assert str(math.floor((1 << 15) / 0.9)) in text
    assert "equals the float rule whenever |max softmax - 0.9| >" in text
    assert [r.index for r in policy.rules] == [0, 1]
    assert policy.rules[1].form == "gap"


def test_difference_threshold_is_the_floor_of_the_squared_distance_in_steps():
    exits = [ExitLogits("exit0", 4, 0.25, 0), ExitLogits("final", 4, 0.1, 0)]
    policy = lower_policy(parse_policy("difference:1.0", ["exit0", "final"]), exits)
    assert policy.difference.dist2_max == 16
    policy = lower_policy(parse_policy("difference:1.1", ["exit0", "final"]), exits)
    assert policy.difference.dist2_max == math.floor((1.1 / 0.25) ** 2)
    policy = lower_policy(parse_policy("difference:1000", ["exit0", "final"]), exits)
    assert policy.difference.dist2_max == 4 * 255 * 255  # clamped: always close
