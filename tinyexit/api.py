"""The Python API: what the commands do, on arrays, for notebooks and scripts.

    import tinyexit
    lib = tinyexit.generate("kws.tflite", "out/kws", name="kws", policy="confidence:0.9")
    arrays = tinyexit.run("kws.tflite", x)                       # host build, bit-exact
    result = tinyexit.compare("kws.tflite", x, y, ["none", "confidence:0.9"], board="nucleo-l4r5zi")

Errors are TinyexitError (tinyexit.TinyexitError), one line each.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .codegen.options import make_options
from .codegen.pipeline import GeneratedLibrary
from .codegen.pipeline import generate as generate_library
from .evaluation.compare import Comparison, run_comparison, split_policies
from .firmware_sim.targets import run_model_file


def generate(model: str | Path, out: str | Path, *, name: str | None = None, policy: str = "none",
             exits: str | None = None, optimize: str = "size", board: str | None = None) -> GeneratedLibrary:
    """Generate the C library for `model` in the folder `out` (replaced atomically); as `tinyexit generate`."""
    return generate_library(model, out, name=name, options=make_options(policy, exits, optimize), board=board)


def run(model: str | Path, inputs: np.ndarray, *, target: str = "host", board: str | None = None,
        policy: str = "none", exits: str | None = None, optimize: str = "size") -> dict[str, np.ndarray]:
    """Run `inputs` (N, *input_shape) through the generated code; the arrays `tinyexit run` saves.

    Keys: one per exit (its outputs, zeros where a sample did not reach it),
    `logits.<exit>`, `exit_taken`, `label`; on qemu also `stage_instructions`
    and `cycles_est`.
    """
    arrays, _ = run_model_file(model, np.asarray(inputs), target, board, make_options(policy, exits, optimize))
    return arrays


def compare(model: str | Path, x: np.ndarray, y: np.ndarray | None = None,
            policies: str | list[str] = "none", *, board: str, qemu_samples: int = 16, verify_qemu: int = 0,
            optimize: str = "size") -> Comparison:
    """Accuracy (with labels y) and simulated cost of each policy; as `tinyexit compare`, without the files.

    policies: a list, or one string separated by ';' ("none; confidence:0.9").
    """
    names = split_policies(policies) if isinstance(policies, str) else list(policies)
    y = None if y is None else np.asarray(y).astype(np.int64).reshape(-1)
    return run_comparison(model, np.asarray(x), y, board, names, qemu_samples, verify_qemu, optimize=optimize)
