"""tinyexit search: candidates, heads on cached features, one profile, per-exit calibration of every subset."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.options import Options
from tinyexit.codegen.pipeline import generate
from tinyexit.codegen.policies.calibrate import binomial_cdf, exit_grid, grid_size_for, hb_p_value, threshold_policy
from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.reference import run_integer
from tinyexit.codegen.policies.spec import parse_policy
from tinyexit.codegen.reader import read_model
from tinyexit.evaluation.compare import run_comparison
from tinyexit.evaluation.report import report_json
from tinyexit.firmware_sim.qemu import run_library

pytest.importorskip("tensorflow")
from tinyexit.modelmaking import search  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from readme_example import SEARCH_HEAD, fill  # noqa: E402

BOARD = "nucleo-l4r5zi"
EPS, DELTA = 0.1, 0.1


def tiny_backbone():
    import keras

    x = keras.Input((16, 16, 1), name="x")
    h = keras.layers.Conv2D(8, 3, padding="same", name="c1")(x)
    h = keras.layers.ReLU(name="b1")(h)
    h = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="c2")(h)
    h = keras.layers.BatchNormalization(name="bn2")(h)
    h = keras.layers.ReLU(name="b2")(h)
    h = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="b3")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    return keras.Model(x, keras.layers.Dense(10, activation="softmax", name="classifier")(h), name="tinydigits")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """scikit-learn's 1797 real 8x8 digits, padded to 16x16, and a backbone trained on them (a few seconds)."""
    import keras
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("search")
    digits = load_digits()
    x = np.pad((digits.images / 16.0).astype(np.float32)[..., None], ((0, 0), (4, 4), (4, 4), (0, 0)))
    y = digits.target.astype(np.int64)
    keras.utils.set_random_seed(0)
    model = tiny_backbone()
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:1000], y[:1000], epochs=12, batch_size=32, verbose=0)
    model.save(folder / "tiny.keras")
    np.savez(folder / "digits.npz", x=x, y=y)
    return folder


def test_search_end_to_end(trained, tmp_path):
    """One search (about 40 s on a loaded machine), checked three ways below."""
    lines: list[str] = []
    report = search.search(trained / "tiny.keras", trained / "digits.npz", BOARD, EPS, trained / "out", max_exits=2,
                           method="ltt", delta=DELTA, correction="bonferroni", epochs=10, qemu_samples=4,
                           log=lines.append)
    check_search_picks_the_subset_a_brute_force_evaluation_picks(report)
    check_outputs_and_report_fields(report, lines)
    check_the_summed_cost_is_what_qemu_measures_on_the_written_model(report, trained, tmp_path)
    check_the_readme_table_comes_from_the_search_and_compare_reports(report, trained, tmp_path)


def test_candidates_are_the_block_boundaries():
    from tinyexit.modelmaking import zoo

    # not c1 / c2 / bn2 (runs of per-element layers), not b3 (only the classifier is left after it)
    assert search.find_candidates(tiny_backbone()) == ["b1", "b2"]
    # residual stacks: nothing inside a stack, whose input the shortcut still reads
    assert search.find_candidates(zoo.backbone("resnet8", (32, 32, 3), 10)) == ["stem_relu", "stack1_out", "stack2_out"]


def check_search_picks_the_subset_a_brute_force_evaluation_picks(report):
    """Every subset, every per-exit configuration, evaluated through the policy strings and the
    integer reference run, tested at delta / (subsets x configurations): the cheapest passing one."""
    it = report.internals
    logits, exits, y, ref, splits, costs = (it[k] for k in ("logits", "exits", "labels", "reference", "splits", "costs"))
    count = len(logits) - 1
    subsets = [s for m in (1, 2) for s in itertools.combinations(range(count), m)]
    n_cal = len(splits.cal)
    cdf = binomial_cdf(n_cal, EPS)
    best = None
    for subset in subsets:
        chain = list(subset) + [count]
        sub_exits = [exits[i] for i in chain]
        names = [e.name for e in sub_exits]
        grids = [exit_grid("confidence", sub_exits[k], grid_size_for(len(subset), 2000)) for k in range(len(subset))]
        configs = list(itertools.product(*grids))
        cum = costs.exits(subset)
        for order, thresholds in enumerate(configs):
            policy = threshold_policy("confidence", thresholds)
            lowered = lower_policy(parse_policy(policy, names), sub_exits)
            runs = {part: run_integer(lowered, [logits[i][rows] for i in chain])
                    for part, rows in (("cal", splits.cal), ("val", splits.val))}
            cal_loss = int(np.sum((runs["cal"].labels != y[splits.cal]) & (ref[splits.cal] == y[splits.cal])))
            if hb_p_value(cal_loss, n_cal, EPS, cdf) > DELTA / len(subsets) / len(configs):
                continue
            cost = float(cum[runs["val"].exit_taken].mean())
            key = (cost, len(subset), cal_loss)
            if cost < costs.backbone and (best is None or key < best[0]):
                best = (key, [it["names"][i] for i in subset], policy)
    assert best is not None
    assert report.chosen["exits"] == best[1]
    assert report.chosen["policy"] == best[2]
    assert report.chosen["expected_instructions"] == pytest.approx(best[0][0])


def check_outputs_and_report_fields(report, lines):
    out = report.out
    for name in ("model.tflite", "policy.txt", "report.md", "report.json", "pareto.png"):
        assert (out / name).stat().st_size > 0, name
    graph = read_model(out / "model.tflite")
    names = [e.name for e in graph.exits]
    assert names == [f"exit{i}" for i in range(len(report.chosen["exits"]))] + ["final"]
    policy = (out / "policy.txt").read_text().strip()
    assert parse_policy(policy, names).text == policy  # accepted as is by generate, run, compare
    data = json.loads((out / "report.json").read_text())
    for key in ("candidates", "chosen", "expected_saving", "test_accuracy", "test_accuracy_backbone"):
        assert key in data
    assert [c["layer"] for c in data["candidates"]] == ["b1", "b2"]
    for c in data["candidates"]:
        assert {"layer", "macs_share", "instructions_share", "accuracy"} <= set(c)
        assert 0 < c["macs_share"] <= 1 and 0 < c["instructions_share"] <= 1
    assert data["chosen"]["exits"] and data["chosen"]["policy"] == policy
    assert 0 < data["expected_saving"] < 1
    assert data["test_accuracy_backbone"] - data["test_accuracy"] <= EPS
    assert any(line.startswith("search: profiling") for line in lines)  # progress is visible


def check_the_summed_cost_is_what_qemu_measures_on_the_written_model(report, trained, tmp_path):
    """The subset's cost comes from sums over the all-heads profile; the written model, run
    in QEMU with every stage, costs the same to within 0.2% per exit."""
    costs, names = report.internals["costs"], report.internals["names"]
    subset = tuple(names.index(n) for n in report.chosen["exits"])
    lib = generate(report.out / "model.tflite", tmp_path / "lib", options=Options(policy="none"))
    x = np.load(trained / "digits.npz")["x"][:4]
    measured = np.cumsum(run_library(lib.out_dir, BOARD, x).stage_instructions.mean(axis=0))
    assert np.allclose(measured, costs.exits(subset), rtol=2e-3), (measured, costs.exits(subset))
    assert costs.backbone == pytest.approx(costs.backbone_check, rel=2e-3)


def check_the_readme_table_comes_from_the_search_and_compare_reports(report, trained, tmp_path):
    """`make example`'s last step: scripts/readme_example.py makes the README's search row from the search's
    report.json and `compare` of the chosen model + policy and of backbone.tflite (the backbone alone)."""
    data = np.load(trained / "digits.npz")
    x, y = data["x"][1500:1560], data["y"][1500:1560]
    folder = tmp_path / "example" / "search-image"
    shutil.copytree(report.out, folder)
    assert len(read_model(folder / "backbone.tflite").exits) == 1  # the backbone alone: one output
    compared = {}
    for model, policies, sub in (("model.tflite", ["none", report.chosen["policy"]], "compare"),
                                 ("backbone.tflite", ["none"], "compare-backbone")):
        result = run_comparison(folder / model, x, y, BOARD, policies, qemu_samples=2, data_name="digits.npz")
        (folder / sub).mkdir()
        (folder / sub / "report.json").write_text(report_json(result.meta, result.rows))
        compared[sub] = json.loads((folder / sub / "report.json").read_text())["policies"][-1]
    base = compared["compare-backbone"]["mean_instructions"]
    assert base == pytest.approx(report.internals["costs"].backbone, rel=0.01)  # one backbone, two measurements
    readme = ("x\n<!-- example:search -->\n| task, backbone | old |\n|---|---|\n"
              "| keywords (1,000 clips), DS-CNN | 47.5% |\n| ECG heart-rate bands | 77.2% |\n<!-- /example:search -->\n")
    text, missing = fill(readme, tmp_path / "example")
    rows = text.split("<!-- example:search -->\n", 1)[1].split("<!-- /example:search -->")[0].splitlines()
    assert rows[:2] == SEARCH_HEAD
    assert rows[2] == "| keywords (1,000 clips), DS-CNN | 47.5% |"  # no reports: the old row stays
    ee = compared["compare"]
    assert rows[3].startswith(f"| Fashion-MNIST (60 fresh samples of digits.npz), tiny.keras | "
                              f"{', '.join(report.chosen['exits'])} (`{report.chosen['policy']}`) | "
                              f"{100 * ee['accuracy']:.1f}% / {100 * compared['compare-backbone']['accuracy']:.1f}% | "
                              f"{ee['mean_instructions']:,.0f} / {base:,.0f} | "
                              f"{100 * (1 - ee['mean_instructions'] / base):.1f}% | ")
    assert len(rows) == 4  # the old ECG row is gone: its task is not among the searches any more
    assert str(tmp_path / "example" / "search-ecg" / "report.json") in missing


def test_splits_by_record_keep_each_record_in_one_part():
    records = np.repeat(np.arange(12), np.arange(12) % 4 * 10 + 20)  # records of 20-50 samples
    n = len(records)
    for stream in (False, True):
        splits = search.make_splits(n, 0, seed=3, stream=stream, records=records)
        parts = [splits.train, splits.cal, splits.val, splits.test]
        assert sorted(np.concatenate(parts).tolist()) == list(range(n))
        seen = [set(records[p].tolist()) for p in parts]
        assert all(not (a & b) for a, b in itertools.combinations(seen, 2))
        for part, share in zip(parts, (0.4, 0.25, 0.15, 0.2)):
            assert abs(len(part) - share * n) <= 50  # within one record of the share
        if stream:  # in stream order: every train record before every calibration record, and so on
            assert all(max(a) < min(b) for a, b in zip(seen, seen[1:]))
    shuffled = [search.make_splits(n, 0, seed=s, records=records).test for s in (0, 1)]
    assert not np.array_equal(*shuffled)
    with_test = search.make_splits(n, 100, seed=0, records=records)
    assert with_test.test.tolist() == list(range(n, n + 100))
    with pytest.raises(TinyexitError) as info:
        search.make_splits(90, 0, seed=0, records=np.repeat(np.arange(3), 30))
    assert "3 record(s)" in info.value.message and "\n" not in info.value.message


def tinyexit(*args):
    return subprocess.run([sys.executable, "-m", "tinyexit", *map(str, args)], capture_output=True, text=True)


def one_error_line(proc, fragment):
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], proc.stderr


def test_bad_input_gives_one_line_and_exit_2(trained, tmp_path):
    import keras

    from tinyexit.codegen.errors import TinyexitError

    flat = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(10)])
    flat.save(tmp_path / "flat.keras")
    np.savez(tmp_path / "flat.npz", x=np.zeros((300, 16), np.float32), y=np.zeros(300, np.int64))
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((300, 16, 16, 1), np.float32))
    with pytest.raises(TinyexitError) as err:  # in process: the CLI turns it into this line and exit 2
        search.search(tmp_path / "flat.keras", tmp_path / "flat.npz", BOARD, 0.05, tmp_path / "out", log=None)
    assert "no layer after which one 4-D feature map" in err.value.message and "\n" not in err.value.message
    common = ["--board", BOARD, "-o", tmp_path / "out"]
    one_error_line(tinyexit("search", trained / "tiny.keras", "--data", tmp_path / "nolabels.npz", "--max-drop",
                            "0.05", *common), "has no 'y' labels")
    with pytest.raises(TinyexitError) as err:  # fails before any training: 449 samples cannot certify 0.001
        search.search(trained / "tiny.keras", trained / "digits.npz", BOARD, 0.001, tmp_path / "out", log=None)
    assert "no subset can meet --max-drop 0.001" in err.value.message and "\n" not in err.value.message
    with pytest.raises(TinyexitError) as err:  # before any training, not after it
        search.search(trained / "tiny.keras", trained / "digits.npz", "no-such-board", 0.05, tmp_path / "out", log=None)
    assert "unknown board 'no-such-board'" in err.value.message
    assert not (tmp_path / "out").exists()


def test_assemble_keeps_a_backbone_output_already_named_final():
    from tinyexit.modelmaking import zoo

    backbone = zoo.backbone("dscnn", (49, 10, 1), 12)  # its softmax layer is called "final"
    names = search.find_candidates(backbone)[:2]
    heads, kinds = search.build_heads(backbone, names, 12)
    model = search.assemble(backbone, names, heads, [1])
    assert list(model.output_names) == ["exit0", "final"] and kinds == ["slice", "slice"]


def test_train_backbone_saves_a_plain_keras_backbone(tmp_path):
    """`tinyexit zoo NAME --backbone -o B.keras`: the starting point of search, with no exit."""
    from tinyexit.modelmaking import augment

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.random((60, 49, 10, 1), dtype=np.float32), y=rng.integers(0, 3, 60))
    float_acc, int8_acc = augment.train_backbone("dscnn", tmp_path / "d.npz", tmp_path / "b.keras", epochs=1, log=None)
    assert 0 <= float_acc <= 1 and 0 <= int8_acc <= 1
    model = augment.load_backbone(tmp_path / "b.keras")
    assert len(model.outputs) == 1 and model.outputs[0].shape[-1] == 3
    assert search.find_candidates(model)[:2] == ["stem_drop", "block1_dw_relu"]


def test_temporal_candidates_on_a_stream():
    """Runs of one label; exit 0 right but unsure on most samples: temporal policies reuse the decided
    label and stop early; each is tested on its own, the risk is measured in stream order."""
    from tinyexit.codegen.policies.spec import ExitLogits

    rng = np.random.default_rng(0)
    n = 1200
    labels = np.repeat(rng.integers(0, 4, n // 40), 40)
    early = rng.normal(0, 1, (n, 4))
    early[np.arange(n), labels] += 1.5
    final = rng.normal(0, 1, (n, 4))
    final[np.arange(n), labels] += 6
    logits = [np.clip(np.rint(z / 0.1), -128, 127).astype(np.int8) for z in (early, final)]
    exits = [ExitLogits("exit0", 4, 0.1, 0), ExitLogits("final", 4, 0.1, 0)]
    costs = search.Costs(np.array([10.0, 90.0]), np.array([5.0]), np.zeros(2), np.zeros(1), 100.0)
    reference = np.argmax(logits[1], axis=1)
    cal, val = np.arange(0, 600), np.arange(600, 1200)
    results = search.evaluate_temporal(logits, exits, labels, reference, cal, val, costs, 0.05, "empirical", 0.1)
    assert len(results) == len(search.TEMPORAL_PATIENCE) + len(search.DIFFERENCE_STEPS)
    for r in results:
        assert r.subset == (0,) and 15.0 - 1e-9 <= r.expected_instructions <= 105.0 + 1e-9
        assert r.admissible == (r.calibration_risk <= 0.05)
    patience = {r.policy: r for r in results if r.policy.startswith("temporal-patience")}
    assert patience["temporal-patience:1"].expected_instructions < patience["temporal-patience:8"].expected_instructions
    assert any(r.admissible and r.expected_instructions < 60 for r in results)


def test_accuracy_risk_credits_an_exit_for_the_backbone_mistakes_it_fixes():
    """Exit 0 is confident on 60% of samples: wrong there on 3% of all samples where the backbone is right,
    right on 6% where the backbone is wrong. Its accuracy loss is -3 points, within eps = 2; its
    disagreement (1[exit wrong, backbone right]) is 3%, out of the budget, whatever the threshold."""
    from tinyexit.codegen.policies.spec import ExitLogits

    rng = np.random.default_rng(3)
    n, classes = 4000, 4
    labels = rng.integers(0, classes, n)
    role = rng.permutation(np.repeat(np.arange(5), [n * 51 // 100, n * 3 // 100, n * 6 // 100, n * 4 // 100,
                                                    n * 36 // 100]))
    # role 0: easy, both right; 1: exit confidently wrong, backbone right; 2: exit right, backbone wrong;
    # 3: hard, backbone wrong; 4: hard, backbone right
    backbone_label = np.where(np.isin(role, (2, 3)), (labels + 1) % classes, labels)
    exit_label = np.where(role == 1, (labels + 2) % classes, labels)
    early = rng.normal(0, 0.3, (n, classes))
    early[np.arange(n), exit_label] += np.where(role <= 2, 8.0, 0.5)
    final = rng.normal(0, 0.3, (n, classes))
    final[np.arange(n), backbone_label] += 6.0
    logits = [np.clip(np.rint(z / 0.1), -128, 127).astype(np.int8) for z in (early, final)]
    exits = [ExitLogits("exit0", classes, 0.1, 0), ExitLogits("final", classes, 0.1, 0)]
    costs = search.Costs(np.array([20.0, 80.0]), np.array([5.0]), np.zeros(2), np.zeros(1), 100.0)
    reference = np.argmax(logits[1], axis=1)
    cal, val = np.arange(0, 2500), np.arange(2500, n)
    found = {risk: search.evaluate_subsets(logits, exits, labels, reference, cal, val, costs, 1, "confidence", 0.02,
                                           "ltt", DELTA, risk=risk)[0] for risk in ("disagreement", "accuracy", "either")}
    assert found["disagreement"].expected_instructions > costs.backbone  # only thresholds that never stop pass
    assert search.best([found["disagreement"]], costs.backbone) is None
    chosen = search.best([found["accuracy"]], costs.backbone)
    assert chosen is found["accuracy"] and chosen.expected_instructions < 70.0
    taken = run_integer(lower_policy(parse_policy(chosen.policy, ["exit0", "final"]), exits),
                        [q[cal] for q in logits])
    right, base_right = taken.labels == labels[cal], reference[cal] == labels[cal]
    assert chosen.calibration_risk == pytest.approx(np.mean(base_right) - np.mean(right), abs=1e-12)
    assert chosen.calibration_risk < -0.02
    # the dual test (--risk either, the default with --stream) admits it too, through its accuracy half at
    # half the level
    assert search.default_risk(True) == "either" and search.default_risk(False) == "disagreement"
    assert found["either"].admissible and found["either"].expected_instructions < 70.0
    assert found["either"].calibration_risk < -0.02


def test_features_in_chunks_equal_one_predict(monkeypatch):
    """The cached feature maps come in chunks written into arrays allocated once; the values are those of
    one predict over every sample (same order, nothing left unwritten at a chunk's ragged end)."""
    import keras

    keras.utils.set_random_seed(1)
    model = tiny_backbone()
    x = np.random.default_rng(2).random((23, 16, 16, 1), dtype=np.float32)
    names = ["b1", "b2"]
    whole = keras.Model(model.inputs, [model.get_layer(n).output for n in names]).predict(x, verbose=0)
    monkeypatch.setattr(search, "FEATURE_CHUNK", 5)
    chunked = search.features(model, names, x, batch_size=4)
    assert [f.shape for f in chunked] == [(23, 16, 16, 8), (23, 8, 8, 16)]
    for got, want in zip(chunked, whole):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert np.abs(chunked[1][20:]).sum() > 0  # the last, short chunk was written
