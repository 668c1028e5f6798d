"""Thresholds for a model under an accuracy budget: run the exits on the host
build, then calibrate on their int8 logits (codegen/policies/calibrate.py)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..codegen.errors import TinyexitError
from ..codegen.options import Options
from ..codegen.passes.lower_policy import exit_logits_of
from ..codegen.pipeline import generate
from ..codegen.policies.calibrate import CalibrationResult, calibrate, calibrate_per_exit
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
    per_exit: bool = False,
    correction: str = "fixed-sequence",
    risk: str = "disagreement",
) -> CalibrationResult:
    """The loosest `policy` threshold whose loss against the final exit stays within max_drop.

    y: labels (accuracy), or None to bound disagreement with the final exit.
    per_exit: one threshold per non-final exit, the configuration with the
    fewest expected MACs (cumulative stage MACs) under the same guarantee.
    risk: what max_drop bounds (per-exit only): disagreement, accuracy or either (calibrate.py).
    """
    if risk != "disagreement" and not per_exit:
        raise TinyexitError(f"calibrate: --risk {risk} needs --per-exit (one shared threshold bounds the "
                            "disagreement risk)")
    with tempfile.TemporaryDirectory(prefix="tinyexit-lib-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=Options(policy="none"))
        result = run_host(lib.out_dir, x)
    exits = exit_logits_of(lib.graph)
    if per_exit:
        macs = np.cumsum([stage.macs for stage in lib.graph.stages]).astype(np.float64)
        return calibrate_per_exit(
            [result.logits[e.name] for e in exits], [e.scale for e in exits], [e.zero_point for e in exits], y,
            policy, max_drop, method=method, delta=delta, seed=seed, exit_names=[e.name for e in exits],
            costs=list(macs), correction=correction, risk=risk,
        )
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
