"""modelmaking/zoo.py: the three MLPerf Tiny backbones with T-RecX exits build, train, convert and generate."""

from __future__ import annotations

import numpy as np
import pytest

from tinyexit.modelmaking import augment, zoo
from tinyexit.codegen.errors import TinyexitError
from tinyexit.codegen.reader import read_model

pytest.importorskip("tensorflow")

# T-RecX exit feature maps (early-exit.md)
TAPS = {"resnet8": (32, 32, 16), "dscnn": (25, 5, 64), "mobilenet": (24, 24, 32)}
# flattened size feeding each exit's dense layer: 512, 192, 576
HEAD_FEATURES = {"resnet8": 512, "dscnn": 192, "mobilenet": 576}


def tiny_data(name: str, count: int = 16, seed: int = 0):
    e = zoo.entry(name)
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (count, *e.input_shape)).astype(np.float32)
    return x, np.arange(count) % e.classes


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_zoo_model_trains_converts_and_generates_bit_exact(name, tmp_path, generated):
    from oracle import tflm_run

    from tinyexit.firmware_sim.host import run_host

    import keras

    keras.utils.set_random_seed(0)
    e = zoo.entry(name)
    model = zoo.build(name, early_view=(name == "dscnn"))
    assert list(model.output_names) == ["exit0", "final"]
    assert tuple(model.get_layer(e.exit_after).output.shape[1:]) == TAPS[name]
    assert model.get_layer("exit0").input.shape[-1] == HEAD_FEATURES[name]
    x, y = tiny_data(name)
    callbacks = [zoo.early_view_callback(model, 1)] if name == "dscnn" else []
    history = augment.train_model(model, x, y, epochs=1, batch_size=8, exit_weight=e.exit_weight,
                                  callbacks=callbacks, log=None)
    assert len(history["loss"]) == 1 and np.isfinite(history["loss"][0])
    if name == "dscnn":  # early view: the copy still carries the exit's weights
        np.testing.assert_array_equal(model.get_layer("exit0_dw").get_weights()[0],
                                      model.get_layer("final_ev_dw").get_weights()[0])
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(augment.convert_int8(model, x))
    graph = read_model(path)
    assert [ex.name for ex in graph.exits] == ["exit0", "final"]
    lib = generated(path)  # `tinyexit generate`'s library
    rng = np.random.default_rng(1)
    xq = rng.integers(-128, 128, (2, *e.input_shape), dtype=np.int8)
    ours = run_host(lib, xq)
    reference = tflm_run(path, xq)
    for exit_name, expected in reference.items():
        got = ours.outputs[exit_name]
        assert np.array_equal(got, expected.reshape(got.shape)), f"{name} {exit_name} differs from TFLM"


def test_heads_only_training_freezes_the_zoo_backbone():
    model = zoo.build("dscnn")
    x, y = tiny_data("dscnn", 16)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers}
    augment.train_model(model, x, y, mode="heads", epochs=1, batch_size=8, log=None)
    changed = {layer.name for layer in model.layers
               if any(not np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))}
    assert changed and all(n.startswith("exit0") for n in changed), changed


def test_backbone_alone_and_loss_weights():
    model = zoo.backbone("resnet8", classes=3)
    assert list(model.output_names) == ["final"] and model.outputs[0].shape[-1] == 3
    assert zoo.loss_weights("mobilenet") == {"exit0": 0.4, "final": 1.0}
    # the zoo backbone takes T-RecX heads through augment.attach_exits too
    ee = augment.attach_exits(model, ["stack1_out"])
    assert list(ee.output_names) == ["exit0", "final"]


def test_unknown_zoo_model():
    with pytest.raises(TinyexitError) as info:
        zoo.build("resnet50")
    assert "resnet8" in info.value.message and "\n" not in info.value.message
