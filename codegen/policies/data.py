"""Exit policies as plain data, and the helpers every kind's parser shares.

`PolicySpec` is a parsed, validated policy string (spec.parse_policy);
`LoweredPolicy` and its parts (`ExitLogits`, `ExitRule`, `Constant`, `Table`,
`DifferenceRule`) are the integer constants and tables lowering.lower_policy
hands to templates/library/decide.c.j2 and the kind's template. The error and
number helpers make every bad policy string fail with one line naming the
offending text and a valid example.

Nothing here knows a policy kind by name: each kind lives in its own module
under codegen/policies/kinds/, and registry.py maps names to them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ..errors import TinyexitError
from ..names import safe_text


@dataclass(frozen=True)
class PolicySpec:
    """A validated policy string, resolved against the model's exits (in stage order).

    kind: the registry key (codegen/policies/registry.py).
    text: the canonical string; it parses back to an equal PolicySpec.
    thresholds: for confidence/margin/entropy, one value per non-final exit.
    exit_index: for exit:K, the exit to stop at.
    count: T for patience, P for temporal-patience.
    distance: D for difference, in the natural units of exit 0's logits.
    temporal: the policy keeps state between samples.
    """

    kind: str
    text: str
    exit_names: tuple[str, ...]
    thresholds: tuple[float, ...] = ()
    exit_index: int | None = None
    count: int | None = None
    distance: float | None = None
    temporal: bool = False

    @property
    def num_exits(self) -> int:
        return len(self.exit_names)


def policy_error(spec: str, problem: str, hint: str) -> TinyexitError:
    """One line: the policy as given, what is wrong, and what to do."""
    return TinyexitError(f"policy '{safe_text(spec, 200)}': {problem}; {hint}")


def example_hint(example: str) -> str:
    return f"e.g. --policy {example}"


def parse_number(spec: str, text: str, example: str) -> float:
    if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", text):
        raise policy_error(spec, f"'{text}' is not a number", example_hint(example))
    return float(text)


def parse_integer(spec: str, text: str, example: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise policy_error(spec, f"'{text}' is not a whole number", example_hint(example))
    return int(text)


def format_threshold(value: float) -> str:
    """Shortest text that reads back as exactly `value` (deterministic)."""
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


# ---------------------------------------------------------------------------
# Lowered form: plain data for templates/library/decide.c.j2, decide_doc.h.j2
# and each kind's templates/library/policies/<kind>.c.j2


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

    form: the integer comparison, a key of registry.FORMS and of the form
    macros in templates/library/policies/threshold.c.j2: "gap" (top-1 minus
    top-2 quantized logit >= gap_min), "exp_sum" (sum_c E[q_max - q_c] <=
    exp_sum_max) or "entropy" (the tables below).
    The C decision equals the float64 rule on the same int8 logits for every
    sample whose `score` lies farther than `bound` from `threshold`.
    """

    index: int
    exit: ExitLogits
    rule: str  # the policy kind, e.g. "confidence"
    threshold: float
    form: str
    params: dict[str, int]
    constants: tuple[Constant, ...]
    tables: tuple[Table, ...]
    bound: float
    description: str  # the float rule, e.g. "max softmax >= 0.9"
    integer_form: tuple[str, ...]  # lines explaining the integer comparison
    score_name: str = ""  # what the rule thresholds, e.g. "max softmax"

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

    template: the kind's jinja file (templates/library/policies/<kind>.c.j2)
        whose macros emit its constants, state and calls.
    kernels: hand-written C pairs templates/kernels/tx_<name>.{h,c} the
        decision calls; the emitter copies them into the library. Every
        policy needs tx_policy (label() calls tx_policy_argmax_s8).
    exits: what each exit's decision reads, in stage order (the last is final).
    rules: one ExitRule per non-final exit for per-exit threshold rules.
    """

    kind: str
    spec: str
    exits: tuple[ExitLogits, ...]
    template: str
    rules: tuple[ExitRule, ...] = ()
    exit_index: int | None = None  # exit:K
    patience: int | None = None  # patience:T
    temporal_patience: int | None = None  # temporal-patience:P
    difference: DifferenceRule | None = None
    temporal: bool = False  # keeps state between samples
    kernels: tuple[str, ...] = ("policy",)
    summary: tuple[str, ...] = field(default=())  # lines for the generated header

    @property
    def num_exits(self) -> int:
        return len(self.exits)

    @property
    def has_constants(self) -> bool:
        """Whether the decisions compare against constants computed from the exits' scales."""
        return bool(self.rules) or self.difference is not None

    @property
    def num_classes(self) -> tuple[int, ...]:
        return tuple(e.num_classes for e in self.exits)

    @property
    def max_classes(self) -> int:
        return max(self.num_classes)


def as_int8_batch(q: np.ndarray, num_classes: int, what: str) -> np.ndarray:
    """Check and reshape one exit's logits to (samples, classes) int8."""
    arr = np.asarray(q)
    if arr.dtype != np.int8:
        raise TinyexitError(f"{what}: logits must be int8, got {arr.dtype}; pass the exit's quantized logits")
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(1, -1)
    if arr.shape[1] != num_classes:
        raise TinyexitError(f"{what}: logits have {arr.shape[1]} classes, expected {num_classes}")
    return arr
