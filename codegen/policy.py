"""Exit policies: parsing and validating policy strings, and the plain data
that the lowering pass hands to the templates.

A policy string names a rule and its parameters (DESIGN.md, "Exit policies"):

    none                      run every stage
    exit:K                    always stop at exit K (an index or an exit name)
    confidence:TAU            stop when max softmax >= TAU, TAU in (0, 1]
    margin:M                  stop when top-1 minus top-2 logit >= M (natural units)
    entropy:H                 stop when the softmax entropy <= H nats
    patience:T                PABEE: stop when T consecutive exits agreed with the
                              exit before them (needs 3 or more exits)
    difference:D              temporal: stop at exit 0 and reuse the last decided
                              label while exit 0's logits stay within Euclidean
                              distance D of the reference sample's
    temporal-patience:P       temporal: stop at exit 0 once it agreed with the
                              decided labels for P consecutive samples

`confidence`, `margin` and `entropy` take either one threshold for every
non-final exit or a comma list with one threshold per non-final exit, in stage
order (`confidence:0.95,0.8` for three exits).

`parse_policy` only checks the string against the exits; the integer form is
made by `codegen.passes.lower_policy`, which fills in `LoweredPolicy`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from .errors import TinyexitError
from .names import safe_text

THRESHOLD_KINDS = ("confidence", "margin", "entropy")
TEMPORAL_KINDS = ("difference", "temporal-patience")
KINDS = ("none", "exit") + THRESHOLD_KINDS + ("patience",) + TEMPORAL_KINDS

EXAMPLES = {
    "none": "none",
    "exit": "exit:0",
    "confidence": "confidence:0.9",
    "margin": "margin:2.5",
    "entropy": "entropy:0.4",
    "patience": "patience:2",
    "difference": "difference:0.1",
    "temporal-patience": "temporal-patience:3",
}

# What each threshold policy compares, for messages and generated comments.
SCORE_NAMES = {"confidence": "max softmax", "margin": "top-1 minus top-2 logit", "entropy": "softmax entropy (nats)"}


@dataclass(frozen=True)
class PolicySpec:
    """A validated policy string, resolved against the model's exits (in stage order).

    thresholds: for confidence/margin/entropy, one value per non-final exit.
    exit_index: for exit:K, the exit to stop at.
    count: T for patience, P for temporal-patience.
    distance: D for difference, in the natural units of exit 0's logits.
    """

    kind: str
    text: str
    exit_names: tuple[str, ...]
    thresholds: tuple[float, ...] = ()
    exit_index: int | None = None
    count: int | None = None
    distance: float | None = None

    @property
    def num_exits(self) -> int:
        return len(self.exit_names)

    @property
    def temporal(self) -> bool:
        return self.kind in TEMPORAL_KINDS


TEMPORAL_PATIENCE_MAX = 1_000_000  # samples; the device counts them in an int


def _fail(spec: str, problem: str, kind: str | None = None, hint: str | None = None) -> TinyexitError:
    if hint is None:
        if kind in EXAMPLES:
            hint = f"e.g. --policy {EXAMPLES[kind]}"
        else:
            hint = "use one of " + ", ".join(EXAMPLES[k] for k in KINDS)
    return TinyexitError(f"policy '{safe_text(spec, 200)}': {problem}; {hint}")


def _number(spec: str, kind: str, text: str) -> float:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise _fail(spec, f"'{text}' is not a number", kind)
    return float(text)


def _integer(spec: str, kind: str, text: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise _fail(spec, f"'{text}' is not a whole number", kind)
    return int(text)


def _check_threshold(spec: str, kind: str, value: float, text: str) -> None:
    if kind == "confidence" and not 0.0 < value <= 1.0:
        raise _fail(spec, f"confidence threshold {text} is outside (0, 1]", kind,
                    "give the max softmax probability to reach, e.g. --policy confidence:0.9")
    if kind in ("margin", "entropy") and value < 0.0:
        unit = "logit difference" if kind == "margin" else "entropy in nats"
        raise _fail(spec, f"{kind} threshold {text} is negative", kind,
                    f"give a {unit} >= 0, e.g. --policy {EXAMPLES[kind]}")
    if not math.isfinite(value):
        raise _fail(spec, f"{kind} threshold {text} is not finite", kind)


def parse_policy(spec: str, exit_names: list[str] | tuple[str, ...]) -> PolicySpec:
    """Parse and check a policy string against the model's exits, in stage order.

    Raises TinyexitError with one line naming the offending text and a valid example.
    """
    names = tuple(exit_names)
    n = len(names)
    if n == 0:
        raise TinyexitError(f"policy '{spec}': the model has no exits; check the model's SignatureDef outputs")
    text = spec.strip()
    if not text:
        raise _fail(spec, "the policy is empty")
    kind, sep, args = text.partition(":")
    kind = kind.strip().lower()
    args = args.strip()
    if kind not in KINDS:
        raise _fail(spec, f"unknown policy '{kind}'")
    if kind == "none":
        if sep:
            raise _fail(spec, "'none' takes no parameter", kind)
        return PolicySpec(kind="none", text="none", exit_names=names)
    if not args:
        raise _fail(spec, f"'{kind}' needs a parameter after ':'", kind)

    if kind == "exit":
        if args in names:
            index = names.index(args)
        else:
            if not re.fullmatch(r"[+-]?\d+", args):
                raise _fail(spec, f"'{args}' is neither an exit index nor an exit name", kind,
                            f"the exits are {','.join(names)}; e.g. --policy exit:0")
            index = int(args)
            if not 0 <= index < n:
                raise _fail(spec, f"exit index {index} is out of range (the model has {n} exits, 0..{n - 1})",
                            kind, f"the exits are {','.join(names)}; e.g. --policy exit:0")
        return PolicySpec(kind="exit", text=f"exit:{index}", exit_names=names, exit_index=index)

    if kind in THRESHOLD_KINDS:
        if n < 2:
            raise _fail(spec, f"'{kind}' needs an early exit, but the model has only one exit", kind,
                        "use --policy none")
        items = [a.strip() for a in args.split(",")]
        values = []
        for item in items:
            value = _number(spec, kind, item)
            _check_threshold(spec, kind, value, item)
            values.append(value)
        if len(values) == 1:
            values = values * (n - 1)
        elif len(values) != n - 1:
            raise _fail(spec, f"gives {len(values)} thresholds, but the model has {n - 1} non-final exits "
                        f"({','.join(names[:-1])})", kind,
                        f"give one threshold, or one per non-final exit, e.g. --policy {kind}:"
                        + ",".join([EXAMPLES[kind].split(':')[1]] * (n - 1)))
        canonical = f"{kind}:" + ",".join(format_threshold(v) for v in values)
        return PolicySpec(kind=kind, text=canonical, exit_names=names, thresholds=tuple(values))

    if kind == "patience":
        value = _integer(spec, kind, args)
        if n < 3:
            raise _fail(spec, f"patience needs 3 or more exits, but the model has {n}", kind,
                        "use confidence:, margin: or entropy: instead")
        if not 1 <= value <= n - 2:
            raise _fail(spec, f"patience {value} is out of range: with {n} exits it must be 1..{n - 2} "
                        "to ever stop before the last exit", kind, f"e.g. --policy patience:{max(1, n - 2)}")
        return PolicySpec(kind="patience", text=f"patience:{value}", exit_names=names, count=value)

    if kind == "temporal-patience":
        value = _integer(spec, kind, args)
        if n < 2:
            raise _fail(spec, "temporal-patience needs an early exit, but the model has only one exit", kind,
                        "use --policy none")
        if not 1 <= value <= TEMPORAL_PATIENCE_MAX:
            raise _fail(spec, f"temporal patience {value} must be 1 or more and at most {TEMPORAL_PATIENCE_MAX}", kind)
        return PolicySpec(kind=kind, text=f"temporal-patience:{value}", exit_names=names, count=value)

    # difference
    value = _number(spec, kind, args)
    if n < 2:
        raise _fail(spec, "difference needs an early exit, but the model has only one exit", kind,
                    "use --policy none")
    if not math.isfinite(value) or value < 0.0:
        raise _fail(spec, f"distance {args} must be a finite number >= 0 (natural logit units)", kind)
    return PolicySpec(kind="difference", text=f"difference:{format_threshold(value)}", exit_names=names,
                      distance=value)


def format_threshold(value: float) -> str:
    """Shortest text that reads back as exactly `value` (deterministic)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# ---------------------------------------------------------------------------
# Lowered form: plain data for templates/library/decide.c.j2 and decide_doc.h.j2


@dataclass(frozen=True)
class ExitLogits:
    """What a decision reads at one exit: its int8 logits tensor.

    The int8 input of the exit's SOFTMAX when it has one, else its output;
    real logit z_c = scale * (q_c - zero_point).
    """

    name: str
    num_classes: int
    scale: float
    zero_point: int


@dataclass(frozen=True)
class Table:
    """A static const lookup table in the generated C."""

    name: str  # C identifier without the prefix, e.g. "policy_exit0_exp"
    ctype: str  # "uint16_t"
    values: tuple[int, ...]
    comment: str


@dataclass(frozen=True)
class Constant:
    """A named integer constant (#define) in the generated C."""

    name: str  # e.g. "POLICY_EXIT0_EXP_SUM_MAX"
    value: int
    comment: str
    unsigned: bool = False  # compared with an unsigned sum: written with a 'u' suffix

    @property
    def literal(self) -> str:
        return f"{self.value}u" if self.unsigned else str(self.value)


@dataclass(frozen=True)
class ExitRule:
    """The integer form of one non-final exit's threshold.

    form: "gap" (top-1 minus top-2 quantized logit >= gap_min), "exp_sum"
    (sum_c E[q_max - q_c] <= exp_sum_max) or "entropy" (the tables below).
    The C decision equals the float64 rule on the same int8 logits for every
    sample whose `score` lies farther than `bound` from `threshold`.
    """

    index: int
    exit: ExitLogits
    rule: str  # "confidence" | "margin" | "entropy"
    threshold: float
    form: str
    params: dict[str, int]
    constants: tuple[Constant, ...]
    tables: tuple[Table, ...]
    bound: float
    description: str  # the float rule, e.g. "max softmax >= 0.9"
    integer_form: tuple[str, ...]  # lines explaining the integer comparison

    @property
    def score_name(self) -> str:
        return SCORE_NAMES[self.rule]

    @property
    def threshold_text(self) -> str:
        return format_threshold(self.threshold)


@dataclass(frozen=True)
class DifferenceRule:
    """difference:D on exit 0: squared quantized distance <= dist2_max."""

    exit: ExitLogits
    distance: float
    dist2_max: int  # floor((D / scale)^2), clamped to the largest possible sum
    bound: float
    description: str
    integer_form: tuple[str, ...]


@dataclass(frozen=True)
class LoweredPolicy:
    """Everything decide.c.j2 needs, computed at generation time.

    exits: what each exit's decision reads, in stage order (the last is final).
    rules: one ExitRule per non-final exit for confidence/margin/entropy.
    """

    kind: str
    spec: str
    exits: tuple[ExitLogits, ...]
    rules: tuple[ExitRule, ...] = ()
    exit_index: int | None = None  # exit:K
    patience: int | None = None  # patience:T
    temporal_patience: int | None = None  # temporal-patience:P
    difference: DifferenceRule | None = None
    summary: tuple[str, ...] = field(default=())  # lines for the generated header
    ln_table: tuple[int, ...] = ()  # Q16 ln(1 + i/64), present when an exit uses entropy
    ln2_q16: int = 0

    @property
    def num_exits(self) -> int:
        return len(self.exits)

    @property
    def temporal(self) -> bool:
        return self.kind in TEMPORAL_KINDS

    @property
    def num_classes(self) -> tuple[int, ...]:
        return tuple(e.num_classes for e in self.exits)

    @property
    def max_classes(self) -> int:
        return max(self.num_classes)

    def forms(self) -> set[str]:
        return {r.form for r in self.rules}


def as_int8_batch(q: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    """Check and reshape one exit's logits to (samples, classes) int8."""
    arr = np.asarray(q)
    if arr.dtype != np.int8:
        raise TinyexitError(f"{what}: logits must be int8, got {arr.dtype}; pass the exit's quantized logits")
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(1, -1)
    if arr.shape[1] != num_classes:
        raise TinyexitError(f"{what}: logits have {arr.shape[1]} classes, expected {num_classes}")
    return arr
