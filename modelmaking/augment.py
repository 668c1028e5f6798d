"""Turn a trained Keras backbone into an int8 early-exit TFLite model.

    tinyexit augment BACKBONE --exit-after LAYER[,LAYER] --data D.npz -o model.tflite
                     [--head trecx|slice|gap] [--train heads|joint] [--epochs N]

Steps (each a plain function): `load_backbone` (.keras, .h5, or a SavedModel
folder written by Keras), `attach_exits` (T-RecX heads after named layers;
outputs exit0, exit1, ... ordered by depth, then final), `train_model`
(heads only with the backbone frozen, the default: the post-training
augmentation of an existing model leaves every backbone weight as it was; or
jointly with loss weights), `convert_int8` (full int8
with a representative dataset; the SignatureDef names the outputs exit0 ...
final), `evaluate_float` / `evaluate_int8` (accuracy per exit). `augment` runs
them all and returns an `AugmentReport`, which also holds the backbone's own
int8 accuracy, measured before augmenting, to set beside each exit's.

TensorFlow is imported inside the functions only: `import tinyexit.modelmaking.augment`
is cheap.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..codegen.errors import TinyexitError
from . import datasets, zoo  # zoo also registers the custom layers tinyexit writes

Log = Callable[[str], None]

HEADS = ("trecx", "slice", "gap")
TRAIN_MODES = ("joint", "heads")


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        # TensorFlow's C++ libraries print start-up notices (oneDNN, absl) to fd 2 as they load,
        # whatever TF_CPP_MIN_LOG_LEVEL says; keep them out of our one-line errors.
        with _quiet_stderr():
            import keras  # noqa: F401
            import tensorflow as tf
    import tensorflow as tf

    return tf


class _quiet_stderr:
    """Send file descriptor 2 to /dev/null inside the block (Python exceptions still surface)."""

    def __enter__(self):
        sys.stderr.flush()
        self.saved = os.dup(2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        os.close(null)

    def __exit__(self, *exc):
        os.dup2(self.saved, 2)
        os.close(self.saved)
        return False


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def exit_names(count: int) -> list[str]:
    """Output names for `count` early exits plus the final classifier."""
    return [f"exit{i}" for i in range(count)] + ["final"]


# ---------------------------------------------------------------------------
# loading and attaching


def load_backbone(path: str | Path):
    """Load a Keras model from .keras, .h5/.hdf5, or a Keras SavedModel folder."""
    path = Path(path)
    if not path.exists():
        raise TinyexitError(f"{path}: no such backbone file or folder; pass a .keras, .h5 or SavedModel path")
    tf = _tf()

    zoo.SliceChannels(1)
    import keras

    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise TinyexitError(f"{path}: a folder without saved_model.pb is not a SavedModel; pass a .keras or .h5 file")
        return _load_saved_model(path)
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise TinyexitError(f"{path}: unknown backbone format '{path.suffix}'; save the model as .keras or .h5")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:
        raise TinyexitError(
            f"{path}: Keras cannot load it ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
            "re-save it with model.save('backbone.keras')"
        ) from None
    return _check_functional(model, path)


def _load_saved_model(path: Path):
    """A SavedModel written by Keras 2 (tf_keras) is rebuilt in Keras 3 from its config and weights."""
    try:
        import tf_keras  # optional: only Keras 2 SavedModels carry their layer graph
    except ImportError:
        raise TinyexitError(
            f"{path}: a SavedModel has no Keras layers that Keras 3 can reload; "
            "load it in the Keras that wrote it and save it as .keras or .h5 (or pip install tf-keras)"
        ) from None
    _tf()
    import keras

    try:
        old = tf_keras.models.load_model(path, compile=False)
        model = keras.Model.from_config(old.get_config())
        model.set_weights(old.get_weights())
    except Exception as exc:
        raise TinyexitError(
            f"{path}: cannot rebuild this SavedModel as a Keras model ({type(exc).__name__}); "
            "save the model as .keras or .h5 instead"
        ) from None
    return _check_functional(model, path)


def _check_functional(model, path):
    _tf()
    import keras

    if not isinstance(model, keras.Model) or not hasattr(model, "inputs") or model.inputs is None:
        raise TinyexitError(f"{path}: not a functional/Sequential Keras model; build the backbone with keras.Input")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise TinyexitError(
            f"{path}: the backbone has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
            "tinyexit needs one input and one (final) output"
        )
    return model


def _layer_names(model) -> list[str]:
    return [layer.name for layer in model.layers]


def attach_exits(
    backbone,
    exit_after: Sequence[str],
    *,
    head: str = "trecx",
    classes: int | None = None,
    pool: int | None = None,
):
    """A new Keras model: `backbone` with a softmax exit head after each named layer.

    Outputs are ordered by depth and named exit0, exit1, ..., final (identity
    layers carry the names). The backbone's layers are shared, not copied.
    """
    _tf()
    import keras


    if head not in HEADS:
        raise TinyexitError(f"exit head '{head}' is unknown; choose one of {', '.join(HEADS)}")
    if not exit_after:
        raise TinyexitError("no exit position given; pass --exit-after LAYER[,LAYER]")
    names = _layer_names(backbone)
    for name in exit_after:
        if name not in names:
            close = [n for n in names if name.lower() in n.lower() or n.lower() in name.lower()][:5]
            hint = f" (similar: {', '.join(close)})" if close else f" (layers: {', '.join(names[:8])}, ...)"
            raise TinyexitError(
                f"backbone '{backbone.name}' has no layer '{name}'{hint}; pick names from `model.summary()`"
            )
    if len(set(exit_after)) != len(exit_after):
        raise TinyexitError(f"--exit-after names a layer twice ({', '.join(exit_after)}); give each once")
    ordered = sorted(exit_after, key=names.index)
    taken = [n for n in names if n.startswith("exit") and n[4:].split("_")[0].isdigit()]
    if taken:
        raise TinyexitError(
            f"backbone '{backbone.name}' already has layers named {', '.join(taken[:3])}; "
            "rename them (tinyexit names the exit heads exit0, exit1, ...)"
        )
    final = backbone.outputs[0]
    if len(final.shape) != 2:
        raise TinyexitError(
            f"backbone '{backbone.name}' ends in shape {tuple(final.shape)}; its output must be (batch, classes)"
        )
    classes = classes or int(final.shape[-1])
    kind = {"trecx": "conv", "slice": "slice", "gap": "gap"}[head]
    outputs = []
    for i, name in enumerate(ordered):
        tap = backbone.get_layer(name).output
        if len(tap.shape) != 4:
            raise TinyexitError(
                f"layer '{name}' outputs shape {tuple(tap.shape)}; exits attach to 4-D feature maps (N, H, W, C)"
            )
        y = zoo.trecx_head(tap, classes, kind=kind, pool=pool, name=f"exit{i}_head")
        outputs.append(keras.layers.Identity(name=f"exit{i}")(y))
    final_layer = final._keras_history[0]
    outputs.append(final if final_layer.name == "final" else keras.layers.Identity(name="final")(final))
    model = keras.Model(backbone.inputs, outputs, name=f"{backbone.name}_ee")
    model.tinyexit_backbone_layers = set(names)  # type: ignore[attr-defined]
    return model


# ---------------------------------------------------------------------------
# data


@dataclass
class Split:
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def input_shape_and_classes(arrays: dict[str, np.ndarray]) -> tuple[tuple[int, ...], int]:
    """A model's input shape (a channel axis added to 2-D samples) and class count for the arrays of a data npz."""
    x = np.asarray(arrays["x"])
    shape = tuple(x.shape[1:]) if x.ndim == 4 else (*x.shape[1:], 1)
    classes = int(max(np.max(arrays["y"]), np.max(arrays.get("y_test", arrays["y"])))) + 1
    return shape, classes


def split_data(arrays: dict[str, np.ndarray], input_shape: Sequence[int], classes: int, *, source: str = "data",
               test_fraction: float = 0.2, seed: int = 0) -> Split:
    """Check x/y against the model and split off a held-out part (or use x_test/y_test)."""
    shape = tuple(int(d) for d in input_shape)

    def fit(x: np.ndarray, key: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim == len(shape) and shape[-1] == 1 and tuple(x.shape[1:]) == shape[:-1]:
            x = x[..., None]
        if tuple(x.shape[1:]) != shape:
            raise TinyexitError(
                f"{source}: '{key}' holds samples of shape {tuple(x.shape[1:])} but the model takes {shape}; "
                "make data of the model's input shape"
            )
        return x.astype(np.float32)

    def labels(y: np.ndarray, key: str) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise TinyexitError(f"{source}: '{key}' must be a 1-D array of integer class labels, got {y.dtype}{list(y.shape)}")
        if y.size and (y.min() < 0 or y.max() >= classes):
            raise TinyexitError(
                f"{source}: '{key}' has labels {int(y.min())}..{int(y.max())} but the model has {classes} classes; "
                "relabel the data or give the backbone enough outputs"
            )
        return y.astype(np.int64)

    x, y = fit(arrays["x"], "x"), labels(arrays["y"], "y")
    if "x_test" in arrays and "y_test" in arrays:
        return Split(x, y, fit(arrays["x_test"], "x_test"), labels(arrays["y_test"], "y_test"))
    if len(x) < 10:
        raise TinyexitError(f"{source}: only {len(x)} samples; give at least 10 (some are held out for testing)")
    order = np.random.default_rng(seed).permutation(len(x))
    cut = max(1, int(round(len(x) * test_fraction)))
    test, train = order[:cut], order[cut:]
    return Split(x[train], y[train], x[test], y[test])


# ---------------------------------------------------------------------------
# training


def _progress_callback(names: list[str], epochs: int, log: Log):
    _tf()
    import keras


    class Progress(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            parts = [f"epoch {epoch + 1}/{epochs}", f"{time.monotonic() - self.start:5.1f}s", f"loss {logs.get('loss', float('nan')):.3f}"]
            for name in names:
                for prefix in ("", "val_"):
                    acc = logs.get(f"{prefix}{name}_accuracy")
                    if acc is not None:
                        parts.append(f"{prefix}{name} {acc:.3f}")
            log("  ".join(parts))

    return Progress()


def train_model(
    model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    mode: str = "joint",
    epochs: int = 10,
    batch_size: int = 64,
    exit_weight: float | Sequence[float] = 0.5,
    learning_rate: float = 2e-3,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    callbacks: Sequence = (),
    seed: int = 0,
    log: Log | None = _stderr,
) -> dict[str, list[float]]:
    """Train an early-exit model whose outputs are named exit0.. final.

    mode "joint": every layer trains; loss = sum_k w_k CE(exit_k) + CE(final).
    mode "heads": only layers outside `model.tinyexit_backbone_layers` (or, for
    a zoo model, outside the backbone feature path) train; the backbone is
    frozen, batch norm included. Prints one line per epoch to `log`.
    Returns the Keras history (per-epoch metrics).
    """
    tf = _tf()
    import keras

    if mode not in TRAIN_MODES:
        raise TinyexitError(f"training mode '{mode}' is unknown; choose joint or heads")
    keras.utils.set_random_seed(seed)
    names = list(model.output_names)
    if names[-1] != "final" or any(n != f"exit{i}" for i, n in enumerate(names[:-1])):
        raise TinyexitError(f"model outputs are named {names}; expected exit0, ..., final (use attach_exits or the zoo)")
    exits = len(names) - 1
    weights = [float(exit_weight)] * exits if np.isscalar(exit_weight) else [float(w) for w in exit_weight]
    if len(weights) != exits:
        raise TinyexitError(f"{len(weights)} exit loss weights for {exits} exits; give one per exit")
    backbone_layers = getattr(model, "tinyexit_backbone_layers", None)
    if mode == "heads":
        if backbone_layers is None:
            raise TinyexitError("heads-only training needs a model from attach_exits (it knows the backbone's layers)")
        for layer in model.layers:
            layer.trainable = layer.name not in backbone_layers
    else:
        for layer in model.layers:
            layer.trainable = True
    loss_weights = {n: w for n, w in zip(names, [*weights, 1.0 if mode == "joint" else 0.0])}
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss={n: "sparse_categorical_crossentropy" for n in names},
        loss_weights=loss_weights,
        metrics={n: ["accuracy"] for n in names},
    )
    history = model.fit(
        x,
        {n: y for n in names},
        batch_size=batch_size,
        epochs=epochs,
        validation_data=None if validation is None else (validation[0], {n: validation[1] for n in names}),
        callbacks=[*callbacks, *([_progress_callback(names, epochs, log)] if log else [])],
        verbose=0,
        shuffle=True,
    )
    return {k: [float(v) for v in vals] for k, vals in history.history.items()}


# ---------------------------------------------------------------------------
# conversion and evaluation


def convert_int8(model, representative: np.ndarray, *, samples: int = 200, seed: int = 0) -> bytes:
    """Full-int8 TFLite (int8 input and outputs) with SignatureDef outputs named like the model's outputs."""
    tf = _tf()
    from keras.export import ExportArchive

    names = list(model.output_names)
    shape = (1, *[int(d) for d in model.inputs[0].shape[1:]])
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(representative), size=min(samples, len(representative)), replace=False)
    rep = np.asarray(representative, np.float32)[np.sort(pick)]

    def rep_gen():
        for row in rep:
            yield [row[None]]

    archive = ExportArchive()
    archive.track(model)

    def serve(x):
        outs = model(x, training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        return {n: o for n, o in zip(names, outs)}

    archive.add_endpoint("serving_default", serve, input_signature=[tf.TensorSpec(shape, tf.float32, name="x")])
    with tempfile.TemporaryDirectory() as tmp:
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = rep_gen
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        try:
            with _quiet_stderr():  # the converter's C++ notices ("fully_quantize: 0, ...")
                return bytes(converter.convert())
        except Exception as exc:
            raise TinyexitError(
                f"model '{model.name}': int8 conversion failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
                "use layers that have int8 TFLite kernels"
            ) from None


def evaluate_float(model, x: np.ndarray, y: np.ndarray, batch_size: int = 256) -> dict[str, float]:
    """Accuracy of every output (exit0 .. final) of the Keras model."""
    outs = model.predict(x, batch_size=batch_size, verbose=0)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return {n: float(np.mean(np.argmax(o, axis=-1) == y)) for n, o in zip(model.output_names, outs)}


def predict_int8(tflite_model: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    """Run the int8 model on float samples x (quantized with the input's scale); int8 outputs by signature name."""
    import warnings

    tf = _tf()
    with warnings.catch_warnings():  # tf.lite.Interpreter is deprecated in favour of LiteRT
        warnings.simplefilter("ignore")
        interp = tf.lite.Interpreter(
            model_content=tflite_model,
            experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF,
        )
    runner = interp.get_signature_runner()
    detail = runner.get_input_details()["x"]
    scale, zero = detail["quantization"]
    outputs: dict[str, list[np.ndarray]] = {}
    for row in np.asarray(x, np.float32):
        q = np.clip(np.round(row / scale) + zero, -128, 127).astype(np.int8)[None]
        for name, value in runner(x=q).items():
            outputs.setdefault(name, []).append(value[0])
    return {name: np.stack(v) for name, v in outputs.items()}


def evaluate_int8(tflite_model: bytes, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy of every signature output of the int8 model, ordered exit0 .. final."""
    outs = predict_int8(tflite_model, x)
    order = sorted(outs, key=lambda n: (n == "final", int(n[4:]) if n.startswith("exit") and n[4:].isdigit() else 0, n))
    return {n: float(np.mean(np.argmax(outs[n], axis=-1) == y)) for n in order}


def signature_outputs(tflite_model: bytes) -> list[str]:
    """SignatureDef output names in the order they are stored (no TensorFlow needed)."""
    import tflite

    m = tflite.Model.GetRootAs(tflite_model, 0)
    if m.SignatureDefsLength() == 0:
        return []
    sig = m.SignatureDefs(0)
    return [sig.Outputs(i).Name().decode() for i in range(sig.OutputsLength())]


# ---------------------------------------------------------------------------
# the whole step


@dataclass
class AugmentReport:
    output: Path
    exits: list[str]
    exit_after: list[str]
    float_accuracy: dict[str, float]
    int8_accuracy: dict[str, float]
    train_samples: int
    test_samples: int
    history: dict[str, list[float]] = field(default_factory=dict)
    backbone_float_accuracy: float | None = None  # the backbone alone, before augmenting
    backbone_int8_accuracy: float | None = None
    train: str = "joint"

    def table(self) -> str:
        lines = ["| output | after layer | float acc | int8 acc |", "|---|---|---|---|"]
        if self.backbone_int8_accuracy is not None:
            lines.append(f"| backbone | (before augmenting) | {self.backbone_float_accuracy:.4f} | "
                         f"{self.backbone_int8_accuracy:.4f} |")
        for i, name in enumerate(self.exits):
            where = self.exit_after[i] if i < len(self.exit_after) else "(backbone end)"
            lines.append(
                f"| {name} | {where} | {self.float_accuracy.get(name, float('nan')):.4f} | "
                f"{self.int8_accuracy.get(name, float('nan')):.4f} |"
            )
        lines.append(f"\n{self.train_samples} training / {self.test_samples} held-out samples; model written to {self.output}")
        return "\n".join(lines)


def augment(
    backbone: str | Path,
    exit_after: Sequence[str],
    data: str | Path,
    output: str | Path,
    *,
    head: str = "trecx",
    train: str = "heads",
    epochs: int = 10,
    batch_size: int = 64,
    exit_weight: float = 0.5,
    learning_rate: float = 2e-3,
    seed: int = 0,
    log: Log | None = _stderr,
) -> AugmentReport:
    """Load, attach exits, train, convert to int8, evaluate, and write `output` (.tflite) atomically.

    train "heads" (the default) leaves every backbone weight unchanged; the
    backbone's own int8 accuracy is measured first, for the report.
    """

    output = Path(output)
    if output.suffix != ".tflite":
        raise TinyexitError(f"{output}: the output must be a .tflite file; name it e.g. model.tflite")
    if not output.parent.exists():
        raise TinyexitError(f"{output}: folder {output.parent} does not exist; create it first")
    if train not in TRAIN_MODES:
        raise TinyexitError(f"training mode '{train}' is unknown; choose joint or heads")
    arrays = datasets.load_npz(data)  # before TensorFlow: a bad data path fails fast
    say = log or (lambda _line: None)
    model_b = load_backbone(backbone)
    import keras

    keras.utils.set_random_seed(seed)  # the heads' initial weights
    ee = attach_exits(model_b, list(exit_after), head=head)
    names = list(ee.output_names)
    classes = int(ee.outputs[-1].shape[-1])
    split = split_data(arrays, ee.inputs[0].shape[1:], classes, source=str(data), seed=seed)
    order = sorted(exit_after, key=_layer_names(model_b).index)
    say("augment: the backbone's own int8 accuracy, before augmenting")
    backbone_float, backbone_int8 = backbone_accuracy(model_b, split, seed)
    say(f"augment: backbone float {backbone_float:.4f}, int8 {backbone_int8:.4f}")
    say(f"augment: {len(order)} exit(s) after {', '.join(order)}; {train} training, {epochs} epoch(s) "
        f"on {len(split.x_train)} samples")
    history = train_model(
        ee, split.x_train, split.y_train, mode=train, epochs=epochs, batch_size=batch_size,
        exit_weight=exit_weight, learning_rate=learning_rate, validation=(split.x_test, split.y_test), seed=seed, log=log,
    )
    say("augment: converting to int8")
    float_acc, int8_acc = convert_evaluate_write(ee, split, output, seed)
    return AugmentReport(output, names, order, float_acc, int8_acc, len(split.x_train), len(split.x_test), history,
                         backbone_float, backbone_int8, train)


def backbone_accuracy(backbone, split: Split, seed: int = 0) -> tuple[float, float]:
    """Float and int8 accuracy of the backbone alone on the held-out samples (converted like the exits)."""
    tflite_model = convert_int8(backbone, split.x_train, seed=seed)
    float_acc = float(np.mean(np.argmax(backbone.predict(split.x_test, batch_size=256, verbose=0), -1) == split.y_test))
    int8_acc = list(evaluate_int8(tflite_model, split.x_test, split.y_test).values())[-1]
    return float_acc, int8_acc


def convert_evaluate_write(model, split, output: Path, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    """Convert to int8, measure float and int8 accuracy per exit, write `output` atomically."""
    tflite_model = convert_int8(model, split.x_train, seed=seed)
    float_acc = evaluate_float(model, split.x_test, split.y_test)
    int8_acc = evaluate_int8(tflite_model, split.x_test, split.y_test)
    fd, tmp = tempfile.mkstemp(suffix=".tflite", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(tflite_model)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return float_acc, int8_acc


def train_zoo(
    name: str,
    data: str | Path,
    output: str | Path,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    early_view: bool = False,
    exit_weight: float | None = None,
    learning_rate: float = 2e-3,
    seed: int = 0,
    log: Log | None = _stderr,
) -> AugmentReport:
    """Train zoo model `name` (T-RecX exits, joint loss) on `data`, convert to int8, evaluate, write `output`.

    The input shape and class count come from the data; exit_weight defaults
    to the T-RecX weight of the model.
    """

    output = Path(output)
    if output.suffix != ".tflite" or not output.parent.is_dir():
        raise TinyexitError(f"{output}: the output must be a .tflite file in an existing folder")
    e = zoo.entry(name)
    arrays = datasets.load_npz(data)
    shape, classes = input_shape_and_classes(arrays)
    say = log or (lambda _line: None)
    _tf()
    import keras

    keras.utils.set_random_seed(seed)
    try:
        model = zoo.build(name, input_shape=shape, classes=classes, early_view=early_view)
    except ValueError as exc:
        raise TinyexitError(
            f"{data}: samples of shape {shape} do not fit zoo model '{name}' ({str(exc).splitlines()[0][:120]}); "
            f"it expects about {e.input_shape}"
        ) from None
    split = split_data(arrays, shape, classes, source=str(data), seed=seed)
    say(f"train {name}{' + early view' if early_view else ''}: {epochs} epoch(s) on {len(split.x_train)} samples, "
        f"{classes} classes, exit after {e.exit_after}")
    callbacks = [zoo.early_view_callback(model, epochs)] if early_view else []
    history = train_model(
        model, split.x_train, split.y_train, mode="joint", epochs=epochs, batch_size=batch_size,
        exit_weight=e.exit_weight if exit_weight is None else exit_weight, learning_rate=learning_rate,
        validation=(split.x_test, split.y_test), callbacks=callbacks, seed=seed, log=log,
    )
    say("converting to int8")
    float_acc, int8_acc = convert_evaluate_write(model, split, output, seed)
    return AugmentReport(output, list(model.output_names), [e.exit_after], float_acc, int8_acc,
                         len(split.x_train), len(split.x_test), history)


def train_backbone(
    name: str,
    data: str | Path,
    output: str | Path,
    *,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 2e-3,
    seed: int = 0,
    log: Log | None = _stderr,
) -> tuple[float, float]:
    """Train zoo model `name` without exits on `data` and save it as a Keras file (`output`, .keras).

    The starting point of `tinyexit search` and `augment`. Returns (float, int8)
    accuracy on the held-out part.
    """
    output = Path(output)
    if output.suffix != ".keras" or not output.parent.is_dir():
        raise TinyexitError(f"{output}: a plain backbone is saved as a .keras file in an existing folder")
    zoo.entry(name)
    arrays = datasets.load_npz(data)
    shape, classes = input_shape_and_classes(arrays)
    say = log or (lambda _line: None)
    _tf()
    import keras

    keras.utils.set_random_seed(seed)
    model = zoo.backbone(name, input_shape=shape, classes=classes)
    split = split_data(arrays, shape, classes, source=str(data), seed=seed)
    say(f"train {name} backbone (no exits): {epochs} epoch(s) on {len(split.x_train)} samples, {classes} classes")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    names = [model.output_names[0]]
    model.fit(split.x_train, split.y_train, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True,
              callbacks=[_progress_callback(names, epochs, log)] if log else [])
    float_acc, int8_acc = backbone_accuracy(model, split, seed)
    fd, tmp = tempfile.mkstemp(suffix=".keras", dir=output.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return float_acc, int8_acc
