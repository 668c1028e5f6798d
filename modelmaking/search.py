"""Search: the cheapest early-exit network within an accuracy budget.

    tinyexit search BACKBONE --data D.npz --board B --max-drop EPS -o OUT/
                    [--max-exits 3] [--candidates auto|L1,L2] [--method ltt|crc|empirical]
                    [--delta 0.1] [--epochs N] [--train heads|joint]

Steps, each a plain function:
1. `find_candidates`: the layers after which one 4-D tensor carries the whole
   computation forward (a cut of the Keras graph), keeping the last of a run
   of cuts joined by per-element layers (conv -> batch norm -> ReLU cuts once,
   after the ReLU) and leaving out cuts with almost nothing after them; or the
   layers given.
2. `train_heads`: one exit head per candidate (`head_kind` picks the largest
   T-RecX head whose MACs stay within HEAD_SHARE of its prefix's), all trained
   at once on backbone features computed once and cached (the backbone is
   frozen, so no step runs it again). `--train joint` then fine-tunes every
   weight with each exit's loss weighted JOINT_EXIT_WEIGHT against the final's 1.
3. `profile`: one int8 model with every candidate head, generated and run in
   QEMU on the board. Its stages give, per candidate, the backbone segment up
   to it plus its head; a second stage order of the same model (the final
   exit first, then each head alone) isolates each head. So the cost of any
   subset of exits is a sum: the backbone prefix up to each exit plus the
   heads run so far, with no new simulation.
4. `evaluate_subsets`: the int8 logits of every exit (host build, bit-exact
   with the device) on a calibration and a validation split. For each subset
   of at most max_exits candidates, per-exit thresholds are calibrated
   (codegen/policies/calibrate.py) so that a risk against the backbone stays
   within max_drop: `--risk disagreement` (the default for i.i.d. samples)
   bounds 1[label at the exit taken is wrong and the backbone is right];
   `--risk accuracy` bounds the accuracy loss
   itself, 1[exit wrong] - 1[backbone wrong], with a test on the discordant
   samples (calibrate.py, accuracy_test); `--risk either` (the default with
   --stream) bounds the accuracy loss with the dual test (either test passes
   at half the level: calibrate.py, risk_passes). The configurations are ordered (and their expected
   instructions measured) on the validation split and tested on the
   calibration split. Every subset is tested at delta / (number of subsets)
   (Bonferroni), so the guarantee holds for the subset finally chosen.
5. The admissible subset with the fewest expected instructions on the
   validation split is written as OUT/model.tflite (signature outputs
   exit0..exitK-1, final), OUT/policy.txt, OUT/report.md/.json and
   OUT/pareto.png; its accuracy is measured on the test split on that model.
   OUT/backbone.tflite is the backbone alone in int8: the baseline for
   `tinyexit compare` (policy none) beside the chosen model and policy.

Data with a `record` array (one id per sample, e.g. the patient) is split by
record: no patient's samples are in two of train, calibration, validation
and test (in stream order with --stream).

TensorFlow and matplotlib are imported inside functions only.
"""

from __future__ import annotations

import itertools
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen.boards import load_board
from ..codegen.errors import TinyexitError
from ..codegen.options import Options
from ..codegen.output import check_output_folder, write_folder
from ..codegen.passes.lower_policy import exit_logits_of
from ..codegen.pipeline import generate
from ..codegen.policies.calibrate import (
    ACCURACY_BETA_SHARE,
    CORRECTIONS,
    EITHER_SHARE,
    RISKS,
    METHODS,
    choose_configuration,
    configurations,
    exit_grid,
    exit_stops,
    grid_size_for,
    risk_passes,
    threshold_policy,
)
from ..codegen.policies.lowering import lower_policy
from ..codegen.policies.reference import run_integer
from ..codegen.policies.spec import ExitLogits, parse_policy
from ..firmware_sim.host import run_host
from ..firmware_sim.qemu import qemu_binary, run_library
from . import augment, datasets, zoo

Log = augment.Log

HEAD_SHARE = 0.25  # a head may cost at most this share of its prefix's MACs
JOINT_EXIT_WEIGHT = 0.3  # --train joint: each exit's loss weight (final: 1)
MAX_AUTO_CANDIDATES = 8
TAIL_SHARE = 0.05  # an automatic candidate leaves at least this share of the backbone's MACs after it
PER_ELEMENT = ("BatchNormalization", "ReLU", "Activation", "LeakyReLU", "PReLU", "ELU", "Dropout",
               "SpatialDropout2D", "GaussianNoise", "Identity")
TRAIN_MODES = ("heads", "joint")


# ---------------------------------------------------------------------------
# 1. candidates


def _inbound(layer) -> list:
    """The layers whose outputs `layer` reads (Keras 3 functional graph)."""
    out = []
    for node in getattr(layer, "_inbound_nodes", []):
        for t in node.input_tensors if hasattr(node, "input_tensors") else []:
            out.append(t._keras_history[0])
    return out


def find_candidates(backbone) -> list[str]:
    """Layers after which one 4-D tensor carries the whole computation forward, by depth.

    A layer is a cut when no later layer reads the output of an earlier one
    (so the next stage needs nothing but this layer's output). Of a run of cuts
    joined by per-element layers (batch norm, activations), the last is kept.
    """
    layers = [layer for layer in backbone.layers if type(layer).__name__ != "InputLayer"]
    position = {id(layer): i for i, layer in enumerate(layers)}
    earliest_read = {}  # layer index -> the latest index of a layer reading it
    for i, layer in enumerate(layers):
        for src in _inbound(layer):
            j = position.get(id(src), -1)
            earliest_read[j] = max(earliest_read.get(j, j), i)
    cuts = []
    for i, layer in enumerate(layers[:-1]):
        if len(layer.output.shape) != 4:
            continue
        if any(earliest_read.get(j, j) > i for j in range(-1, i)):
            continue  # an earlier tensor (or the input) is still read after this layer
        cuts.append(i)
    macs = np.cumsum([layer_macs(layer) for layer in layers])
    kept = []
    for i in cuts:
        nxt = layers[i + 1]
        if i + 1 in cuts and type(nxt).__name__ in PER_ELEMENT:
            continue
        if macs[-1] and macs[i] >= (1 - TAIL_SHARE) * macs[-1]:
            continue  # (almost) the whole backbone runs before it: an exit there cannot save
        kept.append(layers[i].name)
    return kept


def pick_candidates(backbone, given: str | None) -> list[str]:
    names = [layer.name for layer in backbone.layers]
    if given in (None, "", "auto"):
        found = find_candidates(backbone)
        if not found:
            raise TinyexitError(
                f"backbone '{backbone.name}': no layer after which one 4-D feature map carries the whole "
                "computation forward; name layers with --candidates L1,L2"
            )
        if len(found) > MAX_AUTO_CANDIDATES:  # evenly by depth
            keep = np.unique(np.round(np.linspace(0, len(found) - 1, MAX_AUTO_CANDIDATES)).astype(int))
            found = [found[i] for i in keep]
        return found
    wanted = [n.strip() for n in given.split(",") if n.strip()]
    for name in wanted:
        if name not in names:
            raise TinyexitError(f"--candidates: backbone '{backbone.name}' has no layer '{name}'; "
                                f"pick names from model.summary() or use --candidates auto")
        if len(backbone.get_layer(name).output.shape) != 4:
            raise TinyexitError(f"--candidates: layer '{name}' outputs shape "
                                f"{tuple(backbone.get_layer(name).output.shape)}; exits attach to 4-D feature maps")
    if len(set(wanted)) != len(wanted):
        raise TinyexitError(f"--candidates names a layer twice ({given}); give each once")
    return sorted(wanted, key=names.index)


# ---------------------------------------------------------------------------
# 2. heads


def layer_macs(layer) -> int:
    """Multiply-accumulates of one Keras layer (convolutions and dense; others count 0)."""
    kind = type(layer).__name__
    try:
        out = layer.output.shape
        inp = layer.input.shape
    except (AttributeError, ValueError):
        return 0
    if kind == "Conv2D":
        kh, kw = layer.kernel_size
        return int(out[1] * out[2] * out[3] * kh * kw * inp[-1] // max(1, layer.groups))
    if kind == "DepthwiseConv2D":
        kh, kw = layer.kernel_size
        return int(out[1] * out[2] * out[3] * kh * kw)
    if kind == "SeparableConv2D":
        kh, kw = layer.kernel_size
        mid = inp[-1] * layer.depth_multiplier
        return int(out[1] * out[2] * (mid * kh * kw + mid * out[3]))
    if kind == "Dense":
        return int(np.prod([d for d in inp[1:]]) * out[-1])
    return 0


def prefix_macs(backbone, name: str) -> int:
    total = 0
    for layer in backbone.layers:
        total += layer_macs(layer)
        if layer.name == name:
            return total
    return total


def head_macs(kind: str, shape, classes: int) -> int:
    h, w, c = (int(d) for d in shape)
    if kind == "conv":
        side = (h // 2, w // 2)
        pool = max(1, -(-min(side) // 4))
        flat = max(1, side[0] // pool) * max(1, side[1] // pool) * 2 * c
        return h * w * c * 2 * c + side[0] * side[1] * 2 * c * 4 + flat * classes
    if kind == "slice":
        side = (-(-h // 2), -(-w // 2))
        pool = max(1, -(-min(side) // 4))
        keep = max(1, c // 2)
        flat = max(1, side[0] // pool) * max(1, side[1] // pool) * keep
        return side[0] * side[1] * keep * 9 + flat * classes
    return c * classes


def head_kind(shape, classes: int, prefix: int) -> str:
    """The largest head (conv, slice, gap) whose MACs stay within HEAD_SHARE of the prefix's."""
    for kind in ("conv", "slice"):
        if head_macs(kind, shape, classes) <= HEAD_SHARE * prefix:
            return kind
    return "gap"


def build_heads(backbone, names: list[str], classes: int, seed: int = 0):
    """One small Keras model per candidate: its feature map in, softmax out."""
    augment._tf()
    import keras

    keras.utils.set_random_seed(seed)
    heads, kinds = [], []
    for name in names:
        shape = tuple(int(d) for d in backbone.get_layer(name).output.shape[1:])
        kind = head_kind(shape, classes, prefix_macs(backbone, name))
        inp = keras.Input(shape, name=f"{name}_features")
        out = zoo.trecx_head(inp, classes, kind=kind, name=f"head_{name}")
        heads.append(keras.Model(inp, out, name=f"exit_head_{name}"))
        kinds.append(kind)
    return heads, kinds


FEATURE_CHUNK = 4096  # samples per predict call: the maps are written into arrays allocated once


def features(backbone, names: list[str], x: np.ndarray, batch_size: int = 256) -> list[np.ndarray]:
    """The backbone's feature maps at each candidate, computed once (float32).

    In chunks, into preallocated arrays: predict on the whole set would hold every batch's maps and their
    concatenation at once (twice the memory; the 19,693 training windows of the ECG example at 8 candidates
    take 5.2 GB once).
    """
    augment._tf()
    import keras

    taps = keras.Model(backbone.inputs, [backbone.get_layer(n).output for n in names])
    out = [np.empty((len(x),) + tuple(int(d) for d in t.shape[1:]), np.float32) for t in taps.outputs]
    for start in range(0, len(x), FEATURE_CHUNK):
        part = taps.predict(x[start:start + FEATURE_CHUNK], batch_size=batch_size, verbose=0)
        for arr, maps in zip(out, part if isinstance(part, (list, tuple)) else [part]):
            arr[start:start + len(maps)] = maps
    return out


def train_heads(heads, feats: list[np.ndarray], y: np.ndarray, *, epochs: int, batch_size: int = 64,
                learning_rate: float = 2e-3, seed: int = 0, log: Log | None = None) -> dict[str, float]:
    """Train every head at once on cached features; returns each head's training accuracy."""
    augment._tf()
    import keras

    keras.utils.set_random_seed(seed)
    inputs = [keras.Input(h.inputs[0].shape[1:], name=f"in{i}") for i, h in enumerate(heads)]
    outs = [keras.layers.Identity(name=f"out{i}")(h(x)) for i, (h, x) in enumerate(zip(heads, inputs))]
    model = keras.Model(inputs, outs)
    names = [f"out{i}" for i in range(len(heads))]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss={n: "sparse_categorical_crossentropy" for n in names},
                  metrics={n: ["accuracy"] for n in names})
    history = model.fit(feats, {n: y for n in names}, batch_size=batch_size, epochs=epochs, verbose=0,
                        shuffle=True, callbacks=[augment._progress_callback(names, epochs, log)] if log else [])
    return {n: float(history.history.get(f"{n}_accuracy", [float("nan")])[-1]) for n in names}


def assemble(backbone, names: list[str], heads, which: list[int]):
    """The backbone with the heads `which` (indices into names) attached: outputs exit0.., final."""
    augment._tf()
    import keras

    outputs = [keras.layers.Identity(name=f"exit{k}")(heads[i](backbone.get_layer(names[i]).output))
               for k, i in enumerate(which)]
    final = backbone.outputs[0]
    outputs.append(final if final._keras_history[0].name == "final" else keras.layers.Identity(name="final")(final))
    model = keras.Model(backbone.inputs, outputs, name=f"{backbone.name}_ee")
    model.tinyexit_backbone_layers = {layer.name for layer in backbone.layers}  # type: ignore[attr-defined]
    return model


# ---------------------------------------------------------------------------
# 3. costs


@dataclass
class Costs:
    """Instructions (mean over the profiled samples) per backbone segment and per head.

    segment[j]: the backbone ops after candidate j-1 up to candidate j (segment[M]: the
    rest, with the final classifier); head[j]: candidate j's head alone.
    """

    segment: np.ndarray
    head: np.ndarray
    segment_macs: np.ndarray
    head_macs: np.ndarray
    backbone_check: float  # the backbone + final measured as one stage, for a consistency check

    @property
    def backbone(self) -> float:
        return float(self.segment.sum())

    def prefix(self, j: int) -> float:
        return float(self.segment[: j + 1].sum())

    def exits(self, subset: tuple[int, ...]) -> np.ndarray:
        """Cumulative instructions to reach each exit of `subset` (candidate indices) and the final."""
        heads = np.cumsum([self.head[j] for j in subset]) if subset else np.zeros(0)
        out = [self.prefix(j) + heads[k] for k, j in enumerate(subset)]
        out.append(self.backbone + (heads[-1] if subset else 0.0))
        return np.asarray(out, dtype=np.float64)


def _stage_means(tflite_path: Path, order: list[str], board: str, x: np.ndarray, work: Path, tag: str):
    lib = generate(tflite_path, work / f"lib_{tag}", options=Options(policy="none", exit_order=tuple(order)))
    res = run_library(lib.out_dir, board, x)
    return res.stage_instructions.mean(axis=0), np.array([s.macs for s in lib.graph.stages], np.float64)


def profile(tflite_path: Path, count: int, board: str, x: np.ndarray, log: Log) -> Costs:
    """Per-segment and per-head instructions of the all-heads model from QEMU (two stage orders)."""
    names = [f"exit{i}" for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="tinyexit-search-") as tmp:
        work = Path(tmp)
        log(f"search: profiling {len(x)} samples in QEMU on {board} (stages in depth order)")
        natural, natural_macs = _stage_means(tflite_path, names + ["final"], board, x, work, "depth")
        log("search: profiling again with each head as a stage of its own")
        alone, alone_macs = _stage_means(tflite_path, ["final"] + names, board, x, work, "heads")
    head = alone[1:]
    segment = natural.copy()
    segment[:count] -= head
    head_m = alone_macs[1:]
    seg_m = natural_macs.copy()
    seg_m[:count] -= head_m
    return Costs(segment, head, seg_m, head_m, float(alone[0]))


# ---------------------------------------------------------------------------
# 4. subsets


@dataclass
class SubsetResult:
    subset: tuple[int, ...]  # candidate indices, by depth
    policy: str  # for a model with exactly these exits
    admissible: bool
    expected_instructions: float  # mean over the validation split
    validation_accuracy: float
    calibration_risk: float
    configurations: int

    def to_dict(self, names: list[str]) -> dict:
        return {"exits": [names[i] for i in self.subset], "policy": self.policy, "admissible": self.admissible,
                "expected_instructions": self.expected_instructions,
                "validation_accuracy": self.validation_accuracy, "calibration_risk": self.calibration_risk,
                "configurations": self.configurations}


def subsets_of(count: int, max_exits: int) -> list[tuple[int, ...]]:
    return [s for m in range(1, max_exits + 1) for s in itertools.combinations(range(count), m)]


def evaluate_subsets(
    logits: list[np.ndarray],
    exits: list[ExitLogits],
    labels: np.ndarray,
    reference: np.ndarray,
    cal: np.ndarray,
    val: np.ndarray,
    costs: Costs,
    max_exits: int,
    kind: str,
    max_drop: float,
    method: str,
    delta: float,
    correction: str = "fixed-sequence",
    max_configurations: int = 2000,
    progress=None,
    families: int | None = None,
    risk: str = "disagreement",
) -> list[SubsetResult]:
    """Calibrate per-exit thresholds for every subset of at most max_exits candidates.

    logits/exits: every candidate exit then the final, in depth order (int8
    logits per sample); reference: the backbone's predicted label per sample.
    risk "disagreement": the loss at an exit is 1[wrong there and the backbone
    right]; "accuracy": 1[wrong there] - 1[backbone wrong], whose mean is the
    accuracy loss against the backbone (calibrate.py, accuracy_test).
    """
    count = len(logits) - 1
    subsets = subsets_of(count, max_exits)
    level = delta / (families or len(subsets))  # Bonferroni over every subset (and temporal candidate) tested
    preds = np.stack([np.argmax(q, axis=1) for q in logits])
    loss = (preds != labels) & (reference == labels)  # (exits, n)
    gain = (preds == labels) & (reference != labels)  # fixed where the backbone is wrong (accuracy risk)
    accuracy = risk != "disagreement"  # the accuracy and the dual ("either") tests count the fixed samples
    right = preds == labels
    n_cal, n_val = len(cal), len(val)
    rows = np.concatenate([cal, val])
    results = []
    for done, subset in enumerate(subsets):
        chain = list(subset) + [count]
        sub_exits = [exits[i] for i in chain]
        batches = [logits[i][rows] for i in chain]
        cum = costs.exits(subset)
        size = grid_size_for(len(subset), max_configurations)
        grids = [exit_grid(kind, sub_exits[k], size) for k in range(len(subset))]
        keys, test_losses, test_fixed, order_risk, order_cost, order_right = [], [], [], [], [], []
        local = np.arange(len(rows))
        chain_loss = loss[chain][:, rows]
        chain_gain = gain[chain][:, rows]
        chain_right = right[chain][:, rows]
        for key, taken in configurations(exit_stops(kind, sub_exits, batches, grids), len(rows)):
            lost = chain_loss[taken, local]
            fixed = chain_gain[taken, local] if accuracy else np.zeros(len(rows), dtype=bool)
            keys.append(key)
            test_losses.append(int(lost[:n_cal].sum()))
            test_fixed.append(int(fixed[:n_cal].sum()))
            order_risk.append(float(lost[n_cal:].mean() - fixed[n_cal:].mean()))
            order_cost.append(float(cum[taken[n_cal:]].mean()))
            order_right.append(float(chain_right[taken[n_cal:], local[n_cal:]].mean()))
        chosen, _ = choose_configuration(np.array(test_losses), n_cal, np.array(order_risk), np.array(order_cost),
                                         max_drop, method, level, correction, np.array(test_fixed), risk)
        if chosen is None:
            results.append(SubsetResult(subset, "none", False, float(cum[-1]),
                                        float(right[count, val].mean()), 0.0, len(keys)))
        else:
            thresholds = [grids[k][j] for k, j in enumerate(keys[chosen])]
            results.append(SubsetResult(subset, threshold_policy(kind, thresholds), True, order_cost[chosen],
                                        order_right[chosen], (test_losses[chosen] - test_fixed[chosen]) / n_cal,
                                        len(keys)))
        if progress:
            progress(done + 1, len(subsets))
    return results


TEMPORAL_PATIENCE = (1, 2, 3, 4, 6, 8)
DIFFERENCE_STEPS = (2, 3, 4, 6, 8, 12, 16, 24, 32, 64)  # distances in units of the exit's logit scale (ratio <= 1.5 to 32)


def temporal_policies(exit_: ExitLogits) -> list[str]:
    """The temporal candidates for one early exit (a fixed grid: its scale only)."""
    out = [f"temporal-patience:{p}" for p in TEMPORAL_PATIENCE]
    out += [f"difference:{float(f'{exit_.scale * k:.4g}'):g}" for k in DIFFERENCE_STEPS]
    return out


def evaluate_temporal(
    logits: list[np.ndarray],
    exits: list[ExitLogits],
    labels: np.ndarray,
    reference: np.ndarray,
    cal: np.ndarray,
    val: np.ndarray,
    costs: Costs,
    max_drop: float,
    method: str,
    level: float,
    risk: str = "disagreement",
) -> list[SubsetResult]:
    """Streams: every temporal policy on every single early exit, each tested at `level` on `risk`.

    cal and val are contiguous runs of the stream (the policies keep state from
    sample to sample). The samples of a stream are correlated, so the
    calibration bound is indicative there, not a guarantee.
    """
    count = len(logits) - 1
    results = []
    for c in range(count):
        chain = [c, count]
        sub_exits = [exits[i] for i in chain]
        names = [e.name for e in sub_exits]
        cum = costs.exits((c,))
        for text in temporal_policies(exits[c]):
            lowered = lower_policy(parse_policy(text, names), sub_exits)
            runs = {part: run_integer(lowered, [logits[i][rows] for i in chain]) for part, rows in
                    (("cal", cal), ("val", val))}
            lost = int(np.sum((runs["cal"].labels != labels[cal]) & (reference[cal] == labels[cal])))
            fixed = (int(np.sum((runs["cal"].labels == labels[cal]) & (reference[cal] != labels[cal])))
                     if risk != "disagreement" else 0)
            ok = bool(risk_passes([lost], [fixed], len(cal), max_drop, method, level, risk)[0])
            results.append(SubsetResult((c,), text, ok, float(cum[runs["val"].exit_taken].mean()),
                                        float(np.mean(runs["val"].labels == labels[val])), (lost - fixed) / len(cal),
                                        1))
    return results


def check_budget(n_cal: int, max_drop: float, method: str, level: float, source: str,
                 risk: str = "disagreement") -> None:
    """Fail before training when n_cal calibration samples cannot certify any early exit within max_drop.

    ltt: even a configuration with no loss on n samples has p-value (1 - eps)^n,
    which must reach the per-subset level (accuracy risk: (1 - eps)^n must reach
    the discordance bound's beta, a share of the level); crc: ((n + 1) eps - 1) / n must be >= 0.
    """
    if risk == "accuracy":
        level *= ACCURACY_BETA_SHARE
    elif risk == "either":  # its disagreement half: HB at half the level
        level *= EITHER_SHARE
    if method == "ltt" and n_cal * math.log1p(-max_drop) > math.log(level):
        need = math.ceil(math.log(level) / math.log1p(-max_drop))
        raise TinyexitError(
            f"search: no subset can meet --max-drop {max_drop:g} with Learn-then-Test: {n_cal} calibration samples "
            f"from {source} cannot certify it (at least {need} are needed at this --delta and --max-exits); "
            "give more data, or allow a larger --max-drop or --delta"
        )
    if method == "crc" and (n_cal + 1) * max_drop < 1.0:
        raise TinyexitError(
            f"search: no subset can meet --max-drop {max_drop:g} with conformal risk control on {n_cal} calibration "
            f"samples from {source} (at least {math.ceil(1 / max_drop) - 1} are needed); give more data"
        )


def default_risk(stream: bool) -> str:
    """either for streams: the accuracy loss (a temporal policy's reused decision fixes backbone flickers as
    often as it loses windows, and the budget is the accuracy loss), with the dual test, which also admits
    what the disagreement test alone certifies; disagreement for i.i.d. samples (stricter)."""
    return "either" if stream else "disagreement"


def best(results: list[SubsetResult], backbone: float = math.inf) -> SubsetResult | None:
    """The admissible subset with the fewest expected instructions, if it costs less than the backbone alone."""
    ok = [r for r in results if r.admissible and r.expected_instructions < backbone]
    return min(ok, key=lambda r: (r.expected_instructions, len(r.subset))) if ok else None


# ---------------------------------------------------------------------------
# helpers: int8 logits on the host build, splits


def host_logits(tflite_path: Path, x: np.ndarray, order: list[str] | None = None):
    """Every exit's int8 logits (the decisions' input) on the host build, and the exits read, in stage order."""
    with tempfile.TemporaryDirectory(prefix="tinyexit-search-") as tmp:
        options = Options(policy="none", exit_order=tuple(order) if order else None)
        lib = generate(tflite_path, Path(tmp) / "lib", options=options)
        result = run_host(lib.out_dir, x)
    exits = exit_logits_of(lib.graph)
    return [result.logits[e.name] for e in exits], exits


@dataclass
class Splits:
    train: np.ndarray
    cal: np.ndarray
    val: np.ndarray
    test: np.ndarray  # indices into the concatenation of x and x_test


def make_splits(n: int, n_test: int, seed: int, stream: bool = False, records: np.ndarray | None = None) -> Splits:
    """With a test set: x -> train 50%, calibration 30%, validation 20%. Without: 40/25/15/20.

    stream: contiguous runs in sample order (train first, test last), for
    temporal policies; otherwise a random permutation (seed). records: a
    record (patient) id per sample of x; whole records then go to one part
    (record_parts), so no part sees a patient another part saw.
    """
    shares = (0.5, 0.3, 0.2) if n_test else (0.4, 0.25, 0.15, 0.2)
    if records is not None:
        parts = record_parts(np.asarray(records)[:n], shares, seed, stream)
        test = np.arange(n, n + n_test) if n_test else parts[3]
        return Splits(parts[0], parts[1], parts[2], test)
    order = np.arange(n) if stream else np.random.default_rng(seed).permutation(n)
    a = int(round(n * shares[0]))
    b = a + int(round(n * shares[1]))
    c = b + int(round(n * shares[2])) if not n_test else n
    test = np.arange(n, n + n_test) if n_test else np.sort(order[c:])
    return Splits(np.sort(order[:a]), np.sort(order[a:b]), np.sort(order[b:c]), test)


def record_parts(records: np.ndarray, shares: tuple[float, ...], seed: int, stream: bool) -> list[np.ndarray]:
    """Sample indices per part, whole records each: a record goes to the part its middle sample falls in.

    Records are taken in stream order (stream) or shuffled (seed); parts
    follow `shares` of the samples as closely as whole records allow.
    """
    ids, first, counts = np.unique(records, return_index=True, return_counts=True)
    if len(ids) < len(shares):
        raise TinyexitError(f"the data has {len(ids)} record(s); splitting by record needs at least {len(shares)} "
                            "(one per part): give more records or drop the 'record' array")
    order = np.argsort(first) if stream else np.random.default_rng(seed).permutation(len(ids))
    middle = np.cumsum(counts[order]) - counts[order] / 2.0
    bounds = np.cumsum(shares)[:-1] / np.sum(shares) * len(records)
    part_of = dict(zip(ids[order].tolist(), np.searchsorted(bounds, middle).tolist()))
    which = np.array([part_of[r] for r in records.tolist()])
    return [np.flatnonzero(which == k) for k in range(len(shares))]


# ---------------------------------------------------------------------------
# 5. the whole search


@dataclass
class SearchReport:
    out: Path
    candidates: list[dict]
    chosen: dict
    expected_saving: float
    test_accuracy: float
    test_accuracy_backbone: float
    subsets: list[dict] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    internals: dict = field(default_factory=dict, repr=False)  # logits, splits, costs: for tests and notebooks

    def to_dict(self) -> dict:
        return {"meta": self.meta, "candidates": self.candidates, "chosen": self.chosen,
                "expected_saving": self.expected_saving, "test_accuracy": self.test_accuracy,
                "test_accuracy_backbone": self.test_accuracy_backbone, "subsets": self.subsets}

    def markdown(self) -> str:
        m = self.meta
        lines = [f"# tinyexit search: {m['backbone']} on {m['board']}", "",
                 f"Budget: accuracy loss against the backbone <= {m['max_drop']:g} ({m['method']}, "
                 f"{m.get('risk', 'disagreement')} risk"
                 + (f", delta {m['delta']:g}" if m["method"] == "ltt" else "") + f"); {m['train']} training, "
                 f"{m['epochs']} epoch(s); samples: train {m['samples']['train']}, calibration "
                 f"{m['samples']['calibration']}, validation {m['samples']['validation']}, test {m['samples']['test']}.",
                 "", "## Candidates", "",
                 "| candidate | head | MACs share | instructions share | head instructions | exit int8 acc (test) |",
                 "|---|---|---|---|---|---|"]
        for c in self.candidates:
            lines.append(f"| {c['layer']} | {c['head']} | {100 * c['macs_share']:.1f}% | "
                         f"{100 * c['instructions_share']:.1f}% | {c['head_instructions']:.0f} | "
                         f"{100 * c['accuracy']:.2f}% |")
        ch = self.chosen
        lines += ["", "## Chosen", "",
                  f"- exits after: {', '.join(ch['exits']) or '(none)'}",
                  f"- policy: `{ch['policy']}`",
                  f"- expected mean instructions (validation): {ch['expected_instructions']:.0f} of "
                  f"{m['backbone_instructions']:.0f} for the backbone: saving {100 * self.expected_saving:.1f}%",
                  f"- test accuracy {100 * self.test_accuracy:.2f}% vs backbone {100 * self.test_accuracy_backbone:.2f}%"
                  f" (loss {100 * (self.test_accuracy_backbone - self.test_accuracy):.2f} points); "
                  f"test exit shares: {ch.get('test_exit_rates', {})}",
                  "", "Instructions come from QEMU (exact guest instruction counts per stage, summed per "
                  "subset); measure the written model with `tinyexit compare` for the real figure.",
                  "", "## Every subset", "",
                  "| exits | policy | admissible | expected instructions | validation acc |", "|---|---|---|---|---|"]
        for s in sorted(self.subsets, key=lambda s: s["expected_instructions"]):
            lines.append(f"| {', '.join(s['exits'])} | `{s['policy']}` | {'yes' if s['admissible'] else 'no'} | "
                         f"{s['expected_instructions']:.0f} | {100 * s['validation_accuracy']:.2f}% |")
        return "\n".join(lines) + "\n"


def pareto_png(subsets: list[dict], chosen: dict, backbone_instructions: float, title: str) -> bytes:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=110)
    for ok, colour, label in ((True, "tab:blue", "admissible"), (False, "tab:gray", "not admissible")):
        pts = [s for s in subsets if s["admissible"] == ok]
        if pts:
            ax.scatter([s["expected_instructions"] for s in pts], [100 * s["validation_accuracy"] for s in pts],
                       c=colour, s=18, label=label)
    if chosen.get("exits"):
        ax.scatter([chosen["expected_instructions"]], [100 * chosen["validation_accuracy"]], marker="*", s=220,
                   c="tab:red", label="chosen", zorder=3)
    ax.axvline(backbone_instructions, color="k", lw=0.8, ls="--", label="backbone")
    ax.set_xlabel("expected mean instructions (validation)")
    ax.set_ylabel("accuracy % (validation)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def search(
    backbone: str | Path,
    data: str | Path,
    board: str,
    max_drop: float,
    out: str | Path,
    *,
    max_exits: int = 3,
    candidates: str | None = "auto",
    method: str = "ltt",
    delta: float = 0.1,
    epochs: int = 10,
    train: str = "heads",
    policy_kind: str = "confidence",
    correction: str = "fixed-sequence",
    qemu_samples: int = 8,
    batch_size: int = 64,
    seed: int = 0,
    stream: bool = False,
    risk: str | None = None,
    log: Log | None = augment._stderr,
) -> SearchReport:
    """Find the cheapest admissible set of exits and thresholds; write OUT/ (see the module docstring)."""
    say = log or (lambda _line: None)
    started = time.monotonic()
    if not 0.0 < max_drop < 1.0:
        raise TinyexitError(f"search: --max-drop {max_drop:g} must be in (0, 1), e.g. 0.01 for one point")
    if method not in METHODS:
        raise TinyexitError(f"search: --method '{method}' is unknown; use one of {', '.join(METHODS)}")
    if not 0.0 < delta < 1.0:
        raise TinyexitError(f"search: --delta {delta:g} must be in (0, 1), e.g. 0.1")
    if train not in TRAIN_MODES:
        raise TinyexitError(f"search: --train '{train}' is unknown; use heads or joint")
    if max_exits < 1:
        raise TinyexitError(f"search: --max-exits {max_exits} must be 1 or more")
    if epochs < 1:
        raise TinyexitError(f"search: --epochs {epochs} must be 1 or more")
    if correction not in CORRECTIONS:
        raise TinyexitError(f"search: --correction '{correction}' is unknown; use one of {', '.join(CORRECTIONS)}")
    risk = default_risk(stream) if risk is None else risk
    if risk not in RISKS:
        raise TinyexitError(f"search: --risk '{risk}' is unknown; use one of {', '.join(RISKS)}")
    out = Path(out)
    check_output_folder(out.absolute())  # before minutes of work, not after
    load_board(board)
    qemu_binary()
    arrays = load_labelled(data)
    model_b = augment.load_backbone(backbone)
    names = pick_candidates(model_b, candidates)
    classes = int(model_b.outputs[0].shape[-1])
    shape = model_b.inputs[0].shape[1:]
    xs, ys = _checked(arrays["x"], arrays["y"], shape, classes, str(data))
    n_test = 0
    if "x_test" in arrays and "y_test" in arrays:
        xt, yt = _checked(arrays["x_test"], arrays["y_test"], shape, classes, str(data))
        n_test = len(xt)
        xs, ys = np.concatenate([xs, xt]), np.concatenate([ys, yt])
    records = _records(arrays, len(arrays["x"]), str(data))
    splits = make_splits(len(xs) - n_test, n_test, seed, stream, records)
    if min(len(splits.cal), len(splits.val), len(splits.test), len(splits.train)) < 10:
        raise TinyexitError(f"{data}: {len(xs)} samples are too few to split into train, calibration, validation "
                            "and test parts; give at least a few hundred")
    families = len(subsets_of(len(names), max_exits))
    if stream:
        families += sum(len(TEMPORAL_PATIENCE) + len(DIFFERENCE_STEPS) for _ in names)
    check_budget(len(splits.cal), max_drop, method, delta / families, str(data), risk)
    say(f"search: {len(names)} candidate(s) after {', '.join(names)}; samples: train {len(splits.train)}, "
        f"calibration {len(splits.cal)}, validation {len(splits.val)}, test {len(splits.test)}"
        + (f" (split by record: {len(np.unique(records))} records)" if records is not None else ""))

    say("search: caching backbone features at every candidate")
    feats = features(model_b, names, xs[splits.train])
    heads, kinds = build_heads(model_b, names, classes, seed)
    say(f"search: training {len(heads)} head(s) at once on cached features ({', '.join(kinds)}), {epochs} epoch(s)")
    train_heads(heads, feats, ys[splits.train], epochs=epochs, batch_size=batch_size, seed=seed, log=log)
    del feats
    full = assemble(model_b, names, heads, list(range(len(names))))
    with tempfile.TemporaryDirectory(prefix="tinyexit-search-") as tmp:
        tmp = Path(tmp)
        say("search: converting the backbone alone to int8 (backbone.tflite, the baseline to compare against)")
        backbone_bytes = augment.convert_int8(model_b, xs[splits.train], seed=seed)
        backbone_tflite = None
        if train == "joint":
            backbone_tflite = tmp / "backbone.tflite"
            backbone_tflite.write_bytes(backbone_bytes)
            say(f"search: joint fine-tuning, {epochs} epoch(s), exit loss weight {JOINT_EXIT_WEIGHT}")
            augment.train_model(full, xs[splits.train], ys[splits.train], mode="joint", epochs=epochs,
                                batch_size=batch_size, exit_weight=JOINT_EXIT_WEIGHT, learning_rate=5e-4,
                                seed=seed, log=log)
        say("search: converting the model with every candidate head to int8")
        all_path = tmp / "all.tflite"
        all_path.write_bytes(augment.convert_int8(full, xs[splits.train], seed=seed))
        order = [f"exit{i}" for i in range(len(names))] + ["final"]
        say("search: int8 logits of every exit on the host build")
        logits, exits = host_logits(all_path, xs, order)
        if backbone_tflite is not None:
            ref_logits, _ = host_logits(backbone_tflite, xs)
            reference = np.argmax(ref_logits[-1], axis=1)
        else:
            reference = np.argmax(logits[-1], axis=1)
        costs = profile(all_path, len(names), board, xs[splits.test[:qemu_samples]], say)

        say(f"search: calibrating {len(subsets_of(len(names), max_exits))} subset(s) of at most {max_exits} exit(s)")
        results = evaluate_subsets(logits, exits, ys, reference, splits.cal, splits.val, costs, max_exits,
                                   policy_kind, max_drop, method, delta, correction,
                                   progress=lambda d, t: say(f"search: subset {d}/{t}") if d == t or d % 10 == 0 else None,
                                   families=families, risk=risk)
        if stream:
            say(f"search: temporal policies on each of the {len(names)} single exits (stream order)")
            results += evaluate_temporal(logits, exits, ys, reference, splits.cal, splits.val, costs, max_drop,
                                         method, delta / families, risk)
        winner = best(results, costs.backbone)
        if winner is None:
            raise TinyexitError(
                f"search: no subset of exits saves instructions while keeping the accuracy loss within --max-drop "
                f"{max_drop:g} ({method}, {len(splits.cal)} calibration samples); the backbone alone is cheapest: "
                "allow a larger --max-drop, give more data, or train the heads longer (--epochs)"
            )
        say(f"search: chosen exits after {', '.join(names[i] for i in winner.subset)}, policy {winner.policy}; "
            "writing the model")
        chosen_model = assemble(model_b, names, heads, list(winner.subset))
        tflite_bytes = augment.convert_int8(chosen_model, xs[splits.train], seed=seed)
        chosen_path = tmp / "model.tflite"
        chosen_path.write_bytes(tflite_bytes)
        test_logits, test_exits = host_logits(chosen_path, xs[splits.test])

    # test split, on the written model
    chosen_names = [e.name for e in test_exits]
    run = run_integer(lower_policy(parse_policy(winner.policy, chosen_names), test_exits), test_logits)
    y_test = ys[splits.test]
    test_accuracy = float(np.mean(run.labels == y_test))
    test_backbone = float(np.mean(reference[splits.test] == y_test))
    rates = np.bincount(run.exit_taken, minlength=len(chosen_names)) / len(y_test)
    backbone_macs = float(costs.segment_macs.sum())
    cands = []
    for j, name in enumerate(names):
        cands.append({
            "layer": name, "head": kinds[j],
            "macs_share": float(costs.segment_macs[: j + 1].sum() / backbone_macs) if backbone_macs else 0.0,
            "head_macs_share": float(costs.head_macs[j] / backbone_macs) if backbone_macs else 0.0,
            "instructions_share": costs.prefix(j) / costs.backbone,
            "head_instructions": float(costs.head[j]),
            "accuracy": float(np.mean(np.argmax(logits[j][splits.test], axis=1) == y_test)),
        })
    chosen = {"exits": [names[i] for i in winner.subset], "policy": winner.policy,
              "expected_instructions": winner.expected_instructions,
              "validation_accuracy": winner.validation_accuracy,
              "test_exit_rates": {n: round(float(r), 4) for n, r in zip(chosen_names, rates)}}
    subsets = [r.to_dict(names) for r in results]
    meta = {"backbone": Path(backbone).name, "data": Path(data).name, "board": board, "max_drop": max_drop,
            "method": method, "risk": risk, "delta": delta, "correction": correction if method == "ltt" else None,
            "policy_kind": policy_kind, "max_exits": max_exits, "train": train, "epochs": epochs, "stream": stream,
            "samples": {"train": len(splits.train), "calibration": len(splits.cal),
                        "validation": len(splits.val), "test": len(splits.test)},
            "split_by": "record" if records is not None else ("stream order" if stream else "sample"),
            "records": ({part: int(len(np.unique(records[idx[idx < len(records)]])))
                         for part, idx in (("train", splits.train), ("calibration", splits.cal),
                                           ("validation", splits.val), ("test", splits.test))}
                        if records is not None else None),
            "qemu_samples": int(min(qemu_samples, len(splits.test))),
            "backbone_instructions": costs.backbone, "backbone_instructions_one_stage": costs.backbone_check,
            "final_accuracy_test": float(np.mean(np.argmax(logits[-1][splits.test], axis=1) == y_test)),
            "seconds": round(time.monotonic() - started, 1)}
    report = SearchReport(out, cands, chosen, 1.0 - winner.expected_instructions / costs.backbone, test_accuracy,
                          test_backbone, subsets, meta,
                          {"logits": logits, "exits": exits, "labels": ys, "reference": reference, "splits": splits,
                           "costs": costs, "results": results, "names": names})
    write_folder(out, {
        "model.tflite": tflite_bytes,
        "backbone.tflite": backbone_bytes,
        "policy.txt": winner.policy + "\n",
        "report.md": report.markdown(),
        "report.json": json.dumps(report.to_dict(), indent=2) + "\n",
        "pareto.png": pareto_png(subsets, chosen, costs.backbone, f"{meta['backbone']} on {board}"),
    })  # fmt: skip
    say(f"search: wrote {out}/model.tflite, backbone.tflite, policy.txt, report.md, report.json, pareto.png "
        f"({meta['seconds']:.0f} s)")
    return report


def _checked(x, y, shape, classes: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """x as float32 of the model's input shape, y as class indices (augment.split_data's checks)."""
    part = augment.split_data({"x": x, "y": y, "x_test": x[:0], "y_test": y[:0]}, shape, classes, source=source)
    return part.x_train, part.y_train


def _records(arrays: dict[str, np.ndarray], n: int, source: str) -> np.ndarray | None:
    """The data's per-sample record (patient) ids, if it has them, checked."""
    if "record" not in arrays:
        return None
    records = np.asarray(arrays["record"])
    if records.shape != (n,) or not np.issubdtype(records.dtype, np.integer):
        raise TinyexitError(f"{source}: 'record' must hold one integer record id per row of x ({n}), "
                            f"got {records.dtype}{list(records.shape)}; fix it or drop it")
    return records


def load_labelled(data: str | Path) -> dict[str, np.ndarray]:
    """The data set, which must hold labels (y) for the accuracy budget."""
    path = Path(data)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = set(z.files)
    except FileNotFoundError:
        raise TinyexitError(f"{path}: no such data file; make one with `tinyexit data NAME -o {path}`") from None
    except Exception as exc:
        raise TinyexitError(f"{path}: cannot read it as .npz ({type(exc).__name__}); pass an .npz with x and y") from None
    if "x" in keys and "y" not in keys:
        raise TinyexitError(f"{path}: has no 'y' labels; search needs class labels to hold the accuracy budget")
    return datasets.load_npz(path)
