"""What a user chooses about the generated code, as one plain value."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
    # "size" (default): int8 weights in flash, widened per 3x2 block in the inner loop, multiplier +
    # shift per channel (SMMULR requantization where exact); the fewest estimated cycles on every
    # MLPerf model (bench/results.md). "speed": GEMM weights widened to int16 in flash, 6-word
    # requantization records; about twice the flash, fewer instructions only on IC.
    optimize: str = "size"


def check_optimize(optimize: str) -> str:
    if optimize not in OPTIMIZE_MODES:
        raise TinyexitError(f"--optimize '{optimize}' is not one of {', '.join(OPTIMIZE_MODES)}")
    return optimize


def read_policy(policy: str) -> str:
    """A policy string, or `@FILE`: the policy written in that file (`tinyexit calibrate -o FILE`).

    The file holds the policy on its first line that is neither empty nor a `#` comment.
    """
    if not policy.startswith("@"):
        return policy
    path = Path(policy[1:])
    try:
        text = path.read_text()
    except OSError as exc:
        raise TinyexitError(f"--policy {policy}: cannot read {path} ({exc.strerror}); write it with "
                            f"`tinyexit calibrate MODEL --data D.npz --policy confidence --max-drop 0.01 -o {path}`") from None  # fmt: skip
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    if not lines:
        raise TinyexitError(f"--policy {policy}: {path} holds no policy; put one like confidence:0.9 on its first line")
    return lines[0]


def make_options(policy: str = "none", exits: str | None = None, optimize: str = "size") -> Options:
    """Options from the command-line forms: `--policy @calib.txt`, `--exits exit0,final`, `--optimize size`."""
    order = tuple(n.strip() for n in exits.split(",")) if exits else None
    return Options(policy=read_policy(policy), exit_order=order, optimize=check_optimize(optimize))
