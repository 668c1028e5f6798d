"""Integer tables and constants the exit decisions share: exp and x*exp tables
per logit scale, the Q16 ln table, and their bit widths.

Used by the lowering (which puts them into the generated C) and by the
integer reference (which replays the device arithmetic in numpy).
"""

from __future__ import annotations

import math

from ..errors import TinyexitError

EXP_BITS_MAX = 15  # E[0] = 2^15 still fits a uint16_t table entry
EXP_BITS_MIN = 8
LN_FRAC_BITS = 16  # ln values in Q16
LN_INDEX_BITS = 6  # the ln table has 2^6 + 1 entries
LN_TABLE_NAME = "policy_ln_table"
INT8_SPAN = 255  # largest q_max - q_c
EXACT = 1e-9  # relative float64 slack for rules that are exact in integers


def round_half_up(x: float) -> int:
    """Round half up; table entries and thresholds are non-negative."""
    return int(math.floor(x + 0.5))


def exp_bits(num_classes: int) -> int:
    """K for the exp tables: as many fraction bits as keep C * 2^K <= 2^30."""
    k = min(EXP_BITS_MAX, 30 - math.ceil(math.log2(num_classes)))
    if k < EXP_BITS_MIN:
        raise TinyexitError(
            f"an exit with {num_classes} classes is too wide for the integer exit decisions "
            f"(at most {2 ** (30 - EXP_BITS_MIN)}); use margin: or exit:"
        )
    return k


def exp_table(scale: float, k_bits: int) -> list[int]:
    """E[d] = round(2^K exp(-s d)) for d = 0..255, cut after the last nonzero entry."""
    values = [round_half_up(math.ldexp(math.exp(-scale * d), k_bits)) for d in range(INT8_SPAN + 1)]
    return _trim(values)


def xexp_table(scale: float, k_bits: int) -> list[int]:
    """F[d] = round(2^K s d exp(-s d)) for d = 0..255 (the entropy numerator)."""
    values = [round_half_up(math.ldexp(scale * d * math.exp(-scale * d), k_bits)) for d in range(INT8_SPAN + 1)]
    return _trim(values)


def _trim(values: list[int]) -> list[int]:
    last = max((i for i, v in enumerate(values) if v), default=0)
    return values[: last + 1]


def ln_table() -> list[int]:
    """LN[i] = round(2^16 ln(1 + i / 2^6)), i = 0..64: ln of the mantissa in [1, 2]."""
    steps = 1 << LN_INDEX_BITS
    return [round_half_up(math.ldexp(math.log1p(i / steps), LN_FRAC_BITS)) for i in range(steps + 1)]


LN2_Q16 = round_half_up(math.ldexp(math.log(2.0), LN_FRAC_BITS))
