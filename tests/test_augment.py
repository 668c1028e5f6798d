"""modelmaking/augment.py: attach T-RecX exits to a Keras backbone, train, convert to int8, check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyexit.modelmaking import augment, datasets
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.reader import read_model

pytest.importorskip("tensorflow")

TRAIN, TEST = 3000, 1000


@pytest.fixture(scope="module")
def fashion(tmp_path_factory) -> Path:
    if not (datasets.FASHION_DIR / "train-images-idx3-ubyte.gz").exists():
        pytest.skip("dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    arrays = datasets.fashion_mnist(TRAIN)
    arrays["x_test"], arrays["y_test"] = arrays["x_test"][:TEST], arrays["y_test"][:TEST]
    path = tmp_path_factory.mktemp("data") / "fashion.npz"
    datasets.save_npz(path, arrays)
    return path


def small_backbone():
    import keras

    x = keras.Input((28, 28, 1), name="x")
    y = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="c1")(x)
    y = keras.layers.Conv2D(16, 3, strides=2, padding="same", name="block1_conv")(y)
    y = keras.layers.BatchNormalization(name="block1_bn")(y)
    y = keras.layers.ReLU(name="block1")(y)
    y = keras.layers.Conv2D(24, 3, strides=2, padding="same", activation="relu", name="block2")(y)
    y = keras.layers.Flatten(name="flat")(y)
    y = keras.layers.Dense(10, activation="softmax", name="classifier")(y)
    return keras.Model(x, y, name="tiny")


def assert_bit_exact(generated, model_path: Path, x_float: np.ndarray) -> None:
    from oracle import tflm_run

    from tinyexit.firmware_sim.host import run_host

    graph = read_model(model_path)
    q = graph.tensor(graph.inputs[0]).quant
    x = np.clip(np.round(x_float / q.scale) + q.zero_point, -128, 127).astype(np.int8)
    ours = run_host(generated(model_path), x)
    reference = tflm_run(model_path, x)
    for name, expected in reference.items():
        got = ours.outputs[name]
        assert np.array_equal(got, expected.reshape(got.shape)), f"exit {name} differs from TFLM"


def test_joint_training_makes_a_good_int8_early_exit_model(fashion, tmp_path, generated):
    # Small on purpose: about 10-20 s of training on 2 cores. Not asserted here:
    # wall time under a loaded CI machine is no test (speed lives in benchmarks).
    backbone = tmp_path / "tiny.keras"
    small_backbone().save(backbone)
    out = tmp_path / "ee.tflite"
    lines: list[str] = []
    report = augment.augment(backbone, ["block1"], fashion, out, train="joint", epochs=5, batch_size=64,
                             log=lines.append)
    assert out.exists()
    assert report.exits == ["exit0", "final"]
    assert any(line.startswith("epoch 5/5") for line in lines), lines  # progress is reported per epoch
    # signature names, ordered by depth; exit0 is the early one
    graph = read_model(out)
    assert [e.name for e in graph.exits] == ["exit0", "final"]
    assert augment.signature_outputs(out.read_bytes()) == ["exit0", "final"]
    for name in ("exit0", "final"):
        assert report.float_accuracy[name] > 0.55, report.table()
        assert report.int8_accuracy[name] > 0.55, report.table()
        assert abs(report.int8_accuracy[name] - report.float_accuracy[name]) < 0.05, report.table()
    assert "| exit0 | block1 |" in report.table()
    arrays = datasets.load_npz(fashion)
    assert_bit_exact(generated, out, arrays["x_test"][:16])


def test_heads_only_training_keeps_the_backbone(fashion, tmp_path):
    import keras

    arrays = datasets.load_npz(fashion)
    model = small_backbone()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(arrays["x"], arrays["y"], epochs=2, batch_size=64, verbose=0)
    before = float(np.mean(np.argmax(model.predict(arrays["x_test"], verbose=0), -1) == arrays["y_test"]))
    backbone = tmp_path / "tiny.h5"
    model.save(backbone)
    out = tmp_path / "ee3.tflite"
    # given out of depth order on purpose: the outputs are still ordered by depth
    report = augment.augment(backbone, ["block2", "block1"], fashion, out, epochs=2, log=None)  # heads: the default
    assert report.train == "heads"
    assert report.exits == ["exit0", "exit1", "final"]
    # the backbone's own accuracy, before augmenting, beside each exit's
    assert report.backbone_float_accuracy == pytest.approx(before, abs=1e-6)
    assert abs(report.backbone_int8_accuracy - report.int8_accuracy["final"]) < 0.02, report.table()
    assert "| backbone | (before augmenting) |" in report.table()
    assert report.exit_after == ["block1", "block2"]
    assert [e.name for e in read_model(out).exits] == ["exit0", "exit1", "final"]
    assert report.float_accuracy["final"] == pytest.approx(before, abs=1e-6)
    for name in ("exit0", "exit1"):
        assert report.int8_accuracy[name] > 0.4, report.table()


def test_heads_training_leaves_every_backbone_weight_unchanged():
    """Every backbone variable (kernels, biases, batch-norm statistics) is bit-identical after heads training."""
    import keras

    keras.utils.set_random_seed(0)
    backbone = small_backbone()
    before = {v.path: np.array(v.numpy()) for layer in backbone.layers for v in layer.weights}
    model = augment.attach_exits(backbone, ["block1"])
    rng = np.random.default_rng(0)
    x, y = rng.random((128, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 128)
    head_before = [np.array(w) for w in model.get_layer("exit0_head").get_weights()] if "exit0_head" in [
        layer.name for layer in model.layers] else None
    augment.train_model(model, x, y, mode="heads", epochs=2, batch_size=32, log=None)
    after = {v.path: np.array(v.numpy()) for layer in backbone.layers for v in layer.weights}
    assert before.keys() == after.keys() and any("moving_mean" in k for k in before)
    for key in before:
        assert np.array_equal(before[key], after[key]), f"backbone weight {key} changed"
    head_vars = [v for layer in model.layers if layer.name not in model.tinyexit_backbone_layers for v in layer.weights]
    assert head_vars, "the exit head has weights"
    assert head_before is None or any(not np.array_equal(a, b) for a, b in zip(
        head_before, model.get_layer("exit0_head").get_weights()))


def test_attach_exits_builds_named_outputs():
    model = augment.attach_exits(small_backbone(), ["block2", "c1"], head="gap")
    assert list(model.output_names) == ["exit0", "exit1", "final"]
    slice_model = augment.attach_exits(small_backbone(), ["block1"], head="slice")
    assert slice_model.get_layer("exit0_head_slice").output.shape[-1] == 8


# ---------------------------------------------------------------------------
# one clear line for bad input


def one_line(exc: TinyexitError) -> str:
    assert "\n" not in exc.message
    return exc.message


def test_missing_backbone(tmp_path):
    with pytest.raises(TinyexitError) as info:
        augment.load_backbone(tmp_path / "nope.keras")
    assert "no such backbone" in one_line(info.value)


def test_corrupt_backbone(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(TinyexitError) as info:
        augment.load_backbone(bad)
    assert "bad.keras" in one_line(info.value) and "re-save" in info.value.message


def test_wrong_suffix_and_non_keras_savedmodel(tmp_path):
    other = tmp_path / "model.onnx"
    other.write_bytes(b"x")
    with pytest.raises(TinyexitError):
        augment.load_backbone(other)
    folder = tmp_path / "sm"
    folder.mkdir()
    with pytest.raises(TinyexitError) as info:
        augment.load_backbone(folder)
    assert "saved_model.pb" in one_line(info.value)


def test_unknown_layer_names_the_layer():
    with pytest.raises(TinyexitError) as info:
        augment.attach_exits(small_backbone(), ["block9"])
    message = one_line(info.value)
    assert "'block9'" in message and "block1" in message


def test_data_of_the_wrong_shape(tmp_path):
    rng = np.random.default_rng(0)
    with pytest.raises(TinyexitError) as info:
        augment.split_data({"x": rng.random((20, 32, 32, 3)), "y": np.zeros(20, np.int64)}, (28, 28, 1), 10)
    assert "(32, 32, 3)" in one_line(info.value) and "(28, 28, 1)" in info.value.message
    with pytest.raises(TinyexitError) as info:
        augment.split_data({"x": rng.random((20, 28, 28)), "y": np.full(20, 12)}, (28, 28, 1), 10)
    assert "10 classes" in one_line(info.value)
    # a missing channel axis is added
    split = augment.split_data({"x": rng.random((20, 28, 28)), "y": np.arange(20) % 10}, (28, 28, 1), 10)
    assert split.x_train.shape == (16, 28, 28, 1) and split.x_test.shape == (4, 28, 28, 1)


def test_augment_rejects_bad_data_before_training(tmp_path):
    backbone = tmp_path / "tiny.keras"
    small_backbone().save(backbone)
    data = tmp_path / "d.npz"
    np.savez(data, x=np.zeros((30, 49, 10, 1), np.float32), y=np.zeros(30, np.int64))
    out = tmp_path / "m.tflite"
    with pytest.raises(TinyexitError) as info:
        augment.augment(backbone, ["block1"], data, out, log=None)
    assert "model takes (28, 28, 1)" in one_line(info.value)
    assert not out.exists()
    with pytest.raises(TinyexitError):
        augment.augment(backbone, ["block1"], tmp_path / "missing.npz", out, log=None)
