"""Run tinyexit kernels on a prepared one-op model and TFLM on the same model.

Independent of the emitter and the memory planner, so a kernel can be checked
in isolation: every tensor gets its own buffer, every op's prepare function
gives its kernel calls, tests/harness/one_op_main.c.j2 turns them into a
program that reads samples on stdin, and the program is compiled with the
project's strict flags plus UBSan. `compare_with_tflm` runs both on random
int8 inputs and asserts byte equality.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import jinja2
import numpy as np
from tflite_micro import runtime

from tinyexit.codegen.ir import Graph
from tinyexit.codegen.ops import prepare_op
from tinyexit.codegen.paths import TEMPLATES_DIR
from tinyexit.codegen.reader import parse_model

HERE = Path(__file__).resolve().parent
KERNELS_DIR = TEMPLATES_DIR / "kernels"
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O1", "-fsanitize=undefined", "-fno-sanitize-recover=all"]


def _c_values(values: np.ndarray, ctype: str) -> str:
    suffix = "u" if ctype.startswith("uint") else ""
    return ", ".join(f"{int(v)}{suffix}" for v in np.asarray(values).reshape(-1))


def prepare_graph(graph: Graph, optimize: str = "speed") -> list[tuple[str, object]]:
    """[(call name, KernelCall)] for every op, in order (optimize: see pipeline.Options)."""
    calls = []
    for op in graph.ops:
        for j, call in enumerate(prepare_op(graph, op, optimize)):
            calls.append((f"op{op.index}_{j}", call))
    return calls


def render(graph: Graph, optimize: str = "speed") -> str:
    calls = prepare_graph(graph, optimize)
    used = sorted({t for _, c in calls for t in c.inputs + c.outputs} | set(graph.inputs) | set(graph.outputs))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "harness")), trim_blocks=True,
                             lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    tensor = lambda i: {"index": i, "nbytes": graph.tensor(i).nbytes,  # noqa: E731
                        "comment": f"{graph.tensor(i).name} {list(graph.tensor(i).shape)}"}
    return env.get_template("one_op_main.c.j2").render(
        kernels=sorted({c.kernel for _, c in calls}),
        tensors=[tensor(i) for i in used],
        inputs=[tensor(i) for i in graph.inputs],
        outputs=[tensor(i) for i in graph.outputs],
        scratch_bytes=max((c.scratch for _, c in calls), default=0),
        calls=[
            {
                "name": name,
                "kernel": c.kernel,
                "params": c.params,
                "arrays": [{"field": f, "ctype": a.ctype, "length": np.asarray(a.values).size,
                            "init": _c_values(a.values, a.ctype)} for f, a in c.arrays.items()],
                "inputs": c.inputs,
                "outputs": c.outputs,
                "scratch": c.scratch,
            }
            for name, c in calls
        ],
    )


def build(model: bytes, workdir: Path, optimize: str = "speed") -> Path:
    """Compile the harness for `model`; returns the executable."""
    graph = parse_model(model)
    source = render(graph, optimize)
    kernels = sorted({c.kernel for _, c in prepare_graph(graph, optimize)})
    tag = hashlib.sha256(source.encode()).hexdigest()[:16]
    exe = workdir / f"run_{tag}"
    c_file = workdir / f"run_{tag}.c"
    c_file.write_text(source)
    cmd = ["gcc", *CFLAGS, f"-I{KERNELS_DIR}", str(c_file),
           *[str(KERNELS_DIR / f"tx_{k}.c") for k in kernels], "-o", str(exe)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return exe


def run_c(exe: Path, inputs: list[np.ndarray], output_shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """Run the harness on N samples: inputs[i] has shape (N, *input_shape)."""
    n = inputs[0].shape[0]
    stream = b"".join(b"".join(np.ascontiguousarray(x[k]).tobytes() for x in inputs) for k in range(n))
    result = subprocess.run([str(exe)], input=stream, capture_output=True, check=True)
    sizes = [int(np.prod(s)) for s in output_shapes]
    raw = np.frombuffer(result.stdout, dtype=np.int8).reshape(n, sum(sizes))
    outs, start = [], 0
    for size, shape in zip(sizes, output_shapes):
        outs.append(raw[:, start:start + size].reshape(n, *shape))
        start += size
    return outs


def run_tflm(model: bytes, inputs: list[np.ndarray], num_outputs: int) -> list[np.ndarray]:
    interpreter = runtime.Interpreter.from_bytes(model)
    results = [[] for _ in range(num_outputs)]
    for k in range(inputs[0].shape[0]):
        for i, x in enumerate(inputs):
            interpreter.set_input(x[k], i)
        interpreter.invoke()
        for j in range(num_outputs):
            results[j].append(interpreter.get_output(j).copy())
    return [np.stack(r) for r in results]


def random_inputs(graph: Graph, n: int, seed: int) -> list[np.ndarray]:
    """n random int8 samples per model input, with the extremes -128 and 127 in the first two."""
    rng = np.random.default_rng(seed)
    inputs = []
    for t in graph.inputs:
        shape = graph.tensor(t).shape
        x = rng.integers(-128, 128, size=(n, *shape), dtype=np.int8)
        x[0], x[1] = -128, 127
        inputs.append(x)
    return inputs


def compare_with_tflm(model: bytes, workdir: Path, n: int = 200, seed: int = 0,
                      optimize: str = "speed") -> list[np.ndarray]:
    """Assert the kernels equal TFLM byte for byte on n random inputs; returns TFLM's outputs."""
    graph = parse_model(model)
    exe = build(model, workdir, optimize)
    inputs = random_inputs(graph, n, seed)
    shapes = [graph.tensor(t).shape for t in graph.outputs]
    ours = run_c(exe, inputs, shapes)
    theirs = run_tflm(model, inputs, len(shapes))
    for j, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == b.shape, (a.shape, b.shape)
        bad = np.argwhere(a != b)
        assert bad.size == 0, (
            f"output {j}: {len(bad)} of {a.size} bytes differ from TFLM; first at {tuple(bad[0])}: "
            f"tinyexit {a[tuple(bad[0])]} vs TFLM {b[tuple(bad[0])]}"
        )
    return theirs
