"""The TFLM interpreter as the test oracle (tflite-micro wheel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyexit.codegen.reader import read_model

SHARED_MODELS = Path(__file__).resolve().parents[2] / "shared" / "models" / "mlperf_tiny"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def tflm_interpreter(model_path: Path, preserve_all: bool = False):
    from tflite_micro import runtime

    config = (
        runtime.InterpreterConfig.kPreserveAllTensors if preserve_all else runtime.InterpreterConfig.kAllocationRecording
    )
    return runtime.Interpreter.from_bytes(Path(model_path).read_bytes(), intrepreter_config=config)


def tflm_run(model_path: Path, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Every exit's output for each sample, keyed by exit name, from TFLM."""
    graph = read_model(model_path)
    interp = tflm_interpreter(model_path)
    in_shape = graph.tensor(graph.inputs[0]).shape
    results = {e.name: [] for e in graph.exits}
    for x in inputs:
        interp.set_input(np.asarray(x).reshape(in_shape), 0)
        interp.invoke()
        for e in graph.exits:
            results[e.name].append(np.array(interp.get_output(e.output_index)))
    return {k: np.stack(v) for k, v in results.items()}


def tflm_tensors(model_path: Path, x: np.ndarray, indices: list[int]) -> dict[int, np.ndarray]:
    """Intermediate tensors after one invoke (kPreserveAllTensors)."""
    graph = read_model(model_path)
    interp = tflm_interpreter(model_path, preserve_all=True)
    interp.set_input(np.asarray(x).reshape(graph.tensor(graph.inputs[0]).shape), 0)
    interp.invoke()
    tensors = {}
    for i in indices:
        if 0 <= i < len(graph.tensors):  # an index out of range crashes the process
            tensors[i] = np.array(interp.GetTensor(i, 0)["tensor_data"])
    return tensors


def random_inputs(model_path: Path, count: int, seed: int = 0) -> np.ndarray:
    graph = read_model(model_path)
    t = graph.tensor(graph.inputs[0])
    rng = np.random.default_rng(seed)
    if t.dtype == "float32":
        return rng.standard_normal((count, *t.shape[1:])).astype(np.float32)
    return rng.integers(-128, 128, size=(count, *t.shape[1:]), dtype=np.int8)
