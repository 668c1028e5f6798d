"""Per-exit thresholds: a search over per-exit grids under the same guarantee."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import fixture_path
from oracle import random_inputs
from test_calibrate import SCALES, ZERO_POINTS, synthetic

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.policies.calibrate import (
    accuracy_passes,
    calibrate_per_exit,
    choose_configuration,
    configurations,
    exit_grid,
    pareto_path,
    risk_passes,
)
from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.reference import run_integer
from tinyexit.codegen.policies.spec import ExitLogits, parse_policy

NAMES = ["exit0", "exit1", "final"]
EXITS = [ExitLogits(n, 10, s, z) for n, s, z in zip(NAMES, SCALES, ZERO_POINTS)]


@pytest.mark.parametrize("correction", ["fixed-sequence", "bonferroni"])
def test_per_exit_ltt_meets_its_guarantee_in_at_least_1_minus_delta_of_draws(correction):
    """Calibrate on 20 independent draws of 2000 samples; the chosen policy's true
    performance gap (on 60000 fresh samples) exceeds eps in at most delta * 20 = 2."""
    big, big_labels = synthetic(60000, seed=99)
    final_right = np.argmax(big[-1], axis=1) == big_labels
    eps, delta, over, early = 0.04, 0.1, 0, 0
    for trial in range(20):
        logits, labels = synthetic(2000, seed=300 + trial)
        r = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", eps, method="ltt", delta=delta,
                               seed=trial, correction=correction)
        taken = run_integer(lower_policy(parse_policy(r.policy, NAMES), EXITS), big)
        over += float(np.mean((taken.labels != big_labels) & final_right)) > eps
        early += r.policy != "none" and r.exit_rates[-1] < 0.9
    assert over <= 2
    assert early >= 15, "the calibrated policies should mostly stop early"


def test_per_exit_answer_is_a_comma_list_that_parses_and_held_out_figures_hold():
    logits, labels = synthetic(6000, seed=1)
    r = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "margin", 0.03, seed=0)
    assert r.policy.startswith("margin:") and r.policy.count(",") == 1
    assert parse_policy(r.policy, NAMES).text == r.policy
    assert len(r.thresholds) == 2 and r.configurations == len(exit_grid("margin", EXITS[0])) * len(
        exit_grid("margin", EXITS[1]))
    assert r.accuracy_loss <= 0.03 and r.exit_rates[0] > 0.1
    d = r.to_dict()
    assert d["thresholds"] == r.thresholds and d["correction"] == "fixed-sequence"


def test_the_cheapest_passing_configuration_is_chosen_by_the_costs():
    """With a very expensive exit 1 the choice leans on exit 0; with a free one, it may use exit 1 more."""
    logits, labels = synthetic(6000, seed=2)
    lean = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.05, method="empirical",
                              costs=[1.0, 1.9, 2.0])
    cheap = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.05, method="empirical",
                               costs=[1.0, 1.0, 2.0])
    assert cheap.calibration_exit_rates[-1] <= lean.calibration_exit_rates[-1] + 1e-12
    assert lean.calibration_risk <= 0.05 and cheap.calibration_risk <= 0.05


def test_configurations_take_the_first_exit_that_stops():
    stops = [[np.array([True, False, False]), np.array([False, False, False])],
             [np.array([True, True, False])]]
    got = {key: taken.tolist() for key, taken in configurations(stops, 3)}
    assert got == {(0, 0): [0, 1, 2], (1, 0): [1, 1, 2]}


def test_pareto_path_and_fixed_sequence():
    risk = np.array([0.0, 0.01, 0.02, 0.05, 0.01])
    cost = np.array([10.0, 8.0, 5.0, 2.0, 9.0])
    assert pareto_path(risk, cost).tolist() == [0, 1, 2, 3]
    losses = np.array([0, 2, 5, 60])  # on 1000 testing samples, eps 0.05: the 4th fails
    chosen, tested = choose_configuration(losses, 1000, risk[:4], cost[:4], 0.05, "ltt", 0.1)
    assert chosen == 2 and tested == 4
    chosen, _ = choose_configuration(np.array([400, 400]), 1000, risk[:2], cost[:2], 0.05, "ltt", 0.1)
    assert chosen is None


def test_too_few_samples_give_none_and_bad_correction_one_line():
    logits, labels = synthetic(40, seed=7)
    r = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.01)
    assert r.policy == "none" and r.thresholds is None and r.exit_rates == [0.0, 0.0, 1.0]
    with pytest.raises(TinyexitError) as err:
        calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.01, correction="holm")
    assert "--correction 'holm'" in err.value.message
    with pytest.raises(TinyexitError) as err:
        calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", 0.01, costs=[1, 2])
    assert "2 exit costs for 3 exits" in err.value.message


def test_cli_calibrate_per_exit(tmp_path):
    model = fixture_path("ee_trained_blobs")
    data = tmp_path / "d.npz"
    np.savez(data, x=random_inputs(model, 64), y=np.zeros(64, np.int64))
    proc = subprocess.run([sys.executable, "-m", "tinyexit", "calibrate", str(model), "--data", str(data),
                           "--policy", "confidence", "--max-drop", "0.2", "--method", "empirical", "--per-exit",
                           "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert "thresholds" in out and out["configurations"] > 1
    assert out["policy"] == "none" or out["policy"].startswith("confidence:")


def test_accuracy_test_rejects_a_true_null_at_most_level_often():
    """At the edge of H0 (accuracy loss p+ - p- just above eps) the discordant-pair test passes in at most
    `level` of 2000 draws, while passing whenever the observed loss is within eps would pass in about half."""
    rng = np.random.default_rng(5)
    n, eps, level = 3000, 0.01, 0.2
    p_lost, p_fixed = 0.06 + 1e-4, 0.05
    draws = rng.multinomial(n, [p_lost, p_fixed, 1 - p_lost - p_fixed], size=2000)
    passed = accuracy_passes(draws[:, 0], draws[:, 1], n, eps, "ltt", level)
    naive = accuracy_passes(draws[:, 0], draws[:, 1], n, eps, "empirical", level)
    assert passed.mean() <= level
    assert naive.mean() > 0.4


def test_accuracy_test_uses_the_few_discordant_samples():
    """Exits that lose 3% of samples and fix 4% (accuracy loss -1 point) pass eps = 1 point at level 1e-3 on
    6000 samples in most draws; Hoeffding's bound for a loss in [-1, 1] cannot (p-value exp(-n (eps - R)^2 / 2))."""
    rng = np.random.default_rng(6)
    n, eps, level = 6000, 0.01, 1e-3
    draws = rng.multinomial(n, [0.03, 0.04, 0.93], size=200)
    passed = accuracy_passes(draws[:, 0], draws[:, 1], n, eps, "ltt", level)
    assert passed.mean() >= 0.9
    assert np.exp(-n * (eps + 0.01) ** 2 / 2) > level
    # a sure loss of one more point than eps never passes, nor does anything when eps exceeds no discordance bound
    assert not accuracy_passes([330], [270], n, eps, "ltt", level)[0]
    assert accuracy_passes([0], [0], n, eps, "ltt", level)[0] and not accuracy_passes([0], [0], 500, eps, "ltt",
                                                                                        level)[0]


def test_per_exit_accuracy_risk_meets_its_guarantee_in_at_least_1_minus_delta_of_draws():
    """--risk accuracy: on 20 draws of 2000 samples the chosen policy's true accuracy loss against the final
    exit (on 60000 fresh samples) exceeds eps in at most delta * 20 = 2, and it stops early more often than
    the disagreement risk allows (fixing final-exit mistakes offsets some of its own)."""
    big, big_labels = synthetic(60000, seed=99)
    final_acc = np.mean(np.argmax(big[-1], axis=1) == big_labels)
    eps, delta, over = 0.02, 0.1, 0
    final_share = {"accuracy": [], "disagreement": []}
    for trial in range(20):
        logits, labels = synthetic(2000, seed=300 + trial)
        for risk in final_share:
            r = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", eps, method="ltt",
                                   delta=delta, seed=trial, risk=risk)
            final_share[risk].append(r.exit_rates[-1])
            if risk == "accuracy":
                taken = run_integer(lower_policy(parse_policy(r.policy, NAMES), EXITS), big)
                over += final_acc - float(np.mean(taken.labels == big_labels)) > eps
                assert r.loss == "accuracy loss" and r.heldout_risk == r.accuracy_loss
    assert over <= 2
    assert np.mean(final_share["accuracy"]) < np.mean(final_share["disagreement"]) < 0.9


def test_accuracy_risk_needs_labels():
    logits, _ = synthetic(200, seed=1)
    with pytest.raises(TinyexitError, match="--risk accuracy needs labels"):
        calibrate_per_exit(logits, SCALES, ZERO_POINTS, None, "confidence", 0.05, risk="accuracy")
    with pytest.raises(TinyexitError, match="--risk 'gap' is unknown"):
        calibrate_per_exit(logits, SCALES, ZERO_POINTS, None, "confidence", 0.05, risk="gap")


def test_cli_risk_accuracy(tmp_path):
    """calibrate --per-exit --risk accuracy reports the accuracy loss; without --per-exit, or with an unknown
    risk, one line and exit 2."""
    model = fixture_path("ee_trained_blobs")
    data = tmp_path / "d.npz"
    np.savez(data, x=random_inputs(model, 64), y=np.zeros(64, np.int64))
    base = [sys.executable, "-m", "tinyexit", "calibrate", str(model), "--data", str(data), "--policy", "confidence",
            "--max-drop", "0.2", "--method", "empirical"]
    proc = subprocess.run(base + ["--per-exit", "--risk", "accuracy", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["loss"] == "accuracy loss" and out["heldout_risk"] == out["accuracy_loss"]
    for extra, message in ((["--risk", "accuracy"], "error: calibrate: --risk accuracy needs --per-exit"),
                           (["--per-exit", "--risk", "gap"], "error: calibrate: --risk 'gap' is unknown")):
        proc = subprocess.run(base + extra, capture_output=True, text=True)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith(message), proc.stderr


def test_dual_test_rejects_a_true_accuracy_null_at_most_level_often():
    """--risk either admits a configuration when the disagreement test or the accuracy test rejects, each at
    half the level. At the edge of the accuracy null (loss p+ - p- just above eps), whether the exits fix few
    samples (the disagreement test's side) or many (the accuracy test's), it passes in at most `level` of 2000
    draws; the union of two full-level tests would not be valid."""
    rng = np.random.default_rng(7)
    n, eps, level = 3000, 0.02, 0.2
    for p_lost, p_fixed in ((0.02 + 2e-4, 0.0), (0.025, 0.005 - 2e-4), (0.08 + 2e-4, 0.06)):
        draws = rng.multinomial(n, [p_lost, p_fixed, 1 - p_lost - p_fixed], size=2000)
        dual = risk_passes(draws[:, 0], draws[:, 1], n, eps, "ltt", level, "either")
        assert dual.mean() <= level, (p_lost, p_fixed, dual.mean())
        each = [risk_passes(draws[:, 0], draws[:, 1], n, eps, "ltt", level / 2, r)
                for r in ("disagreement", "accuracy")]
        assert np.array_equal(dual, each[0] | each[1])
    # where the exits fix almost nothing, the disagreement half admits what the accuracy test alone does not
    # (and the reverse: halving the level costs a little where the accuracy test is the stronger one)
    assert risk_passes([34], [2], 6000, 0.01, "ltt", 1e-3, "either")[0]
    assert not risk_passes([34], [2], 6000, 0.01, "ltt", 1e-3, "accuracy")[0]
    assert not risk_passes([6], [0], 2000, 0.01, "ltt", 1e-3, "either")[0]
    assert risk_passes([6], [0], 2000, 0.01, "ltt", 1e-3, "accuracy")[0]
    # without ltt the dual is the accuracy risk's rule
    assert risk_passes([70], [20], 6000, 0.01, "empirical", 0.1, "either")[0]
    assert not risk_passes([70], [20], 6000, 0.01, "empirical", 0.1, "disagreement")[0]


def test_per_exit_dual_risk_meets_the_accuracy_guarantee_in_at_least_1_minus_delta_of_draws():
    """--risk either: on 20 draws of 2000 samples the chosen policy's true accuracy loss against the final exit
    (60000 fresh samples) exceeds eps in at most delta * 20 = 2, and it still stops early (each half of the test
    runs at delta / 2, so here it stops early about as often as the accuracy risk at delta / 2)."""
    big, big_labels = synthetic(60000, seed=99)
    final_acc = np.mean(np.argmax(big[-1], axis=1) == big_labels)
    eps, delta, over = 0.02, 0.1, 0
    final_share = {"either": []}
    for trial in range(20):
        logits, labels = synthetic(2000, seed=400 + trial)
        for risk in final_share:
            r = calibrate_per_exit(logits, SCALES, ZERO_POINTS, labels, "confidence", eps, method="ltt",
                                   delta=delta, seed=trial, risk=risk)
            final_share[risk].append(r.exit_rates[-1])
            if risk == "either":
                taken = run_integer(lower_policy(parse_policy(r.policy, NAMES), EXITS), big)
                over += final_acc - float(np.mean(taken.labels == big_labels)) > eps
                assert r.loss == "accuracy loss"
    assert over <= 2
    assert np.mean(final_share["either"]) < 0.7
