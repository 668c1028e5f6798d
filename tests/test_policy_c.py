"""The generated decision C (templates/library/decide.c.j2), compiled and run.

For a grid of thresholds, scales 0.02..0.5 and 2, 10 and 12 classes, on
random and adversarial int8 logits (ties, saturated -128/127, all equal,
one-hot): the C's decision equals the integer model exactly, and equals the
float64 rule for every sample whose score lies farther than the stated bound
from the threshold. Samples within the bound are counted; none may differ
outside it.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from policy_support import CFLAGS, KERNELS, adversarial_logits, build, render_decide, run

from tinyexit.codegen.policies.lowering import lower_policy
from tinyexit.codegen.policies.spec import ExitLogits, parse_policy
from tinyexit.codegen.policies.reference import float_scores, float_stops, integer_stats, integer_stops, run_float, run_integer

SCALES = [0.02, 0.05, 0.1, 0.25, 0.5]
CLASSES = [2, 10, 12]
GRID = {
    "confidence": [0.3, 0.5, 0.7, 0.9, 0.99, 1.0],
    "margin": [0.0, 0.1, 0.5, 1.0, 2.5, 5.0, 20.0],
    "entropy": [0.0, 0.01, 0.1, 0.4, 1.0, 2.0],
}
SAMPLES = 3000


def grid_exits(seed: int = 0) -> list[ExitLogits]:
    """One non-final exit per (scale, classes) pair, then a final exit."""
    rng = np.random.default_rng(seed)
    exits = [
        ExitLogits(f"e{i}", c, s, int(rng.integers(-128, 128)))
        for i, (s, c) in enumerate((s, c) for s in SCALES for c in CLASSES)
    ]
    return exits + [ExitLogits("final", 10, 0.1, 0)]


def grid_logits(exits: list[ExitLogits], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [adversarial_logits(rng, SAMPLES, e.num_classes, e.scale) for e in exits]


@pytest.fixture(scope="module")
def grid():
    exits = grid_exits()
    return exits, grid_logits(exits, seed=1)


@pytest.mark.parametrize("kind", sorted(GRID))
def test_c_decisions_match_the_integer_model_and_the_float_rule(kind, grid, tmp_path):
    exits, logits = grid
    names = [e.name for e in exits]
    counted = within = differing = 0
    for j, threshold in enumerate(GRID[kind]):
        policy = lower_policy(parse_policy(f"{kind}:{threshold}", names), exits)
        decisions, labels = run(build(policy, tmp_path / f"t{j}"), logits, "each")
        assert (decisions[:, -1] == 1).all(), "the last exit always stops"
        for rule in policy.rules:
            k, e = rule.index, rule.exit
            q = logits[k]
            c_stop = decisions[:, k].astype(bool)
            assert np.array_equal(labels[:, k], np.argmax(q, axis=1))
            assert np.array_equal(c_stop, integer_stops(rule, integer_stats(rule, q))), (
                f"{kind}:{threshold} exit {k}: the C and the integer model differ"
            )
            scores = float_scores(kind, q, e.scale, e.zero_point)
            near = np.abs(scores - threshold) <= rule.bound
            wrong = c_stop != float_stops(kind, scores, threshold)
            assert not (wrong & ~near).any(), (
                f"{kind}:{threshold} at scale {e.scale}, {e.num_classes} classes: decisions differ "
                f"outside the bound {rule.bound:.3g} at scores {scores[wrong & ~near][:5]}"
            )
            counted += len(q)
            within += int(near.sum())
            differing += int(wrong.sum())
    # Thresholds on the grid are often exact multiples of a scale, so many
    # samples sit exactly on them: those count as within the bound.
    print(f"{kind}: {counted} decisions, {within} within the stated bound of the threshold, "
          f"{differing} of them differ from the float rule")
    assert differing <= within


@pytest.mark.parametrize("spec", ["none", "exit:0", "exit:2", "patience:1", "patience:2", "confidence:0.6,0.95,0.8"])
def test_stage_loop_policies_take_the_same_exit_as_the_reference(spec, tmp_path):
    rng = np.random.default_rng(7)
    exits = [ExitLogits(f"e{k}", c, s, z) for k, (c, s, z) in
             enumerate([(10, 0.1, 0), (10, 0.05, 3), (12, 0.25, -7), (10, 0.2, 1)])]
    # correlated heads: each exit leans towards the sample's class with growing weight
    n = 4000
    truth = rng.integers(0, 10, size=n)
    logits = []
    for k, e in enumerate(exits):
        z = rng.normal(0, 1.5, size=(n, e.num_classes))
        z[np.arange(n), truth] += rng.uniform(0, 2 + 2 * k, size=n)
        logits.append(np.clip(np.rint(z / e.scale) + e.zero_point, -128, 127).astype(np.int8))
    spec_ = parse_policy(spec, [e.name for e in exits])
    policy = lower_policy(spec_, exits)
    taken, labels = run(build(policy, tmp_path), logits, "run")
    expected = run_integer(policy, logits)
    assert np.array_equal(taken, expected.exit_taken)
    assert np.array_equal(labels, expected.labels)
    reference = run_float(spec_, exits, logits)
    if spec_.kind in ("none", "exit", "patience"):
        assert np.array_equal(taken, reference.exit_taken)
    assert len(set(taken.tolist())) >= (1 if spec_.kind in ("none", "exit") else 2)


def stream(rng: np.random.Generator, n: int, exits: list[ExitLogits], dwell: int) -> list[np.ndarray]:
    """A temporally correlated stream: the class holds for ~dwell samples, exit 0 drifts slowly."""
    classes = exits[0].num_classes
    label = np.repeat(rng.integers(0, classes, size=n // dwell + 1), dwell)[:n]
    out = []
    for k, e in enumerate(exits):
        drift = np.cumsum(rng.normal(0, 0.05, size=(n, e.num_classes)), axis=0)
        z = rng.normal(0, 0.08 if k == 0 else 1.0, size=(n, e.num_classes)) + drift
        z[np.arange(n), label % e.num_classes] += 2.5 + k
        if k == 0:  # every few samples exit 0 is confused
            confused = rng.random(n) < 0.1
            z[confused] += rng.normal(0, 3, size=(int(confused.sum()), e.num_classes))
        out.append(np.clip(np.rint(z / e.scale) + e.zero_point, -128, 127).astype(np.int8))
    return out


TEMPORAL = ["difference:0.3", "difference:1.5", "difference:4", "temporal-patience:1", "temporal-patience:3"]


@pytest.mark.parametrize("spec", TEMPORAL)
@pytest.mark.parametrize("num_exits", [2, 3])
def test_temporal_policies_follow_the_reference_over_streams(spec, num_exits, tmp_path):
    rng = np.random.default_rng(hash((spec, num_exits)) % 2**32)
    exits = [ExitLogits("e0", 6, 0.05, -10), ExitLogits("e1", 6, 0.1, 4), ExitLogits("final", 6, 0.08, 0)]
    exits = exits[:1] + exits[-(num_exits - 1):]
    spec_ = parse_policy(spec, [e.name for e in exits])
    policy = lower_policy(spec_, exits)
    exe = build(policy, tmp_path)
    segments = [stream(rng, m, exits, dwell) for m, dwell in [(600, 40), (400, 5), (300, 100)]]
    resets = [np.eye(1, len(s[0]), 0, dtype=np.uint8)[0] for s in segments]
    logits = [np.concatenate([s[k] for s in segments]) for k in range(num_exits)]
    taken, labels = run(exe, logits, "run", np.concatenate(resets))
    start = 0
    early_total = 0
    for seg in segments:
        m = len(seg[0])
        got_taken, got_labels = taken[start:start + m], labels[start:start + m]
        exact = run_integer(policy, seg)
        assert np.array_equal(got_taken, exact.exit_taken), "reset() must restart the stream"
        assert np.array_equal(got_labels, exact.labels)
        ref = run_float(spec_, exits, seg)
        differ = np.nonzero((ref.exit_taken != got_taken) | (ref.labels != got_labels))[0]
        if len(differ):  # the first divergence must be a sample within the bound; later state differs
            t = differ[0]
            assert ref.scores is not None
            assert abs(ref.scores[t, 0] - spec_.distance) <= policy.difference.bound
        early_total += int((got_taken == 0).sum())
        start += m
    assert early_total > 0, "a temporal policy should stop early on a correlated stream"


def test_rendering_is_deterministic():
    exits = grid_exits()
    names = [e.name for e in exits]
    for spec in ["confidence:0.9", "entropy:0.4", "margin:2.5", "difference:0.2"]:
        a = render_decide(lower_policy(parse_policy(spec, names), exits))
        b = render_decide(lower_policy(parse_policy(spec, names), exits))
        assert a == b


FORBIDDEN = ("__aeabi_f", "__aeabi_d", "__aeabi_idiv", "__aeabi_uidiv", "__aeabi_ldivmod", "__aeabi_uldivmod",
             "__divsi3", "__udivsi3", "exp", "log")


@pytest.mark.parametrize("cpu", ["cortex-m0", "cortex-m4", "cortex-m7"])
def test_cross_compiles_warning_free_without_float_or_division(cpu, tmp_path):
    cc = shutil.which("arm-none-eabi-gcc")
    if cc is None:
        pytest.skip("arm-none-eabi-gcc is not on PATH; `make install` installs it")
    exits = grid_exits()
    names = [e.name for e in exits]
    specs = ["none", "exit:1", "confidence:0.9", "margin:2.5", "entropy:0.4", "patience:3", "difference:0.2",
             "temporal-patience:2"]
    for j, spec in enumerate(specs + ["tx_policy.c"]):
        if spec == "tx_policy.c":  # the hand-written helpers every decision calls
            source = KERNELS / "tx_policy.c"
        else:
            body = render_decide(lower_policy(parse_policy(spec, names), exits))
            source = tmp_path / f"d{j}.c"
            source.write_text(
                "#include <stdint.h>\nint tp_decide(int k);\nint tp_label(int k);\nvoid tp_reset(void);\n"
                "extern const int8_t logits[16][16];\n"
                "static inline const int8_t *exit_logits(int k) { return logits[k]; }\n" + body
            )
        obj = tmp_path / f"d{j}.o"
        proc = subprocess.run([cc, f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=soft", *CFLAGS, "-I", str(KERNELS),
                               "-c", str(source), "-o", str(obj)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{spec}: {proc.stderr}"
        nm = subprocess.run(["arm-none-eabi-nm", "-u", str(obj)], capture_output=True, text=True).stdout
        undefined = [line.split()[-1] for line in nm.splitlines() if line.strip()]
        bad = [u for u in undefined if u.startswith(FORBIDDEN) and u != "logits"]
        assert not bad, f"{spec} on {cpu} needs {bad}"
