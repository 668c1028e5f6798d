"""Policy comparison: reproducible reports, temporal savings on streams, agreement with QEMU, the CI gate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import fixture_path
from oracle import random_inputs

from tinyexit.firmware_sim.qemu import run_library

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

BOARD = "nucleo-l4r5zi"
MODEL = fixture_path("ee_trained_blobs")


def tinyexit(*args):
    return subprocess.run([sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True)


def one_error_line(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    """A temporally correlated stream: 12 blob images, each held for 5 steps with a little sensor noise."""
    from make_fixtures import quadrant_blobs

    x, y = quadrant_blobs(12, seed=5)
    rng = np.random.default_rng(6)
    x = np.repeat(x, 5, axis=0) + 0.02 * rng.standard_normal((60, *x.shape[1:])).astype(np.float32)
    path = tmp_path_factory.mktemp("data") / "stream.npz"
    np.savez(path, x=x, y=np.repeat(y, 5))
    return path


@pytest.fixture(scope="module")
def reports(stream, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    policies = "none; exit:0; confidence:0.9; difference:2; temporal-patience:2"
    for run in ("a", "b"):
        proc = tinyexit("compare", MODEL, "--data", stream, "--board", BOARD, "--policies", policies,
                        "-o", out / run, "--qemu-samples", "4", "--verify-qemu", "4")
        assert proc.returncode == 0, proc.stderr
    return out


def test_report_files_are_identical_on_a_second_run(reports):
    for name in ("report.md", "report.csv", "report.json", "plot.png"):
        assert (reports / "a" / name).read_bytes() == (reports / "b" / name).read_bytes(), name


def test_temporal_policies_save_work_on_a_stream(reports):
    rows = {r["policy"]: r for r in json.loads((reports / "a" / "report.json").read_text())["policies"]}
    none = rows["none"]["mean_instructions"]
    for policy in ("difference:2", "temporal-patience:2"):
        assert rows[policy]["mean_instructions"] < 0.9 * none, policy
        assert rows[policy]["saving_vs_none"] > 0.1
        assert rows[policy]["exit_shares"][0] > 0.2
    assert rows["none"]["exit_shares"] == [0.0, 1.0]
    assert rows["exit:0"]["exit_shares"] == [1.0, 0.0]


def test_report_agrees_with_a_direct_qemu_run(tmp_path):
    from tinyexit.codegen.pipeline import generate
    from tinyexit.codegen.options import Options

    x = random_inputs(MODEL, 4, seed=9)
    data = tmp_path / "d.npz"
    np.savez(data, x=x)
    proc = tinyexit("compare", MODEL, "--data", data, "--board", BOARD, "--policies", "none; exit:0",
                    "-o", tmp_path / "r", "--qemu-samples", "4")
    assert proc.returncode == 0, proc.stderr
    rows = {r["policy"]: r for r in json.loads((tmp_path / "r" / "report.json").read_text())["policies"]}
    for policy in ("none", "exit:0"):
        lib = generate(MODEL, tmp_path / policy.replace(":", "_"), name="model", options=Options(policy=policy))
        direct = run_library(lib.out_dir, BOARD, x)
        per_sample = direct.stage_instructions.sum(axis=1)
        assert rows[policy]["mean_instructions"] == pytest.approx(per_sample.mean(), rel=1e-9)
        spread = rows[policy]["stage_spread"]
        for k, s in enumerate(spread):
            ran = direct.stage_instructions[:, k] > 0
            assert s["samples"] == int(ran.sum())
            if s["samples"]:
                assert s["min"] == int(direct.stage_instructions[ran, k].min())
                assert s["max"] == int(direct.stage_instructions[ran, k].max())


def test_regression_gate_names_the_policy(reports, stream, tmp_path):
    baseline = json.loads((reports / "a" / "report.json").read_text())
    for row in baseline["policies"]:
        if row["policy"] == "none":
            row["mean_instructions"] *= 0.9  # pretend `none` used to be 10% cheaper
    old = tmp_path / "old.json"
    old.write_text(json.dumps(baseline))
    proc = tinyexit("compare", MODEL, "--data", stream, "--board", BOARD, "--policies", "none; exit:0",
                    "-o", tmp_path / "r", "--qemu-samples", "2", "--baseline", old, "--max-regression", "2%")
    one_error_line(proc, "policy 'none': mean instructions grew 11.11%")
    proc = tinyexit("compare", MODEL, "--data", stream, "--board", BOARD, "--policies", "exit:0",
                    "-o", tmp_path / "r2", "--qemu-samples", "2", "--baseline", reports / "a" / "report.json")
    assert proc.returncode == 0, proc.stderr


def test_baseline_from_another_model(reports, tmp_path):
    other = fixture_path("ee_resnet")
    x = tmp_path / "x.npz"
    np.savez(x, x=random_inputs(other, 3))
    proc = tinyexit("compare", other, "--data", x, "--board", BOARD, "--policies", "none", "-o", tmp_path / "r",
                    "--qemu-samples", "1", "--baseline", reports / "a" / "report.json")
    one_error_line(proc, "the baseline was made for another model (ee_trained_blobs.tflite)")


@pytest.mark.parametrize(
    "policies, message",
    [
        ("none;; exit:0", "has an empty entry"),
        ("none; none", "lists 'none' twice"),
        ("none; confidence:1.5", "confidence"),
    ],
)
def test_malformed_policy_lists(policies, message, stream, tmp_path):
    proc = tinyexit("compare", MODEL, "--data", stream, "--board", BOARD, "--policies", policies, "-o", tmp_path / "r")
    one_error_line(proc, message)
    assert not (tmp_path / "r").exists()


def test_accuracy_without_labels(tmp_path):
    data = tmp_path / "nolabels.npz"
    np.savez(data, x=random_inputs(MODEL, 3))
    proc = tinyexit("compare", MODEL, "--data", data, "--board", BOARD, "--policies", "none", "-o", tmp_path / "r",
                    "--metric", "accuracy")
    one_error_line(proc, "accuracy needs labels but the data has no 'y' array")
    proc = tinyexit("calibrate", MODEL, "--data", data, "--policy", "confidence", "--max-drop", "0.01",
                    "--metric", "accuracy")
    one_error_line(proc, "accuracy needs labels but the data has no 'y' array")


def test_split_and_samples_choose_the_data(tmp_path):
    data = tmp_path / "d.npz"
    np.savez(data, x=random_inputs(MODEL, 5), y=np.zeros(5, np.int64),
             x_test=random_inputs(MODEL, 7, seed=1), y_test=np.zeros(7, np.int64))
    for args, expected in ((["--split", "train"], 5), ([], 7), (["--split", "test", "--samples", "3"], 3)):
        out = tmp_path / f"r{expected}"
        proc = tinyexit("compare", MODEL, "--data", data, "--board", BOARD, "--policies", "none", "-o", out,
                        "--qemu-samples", "1", *args)
        assert proc.returncode == 0, proc.stderr
        meta = json.loads((out / "report.json").read_text())["meta"]
        assert meta["samples"] == expected


def test_time_and_energy_estimates_from_known_costs():
    from tinyexit.codegen.boards import load_board
    from tinyexit.evaluation.compare import summarize_policy

    board = load_board(BOARD)  # 120 MHz, 3.3 V, 13.2 mA typical run current
    exit_taken = np.array([0, 1, 1, 0])
    labels = np.zeros(4, dtype=np.int64)
    row = summarize_policy("p", exit_taken, labels, labels, None, np.array([100.0, 300.0]),
                           np.array([1_200_000.0, 2_400_000.0]), [], board)
    # per-sample cycles: 1.2 M, 3.6 M, 3.6 M, 1.2 M; mean 2.4 M = 20 ms; 1.2 M cycles = 10 ms x 3.3 V x 13.2 mA = 435.6 uJ
    assert row.mean_time_ms == pytest.approx(20.0, rel=1e-12)
    assert row.mean_energy_uj == pytest.approx(2 * 435.6, rel=1e-12)
    assert row.p95_energy_uj == pytest.approx(3 * 435.6, rel=1e-12)
    bare = summarize_policy("p", exit_taken, labels, labels, None, np.array([1.0, 1.0]), np.array([1.0, 1.0]), [])
    assert bare.mean_energy_uj is None and bare.mean_time_ms is None


def test_reports_carry_time_and_energy_estimates(reports):
    data = json.loads((reports / "a" / "report.json").read_text())
    assert "estimate" in data["meta"]["energy"] and data["meta"]["clock_hz"] == 120_000_000
    for r in data["policies"]:
        assert r["mean_time_ms"] == pytest.approx(r["mean_cycles_est"] / 120e3, rel=1e-9)
        assert r["mean_energy_uj"] == pytest.approx(r["mean_cycles_est"] / 120e6 * 3.3 * 13.2e3, rel=1e-9)
    md = (reports / "a" / "report.md").read_text()
    assert "mean uJ (est.)" in md and "flash wait states, peripherals and caches left out" in md
    header = (reports / "a" / "report.csv").read_text().splitlines()[0].split(",")
    assert {"mean_time_ms", "mean_energy_uj", "p95_energy_uj"} <= set(header)


def test_a_stage_no_simulated_sample_reached_is_costed_under_none(tmp_path):
    """Only `confidence:0.99`, no `none`, one simulated sample that stops at exit 0 while half the data runs on
    to the final exit: the final stage takes its cost from a `none` run of the same sample (no NaN, no
    traceback in the plot), as `tinyexit simulate` does."""
    from make_fixtures import quadrant_blobs

    from tinyexit.codegen.options import Options
    from tinyexit.codegen.pipeline import generate

    x, y = quadrant_blobs(12, seed=5)
    x, y = x[[0, 1, 2, 3]], y[[0, 1, 2, 3]]  # confidence:0.99 takes exits 0, 1, 0, 1
    data = tmp_path / "d.npz"
    np.savez(data, x=x, y=y)
    proc = tinyexit("compare", MODEL, "--data", data, "--board", BOARD, "--policies", "confidence:0.99",
                    "-o", tmp_path / "r", "--qemu-samples", "1")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "r" / "plot.png").stat().st_size > 0
    row = json.loads((tmp_path / "r" / "report.json").read_text())["policies"][0]
    assert row["exit_shares"] == [0.5, 0.5] and row["stage_spread"][1]["samples"] == 0
    policy = run_library(generate(MODEL, tmp_path / "p", name="model", options=Options(policy="confidence:0.99"))
                         .out_dir, BOARD, x[:1]).stage_instructions[0]
    none = run_library(generate(MODEL, tmp_path / "n", name="model", options=Options(policy="none")).out_dir,
                       BOARD, x[:1]).stage_instructions[0]
    assert policy[1] == 0 and none[1] > 0
    assert row["mean_instructions"] == pytest.approx(policy[0] + 0.5 * none[1], rel=1e-12)
