"""What a user chooses about the generated code, as one plain value."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import TinyexitError

OPTIMIZE_MODES = ("speed", "size")


@dataclass(frozen=True)
class Options:
    policy: str = "none"
    exit_order: tuple[str, ...] | None = None  # exit names in stage order; None: by MACs
    trace: bool = False  # keep every tensor alive and expose the arena (for per-tensor tests)
    # Profiling build: the stage functions call tx_op_mark() before each op and after the last, so a
    # simulator counts instructions per op (firmware_sim/profile.py); not for applications.
    op_markers: bool = False
    # "speed": GEMM weights widened to int16 in flash, 6-word requantization records;
    # "size": int8 weights widened in the inner loop, multiplier + shift per channel.
    optimize: str = "speed"


def check_optimize(optimize: str) -> str:
    if optimize not in OPTIMIZE_MODES:
        raise TinyexitError(f"--optimize '{optimize}' is not one of {', '.join(OPTIMIZE_MODES)}")
    return optimize


def make_options(policy: str = "none", exits: str | None = None, optimize: str = "speed") -> Options:
    """Options from the command-line forms: `--exits exit0,final`, `--optimize size`."""
    order = tuple(n.strip() for n in exits.split(",")) if exits else None
    return Options(policy=policy, exit_order=order, optimize=check_optimize(optimize))
