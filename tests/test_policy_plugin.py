"""docs/adding-a-policy.md, followed: a toy policy `top1:Q` (stop at the first
exit whose largest real logit is at least Q) added without editing the
package, by passing an extended registry and a template folder of its own.
Checks its parsing, lowering, the generated C (compiled with the hand-written
tx_policy.c) and its decisions on the host, against the float64 rule and the
numpy replica, both with the policy harness and through `generate`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import jinja2
import numpy as np
import pytest
from conftest import fixture_path
from oracle import random_inputs
from policy_support import adversarial_logits, build, run

from tinyexit.codegen import emitter
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.options import Options
from tinyexit.codegen.pipeline import generate
from tinyexit.codegen.policies import registry
from tinyexit.codegen.policies.data import (
    Constant,
    ExitLogits,
    ExitRule,
    LoweredPolicy,
    PolicySpec,
    format_threshold,
    policy_error,
)
from tinyexit.codegen.policies.kind import IntegerForm, PolicyKind, ThresholdRule
from tinyexit.codegen.policies.kinds import threshold
from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.reference import run_float, run_integer
from tinyexit.codegen.policies.runs import PolicyRun, real_logits
from tinyexit.codegen.policies.spec import parse_policy
from tinyexit.codegen.policies.tables import EXACT
from tinyexit.firmware_sim.host import run_host

# ---------------------------------------------------------------------------
# Step 1: the kind (would be codegen/policies/kinds/top1.py)

NAME = "top1"
EXAMPLE = "top1:2"
TEMPLATE = "library/policies/top1.c.j2"


def check(spec: str, value: float, text: str) -> None:
    if abs(value) > 1e6:
        raise policy_error(spec, f"top-1 logit {text} is out of range", f"e.g. --policy {EXAMPLE}")


def score(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return real_logits(np.atleast_2d(q), scale, zero_point).max(axis=1)


def stops(scores: np.ndarray, q: float) -> np.ndarray:
    return scores >= q


def lower_exit(index: int, exit_: ExitLogits, q: float) -> ExitRule:
    """z_max >= Q <=> q_max - zero_point >= Q / s <=> q_max >= zero_point + ceil(Q / s): exact."""
    threshold.check_exit(NAME, exit_)
    q_min = max(-128, min(128, exit_.zero_point + math.ceil(Fraction(q) / Fraction(exit_.scale))))
    return ExitRule(
        index=index, exit=exit_, rule=NAME, threshold=q, form="top1", params={"q_min": q_min},
        constants=(threshold.classes_constant(index, exit_),
                   Constant(f"POLICY_EXIT{index}_TOP1_MIN", q_min, f"zero point + ceil({q} / s), exact")),
        tables=(), bound=EXACT * max(1.0, abs(q)), description=f"top-1 logit >= {q}",
        integer_form=(f"q_max >= {q_min}",), score_name="top-1 logit",
    )


def candidates(exits: list[ExitLogits]) -> list[float]:
    return list(reversed(threshold.round_grid(max(e.scale for e in exits) * 256)))


def exit_candidates(exit_: ExitLogits) -> list[float]:
    return [exit_.scale * (128 - exit_.zero_point), 8.0, 4.0, 2.0, 1.0, 0.0]


def top1_stats(rule: ExitRule, q: np.ndarray) -> dict[str, np.ndarray]:
    return {"q_max": np.asarray(q, np.int64).max(axis=1)}  # tx_policy_max_s8


def top1_stops(rule: ExitRule, stats: dict[str, np.ndarray]) -> np.ndarray:
    return stats["q_max"] >= rule.params["q_min"]


FORMS = {"top1": IntegerForm(stats=top1_stats, stops=top1_stops)}
RULE = ThresholdRule(score_name="top-1 logit", check=check, score=score, stops=stops, lower=lower_exit,
                     candidates=candidates, exit_candidates=exit_candidates)


def parse(spec: str, args: str, names: tuple[str, ...]) -> PolicySpec:
    return threshold.parse(NAME, EXAMPLE, RULE, spec, args, names)


def lower(spec: PolicySpec, exits: tuple[ExitLogits, ...]) -> LoweredPolicy:
    return threshold.lower(NAME, RULE, spec, exits, template=TEMPLATE)


def run_float_top1(spec: PolicySpec, exits: tuple[ExitLogits, ...], batches: list[np.ndarray]) -> PolicyRun:
    return threshold.run_float(RULE, spec, exits, batches)


def run_integer_top1(policy: LoweredPolicy, batches: list[np.ndarray]) -> PolicyRun:
    return threshold.run_integer(FORMS, policy, batches)


KIND = PolicyKind(name=NAME, example=EXAMPLE, parse=parse, lower=lower, summarize=threshold.summarize,
                  run_float=run_float_top1, run_integer=run_integer_top1, threshold=RULE)

# Step 2: the C (would be templates/library/policies/top1.c.j2): constants and calls only.
TOP1_TEMPLATE = """\
{% import "library/policies/threshold.c.j2" as threshold with context %}
{% macro declarations() %}{{ threshold.declarations() }}{% endmacro %}
{% macro decide() %}
    switch (k) {
{% for r in policy.rules %}
    case {{ r.index }}:
        return tx_policy_max_s8(exit_logits({{ r.index }}), POLICY_EXIT{{ r.index }}_CLASSES)
               >= POLICY_EXIT{{ r.index }}_TOP1_MIN;
{% endfor %}
    default:
        return 1; /* the last exit always stops */
    }
{% endmacro %}
{% macro label() %}{% endmacro %}
{% macro reset() %}{{ threshold.reset() }}{% endmacro %}
{% macro usage() %}{% endmacro %}
"""

# Step 3: register (in the package: one line in registry.KINDS).
KINDS = {**registry.KINDS, NAME: KIND}


PACKAGE_ENV = emitter.template_env


def toy_env() -> jinja2.Environment:
    """The package's template environment, also finding the toy's template."""
    env = PACKAGE_ENV()
    env.loader = jinja2.ChoiceLoader([jinja2.DictLoader({TEMPLATE: TOP1_TEMPLATE}), env.loader])
    return env


# ---------------------------------------------------------------------------
# Step 4: tests

NAMES = ["e0", "e1", "final"]
EXITS = [ExitLogits("e0", 10, 0.1, -3), ExitLogits("e1", 12, 0.25, 5), ExitLogits("final", 10, 0.08, 0)]


def test_the_registry_parses_the_toy_and_only_when_given():
    spec = parse_policy(" TOP1:1.5, 2 ", NAMES, KINDS)
    assert (spec.kind, spec.text, spec.thresholds) == ("top1", "top1:1.5,2", (1.5, 2.0))
    assert parse_policy(spec.text, NAMES, KINDS) == spec
    with pytest.raises(TinyexitError, match="unknown policy 'top1'"):
        parse_policy("top1:1.5", NAMES)  # the package's registry is unchanged
    with pytest.raises(TinyexitError) as err:
        parse_policy("fast", NAMES, KINDS)
    assert "top1:2" in err.value.message  # the extended registry lists its example
    for text, words in [("top1", "needs a parameter"), ("top1:x", "'x' is not a number"),
                        ("top1:1,2,3", "3 thresholds"), ("top1:1e9", "out of range")]:
        with pytest.raises(TinyexitError, match=words) as err:
            parse_policy(text, NAMES, KINDS)
        assert err.value.message.startswith(f"policy '{text}'") and "\n" not in err.value.message


def test_lowering_gives_the_exact_integer_threshold():
    policy = lower_policy(parse_policy("top1:1.5", NAMES, KINDS), EXITS, KINDS)
    assert policy.template == TEMPLATE and policy.kernels == ("policy",)
    # e0: -3 + ceil(1.5 / 0.1) = 12; e1: 5 + ceil(1.5 / 0.25) = 11
    assert [r.params["q_min"] for r in policy.rules] == [12, 11]
    assert policy.summary[0] == "Exit policy top1:1.5,1.5"
    assert any("q_max >= 12" in line for line in policy.summary)
    high = lower_policy(parse_policy("top1:100", NAMES, KINDS), EXITS, KINDS)
    assert [r.params["q_min"] for r in high.rules] == [128, 128]  # never: above every int8


@pytest.mark.parametrize("text", ["top1:0", "top1:1.5", "top1:3,-1", "top1:100"])
def test_generated_c_decides_as_the_replica_and_the_float_rule(text, tmp_path):
    spec = parse_policy(text, NAMES, KINDS)
    policy = lower_policy(spec, EXITS, KINDS)
    rng = np.random.default_rng(5)
    logits = [adversarial_logits(rng, 3000, e.num_classes, e.scale) for e in EXITS]
    decisions, labels = run(build(policy, tmp_path / "each", env=toy_env()), logits, "each")
    for rule in policy.rules:
        k, q = rule.index, logits[rule.index]
        assert np.array_equal(decisions[:, k].astype(bool), top1_stops(rule, top1_stats(rule, q)))
        assert np.array_equal(decisions[:, k].astype(bool), stops(score(q, rule.exit.scale, rule.exit.zero_point),
                                                                  rule.threshold))  # exact: no bound needed
        assert np.array_equal(labels[:, k], np.argmax(q, axis=1))
    taken, labels = run(build(policy, tmp_path / "run", env=toy_env()), logits, "run")
    expected = run_integer(policy, logits, KINDS)
    assert np.array_equal(taken, expected.exit_taken) and np.array_equal(labels, expected.labels)
    assert np.array_equal(taken, run_float(spec, EXITS, logits, KINDS).exit_taken)


def test_through_the_generator_on_the_host(tmp_path, monkeypatch):
    """`generate` with the toy registered (monkeypatched for this test only), then the host build."""
    model = fixture_path("ee_three_exits")
    inputs = random_inputs(model, 120, seed=4)
    full = generate(model, tmp_path / "none", name="m", options=Options(policy="none"))
    every = run_host(full.out_dir, inputs)  # policy none: every exit ran, its logits recorded
    exits = list(full.graph.policy.exits)
    names = [e.name for e in exits]
    logits = [every.logits[n] for n in names]
    monkeypatch.setitem(registry.KINDS, NAME, KIND)
    monkeypatch.setattr(emitter, "template_env", toy_env)
    # exit 0 of this fixture saturates (q_max = 127) on random inputs: a threshold above its top
    # logit never stops there; at exit 1, the median top-1 logit stops about half the samples
    z1 = score(logits[1], exits[1].scale, exits[1].zero_point)
    text = f"top1:{format_threshold(exits[0].scale * (128 - exits[0].zero_point))},{format_threshold(np.median(z1))}"
    lib = generate(model, tmp_path / "top1", name="m", options=Options(policy=text))
    c_file = (lib.out_dir / "m.c").read_text()
    assert "tx_policy_max_s8(exit_logits(1), POLICY_EXIT1_CLASSES)" in c_file
    assert "#include \"tx_policy.h\"" in c_file and (lib.out_dir / "tx_policy.c").exists()
    result = run_host(lib.out_dir, inputs)
    policy = lower_policy(parse_policy(text, names), exits)
    expected = run_integer(policy, logits)
    assert np.array_equal(result.exit_taken.astype(np.int64), expected.exit_taken)
    assert np.array_equal(result.labels.astype(np.int64), expected.labels)
    assert 0 < (expected.exit_taken == 1).sum() < len(inputs) and (expected.exit_taken == 0).sum() == 0
