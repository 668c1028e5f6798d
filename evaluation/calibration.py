"""Thresholds for a model under an accuracy budget: run the exits on the host
build, then calibrate on their int8 logits (codegen/policies/calibrate.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..codegen.options import Options
from ..codegen.passes.lower_policy import exit_logits_of
from ..codegen.pipeline import generate
from ..codegen.policies.calibrate import CalibrationResult, calibrate
from ..firmware_sim.host import run_host


def calibrate_model(
    model: str | Path,
    x: np.ndarray,
    y: np.ndarray | None,
    policy: str,
    max_drop: float,
    method: str = "ltt",
    delta: float = 0.1,
    seed: int = 0,
) -> CalibrationResult:
    """The loosest `policy` threshold whose loss against the final exit stays within max_drop.

    y: labels (accuracy), or None to bound disagreement with the final exit.
    """
    with tempfile.TemporaryDirectory(prefix="tinyexit-lib-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=Options(policy="none"))
        result = run_host(lib.out_dir, x)
    exits = exit_logits_of(lib.graph)
    return calibrate(
        [result.logits[e.name] for e in exits],
        [e.scale for e in exits],
        [e.zero_point for e in exits],
        y,
        policy,
        max_drop,
        method=method,
        delta=delta,
        seed=seed,
        exit_names=[e.name for e in exits],
    )
