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
  calibrate_per_exit(risk="accuracy") bounds the accuracy loss itself,
  1[wrong at the exit taken] - 1[final exit wrong] in {-1, 0, 1}, with the
  test on the discordant samples described above `accuracy_test`; risk="either"
  bounds the same accuracy loss with the dual test described above `risk_passes`.

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

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import TinyexitError
from .data import ExitLogits, as_int8_batch, format_threshold
from .lowering import lower_exit, lower_policy
from .reference import integer_stats, integer_stops, run_integer
from .registry import threshold_kinds, threshold_rule
from .spec import parse_policy

KINDS = threshold_kinds()  # the kinds with a per-exit threshold
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
    thresholds: list[float] | None = None  # per-exit calibration: one per non-final exit (None: policy "none")
    correction: str | None = None  # per-exit ltt: "fixed-sequence" or "bonferroni"
    configurations: int = 0  # per-exit: how many threshold combinations were judged

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
            **({"thresholds": self.thresholds, "correction": self.correction,
                "configurations": self.configurations} if self.configurations else {}),
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


# The accuracy risk: per sample r = 1[exit wrong] - 1[backbone wrong], in {-1, 0, 1}; its mean is exactly the
# accuracy loss against the backbone (backbone accuracy minus early-exit accuracy). A sample counts as `lost`
# (r = +1: exit wrong, backbone right) or `fixed` (r = -1: exit right, backbone wrong); the rest are concordant.
#
# ltt needs, for each configuration, a valid level-alpha test of H0: E[r] = p+ - p- > eps. Hoeffding on [-1, 1]
# needs a margin of about sqrt(2 ln(1/alpha) / n) (5 points at n = 6000, alpha = 1e-3), far above eps = 1 point,
# because it ignores that few samples are discordant. `accuracy_passes` tests on the discordant samples instead
# (McNemar's idea, conditioned on their number m = lost + fixed, made valid for eps > 0 as Berger and Boos do
# for a nuisance parameter):
#   d = p+ + p- is the discordance rate; with beta = alpha / 4, d_hi(m) is the one-sided Clopper-Pearson upper
#   bound for d from m ~ Binom(n, d): P(d > d_hi(M)) <= beta.
#   Given M = m, the discordant samples are i.i.d. and each is `lost` with probability q = p+ / d, so
#   lost | m ~ Binom(m, q). Under H0, q = 1/2 + (p+ - p-) / (2 d) > 1/2 + eps / (2 d); where d <= d_hi(m)
#   this is >= q0(m) = 1/2 + eps / (2 d_hi(m)).
#   Reject H0 when BinomCDF(lost; m, q0(m)) <= alpha - beta (always when q0(m) >= 1: no distribution with at
#   most d_hi discordance can lose more than eps).
#   Validity: P(reject) <= P(d > d_hi(M)) + sum_m P(M = m) 1[d <= d_hi(m)] P(CDF(lost; m, q0(m)) <= alpha - beta
#   | m). In each term q >= q0(m) and the binomial CDF falls as q grows, so CDF(lost; m, q0) >= CDF(lost; m, q)
#   and the conditional probability is at most that of CDF(lost; m, q) <= alpha - beta, which is <= alpha - beta
#   (the CDF at the true q is a valid p-value). In all: <= beta + (alpha - beta) = alpha.
# Its margin is close to the normal test's z * sqrt(d / n) (about 1.2 points at d = 0.1, n = 6000), so a
# configuration whose exits fix about as many windows as they lose can pass at eps = 1 point.

# The risk "either" (the dual test): a configuration is admitted when the disagreement test or the accuracy
# test rejects, each at half the level (Bonferroni over the two tests of one configuration). It keeps the
# accuracy risk's guarantee, E[1[exit wrong] - 1[backbone wrong]] <= eps with probability >= 1 - delta:
#   per sample, r = lost - fixed <= lost (fixed >= 0), so E[r] <= E[lost]. Under H0: E[r] > eps, hence also
#   E[lost] > eps: both tests face a true null, and each rejects with probability at most level / 2; one of
#   them rejects with probability at most level / 2 + level / 2 = level. Each configuration's test is then a
#   valid level-`level` test of the accuracy null, as fixed-sequence testing and Bonferroni require.
# The disagreement test wins where the exits rarely disagree with a right backbone but fix little (Hoeffding-
# Bentkus on a {0, 1} loss); the accuracy test where they fix about as many samples as they lose.

RISKS = ("disagreement", "accuracy", "either")
ACCURACY_BETA_SHARE = 0.25  # beta = this share of the test's level, for the discordance bound
EITHER_SHARE = 0.5  # the dual test: each of its two tests runs at this share of the level


@functools.lru_cache(maxsize=65536)
def discordance_upper(m: int, n: int, beta: float) -> float:
    """One-sided Clopper-Pearson upper bound for d from m ~ Binom(n, d): the largest d with P(M <= m) >= beta."""
    if m >= n:
        return 1.0
    lo, hi = m / n, 1.0
    for _ in range(60):  # bisection; P(M <= m) falls as d grows
        mid = (lo + hi) / 2
        if _binomial_cdf_at(m, n, mid) >= beta:
            lo = mid
        else:
            hi = mid
    return hi  # rounding up keeps the bound conservative


def _binomial_cdf_at(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    return _binomial_cdf_head(k, n, p)


def _binomial_cdf_head(k: int, n: int, p: float) -> float:
    """P(Binom(n, p) <= k), 0 < p < 1, summing the k + 1 lowest terms in log space."""
    j = np.arange(k + 1, dtype=np.float64)
    i = np.arange(1, k + 1, dtype=np.float64)
    log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - i + 1) - np.log(i))])
    log_pmf = log_choose + j * math.log(p) + (n - j) * math.log1p(-p)
    return min(1.0, float(np.exp(np.logaddexp.reduce(log_pmf))))


@functools.lru_cache(maxsize=262144)
def accuracy_test(lost: int, fixed: int, n: int, eps: float, level: float) -> bool:
    """Level-`level` test rejecting H0: E[1[exit wrong] - 1[backbone wrong]] > eps (see the comment above)."""
    beta = ACCURACY_BETA_SHARE * level
    m = lost + fixed
    q0 = 0.5 + eps / (2.0 * discordance_upper(m, n, beta))
    if q0 >= 1.0:
        return True
    return _binomial_cdf_at(lost, m, q0) <= level - beta


def accuracy_passes(lost, fixed, n: int, eps: float, method: str, level: float) -> np.ndarray:
    """Which (lost, fixed) counts out of n pass the method's test of the accuracy risk (lost - fixed) / n <= eps."""
    lost, fixed = np.asarray(lost, np.int64), np.asarray(fixed, np.int64)
    risk = (lost - fixed) / n
    if method == "empirical":
        return risk <= eps
    if method == "crc":  # loss bounded above by B = 1, as for the disagreement risk
        return risk <= ((n + 1) * eps - 1.0) / n
    return np.array([accuracy_test(int(a), int(b), n, eps, level) for a, b in zip(lost, fixed)], dtype=bool)


def risk_passes(lost, fixed, n: int, eps: float, method: str, level: float, risk: str) -> np.ndarray:
    """Which (lost, fixed) counts out of n pass the method's test of `risk` (one of RISKS) at `level`.

    "either": the dual test (see above). With empirical and crc it is the accuracy risk's rule, which already
    admits whatever the disagreement rule admits (lost - fixed <= lost).
    """
    if risk == "disagreement":
        return passes(np.asarray(lost), n, eps, method, level)
    if risk == "accuracy" or method != "ltt":
        return accuracy_passes(lost, fixed, n, eps, method, level)
    half = EITHER_SHARE * level
    return passes(np.asarray(lost), n, eps, method, half) | accuracy_passes(lost, fixed, n, eps, method, half)


def admissible_prefix(losses: np.ndarray, n: int, eps: float, method: str, delta: float,
                      fixed: np.ndarray | None = None, risk: str | None = None) -> int:
    """How many candidates, from the strictest, the method keeps (fixed-sequence).

    risk: one of RISKS; None: "accuracy" when `fixed` is given, else "disagreement".
    """
    risk = risk or ("disagreement" if fixed is None else "accuracy")
    ok = risk_passes(losses, np.zeros_like(losses) if fixed is None else fixed, n, eps, method, delta, risk)
    failed = np.nonzero(~ok)[0]
    return int(failed[0]) if len(failed) else len(losses)


# ---------------------------------------------------------------------------
# candidates and device decisions


def candidate_thresholds(kind: str, exits: list[ExitLogits]) -> list[float]:
    """A fixed grid of round thresholds from strictest to loosest (the kind's ThresholdRule.candidates).

    It depends only on the exits' scales and class counts, never on the data,
    as fixed-sequence testing requires.
    """
    values, seen = [], set()
    for x in threshold_rule(kind).candidates(exits):
        v = float(f"{x:.6g}")
        if v not in seen:
            seen.add(v)
            values.append(v)
    return values


def device_exits(kind: str, exits: list[ExitLogits], batches: list[np.ndarray], thresholds: list[float]):
    """Yield, for each threshold in order, the exit every sample takes as the C decides."""
    last = len(exits) - 1
    n = len(batches[0])
    lower = threshold_rule(kind).lower
    stats = {k: integer_stats(lower(k, exits[k], thresholds[0]), batches[k]) for k in range(last)}
    for t in thresholds:
        taken = np.full(n, last, dtype=np.int64)
        undecided = np.ones(n, dtype=bool)
        for k in range(last):
            stop = integer_stops(lower(k, exits[k], t), stats[k]) & undecided
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


# ---------------------------------------------------------------------------
# per-exit thresholds
#
# Each non-final exit gets its own threshold from a small fixed grid (it
# depends only on the exit's scale and class count); a configuration is one
# grid value per exit, and every configuration is judged by the device's
# integer decisions, as above. Among the configurations whose loss passes the
# method's test, the one with the lowest expected cost is chosen; the cost of
# a sample is costs[k] for the exit k it takes (instructions or MACs to reach
# and decide exit k; default k + 1 stages).
#
# Guarantees when one configuration of many is chosen:
#   ltt, correction "fixed-sequence" (Pareto testing, Laufer-Goldshtein et
#       al. 2023): the calibration half is split again into an ordering part
#       and a testing part. The configurations on the ordering part's Pareto
#       front of (risk, cost) are ordered from the lowest risk to the highest;
#       along that order, which does not depend on the testing part, a
#       fixed-sequence test (p-value <= delta, stop at the first failure) on
#       the testing part keeps a prefix; the cheapest kept one is chosen.
#       Risk <= eps with probability >= 1 - delta.
#   ltt, correction "bonferroni": every configuration is tested on the whole
#       calibration half at level delta / (number of configurations); the
#       cheapest passing one is chosen. The same guarantee; stronger with few
#       configurations (one early exit), weaker with many.
#   empirical, crc: the cheapest configuration whose calibration risk passes
#       the rule (crc: ((n + 1) eps - 1) / n). Choosing among many
#       configurations, crc's expected-risk bound holds only approximately.

CORRECTIONS = ("fixed-sequence", "bonferroni")

def exit_grid(kind: str, exit_: ExitLogits, size: int | None = None) -> list[float]:
    """One exit's thresholds, strictest (never or almost never stops) first; at most `size` of them.

    The values are the kind's (ThresholdRule.exit_candidates in codegen/policies/kinds/).
    """
    grid = list(threshold_rule(kind).exit_candidates(exit_))
    if size is not None and len(grid) > size:
        keep = np.unique(np.round(np.linspace(0, len(grid) - 1, max(2, size))).astype(int))
        grid = [grid[i] for i in keep]
    return grid


def grid_size_for(exits: int, max_configurations: int = 6000, largest: int = 18) -> int:
    """Values per exit so that the grid's product stays within max_configurations."""
    if exits <= 0:
        return largest
    return max(2, min(largest, int(math.floor(max_configurations ** (1.0 / exits) + 1e-9))))


def exit_stops(kind: str, exits: list[ExitLogits], batches: list[np.ndarray], grids: list[list[float]]):
    """Per non-final exit, per grid value: the device's stop decision for every sample (bool (n,))."""
    out = []
    for k, grid in enumerate(grids):
        stats = integer_stats(lower_exit(k, exits[k], kind, grid[0]), batches[k])
        out.append([integer_stops(lower_exit(k, exits[k], kind, t), stats) for t in grid])
    return out


def configurations(stops: list[list[np.ndarray]], n: int):
    """Yield (grid index per exit, exit taken per sample) for every configuration, in grid-product order."""
    last = len(stops)

    def walk(k, prefix, taken, undecided):
        if k == last:
            yield tuple(prefix), taken
            return
        for j, stop in enumerate(stops[k]):
            here = stop & undecided
            t = taken.copy()
            t[here] = k
            yield from walk(k + 1, prefix + [j], t, undecided & ~here)

    yield from walk(0, [], np.full(n, last, dtype=np.int64), np.ones(n, dtype=bool))


def pareto_path(risk: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Indices of the (risk, cost) Pareto front, from the lowest risk (highest cost) to the lowest cost."""
    order = np.lexsort((risk, cost))  # by cost, then risk
    path, best = [], math.inf
    for i in order:
        if risk[i] < best:
            path.append(i)
            best = risk[i]
    return np.array(path[::-1], dtype=np.int64)


def passes(losses: np.ndarray, n: int, eps: float, method: str, level: float) -> np.ndarray:
    """Which loss counts (out of n) pass the method's test on their own (ltt: p-value <= level)."""
    losses = np.asarray(losses)
    if method == "empirical":
        return losses / n <= eps
    if method == "crc":
        return losses / n <= ((n + 1) * eps - 1.0) / n
    cdf = binomial_cdf(n, eps)
    return np.array([hb_p_value(int(l), n, eps, cdf) <= level for l in losses], dtype=bool)


def choose_configuration(test_losses: np.ndarray, n_test: int, order_risk: np.ndarray, order_cost: np.ndarray,
                         max_drop: float, method: str, delta: float, correction: str = "fixed-sequence",
                         test_fixed: np.ndarray | None = None, risk: str | None = None):
    """Index of the chosen configuration (None: none passes) and how many were tested.

    test_losses: loss counts on the testing samples (n_test of them); order_risk
    and order_cost: each configuration's risk and expected cost on the samples
    that order them (for ltt with fixed-sequence, samples disjoint from the
    testing ones; otherwise the same ones). See the comment above.
    test_fixed: for the accuracy risk, the counts of testing samples the
    configuration gets right where the backbone is wrong (test_losses then
    counts the reverse); None for the disagreement risk. risk: one of RISKS
    (None: "accuracy" when test_fixed is given, else "disagreement").
    """
    m = len(test_losses)
    risk = risk or ("disagreement" if test_fixed is None else "accuracy")
    fixed = np.zeros_like(test_losses) if test_fixed is None else np.asarray(test_fixed)
    if method == "ltt" and correction == "fixed-sequence":
        path = pareto_path(order_risk, order_cost)
        kept = admissible_prefix(test_losses[path], n_test, max_drop, "ltt", delta, fixed[path], risk)
        return (int(path[kept - 1]) if kept else None), min(len(path), kept + 1)
    level = delta / m if method == "ltt" else delta
    ok = risk_passes(test_losses, fixed, n_test, max_drop, method, level, risk)
    if not ok.any():
        return None, m
    candidates = np.nonzero(ok)[0]
    return int(candidates[np.lexsort((order_risk[candidates], order_cost[candidates]))[0]]), m


def threshold_policy(kind: str, thresholds) -> str:
    return "none" if thresholds is None else f"{kind}:" + ",".join(format_threshold(t) for t in thresholds)


def check_risk(risk: str, labels) -> None:
    if risk not in RISKS:
        raise TinyexitError(f"calibrate: --risk '{risk}' is unknown; use one of {', '.join(RISKS)}")
    if risk != "disagreement" and labels is None:
        raise TinyexitError(f"calibrate: --risk {risk} needs labels (y); use --risk disagreement without them")


def per_sample_gains(batches: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """(exits, n) bool: stopping at each exit is right where the final exit is wrong (the accuracy risk's -1)."""
    predictions = np.stack([np.argmax(b, axis=1) for b in batches])
    return (predictions == labels) & (predictions[-1] != labels)


def per_sample_losses(batches: list[np.ndarray], labels: np.ndarray | None) -> np.ndarray:
    """(exits, n) bool: the loss of stopping at each exit (performance gap with labels, else disagreement)."""
    predictions = np.stack([np.argmax(b, axis=1) for b in batches])
    final = predictions[-1]
    if labels is not None:
        return (predictions != labels) & (final == labels)
    return predictions != final


def calibrate_per_exit(
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
    costs: list[float] | None = None,
    correction: str = "fixed-sequence",
    max_configurations: int = 6000,
    risk: str = "disagreement",
) -> CalibrationResult:
    """Per-exit thresholds under the same guarantee as `calibrate`, the cheapest by `costs`.

    costs: per exit in stage order, what reaching and deciding it costs (e.g.
    cumulative instructions); default 1, 2, ... stages. The answer is a comma
    list policy (`confidence:0.99,0.9`) or `none`; the held-out half reports as
    `calibrate` does. risk: "disagreement" bounds the performance gap (or, without
    labels, disagreement with the final exit); "accuracy" bounds the accuracy loss
    itself, 1[wrong] - 1[final wrong] per sample (accuracy_test above); "either"
    bounds it too, admitting what either test admits at half the level (risk_passes).
    """
    exits, batches, labels = _check_inputs(exit_logits, scales, zero_points, labels, policy_kind, max_drop,
                                           method, delta, exit_names)
    check_risk(risk, labels)
    if correction not in CORRECTIONS:
        raise TinyexitError(f"calibrate: --correction '{correction}' is unknown; use one of {', '.join(CORRECTIONS)}")
    count = len(exits)
    cost = np.arange(1, count + 1, dtype=np.float64) if costs is None else np.asarray(costs, np.float64)
    if cost.shape != (count,):
        raise TinyexitError(f"calibrate: {len(cost)} exit costs for {count} exits; give one per exit")
    names = [e.name for e in exits]
    n = len(batches[0])
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    n_cal = (n + 1) // 2
    cal, held = np.sort(order[:n_cal]), np.sort(order[n_cal:])
    split = method == "ltt" and correction == "fixed-sequence"
    if split:  # ordering part / testing part of the calibration half
        inner = rng.permutation(n_cal)
        part_a, part_b = np.sort(inner[: n_cal // 2]), np.sort(inner[n_cal // 2:])
    else:
        part_a = part_b = np.arange(n_cal)

    size = grid_size_for(count - 1, max_configurations)
    grids = [exit_grid(policy_kind, exits[k], size) for k in range(count - 1)]
    cal_batches = [b[cal] for b in batches]
    loss = per_sample_losses(cal_batches, None if labels is None else labels[cal])
    gain = (per_sample_gains(cal_batches, labels[cal]) if risk != "disagreement" else np.zeros_like(loss))
    columns = np.arange(n_cal)
    keys, test_losses, test_fixed, order_risk, order_cost, counts = [], [], [], [], [], []
    for key, taken in configurations(exit_stops(policy_kind, exits, cal_batches, grids), n_cal):
        lost = loss[taken, columns]
        fixed = gain[taken, columns]
        keys.append(key)
        test_losses.append(int(lost[part_b].sum()))
        test_fixed.append(int(fixed[part_b].sum()))
        order_risk.append(float(lost[part_a].mean() - fixed[part_a].mean()))
        order_cost.append(float(cost[taken[part_a]].mean()))
        counts.append(np.bincount(taken, minlength=count))
    chosen, tested = choose_configuration(np.array(test_losses), len(part_b), np.array(order_risk),
                                          np.array(order_cost), max_drop, method, delta, correction,
                                          np.array(test_fixed), risk)
    if chosen is None:
        thresholds, cal_risk = None, 0.0
        cal_counts = np.bincount([count - 1], minlength=count) * n_cal
    else:
        thresholds = [grids[k][j] for k, j in enumerate(keys[chosen])]
        cal_risk = (test_losses[chosen] - test_fixed[chosen]) / len(part_b)
        cal_counts = counts[chosen]
    text = threshold_policy(policy_kind, thresholds)

    policy = lower_policy(parse_policy(text, names), exits)
    run = run_integer(policy, [b[held] for b in batches])
    final_held = np.argmax(batches[-1][held], axis=1)
    if labels is not None:
        accuracy = float(np.mean(run.labels == labels[held]))
        final_accuracy = float(np.mean(final_held == labels[held]))
        acc_loss = final_accuracy - accuracy
        heldout_risk = (acc_loss if risk != "disagreement" else
                        float(np.mean((run.labels != labels[held]) & (final_held == labels[held]))))
    else:
        accuracy = final_accuracy = None
        acc_loss = heldout_risk = float(np.mean(run.labels != final_held))
    loss_name = ("accuracy loss" if risk != "disagreement" else
                 "performance gap" if labels is not None else "disagreement with the final exit")
    result = CalibrationResult(
        policy=text,
        threshold=None if thresholds is None else thresholds[0],
        kind=policy_kind,
        method=method,
        max_drop=max_drop,
        delta=delta,
        loss=loss_name,
        n_calibration=len(part_b),
        n_heldout=len(held),
        calibration_risk=cal_risk,
        heldout_risk=heldout_risk,
        exit_names=names,
        exit_rates=(np.bincount(run.exit_taken, minlength=count) / max(1, len(held))).tolist(),
        calibration_exit_rates=(cal_counts / n_cal).tolist(),
        accuracy=accuracy,
        final_accuracy=final_accuracy,
        accuracy_loss=acc_loss,
        candidates_tested=tested,
        heldout=held,
        thresholds=thresholds,
        correction=correction if method == "ltt" else None,
        configurations=len(keys),
    )
    return result
