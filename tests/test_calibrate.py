"""Threshold calibration: empirical, conformal risk control and Learn-then-Test."""

from __future__ import annotations

import math

import numpy as np
import pytest
from policy_support import build, run

from tinyexit.codegen.policies.calibrate import binomial_cdf, calibrate, hb_p_value
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.spec import ExitLogits, parse_policy
from tinyexit.codegen.policies.reference import run_integer

SCALES = [0.08, 0.1, 0.12]
ZERO_POINTS = [-5, 3, 0]


def synthetic(n: int, seed: int, classes: int = 10):
    """Three exits whose confidence tracks correctness, the later ones stronger.

    Each sample has a difficulty u; exit k adds a lift of strength[k] * (1 - u)
    plus noise to the true class, so easy samples are confident and right at
    exit 0 while hard ones need the final exit.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, size=n)
    difficulty = rng.random(n)
    logits = []
    for k, strength in enumerate([4.0, 5.5, 7.0]):
        z = rng.normal(0, 1.0, size=(n, classes))
        z[np.arange(n), labels] += strength * (1 - difficulty) + rng.normal(0, 0.5, size=n) + 0.3 * k
        q = np.clip(np.rint(z / SCALES[k]) + ZERO_POINTS[k], -128, 127).astype(np.int8)
        logits.append(q)
    return logits, labels


@pytest.mark.parametrize("kind", ["confidence", "margin", "entropy"])
def test_ltt_threshold_meets_its_accuracy_target_on_the_held_out_split(kind):
    logits, labels = synthetic(6000, seed=1)
    eps = 0.03
    result = calibrate(logits, SCALES, ZERO_POINTS, labels, kind, eps, method="ltt", delta=0.1, seed=0)
    assert result.threshold is not None and result.policy.startswith(f"{kind}:")
    assert result.accuracy_loss <= eps, result.lines()
    assert result.exit_rates[0] > 0.1, "the calibrated policy should stop early for easy samples"
    assert abs(sum(result.exit_rates) - 1) < 1e-9
    assert result.final_accuracy - result.accuracy == pytest.approx(result.accuracy_loss)


def test_ltt_controls_the_true_risk_where_the_empirical_choice_does_not():
    """Calibrate on 20 independent data sets of 2000 samples and measure the
    chosen policy's performance gap on 60000 fresh samples (its true risk):
    LTT exceeds eps at most delta * 20 = 2 times, the plain empirical choice
    more often than LTT."""
    big, big_labels = synthetic(60000, seed=99)
    names = ["exit0", "exit1", "final"]
    exits = [ExitLogits(n, 10, s, z) for n, s, z in zip(names, SCALES, ZERO_POINTS)]
    final_right = np.argmax(big[-1], axis=1) == big_labels

    def true_risk(policy: str) -> float:
        taken = run_integer(lower_policy(parse_policy(policy, names), exits), big)
        return float(np.mean((taken.labels != big_labels) & final_right))

    eps = 0.04
    over = {"ltt": 0, "empirical": 0}
    for trial in range(20):
        logits, labels = synthetic(2000, seed=100 + trial)
        for method in over:
            r = calibrate(logits, SCALES, ZERO_POINTS, labels, "confidence", eps, method=method, delta=0.1,
                          seed=trial)
            over[method] += true_risk(r.policy) > eps
            if method == "ltt":
                assert r.exit_rates[0] > 0
    assert over["ltt"] <= 2
    assert over["empirical"] > over["ltt"]


def test_methods_order_from_cautious_to_bold():
    logits, labels = synthetic(6000, seed=3)
    early = {}
    for method in ("empirical", "crc", "ltt"):
        r = calibrate(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.03, method=method, seed=0)
        early[method] = 1 - r.calibration_exit_rates[-1]
        assert r.calibration_risk <= 0.03
    assert early["ltt"] <= early["crc"] <= early["empirical"]
    assert early["ltt"] > 0


def test_held_out_figures_are_what_the_generated_c_does(tmp_path):
    logits, labels = synthetic(3000, seed=4)
    result = calibrate(logits, SCALES, ZERO_POINTS, labels, "entropy", 0.05, method="crc", seed=5)
    exits = [ExitLogits(n, 10, s, z) for n, s, z in zip(result.exit_names, SCALES, ZERO_POINTS)]
    policy = lower_policy(parse_policy(result.policy, result.exit_names), exits)
    held = result.heldout
    taken, reported = run(build(policy, tmp_path), [q[held] for q in logits], "run")
    assert np.bincount(taken, minlength=3).tolist() == [round(r * len(held)) for r in result.exit_rates]
    assert np.mean(reported == labels[held]) == pytest.approx(result.accuracy)


def test_without_labels_the_disagreement_with_the_final_exit_is_bounded():
    logits, _ = synthetic(4000, seed=6)
    result = calibrate(logits, SCALES, ZERO_POINTS, None, "margin", 0.05, method="ltt")
    assert result.loss == "disagreement with the final exit"
    assert result.accuracy is None and result.accuracy_loss <= 0.05
    assert result.exit_rates[0] > 0


def test_too_few_samples_for_ltt_give_no_early_exit():
    logits, labels = synthetic(40, seed=7)
    result = calibrate(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.01, method="ltt")
    assert result.policy == "none" and result.threshold is None
    assert result.exit_rates == [0.0, 0.0, 1.0]
    assert "no confidence threshold met the target" in result.lines()[1]


def test_hb_p_value_behaves():
    n, eps = 1000, 0.05
    cdf = binomial_cdf(n, eps)
    assert cdf[-1] == pytest.approx(1.0)
    assert np.all(np.diff(cdf) >= -1e-15)
    p = [hb_p_value(l, n, eps, cdf) for l in (0, 10, 30, 45, 50, 80)]
    assert p == sorted(p) and p[0] < 1e-15 and p[-1] == 1.0
    # Hoeffding part for zero losses: (1 - eps)^n
    assert hb_p_value(0, 50, 0.1) == pytest.approx(min(math.e * 0.9**50, 0.9**50))


def test_binomial_cdf_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for n, p in [(10, 0.3), (500, 0.02), (3000, 0.1)]:
        k = np.arange(n + 1)
        assert np.allclose(binomial_cdf(n, p), stats.binom.cdf(k, n, p), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("args, words", [
    ({"policy_kind": "patience"}, "cannot be calibrated"),
    ({"method": "bayes"}, "--method 'bayes'"),
    ({"max_drop": 0.0}, "--max-drop"),
    ({"max_drop": 1.5}, "--max-drop"),
    ({"delta": 1.0}, "--delta"),
    ({"labels": np.zeros(7, np.int64)}, "7 labels for 100 samples"),
    ({"labels": np.zeros(100, np.float32)}, "labels must be integers"),
])
def test_bad_arguments_give_one_line(args, words):
    logits, labels = synthetic(100, seed=8)
    kwargs = {"labels": labels, "policy_kind": "confidence", "max_drop": 0.05}
    kwargs.update(args)
    with pytest.raises(TinyexitError) as err:
        calibrate(logits, SCALES, ZERO_POINTS, **kwargs)
    assert words in err.value.message and "\n" not in err.value.message
