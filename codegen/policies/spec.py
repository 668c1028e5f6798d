"""Exit policies: parsing and validating policy strings.

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

`parse_policy` splits the string and hands the parameter to the kind's own
parser (codegen/policies/kinds/<kind>.py, found in registry.KINDS); the
integer form is made by `codegen/policies/lowering.py`. The data classes live
in data.py; the ones callers use are importable from here too.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import TinyexitError, did_you_mean
from .data import ExitLogits, LoweredPolicy, PolicySpec, example_hint, format_threshold, policy_error
from .kind import PolicyKind
from .registry import KINDS

__all__ = ["ExitLogits", "LoweredPolicy", "PolicySpec", "format_threshold", "parse_policy"]


def parse_policy(spec: str, exit_names: list[str] | tuple[str, ...],
                 kinds: Mapping[str, PolicyKind] = KINDS) -> PolicySpec:
    """Parse and check a policy string against the model's exits, in stage order.

    Raises TinyexitError with one line naming the offending text and a valid example.
    """
    names = tuple(exit_names)
    if not names:
        raise TinyexitError(f"policy '{spec}': the model has no exits; check the model's SignatureDef outputs")
    every = "use one of " + ", ".join(k.example for k in kinds.values())
    text = spec.strip()
    if not text:
        raise policy_error(spec, "the policy is empty", every)
    name, sep, args = text.partition(":")
    name = name.strip().lower()
    args = args.strip()
    if name not in kinds:
        raise policy_error(spec, f"unknown policy '{name}'{did_you_mean(name, kinds)}", every)
    kind = kinds[name]
    if not kind.parameter and sep:
        raise policy_error(spec, f"'{name}' takes no parameter", example_hint(kind.example))
    if kind.parameter and not args:
        raise policy_error(spec, f"'{name}' needs a parameter after ':'", example_hint(kind.example))
    return kind.parse(spec, args, names)
