"""Exit policies on the real early-exit fixtures, through the whole generator.

For a grid of thresholds on every ee_* model, the generated library (host
build) takes the exit and reports the label that the integer model predicts
from TFLM's logits, and each decision it made equals the float64 rule except
for samples within the stated bound of the threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture_path
from oracle import random_inputs, tflm_interpreter

from tinyexit.codegen.emitter import render_library
from tinyexit.codegen.output import write_folder
from tinyexit.codegen.options import Options
from tinyexit.codegen.pipeline import compile_graph
from tinyexit.codegen.policies.spec import parse_policy
from tinyexit.codegen.policies.reference import float_scores, float_stops, run_float, run_integer
from tinyexit.codegen.reader import read_model
from tinyexit.firmware_sim.host import run_host

MODELS = ["ee_resnet", "ee_dscnn", "ee_three_exits", "ee_nosig"]
SAMPLES = 200


def compiled(model, policy: str):
    return compile_graph(read_model(model), Options(policy=policy))


def generate(model, policy: str, out):
    graph = compiled(model, policy)
    write_folder(out, render_library(graph, "m", Options(policy=policy)))
    return graph


def stage_logits(model, graph, inputs) -> list[np.ndarray]:
    """Each stage's decision logits for every sample, from TFLM."""
    interp = tflm_interpreter(model, preserve_all=True)
    shape = graph.tensor(graph.inputs[0]).shape
    rows = [[] for _ in graph.stages]
    for x in inputs:
        interp.set_input(np.asarray(x).reshape(shape), 0)
        interp.invoke()
        for k, stage in enumerate(graph.stages):
            rows[k].append(np.array(interp.GetTensor(stage.logits_tensor, 0)["tensor_data"]).reshape(-1))
    return [np.stack(r).astype(np.int8) for r in rows]


@pytest.fixture(scope="module")
def data():
    cache = {}

    def get(name):
        if name not in cache:
            model = fixture_path(name)
            graph = compiled(model, "none")
            inputs = random_inputs(model, SAMPLES, seed=3)
            cache[name] = (model, inputs, stage_logits(model, graph, inputs), graph.policy.exits)
        return cache[name]

    return get


def spread_thresholds(kind, exits, logits) -> list[float]:
    """Thresholds at the 25th and 75th percentile of exit 0's float score, so decisions go both ways."""
    scores = float_scores(kind, logits[0], exits[0].scale, exits[0].zero_point)
    return [float(f"{np.quantile(scores, p):.4g}") for p in (0.25, 0.75)]


@pytest.mark.parametrize("kind", ["confidence", "margin", "entropy"])
@pytest.mark.parametrize("name", MODELS)
def test_generated_decisions_on_fixtures(name, kind, data, tmp_path):
    model, inputs, logits, exits = data(name)
    for j, threshold in enumerate(spread_thresholds(kind, exits, logits)):
        policy = f"{kind}:{threshold}"
        graph = generate(model, policy, tmp_path / f"lib{j}")
        result = run_host(tmp_path / f"lib{j}", inputs)
        taken = result.exit_taken.astype(np.int64)
        expected = run_integer(graph.policy, logits)
        assert np.array_equal(taken, expected.exit_taken), policy
        assert np.array_equal(result.labels.astype(np.int64), expected.labels), policy
        # every decision the C made (no at exits before the one taken, yes at it) against the float rule
        for rule in graph.policy.rules:
            k, e = rule.index, rule.exit
            ran = taken >= k
            c_stop = taken[ran] == k
            scores = float_scores(kind, logits[k][ran], e.scale, e.zero_point)
            wrong = c_stop != float_stops(kind, scores, threshold)
            near = np.abs(scores - threshold) <= rule.bound
            assert not (wrong & ~near).any(), f"{name} {policy} exit {k}: differs outside the bound"
        assert 0 < (taken == 0).sum() < SAMPLES, f"{name} {policy}: the grid should split the samples"
        spec = parse_policy(policy, [e.name for e in exits])
        float_taken = run_float(spec, list(exits), logits).exit_taken
        assert (float_taken != taken).sum() <= 2


@pytest.mark.parametrize("name, policy", [
    ("ee_three_exits", "patience:1"),
    ("ee_resnet", "temporal-patience:2"),
    ("ee_dscnn", "difference:0.05"),
    ("ee_three_exits", "exit:1"),
])
def test_argmax_and_temporal_policies_on_fixtures(name, policy, data, tmp_path):
    model, inputs, logits, exits = data(name)
    # a stream: each input held for a few samples, as a slow sensor would give
    order = np.repeat(np.arange(SAMPLES // 4), 4)
    stream = inputs[order]
    graph = generate(model, policy, tmp_path / "lib")
    result = run_host(tmp_path / "lib", stream)
    expected = run_integer(graph.policy, [q[order] for q in logits])
    assert np.array_equal(result.exit_taken.astype(np.int64), expected.exit_taken)
    assert np.array_equal(result.labels.astype(np.int64), expected.labels)
    if graph.policy.kind == "difference":  # a repeated input is at distance 0 from its reference
        assert (expected.exit_taken == 0).sum() >= SAMPLES // 4 * 3 - 1


def test_the_pass_reads_each_stage_s_logits_and_names_bad_policies():
    model = fixture_path("ee_dscnn")
    graph = compiled(model, "confidence:0.8")
    assert "lower_policy" in graph.passes_run
    for stage, exit_ in zip(graph.stages, graph.policy.exits):
        logits = graph.tensor(stage.logits_tensor)  # the softmax input, not the exit's output
        assert (exit_.num_classes, exit_.scale, exit_.zero_point) == (
            logits.size, logits.quant.scale, logits.quant.zero_point)
    from tinyexit.codegen.errors import TinyexitError

    with pytest.raises(TinyexitError, match="exit index 5 is out of range .* exit0,final"):
        compiled(model, "exit:5")
    with pytest.raises(TinyexitError, match="gives 3 thresholds, but the model has 1 non-final exits"):
        compiled(model, "margin:1,2,3")


def test_generated_header_states_the_float_rule_and_its_integer_form(tmp_path):
    generate(fixture_path("ee_three_exits"), "entropy:0.3,0.5", tmp_path / "lib")
    header = (tmp_path / "lib" / "m.h").read_text()
    assert "stop when softmax entropy <= 0.3 nats" in header
    assert "stop when softmax entropy <= 0.5 nats" in header
    assert "on the device: sum F * 2^16 <= sum E * (19661 - ln_q16(sum E))" in header
    assert "equals the float rule whenever |softmax entropy (nats) - 0.3| >" in header
