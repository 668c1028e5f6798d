"""Text from a model (tensor names, SignatureDef keys, file names) made safe to print.

A .tflite file comes from outside, and its strings end up in generated C
comments, in the manifest and in error messages. `safe_text` reduces any
string to printable ASCII without a backslash, and without the sequences
that end or start a C comment (`*/`, `/*`, `//`) or form a trigraph (`??`),
capped in length. Such a string can be put between `/*` and `*/` or into a
one-line message and changes nothing else. `c_identifier` checks a name the
generator derived itself before it is used as a C symbol.
"""

from __future__ import annotations

import re

NAME_MAX = 64  # characters of a model-provided name kept in comments and messages
MESSAGE_MAX = 400  # characters of an error message's free text (exception texts, ...)
_UNSAFE_CHAR = re.compile(r"[^\x20-\x7e]|\\")
_UNSAFE_PAIRS = ("*/", "/*", "//", "??")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def safe_text(text: str | bytes, limit: int = NAME_MAX) -> str:
    """`text` with every unsafe character turned into '_', comment and trigraph pairs broken, capped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _UNSAFE_CHAR.sub("_", str(text))
    while any(pair in text for pair in _UNSAFE_PAIRS):
        for pair in _UNSAFE_PAIRS:
            text = text.replace(pair, pair[0] + "_")
    if len(text) > limit:
        text = text[: max(limit - 3, 0)] + "..."
    return text


def is_safe_text(text: str, limit: int = NAME_MAX) -> bool:
    """True when `text` passes through safe_text unchanged."""
    return safe_text(text, limit) == text


def c_identifier(name: str) -> str:
    """`name` itself when it is a plain C identifier (no keyword check: callers prefix it); else ValueError."""
    if not _IDENTIFIER.fullmatch(name):
        raise ValueError(f"{safe_text(name)!r} is not a C identifier")
    return name
