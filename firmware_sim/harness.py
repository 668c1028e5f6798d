"""The sample-streaming harness shared by every target, and its file formats.

inputs.bin: samples back to back, each the model's input bytes.
results.bin: per sample, exit taken (1 byte), label (2 bytes, little endian), then every
exit's output bytes (zeros for exits that did not run).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..codegen import __version__
from ..codegen.emitter import template_env
from ..codegen.errors import TinyexitError
from ..codegen.manifest import load_manifest
from ..codegen.paths import TEMPLATES_DIR


HEADER_BYTES = 3  # exit taken, label (16 bits)


@dataclass(frozen=True)
class RunResult:
    exit_taken: np.ndarray  # (N,) int8: index of the exit each sample stopped at
    labels: np.ndarray  # (N,) int16: label the policy reported
    outputs: dict[str, np.ndarray]  # exit name -> (N, *shape) outputs, zeros where the exit did not run
    logits: dict[str, np.ndarray]  # exit name -> (N, classes) int8 logits the decision read

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.outputs)
        arrays.update({f"logits.{name}": q for name, q in self.logits.items()})
        arrays["exit_taken"] = self.exit_taken
        arrays["label"] = self.labels
        return arrays


def write_harness(lib_dir: Path, dest: Path) -> list[Path]:
    """Render the harness for the library in `lib_dir` into `dest`; returns the C files."""
    manifest = load_manifest(lib_dir)
    stages = [{"index": e["stage"]} for e in manifest["exits"]]
    ctx = {
        "version": __version__,
        "prefix": manifest["prefix"],
        "PREFIX": manifest["prefix"].upper(),
        "stages": stages,
        "max_exit_bytes": max(max(e["bytes"], e["logits"]) for e in manifest["exits"]),
        "trace": manifest.get("trace", False),
    }
    dest.mkdir(parents=True, exist_ok=True)
    harness = dest / "harness.c"
    harness.write_text(template_env().get_template("harness/harness.c.j2").render(ctx))
    for name in ("tx_markers.c", "tx_markers.h"):
        shutil.copyfile(TEMPLATES_DIR / "harness" / name, dest / name)
    return [harness, dest / "tx_markers.c"]


def input_bytes(x: np.ndarray, manifest: dict, where: str = "inputs") -> bytes:
    """Samples as the model's input bytes: int8 as is, float32 quantized with the input's scale."""
    spec = manifest["input"]
    shape = tuple(spec["shape"])
    per_sample = int(np.prod(shape))
    x = np.asarray(x)
    if x.ndim < 1 or x.size != x.shape[0] * per_sample or (x.ndim > 1 and int(np.prod(x.shape[1:])) != per_sample):
        raise TinyexitError(
            f"{where}: shape {list(x.shape)} does not hold samples of the model's input shape {list(shape)}; "
            f"pass an array of shape (N, {', '.join(map(str, shape))})"
        )
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        bad = ~np.isfinite(x.reshape(len(x), -1))
        raise TinyexitError(
            f"{where}: {int(bad.sum())} values are NaN or infinite (first in sample {int(np.argmax(bad.any(axis=1)))}); "
            "pass finite samples"
        )
    if spec["dtype"] == "float32":
        return x.astype("<f4").tobytes()
    if x.dtype == np.int8:
        return x.tobytes()
    if x.dtype.kind == "f":
        q = np.round(x.astype(np.float64) / spec["scale"]) + spec["zero_point"]
        return np.clip(q, -128, 127).astype(np.int8).tobytes()
    raise TinyexitError(f"{where}: dtype {x.dtype} is neither int8 nor float32; pass int8 or float32 samples")


def results_bytes(result: RunResult, manifest: dict) -> bytes:
    """results.bin as the harness writes it for `result`: the inverse of parse_results."""
    exits = manifest["exits"]
    samples = len(result.exit_taken)
    labels = np.asarray(result.labels).astype("<i2").view(np.uint8).reshape(samples, 2)
    columns = [np.asarray(result.exit_taken).astype(np.int8).view(np.uint8).reshape(samples, 1), labels]
    for e in exits:
        y = np.asarray(result.outputs[e["name"]]).astype(np.dtype(e["dtype"]).newbyteorder("<"))
        columns.append(y.reshape(samples, -1).view(np.uint8).reshape(samples, e["bytes"]))
    for e in exits:
        columns.append(np.asarray(result.logits[e["name"]]).astype(np.int8).view(np.uint8).reshape(samples, e["logits"]))
    return np.concatenate(columns, axis=1).tobytes() if samples else b""


def parse_results(raw: bytes, manifest: dict, samples: int) -> RunResult:
    exits = manifest["exits"]
    record = HEADER_BYTES + sum(e["bytes"] + e["logits"] for e in exits)
    if len(raw) != record * samples:
        raise TinyexitError(
            f"results.bin holds {len(raw)} bytes, expected {record * samples} for {samples} samples; "
            "the program stopped early"
        )
    rows = np.frombuffer(raw, dtype=np.uint8).reshape(samples, record)
    outputs = {}
    col = HEADER_BYTES
    for e in exits:
        chunk = rows[:, col : col + e["bytes"]].copy()
        outputs[e["name"]] = chunk.view(np.dtype(e["dtype"]).newbyteorder("<")).reshape(
            (samples, *e["shape"])
        ).astype(e["dtype"])
        col += e["bytes"]
    logits = {}
    for e in exits:
        logits[e["name"]] = rows[:, col : col + e["logits"]].view(np.int8).copy()
        col += e["logits"]
    return RunResult(
        exit_taken=rows[:, 0].astype(np.int8),
        labels=(rows[:, 1].astype(np.int32) | (rows[:, 2].astype(np.int32) << 8)).astype(np.int16),
        outputs=outputs,
        logits=logits,
    )
