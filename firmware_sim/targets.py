"""Run a model's inputs on one target, from the .tflite to arrays.

    run_on_target(lib_dir, target, board, inputs) -> dict of arrays
    run_model_file(model, inputs, target, board, options) -> (arrays, library)

host: every exit's outputs, exit_taken, label, logits.<exit>. qemu: the same,
plus stage_instructions (N, S) int64 and cycles_est (N, S) float64 (an
estimate; see firmware_sim/cycles.py). renode: outputs, exit_taken and label
(Renode runs the UART build; it gives no per-stage counts).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from ..codegen.errors import TinyexitError
from ..codegen.options import Options
from ..codegen.pipeline import GeneratedLibrary, generate
from .host import run_host
from .qemu import run_model
from .renode import run as run_renode

TARGETS = ("host", "qemu", "renode")


def run_on_target(lib_dir: str | Path, target: str, board: str | None, inputs: np.ndarray,
                  opt: str = "-O2") -> dict[str, np.ndarray]:
    """Run a generated library's inputs on `target` (qemu and renode need a board)."""
    if target not in TARGETS:
        raise TinyexitError(f"--target '{target}' is not one of {', '.join(TARGETS)}")
    if target == "host":
        return run_host(lib_dir, inputs).to_arrays()
    if board is None:
        raise TinyexitError(f"--target {target} needs --board; list boards with `tinyexit boards`")
    if target == "qemu":
        return run_model(lib_dir, board, inputs, opt=opt)
    return run_renode(lib_dir, board, inputs, opt=opt).to_arrays()


def run_model_file(model: str | Path, inputs: np.ndarray, target: str = "host", board: str | None = None,
                   options: Options = Options()) -> tuple[dict[str, np.ndarray], GeneratedLibrary]:
    """Generate the library for `model` in a temporary folder and run `inputs` on `target`."""
    if target not in TARGETS:
        raise TinyexitError(f"--target '{target}' is not one of {', '.join(TARGETS)}")
    with tempfile.TemporaryDirectory(prefix="tinyexit-lib-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=options)
        return run_on_target(lib.out_dir, target, board, inputs), lib
