"""Seeded fuzzing of the model reader, verifier and generator (issue 14); not shipped in the package.

A case takes one of the repository's fixture models (tests/fixtures/*.tflite),
applies a few byte-level (flip, truncate, insert) or schema-level mutations
(shapes, quantization, buffer and tensor indices, opcodes, operator inputs
and outputs, op order, options, signatures, names), and runs it through
read_model -> compile_graph -> render_library. The outcome must be one of:

- "refused": a TinyexitError whose message is one short printable line;
- "accepted": the generated C compiles with -Werror under
  -fsanitize=address,undefined, runs on random inputs without a sanitizer
  finding, and equals TFLM (run in a child process) byte for byte; TFLM must
  accept the model too.

Anything else is a failure: "traceback" (any other exception), "hang"
(a case over CASE_SECONDS), "bad_message", "compile_fail", "sanitizer",
"run_fail", "mismatch", "tflm_refuses".

    python tests/fuzz_models.py --cases 2000 --seed 1      # what `make fuzz N=2000` runs
    python tests/fuzz_models.py --tflm MODEL INPUTS OUT     # (internal) the TFLM child process

Mutants are a pure function of (seed, case number): a failing case is
reproduced with --seed S --first K --cases 1 --keep DIR.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

ROOT = Path(__file__).resolve().parents[1]
for _path in (str(ROOT), str(ROOT / "tests")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from tinyexit.codegen.emitter import render_library  # noqa: E402
from tinyexit.codegen.errors import TinyexitError  # noqa: E402
from tinyexit.codegen.options import Options  # noqa: E402
from tinyexit.codegen.pipeline import compile_graph  # noqa: E402
from tinyexit.codegen.reader import parse_model  # noqa: E402
from tinyexit.codegen.manifest import load_manifest  # noqa: E402
from tinyexit.firmware_sim.harness import input_bytes, parse_results, write_harness  # noqa: E402
from oracle import tflm_run  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
CASE_SECONDS = 60
SAMPLES = 8
SANITIZE = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all", "-fno-omit-frame-pointer"]
INJECTION = "*/\n#define TX_INJECTED_BY_MODEL 1\n/*"
NASTY_NAMES = [INJECTION, "a/*b", "??/", "x\\", "\x00\x01\x1b[31m", "é" * 40, "n" * 5000, "//c", "", "ok_name"]
FAILURES = ("traceback", "hang", "bad_message", "compile_fail", "sanitizer", "run_fail", "mismatch",
            "tflm_refuses", "injected")
OUTCOMES = ("refused", "accepted") + FAILURES


def fixture_models() -> list[Path]:
    return sorted(p for p in FIXTURES.glob("*.tflite"))


# ---------------------------------------------------------------------------
# mutation


def unpack(data: bytes):
    return schema.ModelT.InitFromPackedBuf(bytearray(data), 0)


def pack(model) -> bytes:
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _int(rng: random.Random, current: int, count: int) -> int:
    return rng.choice([-1, -2, -(2**31), count, count + rng.randrange(1, 5), 2**31 - 1, 0,
                       current + 1, current - 1, rng.randrange(max(count, 1))])


def _scale(rng: random.Random, s: float) -> float:
    return rng.choice([0.0, -s, math.inf, math.nan, 1e-45, 3e38, s * 1e6, s * 1e-6, s * 2, s / 3])


def _mutate_tensor(rng, model, sub) -> str:
    if not sub.tensors:
        return "noop"
    i = rng.randrange(len(sub.tensors))
    t = sub.tensors[i]
    what = rng.choice(["shape", "shape", "quant", "quant", "zero_point", "buffer", "type", "name", "channels"])
    if what == "shape":
        shape = list(t.shape) if t.shape is not None else []
        if shape and rng.random() < 0.8:
            d = rng.randrange(len(shape))
            shape[d] = rng.choice([0, -1, -3, 1, shape[d] + 1, shape[d] * 2, max(1, shape[d] // 2), 2**31 - 1])
        else:
            shape = shape + [1] if rng.random() < 0.5 else shape[:-1]
        t.shape = shape
    elif what in ("quant", "zero_point", "channels"):
        q = t.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            if rng.random() < 0.5:
                t.quantization = None
                return "tensor.quant.none"
            q = t.quantization = schema.QuantizationParametersT()
            q.scale, q.zeroPoint = [0.05], [0]
        if what == "quant":
            if rng.random() < 0.2:
                t.quantization = None
            else:
                j = rng.randrange(len(q.scale))
                q.scale[j] = _scale(rng, q.scale[j])
        elif what == "zero_point":
            zps = list(q.zeroPoint) if q.zeroPoint is not None else [0]
            j = rng.randrange(len(zps)) if zps else 0
            value = rng.choice([2**63 - 1, -(2**63), 128, -129, 127, -128, 2**31, rng.randrange(-200, 200)])
            if zps:
                zps[j] = value
            q.zeroPoint = zps
        else:
            if rng.random() < 0.5:
                q.scale = list(q.scale)[:-1] or [0.1, 0.2]
            else:
                q.scale = list(q.scale) + [0.01]
            if rng.random() < 0.5:
                q.zeroPoint = [0] * len(q.scale)
            q.quantizedDimension = rng.choice([0, 1, 3, -1, 7, q.quantizedDimension])
    elif what == "buffer":
        t.buffer = _int(rng, t.buffer, len(model.buffers))
    elif what == "type":
        t.type = rng.choice([0, 1, 2, 3, 4, 7, 9, 10, 16, 99])
    elif what == "name":
        t.name = rng.choice(NASTY_NAMES)
    return f"tensor.{what}"


def _mutate_buffer(rng, model, sub) -> str:
    with_data = [b for b in model.buffers if b.data is not None and len(b.data)]
    if not with_data:
        return "noop"
    b = rng.choice(with_data)
    data = np.asarray(b.data, dtype=np.uint8)
    what = rng.choice(["truncate", "extend", "int32_max", "random"])
    if what == "truncate":
        data = data[: rng.randrange(len(data))]
    elif what == "extend":
        data = np.concatenate([data, np.zeros(rng.choice([1, 4, 16]), np.uint8)])
    elif what == "int32_max" and len(data) >= 4:
        words = data[: len(data) // 4 * 4].view(np.int32).copy()
        words[rng.randrange(len(words))] = rng.choice([2**31 - 1, -(2**31), 2**31 - 2**20, 2**30])
        data = np.concatenate([words.view(np.uint8), data[len(words) * 4:]])
    else:
        data = data.copy()
        data[rng.randrange(len(data))] = rng.randrange(256)
    b.data = data.tolist()
    return f"buffer.{what}"


def _mutate_op(rng, model, sub) -> str:
    if not sub.operators:
        return "noop"
    n_t = len(sub.tensors)
    i = rng.randrange(len(sub.operators))
    op = sub.operators[i]
    what = rng.choice(["inputs", "inputs", "outputs", "opcode", "options", "options", "order", "self_read",
                       "dup_producer", "delete", "duplicate"])
    inputs = list(op.inputs) if op.inputs is not None else []
    outputs = list(op.outputs) if op.outputs is not None else []
    if what == "inputs":
        how = rng.choice(["drop", "add", "set"])
        if how == "drop" and inputs:
            inputs.pop(rng.randrange(len(inputs)))
        elif how == "add":
            inputs.append(rng.choice([-1, rng.randrange(n_t)]))
        elif inputs:
            j = rng.randrange(len(inputs))
            inputs[j] = _int(rng, inputs[j], n_t)
        op.inputs = inputs
    elif what == "outputs":
        how = rng.choice(["drop", "add", "set"])
        if how == "drop" and outputs:
            outputs.pop()
        elif how == "add":
            outputs.append(rng.randrange(n_t))
        elif outputs:
            outputs[0] = _int(rng, outputs[0], n_t)
        op.outputs = outputs
    elif what == "opcode":
        if rng.random() < 0.5:
            op.opcodeIndex = _int(rng, op.opcodeIndex, len(model.operatorCodes))
        else:
            code = model.operatorCodes[rng.randrange(len(model.operatorCodes))]
            code.builtinCode = rng.choice([0, 1, 3, 4, 9, 17, 22, 25, 34, 40, 45, 60, 14, 6, 114, 200])
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
    elif what == "options":
        _mutate_options(rng, op)
    elif what == "order" and len(sub.operators) > 1:
        j = rng.randrange(len(sub.operators))
        sub.operators[i], sub.operators[j] = sub.operators[j], sub.operators[i]
    elif what == "self_read" and inputs and outputs:
        inputs[0] = rng.choice(outputs)
        op.inputs = inputs
    elif what == "dup_producer" and len(sub.operators) > 1:
        other = sub.operators[rng.randrange(len(sub.operators))]
        if other.outputs is not None and len(other.outputs):
            op.outputs = [int(other.outputs[0])] + outputs[1:]
    elif what == "delete" and len(sub.operators) > 1:
        del sub.operators[i]
    elif what == "duplicate":
        sub.operators.insert(rng.randrange(len(sub.operators) + 1), op)
    return f"op.{what}"


def _mutate_options(rng, op) -> None:
    o = op.builtinOptions
    if o is None or rng.random() < 0.15:
        op.builtinOptionsType, op.builtinOptions = rng.choice([(0, None), (1, schema.Conv2DOptionsT()),
                                                               (5, schema.Pool2DOptionsT())])
        return
    fields = [f for f in vars(o) if not f.startswith("_")]
    if not fields:
        return
    f = rng.choice(fields)
    current = getattr(o, f)
    if isinstance(current, bool):
        setattr(o, f, not current)
    elif isinstance(current, int):
        setattr(o, f, rng.choice([0, -1, 1, 2, 3, 5, 6, 7, 100, 2**31 - 1, current + 1]))
    elif isinstance(current, float):
        setattr(o, f, rng.choice([0.0, -1.0, math.inf, math.nan, 1e30]))


def _mutate_graph(rng, model, sub) -> str:
    n_t = len(sub.tensors)
    what = rng.choice(["inputs", "outputs", "signature_name", "signature_tensor", "signature_drop"])
    if what in ("inputs", "outputs"):
        values = list(getattr(sub, what) if getattr(sub, what) is not None else [])
        if values and rng.random() < 0.7:
            j = rng.randrange(len(values))
            values[j] = _int(rng, values[j], n_t)
        else:
            values.append(rng.randrange(n_t))
        setattr(sub, what, values)
    elif model.signatureDefs:
        sig = model.signatureDefs[0]
        outs = sig.outputs or []
        if what == "signature_drop":
            model.signatureDefs = []
        elif outs:
            entry = rng.choice(outs)
            if what == "signature_name":
                entry.name = rng.choice(NASTY_NAMES + [outs[0].name])
            else:
                entry.tensorIndex = _int(rng, entry.tensorIndex, n_t)
    return f"graph.{what}"


def _mutate_bytes(rng, data: bytes) -> tuple[bytes, str]:
    buf = bytearray(data)
    what = rng.choice(["flip", "flip", "truncate", "insert", "word"])
    if what == "flip":
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    elif what == "truncate":
        buf = buf[: rng.randrange(8, len(buf))]
    elif what == "insert":
        at = rng.randrange(len(buf))
        buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.choice([1, 4, 8])))
    else:
        at = rng.randrange(0, len(buf) - 4)
        buf[at:at + 4] = rng.choice([0, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, rng.randrange(2**32)]).to_bytes(4, "little")
    return bytes(buf), f"bytes.{what}"


def mutant(seed: int, case: int, models: list[Path]) -> tuple[str, bytes, str]:
    """(fixture name, mutated bytes, description) of one case: a pure function of (seed, case)."""
    rng = random.Random(f"{seed}:{case}")
    path = rng.choice(models)
    data = path.read_bytes()
    if rng.random() < 0.25:
        data, what = _mutate_bytes(rng, data)
        return path.stem, data, what
    model = unpack(data)
    sub = model.subgraphs[0]
    done = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        kind = rng.choice([_mutate_tensor, _mutate_tensor, _mutate_op, _mutate_op, _mutate_buffer, _mutate_graph])
        done.append(kind(rng, model, sub))
    try:
        return path.stem, pack(model), "+".join(done)
    except Exception:  # the object API cannot write some edits (e.g. a value out of its field's range)
        return path.stem, path.read_bytes(), "unpackable"


# ---------------------------------------------------------------------------
# running a case


class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def clean_message(message: str) -> bool:
    return "\n" not in message and len(message) <= 1000 and all(32 <= ord(c) < 127 for c in message)


def generate_case(data: bytes, name: str) -> tuple[str, dict | str]:
    """("refused", message) | ("accepted", files) | (failure, detail), with a timeout."""
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CASE_SECONDS)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would be a second line on the user's terminal
            graph = compile_graph(parse_model(data, source=f"{name}.tflite", name=name), Options(policy="none"))
            files = render_library(graph, "fuzz", Options(policy="none"))
    except TinyexitError as exc:
        return ("refused", exc.message) if clean_message(exc.message) else ("bad_message", exc.message[:300])
    except CaseTimeout:
        return "hang", f"over {CASE_SECONDS} s"
    except Exception as exc:  # noqa: BLE001 - every other exception is the finding
        return "traceback", f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    c_text = "".join(t for n, t in files.items() if n != "manifest.json")
    if re.search(r"^\s*#\s*define\s+TX_INJECTED_BY_MODEL", c_text, re.M) or not c_text.isascii():
        return "injected", "a model string reached the C outside a comment"
    return "accepted", files


def _build(lib: Path, cache: Path) -> tuple[Path | None, str]:
    manifest = load_manifest(lib)
    work = Path(tempfile.mkdtemp(prefix="harness-", dir=cache))
    harness = write_harness(lib, work)
    sources = [lib / s for s in manifest["sources"]] + harness
    exe = work / "runner"
    cc = os.environ.get("CC", "cc")
    proc = subprocess.run([cc, *SANITIZE, "-I", str(lib), "-I", str(work), *map(str, sources), "-o", str(exe)],
                          capture_output=True, text=True)
    if proc.returncode:
        return None, (proc.stderr.strip().splitlines() or ["?"])[0][:300]
    return exe, ""


def run_accepted(data: bytes, files: dict, work: Path, seed: int) -> tuple[str, str]:
    """Compile with sanitizers, run, compare with TFLM in a child process."""
    lib = work / "lib"
    lib.mkdir(parents=True, exist_ok=True)
    for fname, text in files.items():
        (lib / fname).write_text(text)
    model = work / "model.tflite"
    model.write_bytes(data)
    exe, error = _build(lib, work)
    if exe is None:
        return "compile_fail", error
    manifest = load_manifest(lib)
    rng = np.random.default_rng(seed)
    shape = manifest["input"]["shape"]
    if manifest["input"]["dtype"] == "float32":
        x = rng.standard_normal((SAMPLES, *shape)).astype(np.float32)
    else:
        x = rng.integers(-128, 128, size=(SAMPLES, *shape)).astype(manifest["input"]["dtype"])
    (exe.parent / "inputs.bin").write_bytes(input_bytes(x, manifest))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0", UBSAN_OPTIONS="print_stacktrace=1")
    try:
        proc = subprocess.run([str(exe)], cwd=exe.parent, capture_output=True, text=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return "hang", "the generated C ran over 120 s"
    if "Sanitizer" in proc.stderr or "runtime error" in proc.stderr:
        lines = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln or "runtime error" in ln]
        return "sanitizer", (lines or ["?"])[0][:300]
    if proc.returncode:
        return "run_fail", f"exit code {proc.returncode}: {proc.stderr[-200:]}"
    ours = parse_results((exe.parent / "results.bin").read_bytes(), manifest, SAMPLES)
    np.save(work / "inputs.npy", x)
    ref = subprocess.run([sys.executable, __file__, "--tflm", str(model), str(work / "inputs.npy"),
                          str(work / "tflm.npz")], capture_output=True, text=True, timeout=300)
    if ref.returncode:
        return "tflm_refuses", (ref.stderr.strip().splitlines() or [f"exit code {ref.returncode}"])[-1][:300]
    expected = np.load(work / "tflm.npz")
    for exit_name, got in ours.outputs.items():
        want = expected[_key(exit_name)].reshape(got.shape)
        if not np.array_equal(got, want):
            return "mismatch", f"exit {exit_name}: {int((got != want).sum())} values differ"
    return "accepted", ""


def _key(name: str) -> str:
    return "e_" + hashlib.sha1(name.encode()).hexdigest()[:12]


def tflm_child(model: str, inputs: str, out: str) -> None:
    """Run TFLM on the inputs (oracle.tflm_run: exits by name through the SignatureDef)."""
    results = tflm_run(Path(model), np.load(inputs))
    np.savez(out, **{_key(k): v for k, v in results.items()})


def run_cases(seed: int, first: int, cases: int, keep: Path | None = None, log=print) -> collections.Counter:
    models = fixture_models()
    counts: collections.Counter = collections.Counter()
    seen_c: dict[str, tuple[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="tinyexit-fuzz-") as tmp:
        for case in range(first, first + cases):
            name, data, what = mutant(seed, case, models)
            outcome, detail = generate_case(data, name)
            if outcome == "accepted":
                digest = hashlib.sha256(data).hexdigest()
                key = hashlib.sha256(json.dumps(sorted(detail.items())).encode()).hexdigest()
                if key in seen_c and seen_c[key][0] == "accepted_c":
                    outcome, detail = "accepted", ""  # identical C as an earlier case: same build, same results
                else:
                    outcome, detail = run_accepted(data, detail, Path(tmp) / f"case{case}", seed + case)
                    counts["built"] += 1
                    if outcome == "accepted":
                        seen_c[key] = ("accepted_c", digest)
            counts[outcome] += 1
            if outcome in FAILURES:
                log(f"case {case} ({name}, {what}): {outcome}: {detail}")
                if keep is not None:
                    keep.mkdir(parents=True, exist_ok=True)
                    (keep / f"case{case}_{outcome}.tflite").write_bytes(data)
    return counts


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--tflm":
        tflm_child(*argv[1:4])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=int(os.environ.get("TINYEXIT_FUZZ_N", "200")))
    p.add_argument("--seed", type=int, default=int(os.environ.get("TINYEXIT_FUZZ_SEED", "1")))
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--keep", type=Path, default=None, help="write failing mutants here")
    args = p.parse_args(argv)
    start = time.time()
    counts = run_cases(args.seed, args.first, args.cases, args.keep)
    print(f"{args.cases} cases, seed {args.seed}, {time.time() - start:.0f} s:")
    for outcome in OUTCOMES:
        print(f"  {outcome:<14} {counts.get(outcome, 0)}")
    print(f"  ({counts.get('built', 0)} accepted mutants with distinct C were built and run; the others gave "
          "C identical to one of them)")
    return 1 if any(counts.get(f) for f in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
