"""Policy strings: what parses, what it means, and one clear line for what does not."""

from __future__ import annotations

import pytest

from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.policies.spec import parse_policy

THREE = ["exit0", "exit1", "final"]
TWO = ["exit0", "final"]


@pytest.mark.parametrize(
    "text, kind, fields",
    [
        ("none", "none", {}),
        (" NONE ", "none", {}),
        ("exit:1", "exit", {"exit_index": 1}),
        ("exit:exit1", "exit", {"exit_index": 1}),
        ("exit:final", "exit", {"exit_index": 2}),
        ("confidence:0.9", "confidence", {"thresholds": (0.9, 0.9)}),
        ("confidence:1", "confidence", {"thresholds": (1.0, 1.0)}),
        ("confidence:0.95, 0.8", "confidence", {"thresholds": (0.95, 0.8)}),
        ("margin:2.5", "margin", {"thresholds": (2.5, 2.5)}),
        ("margin:0", "margin", {"thresholds": (0.0, 0.0)}),
        ("entropy:.4,1e-1", "entropy", {"thresholds": (0.4, 0.1)}),
        ("patience:1", "patience", {"count": 1}),
        ("difference:0.1", "difference", {"distance": 0.1}),
        ("temporal-patience:3", "temporal-patience", {"count": 3}),
    ],
)
def test_valid_policies(text, kind, fields):
    spec = parse_policy(text, THREE)
    assert spec.kind == kind
    assert spec.exit_names == tuple(THREE)
    for name, value in fields.items():
        assert getattr(spec, name) == value
    # the canonical text parses back to the same policy
    assert parse_policy(spec.text, THREE) == spec


@pytest.mark.parametrize(
    "text, names, words",
    [
        ("", THREE, ["empty", "confidence:0.9"]),
        ("fast", THREE, ["unknown policy 'fast'", "confidence:0.9"]),
        ("none:1", THREE, ["takes no parameter"]),
        ("confidence", THREE, ["needs a parameter", "confidence:0.9"]),
        ("confidence:", THREE, ["needs a parameter"]),
        ("confidence:1.5", THREE, ["1.5", "(0, 1]", "confidence:0.9"]),
        ("confidence:0", THREE, ["outside (0, 1]"]),
        ("confidence:-0.2", THREE, ["outside (0, 1]"]),
        ("confidence:high", THREE, ["'high' is not a number"]),
        ("confidence:nan", THREE, ["'nan' is not a number"]),
        ("confidence:0.9,0.8,0.7", THREE, ["3 thresholds", "2 non-final exits", "exit0,exit1"]),
        ("confidence:0.9,,0.7", THREE, ["'' is not a number"]),
        ("margin:-1", THREE, ["negative", "margin:2.5"]),
        ("margin:1e999", THREE, ["not finite"]),
        ("entropy:-0.1", THREE, ["negative", "entropy:0.4"]),
        ("exit:3", THREE, ["out of range", "0..2", "exit0,exit1,final"]),
        ("exit:-1", THREE, ["out of range"]),
        ("exit:middle", THREE, ["neither an exit index nor an exit name", "exit0,exit1,final"]),
        ("patience:2", TWO, ["3 or more exits"]),
        ("patience:0", THREE, ["out of range", "1..1"]),
        ("patience:2", THREE, ["out of range"]),
        ("patience:1.5", THREE, ["not a whole number"]),
        ("difference:-0.1", THREE, [">= 0"]),
        ("temporal-patience:0", THREE, ["1 or more"]),
        ("confidence:0.9", ["final"], ["only one exit", "none"]),
        ("difference:0.1", ["final"], ["only one exit"]),
    ],
)
def test_bad_policies_say_what_where_and_what_to_do(text, names, words):
    with pytest.raises(TinyexitError) as err:
        parse_policy(text, names)
    message = err.value.message
    assert "\n" not in message
    assert message.startswith(f"policy '{text}'")
    for word in words:
        assert word in message, message


def test_per_exit_list_length_must_match_the_non_final_exits():
    assert parse_policy("margin:1,2", THREE).thresholds == (1.0, 2.0)
    with pytest.raises(TinyexitError, match="2 thresholds"):
        parse_policy("margin:1,2", TWO)
