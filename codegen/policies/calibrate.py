"""Calibrating an exit threshold so that accuracy loss stays within a budget.

One threshold lambda is shared by every non-final exit (as in Jazbec et al.,
reference/early-exit.md): a sample stops at the first exit whose rule holds.
Candidates come from a fixed grid that depends only on the exits' scales and
class counts, ordered from the strictest (almost never stops early) to the
loosest. Each candidate is judged by the decisions the device will make: it is
lowered to the same integer constants as `tinyexit generate` would emit and
run through the integer model of the C (policies/reference.py).

Per-sample loss (bounded by B = 1):
  with labels, the performance gap 1[label at the exit taken is wrong and the
  final exit is right] -- its mean bounds the accuracy drop against the final
  exit; without labels, 1[label at the exit taken != the final exit's label].

The data is split at random (seed) into a calibration half and a held-out
half. On the calibration half, with R(lambda) the mean loss over n samples,
the scan from strict to loose keeps a candidate while it and every stricter
one are admissible:
  empirical: R(lambda) <= eps;
  crc (conformal risk control, expected risk <= eps):
      R(lambda) <= ((n + 1) eps - B) / n;
  ltt (Learn-then-Test, risk <= eps with probability >= 1 - delta): the
      Hoeffding-Bentkus p-value
      min(e * BinomCDF(n R; n, eps), exp(-n h(min(R, eps), eps))),
      h(a, b) = a ln(a/b) + (1-a) ln((1-a)/(1-b)), is <= delta (fixed-sequence
      testing: the first candidate that fails ends the scan).
The loosest kept candidate is the answer; when none is kept the answer is
`none` (every sample runs to the final exit). The held-out half reports the
accuracy, the accuracy loss and the share of samples at each exit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import TinyexitError
from .lowering import lower_exit, lower_policy
from .reference import integer_stats, integer_stops, run_integer
from .spec import ExitLogits, as_int8_batch, format_threshold, parse_policy

KINDS = ("confidence", "margin", "entropy")
METHODS = ("empirical", "crc", "ltt")


@dataclass
class CalibrationResult:
    policy: str  # the policy string to pass to --policy
    threshold: float | None  # None when no threshold met the target (policy "none")
    kind: str
    method: str
    max_drop: float
    delta: float
    loss: str  # "performance gap" (labels) or "disagreement with the final exit" (no labels)
    n_calibration: int
    n_heldout: int
    calibration_risk: float  # mean loss on the calibration split at the chosen threshold
    heldout_risk: float  # the same loss on the held-out split
    exit_names: list[str]
    exit_rates: list[float]  # held-out share of samples stopping at each exit
    calibration_exit_rates: list[float]
    accuracy: float | None  # held-out accuracy of the policy (None without labels)
    final_accuracy: float | None  # held-out accuracy of the final exit
    accuracy_loss: float  # held-out: final accuracy minus policy accuracy (or disagreement rate)
    candidates_tested: int
    heldout: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))

    def to_dict(self) -> dict:
        return {
            "policy": self.policy,
            "threshold": self.threshold,
            "kind": self.kind,
            "method": self.method,
            "max_drop": self.max_drop,
            "delta": self.delta,
            "loss": self.loss,
            "n_calibration": self.n_calibration,
            "n_heldout": self.n_heldout,
            "calibration_risk": self.calibration_risk,
            "heldout_risk": self.heldout_risk,
            "exit_rates": dict(zip(self.exit_names, self.exit_rates)),
            "calibration_exit_rates": dict(zip(self.exit_names, self.calibration_exit_rates)),
            "accuracy": self.accuracy,
            "final_accuracy": self.final_accuracy,
            "accuracy_loss": self.accuracy_loss,
            "candidates_tested": self.candidates_tested,
        }

    def lines(self) -> list[str]:
        guarantee = {
            "empirical": f"loss <= {self.max_drop:g} on the calibration split",
            "crc": f"expected loss <= {self.max_drop:g} (conformal risk control)",
            "ltt": f"loss <= {self.max_drop:g} with probability >= {1 - self.delta:g} (Learn-then-Test)",
        }[self.method]
        out = [f"policy: {self.policy}"]
        if self.threshold is None:
            out.append(f"no {self.kind} threshold met the target ({guarantee}) on {self.n_calibration} "
                       "calibration samples: every sample runs to the final exit")
        else:
            out.append(f"target: {guarantee}; {self.loss} on {self.n_calibration} calibration samples "
                       f"{self.calibration_risk:.4f}")
        rates = ", ".join(f"{n} {100 * r:.1f}%" for n, r in zip(self.exit_names, self.exit_rates))
        out.append(f"held-out ({self.n_heldout} samples): exits {rates}; {self.loss} {self.heldout_risk:.4f}")
        if self.accuracy is not None:
            out.append(f"held-out accuracy {100 * self.accuracy:.2f}% vs final exit {100 * self.final_accuracy:.2f}%"
                       f" (loss {100 * self.accuracy_loss:.2f} points)")
        else:
            out.append(f"held-out disagreement with the final exit {100 * self.accuracy_loss:.2f}%")
        return out


# ---------------------------------------------------------------------------
# statistics


def binomial_cdf(n: int, p: float) -> np.ndarray:
    """P(Binom(n, p) <= k) for k = 0..n, computed in log space."""
    k = np.arange(n + 1, dtype=np.float64)
    i = np.arange(1, n + 1, dtype=np.float64)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - i + 1) - np.log(i))])
    log_pmf = log_choose + k * math.log(p) + (n - k) * math.log1p(-p)
    return np.minimum(np.exp(np.logaddexp.accumulate(log_pmf)), 1.0)


def _kl_bernoulli(a: float, b: float) -> float:
    """h(a, b) = a ln(a/b) + (1-a) ln((1-a)/(1-b)), with 0 ln 0 = 0."""
    out = 0.0
    if a > 0:
        out += a * math.log(a / b)
    if a < 1:
        out += (1 - a) * math.log((1 - a) / (1 - b))
    return out


def hb_p_value(losses: int, n: int, eps: float, cdf: np.ndarray | None = None) -> float:
    """Hoeffding-Bentkus p-value for H0: risk > eps, from `losses` out of n (loss in {0, 1})."""
    risk = losses / n
    cdf = binomial_cdf(n, eps) if cdf is None else cdf
    bentkus = math.e * float(cdf[losses])
    hoeffding = math.exp(-n * _kl_bernoulli(min(risk, eps), eps))
    return min(bentkus, hoeffding, 1.0)


def admissible_prefix(losses: np.ndarray, n: int, eps: float, method: str, delta: float) -> int:
    """How many candidates, from the strictest, the method keeps (fixed-sequence)."""
    risk = losses / n
    if method == "empirical":
        ok = risk <= eps
    elif method == "crc":
        ok = risk <= ((n + 1) * eps - 1.0) / n
    else:
        cdf = binomial_cdf(n, eps)
        ok = np.array([hb_p_value(int(l), n, eps, cdf) <= delta for l in losses])
    failed = np.nonzero(~ok)[0]
    return int(failed[0]) if len(failed) else len(losses)


# ---------------------------------------------------------------------------
# candidates and device decisions


def _steps(top: float, most: int = 1024) -> float:
    """The smallest round step (1, 2 or 5 times a power of ten) giving at most `most` points up to `top`."""
    for exponent in range(-4, 6):
        for m in (1, 2, 5):
            step = m * 10.0**exponent
            if top / step <= most:
                return step
    return top / most


def candidate_thresholds(kind: str, exits: list[ExitLogits]) -> list[float]:
    """A fixed grid of round thresholds from strictest to loosest.

    It depends only on the exits' scales and class counts, never on the data,
    as fixed-sequence testing requires.
    """
    if kind == "confidence":
        grid = [1.0] + [1 - 10.0 ** (-j / 4) for j in range(24, 8, -1)] + [k / 1000 for k in range(995, 0, -5)]
    else:
        if kind == "margin":
            top = max(e.scale for e in exits) * 256  # beyond every possible int8 gap
        else:
            top = math.log(max(e.num_classes for e in exits))  # the largest possible entropy
        step = _steps(top)
        grid = [i * step for i in range(int(math.ceil(top / step)) + 1)]
        if kind == "margin":
            grid.reverse()
    values, seen = [], set()
    for x in grid:
        v = float(f"{x:.6g}")
        if v not in seen:
            seen.add(v)
            values.append(v)
    return values


def device_exits(kind: str, exits: list[ExitLogits], batches: list[np.ndarray], thresholds: list[float]):
    """Yield, for each threshold in order, the exit every sample takes as the C decides."""
    last = len(exits) - 1
    n = len(batches[0])
    stats = {k: integer_stats(lower_exit(k, exits[k], kind, thresholds[0]), batches[k]) for k in range(last)}
    for t in thresholds:
        taken = np.full(n, last, dtype=np.int64)
        undecided = np.ones(n, dtype=bool)
        for k in range(last):
            stop = integer_stops(lower_exit(k, exits[k], kind, t), stats[k]) & undecided
            taken[stop] = k
            undecided &= ~stop
        yield taken


def _check_inputs(exit_logits, scales, zero_points, labels, kind, max_drop, method, delta, exit_names):
    if kind not in KINDS:
        raise TinyexitError(f"calibrate: --policy '{kind}' cannot be calibrated; use one of {', '.join(KINDS)}")
    if method not in METHODS:
        raise TinyexitError(f"calibrate: --method '{method}' is unknown; use one of {', '.join(METHODS)}")
    if not 0.0 < max_drop < 1.0:
        raise TinyexitError(f"calibrate: --max-drop {max_drop:g} must be in (0, 1), e.g. 0.01 for one point")
    if not 0.0 < delta < 1.0:
        raise TinyexitError(f"calibrate: --delta {delta:g} must be in (0, 1), e.g. 0.1")
    count = len(exit_logits)
    if count < 2:
        raise TinyexitError("calibrate: the model has one exit; there is no early exit to calibrate")
    if len(scales) != count or len(zero_points) != count:
        raise ValueError("exit_logits, scales and zero_points need one entry per exit")
    names = list(exit_names) if exit_names else [f"exit{k}" for k in range(count - 1)] + ["final"]
    exits, batches = [], []
    for k, q in enumerate(exit_logits):
        arr = np.asarray(q)
        classes = int(np.prod(arr.shape[1:])) if arr.ndim > 1 else 1
        e = ExitLogits(names[k], classes, float(scales[k]), int(zero_points[k]))
        exits.append(e)
        batches.append(as_int8_batch(arr, classes, f"calibrate: exit '{names[k]}'"))
    n = len(batches[0])
    if any(len(b) != n for b in batches):
        raise TinyexitError("calibrate: every exit needs logits for the same samples")
    if n < 4:
        raise TinyexitError(f"calibrate: {n} samples are too few to split into calibration and held-out halves")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != n:
            raise TinyexitError(f"calibrate: {len(labels)} labels for {n} samples; give one label per sample")
        if labels.dtype.kind not in "iu":
            raise TinyexitError(f"calibrate: labels must be integers (class indices), got {labels.dtype}")
    return exits, batches, labels


def calibrate(
    exit_logits: list[np.ndarray],
    scales: list[float],
    zero_points: list[int],
    labels: np.ndarray | None,
    policy_kind: str,
    max_drop: float,
    method: str = "ltt",
    delta: float = 0.1,
    seed: int = 0,
    exit_names: list[str] | None = None,
) -> CalibrationResult:
    """Pick the loosest shared threshold whose accuracy loss stays within max_drop.

    exit_logits: per exit in stage order, int8 (samples, classes) logits (what
    the decisions read); scales/zero_points: their quantization. labels: class
    index per sample, or None to bound disagreement with the final exit instead.
    """
    exits, batches, labels = _check_inputs(exit_logits, scales, zero_points, labels, policy_kind, max_drop,
                                           method, delta, exit_names)
    names = [e.name for e in exits]
    n = len(batches[0])
    order = np.random.default_rng(seed).permutation(n)
    n_cal = (n + 1) // 2
    cal, held = np.sort(order[:n_cal]), np.sort(order[n_cal:])

    thresholds = candidate_thresholds(policy_kind, exits)
    predictions = np.stack([np.argmax(b[cal], axis=1) for b in batches])  # (exits, calibration samples)
    final = predictions[-1]
    columns = np.arange(n_cal)
    losses = np.empty(len(thresholds), dtype=np.int64)
    taken_by = []
    for j, taken in enumerate(device_exits(policy_kind, exits, [b[cal] for b in batches], thresholds)):
        chosen = predictions[taken, columns]  # label at the exit taken
        if labels is not None:
            losses[j] = int(((chosen != labels[cal]) & (final == labels[cal])).sum())
        else:
            losses[j] = int((chosen != final).sum())
        taken_by.append(np.bincount(taken, minlength=len(exits)))
    loss_name = "performance gap" if labels is not None else "disagreement with the final exit"

    kept = admissible_prefix(losses, n_cal, max_drop, method, delta)
    if kept == 0:
        threshold, text, risk = None, "none", 0.0
        cal_counts = np.bincount([len(exits) - 1], minlength=len(exits)) * n_cal
    else:
        threshold = thresholds[kept - 1]
        text = f"{policy_kind}:{format_threshold(threshold)}"
        risk = float(losses[kept - 1]) / n_cal
        cal_counts = taken_by[kept - 1]

    # the held-out split, through the same lowering `tinyexit generate` runs
    policy = lower_policy(parse_policy(text, names), exits)
    run = run_integer(policy, [b[held] for b in batches])
    final_held = np.argmax(batches[-1][held], axis=1)
    if labels is not None:
        accuracy = float(np.mean(run.labels == labels[held]))
        final_accuracy = float(np.mean(final_held == labels[held]))
        loss = final_accuracy - accuracy
        heldout_risk = float(np.mean((run.labels != labels[held]) & (final_held == labels[held])))
    else:
        accuracy = final_accuracy = None
        loss = heldout_risk = float(np.mean(run.labels != final_held))
    count = len(exits)
    return CalibrationResult(
        policy=text,
        threshold=threshold,
        kind=policy_kind,
        method=method,
        max_drop=max_drop,
        delta=delta,
        loss=loss_name,
        n_calibration=n_cal,
        n_heldout=len(held),
        calibration_risk=risk,
        heldout_risk=heldout_risk,
        exit_names=names,
        exit_rates=(np.bincount(run.exit_taken, minlength=count) / max(1, len(held))).tolist(),
        calibration_exit_rates=(cal_counts / n_cal).tolist(),
        accuracy=accuracy,
        final_accuracy=final_accuracy,
        accuracy_loss=loss,
        candidates_tested=min(len(thresholds), kept + 1),
        heldout=held,
    )
