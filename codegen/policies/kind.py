"""What a policy kind is: the plain records codegen/policies/registry.py maps
kind names to. Each kind module under codegen/policies/kinds/ builds one
`PolicyKind` from its own module-level functions (docs/adding-a-policy.md).

A policy's life, and the field of `PolicyKind` that handles each step:

    "confidence:0.9" --parse--> PolicySpec --lower--> LoweredPolicy (+ summarize: header lines)
    LoweredPolicy --template--> C constants, state and calls (templates/library/policies/)
    int8 logits --run_float--> the float64 rule; --run_integer--> the device's decisions, in numpy

Per-exit threshold kinds (confidence, margin, entropy) also carry a
`ThresholdRule`: the float score and rule of one exit, and its lowering to one
`ExitRule`, which calibration (codegen/policies/calibrate.py) sweeps. An
`ExitRule` is compared on the device in one of a few integer forms
(`IntegerForm`), each with a numpy replica.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .data import ExitLogits, ExitRule, LoweredPolicy, PolicySpec
from .runs import PolicyRun


@dataclass(frozen=True)
class ThresholdRule:
    """One exit's threshold rule, for kinds that take a threshold per non-final exit.

    check(spec, value, text): raise (spec.policy_error) when the threshold is invalid.
    score(q, scale, zero_point): the float64 score per sample of (samples, classes) int8 logits.
    stops(scores, threshold): whether each score satisfies the rule.
    lower(index, exit, threshold): the integer form of the rule at one exit.
    candidates(exits): calibration's fixed grid of one threshold shared by the
        exits, strictest first.
    exit_candidates(exit): the coarser grid for one exit when calibration
        picks a threshold per exit (calibrate --per-exit), strictest first.
    """

    score_name: str
    check: Callable[[str, float, str], None]
    score: Callable[[np.ndarray, float, int], np.ndarray]
    stops: Callable[[np.ndarray, float], np.ndarray]
    lower: Callable[[int, ExitLogits, float], ExitRule]
    candidates: Callable[[list[ExitLogits]], list[float]]
    exit_candidates: Callable[[ExitLogits], list[float]]


@dataclass(frozen=True)
class IntegerForm:
    """A device comparison an ExitRule lowers to (ExitRule.form), replayed in numpy.

    stats(rule, q): the integers the device computes from (samples, classes)
        logits; they do not depend on the threshold, so calibration computes
        them once.
    stops(rule, stats): the device's decision from them.
    """

    stats: Callable[[ExitRule, np.ndarray], dict[str, np.ndarray]]
    stops: Callable[[ExitRule, dict[str, np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class PolicyKind:
    """Everything tinyexit knows about one policy kind.

    name: the word before ':' in a policy string.
    example: a valid policy string, shown in error messages.
    parameter: whether the kind takes a parameter after ':'.
    parse(spec, args, exit_names): the PolicySpec for `args` (the text after
        ':', stripped; `spec` is the whole string, for messages).
    lower(spec, exits): the LoweredPolicy (without `summary`).
    summarize(policy): header lines after "Exit policy <spec>".
    run_float(spec, exits, batches) / run_integer(policy, batches): per
        sample, the exit taken and the label reported; batches are checked
        (samples, classes) int8 logits per exit in stage order.
    threshold: set for per-exit threshold kinds (calibration sweeps them).
    """

    name: str
    example: str
    parse: Callable[[str, str, tuple[str, ...]], PolicySpec]
    lower: Callable[[PolicySpec, tuple[ExitLogits, ...]], LoweredPolicy]
    summarize: Callable[[LoweredPolicy], list[str]]
    run_float: Callable[[PolicySpec, tuple[ExitLogits, ...], list[np.ndarray]], PolicyRun]
    run_integer: Callable[[LoweredPolicy, list[np.ndarray]], PolicyRun]
    parameter: bool = True
    threshold: ThresholdRule | None = None
