"""Per-op profile: exact instructions and cycles_est for every op, in QEMU.

    profile_ops(model, board, inputs, options) -> OpProfile

The model is generated as a profiling build (Options.op_markers: each stage
function calls tx_op_mark() before each op and after its last), built with the
harness and run in QEMU with the tx_count plugin keyed on that marker too. The
counts between two marks are one op's: its kernel calls with their argument
set-up, plus the two instructions of the marker call. Each op's figures are
means over the samples whose policy ran its stage (policy `none` runs every
stage). Ops without a kernel call (RESHAPE and SQUEEZE are views of their
input) do not appear; an exit's SOFTMAX runs only when the application asks
for that exit's probabilities, outside the stages, and is not counted.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from ..codegen.boards import Board, load_board
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.options import Options
from ..codegen.pipeline import generate
from . import cycles
from .build import build_firmware
from .qemu import run


@dataclass(frozen=True)
class OpCost:
    index: int  # the op's index in the .tflite
    op: str  # its kind, e.g. CONV_2D
    stage: int
    kernels: tuple[str, ...]  # the kernel variant(s) it runs as, e.g. ("conv2d_gemm_s8",)
    macs: int
    instructions: float  # mean over the samples that ran its stage (exact per sample)
    cycles_est: float  # estimate, same timing model as `simulate`
    samples: int  # samples that ran it

    @property
    def instr_per_mac(self) -> float | None:
        return self.instructions / self.macs if self.macs else None


@dataclass(frozen=True)
class OpProfile:
    ops: list[OpCost]
    board: str
    clock_hz: int
    timing_model: str
    note: str

    @property
    def instructions(self) -> float:
        return float(sum(o.instructions for o in self.ops))

    def share(self, op: OpCost) -> float:
        return op.instructions / self.instructions if self.instructions else 0.0

    def to_dict(self) -> dict:
        return {
            "board": self.board,
            "clock_hz": self.clock_hz,
            "timing_model": self.timing_model,
            "note": self.note,
            "ops": [
                {**asdict(o), "kernels": list(o.kernels), "instr_per_mac": o.instr_per_mac, "share": self.share(o)}
                for o in self.ops
            ],
        }


def profile_ops(model: str | Path, board: str | Board, inputs: np.ndarray, options: Options = Options(),
                opt: str = "-O2", timeout: float | None = None, progress=None) -> OpProfile:  # fmt: skip
    """Run `inputs` through a profiling build of `model` in QEMU; per-op costs in stage order."""
    target = load_board(board)
    with tempfile.TemporaryDirectory(prefix="tinyexit-ops-") as tmp:
        lib = generate(model, Path(tmp) / "lib", options=replace(options, op_markers=True))
        manifest = load_manifest(lib.out_dir)
        built = build_firmware(lib.out_dir, target, tmp, opt=opt)
        res = run(built, target, inputs, manifest, timeout=timeout, progress=progress)
    graph = lib.graph
    staged = [[i for i in stage.ops if graph.calls.get(i)] for stage in graph.stages]
    per_sample = res.extra.get("op_classes")
    if per_sample is None:
        raise TinyexitError(f"{built.elf.name}: no tx_op_mark symbol; the profiling build lost its op markers")
    timing = cycles.model_for(target.core)
    ci = cycles.INDEX
    ops = []
    for k, indices in enumerate(staged):
        ran = [sample[k] for sample in per_sample if len(sample) > k]
        if any(len(r) != len(indices) for r in ran):
            raise TinyexitError(f"stage {k}: {len(indices)} ops, but the op markers counted another number; a bug")
        if not ran:
            continue
        classes = np.stack(ran)  # (samples, ops, classes)
        instr = classes[..., ci["insn"]].mean(axis=0)
        est = timing.estimate(classes).mean(axis=0)
        for j, i in enumerate(indices):
            calls = graph.calls[i]
            ops.append(OpCost(index=i, op=graph.ops[i].kind, stage=k, kernels=tuple(c.kernel for c in calls),
                              macs=int(sum(c.macs for c in calls)), instructions=float(instr[j]),
                              cycles_est=float(est[j]), samples=len(ran)))  # fmt: skip
    return OpProfile(ops=ops, board=target.name, clock_hz=target.clock_hz, timing_model=timing.name,
                     note=cycles.note(timing.name))  # fmt: skip
