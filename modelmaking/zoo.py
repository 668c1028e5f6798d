"""Model zoo: the three MLPerf Tiny backbones with their T-RecX early exits.

| name      | input     | classes | exit after (layer)        | exit head                                         | w   |
|-----------|-----------|---------|---------------------------|---------------------------------------------------|-----|
| resnet8   | 32x32x3   | 10      | stack1_out (32x32x16)     | 1x1 conv 16->32, dw 2x2 s2 + ReLU, avg pool 4, dense | 0.5 |
| dscnn     | 49x10x1   | 12      | block2_out (25x5x64)      | slice [:32], dw 3x3 s2 + ReLU, avg pool 2, dense  | 0.3 |
| mobilenet | 96x96x3   | 2       | block3_out (24x24x32)     | 1x1 conv 32->64, dw 2x2 s2 + ReLU, avg pool 4, dense | 0.4 |

(w: T-RecX loss weight of the exit; loss = w * CE(exit0) + CE(final).)

Outputs are `[exit0, final]` (layers named so), softmax probabilities.
`early_view=True` adds T-RecX early-view assistance: a copy of the exit's
depthwise conv (`final_ev_dw`) runs on the first channels of the final feature
map; its pooled output is concatenated with the final global pool before the
final dense layer. `EarlyViewCopy` (see `early_view_callback`) copies the
exit's depthwise weights into it for the first 80% of training.

TensorFlow is imported only when a model is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codegen.errors import TinyexitError


# Keras' default 0.99 leaves the moving statistics far behind on the small
# data sets these models are trained on here (held-out accuracy lags by epochs).
BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class ZooEntry:
    name: str
    input_shape: tuple[int, int, int]
    classes: int
    exit_after: str
    exit_weight: float
    head: str  # "conv" (1x1 conv + dw 2x2 s2) or "slice" (channel slice + dw 3x3 s2)
    head_pool: int
    description: str


ZOO: dict[str, ZooEntry] = {
    "resnet8": ZooEntry("resnet8", (32, 32, 3), 10, "stack1_out", 0.5, "conv", 4, "ResNet-8 (MLPerf Tiny image classification)"),
    "dscnn": ZooEntry("dscnn", (49, 10, 1), 12, "block2_out", 0.3, "slice", 2, "DS-CNN (MLPerf Tiny keyword spotting)"),
    "mobilenet": ZooEntry("mobilenet", (96, 96, 3), 2, "block3_out", 0.4, "conv", 4, "MobileNetV1-0.25 (MLPerf Tiny visual wake words)"),
}


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow  # noqa: F401  (the backend)
    import keras

    return keras


def entry(name: str) -> ZooEntry:
    """The zoo entry called `name`."""
    if name not in ZOO:
        raise TinyexitError(f"zoo model '{name}' is unknown; choose one of {', '.join(ZOO)}")
    return ZOO[name]


# ---------------------------------------------------------------------------
# heads (shared with codegen.augment)


def trecx_head(x, classes: int, *, kind: str = "conv", pool: int | None = None, name: str = "exit0"):
    """A T-RecX exit head on feature map `x` (a Keras tensor); returns softmax probabilities.

    kind="conv": 1x1 conv C -> 2C, depthwise 2x2 stride 2 + ReLU, average pool,
    flatten, dense, softmax (ResNet-8, MobileNet). kind="slice": the first C/2
    channels, depthwise 3x3 stride 2 SAME + ReLU, average pool, flatten, dense,
    softmax (DS-CNN). kind="gap": global average pool, dense, softmax.
    `pool` defaults to ceil(side / 4) of the depthwise output, at least 1.
    The depthwise layer is named `{name}_dw`, the last dense `{name}`.
    """
    keras = _keras()
    layers = keras.layers
    channels = int(x.shape[-1])
    if kind == "gap":
        y = layers.GlobalAveragePooling2D(name=f"{name}_gap")(x)
        return layers.Dense(classes, activation="softmax", name=name)(y)
    if kind == "conv":
        y = layers.Conv2D(2 * channels, 1, name=f"{name}_pw")(x)
        y = layers.DepthwiseConv2D(2, strides=2, name=f"{name}_dw")(y)
    elif kind == "slice":
        keep = max(1, channels // 2)
        y = SliceChannels(keep, name=f"{name}_slice")(x)
        y = layers.DepthwiseConv2D(3, strides=2, padding="same", name=f"{name}_dw")(y)
    else:
        raise TinyexitError(f"exit head '{kind}' is unknown; choose conv, slice or gap")
    y = layers.ReLU(name=f"{name}_relu")(y)
    h, w = int(y.shape[1]), int(y.shape[2])
    if pool is None:
        pool = max(1, -(-min(h, w) // 4))
    pool_hw = (min(pool, h), min(pool, w))
    y = layers.AveragePooling2D(pool_hw, name=f"{name}_pool")(y)
    y = layers.Flatten(name=f"{name}_flat")(y)
    return layers.Dense(classes, activation="softmax", name=name)(y)


def _slice_layer_class():
    keras = _keras()

    @keras.saving.register_keras_serializable(package="tinyexit")
    class _SliceChannels(keras.layers.Layer):
        """x[..., :keep] (a STRIDED_SLICE in TFLite)."""

        def __init__(self, keep: int, **kwargs):
            super().__init__(**kwargs)
            self.keep = int(keep)

        def call(self, x):
            return x[..., : self.keep]

        def compute_output_shape(self, shape):
            return (*shape[:-1], self.keep)

        def get_config(self):
            return {**super().get_config(), "keep": self.keep}

    return _SliceChannels


_SLICE = None


def SliceChannels(keep: int, **kwargs):
    """A Keras layer returning the first `keep` channels."""
    global _SLICE
    if _SLICE is None:
        _SLICE = _slice_layer_class()
    return _SLICE(keep, **kwargs)


def early_view_branch(final_map, exit_dw_layer, name: str = "final_ev"):
    """Early-view assistance: the exit's depthwise conv on the first channels of `final_map`, pooled."""
    keras = _keras()
    layers = keras.layers
    channels = int(exit_dw_layer.input.shape[-1]) if hasattr(exit_dw_layer, "input") else None
    channels = min(channels or int(final_map.shape[-1]), int(final_map.shape[-1]))
    y = SliceChannels(channels, name=f"{name}_slice")(final_map)
    config = exit_dw_layer.get_config()
    kernel = config["kernel_size"]
    h, w = int(final_map.shape[1]), int(final_map.shape[2])
    padding = config["padding"] if h >= kernel[0] and w >= kernel[1] else "same"
    y = layers.DepthwiseConv2D(kernel, strides=config["strides"], padding=padding, name=f"{name}_dw")(y)
    y = layers.ReLU(name=f"{name}_relu")(y)
    return layers.GlobalAveragePooling2D(name=f"{name}_gap")(y)


def early_view_callback(model, epochs: int, exit_dw: str = "exit0_dw", ev_dw: str = "final_ev_dw", fraction: float = 0.8):
    """A Keras callback copying the exit's depthwise weights into the early-view copy for `fraction` of the epochs."""
    keras = _keras()
    source, target = model.get_layer(exit_dw), model.get_layer(ev_dw)
    last = int(round(fraction * epochs))

    class EarlyViewCopy(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if self.epoch < last:
                target.set_weights(source.get_weights())

    return EarlyViewCopy()


# ---------------------------------------------------------------------------
# backbones


def _conv_bn(x, filters, kernel, strides=1, relu=True, name=""):
    layers = _keras().layers
    y = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(x)
    y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"{name}_bn")(y)
    return layers.ReLU(name=f"{name}_relu")(y) if relu else y


def resnet8_features(x):
    """MLPerf Tiny ResNet-8 body; returns (stack-1 output, final feature map)."""
    layers = _keras().layers
    y = _conv_bn(x, 16, 3, name="stem")
    # stack 1: identity shortcut
    z = _conv_bn(y, 16, 3, name="stack1_a")
    z = _conv_bn(z, 16, 3, relu=False, name="stack1_b")
    s1 = layers.ReLU(name="stack1_out")(layers.Add(name="stack1_add")([y, z]))
    out = s1
    for i, filters in ((2, 32), (3, 64)):
        z = _conv_bn(out, filters, 3, strides=2, name=f"stack{i}_a")
        z = _conv_bn(z, filters, 3, relu=False, name=f"stack{i}_b")
        sc = layers.Conv2D(filters, 1, strides=2, name=f"stack{i}_shortcut")(out)
        out = layers.ReLU(name=f"stack{i}_out")(layers.Add(name=f"stack{i}_add")([sc, z]))
    return s1, out


def dscnn_features(x, filters: int = 64):
    """MLPerf Tiny DS-CNN body; returns (block-2 output, final feature map)."""
    layers = _keras().layers
    y = _conv_bn(x, filters, (10, 4), strides=2, name="stem")
    y = layers.Dropout(0.2, name="stem_drop")(y)
    taps = []
    for i in range(1, 5):
        y = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"block{i}_dw")(y)
        y = layers.ReLU(name=f"block{i}_dw_relu")(layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_dw_bn")(y))
        y = layers.Conv2D(filters, 1, use_bias=False, name=f"block{i}_pw")(y)
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_pw_bn")(y)
        y = layers.ReLU(name=f"block{i}_out")(y)
        taps.append(y)
    y = layers.Dropout(0.4, name="final_drop")(y)
    return taps[1], y


_MOBILENET_BLOCKS = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1))


def mobilenet_features(x):
    """MLPerf Tiny MobileNetV1 (alpha 0.25) body; returns (block-3 output, final feature map)."""
    layers = _keras().layers
    y = _conv_bn(x, 8, 3, strides=2, name="stem")
    tap = None
    for i, (filters, stride) in enumerate(_MOBILENET_BLOCKS, start=1):
        y = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"block{i}_dw")(y)
        y = layers.ReLU(name=f"block{i}_dw_relu")(layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_dw_bn")(y))
        y = layers.Conv2D(filters, 1, use_bias=False, name=f"block{i}_pw")(y)
        y = layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"block{i}_pw_bn")(y)
        y = layers.ReLU(name=f"block{i}_out")(y)
        if i == 3:
            tap = y
    return tap, y


_FEATURES = {"resnet8": resnet8_features, "dscnn": dscnn_features, "mobilenet": mobilenet_features}


def backbone(name: str, input_shape: tuple[int, ...] | None = None, classes: int | None = None):
    """The plain backbone (no exit) as a Keras model with one softmax output named `final`."""
    keras = _keras()
    e = entry(name)
    x = keras.Input(shape=tuple(input_shape or e.input_shape), name="x")
    _, features = _FEATURES[name](x)
    y = keras.layers.GlobalAveragePooling2D(name="final_gap")(features)
    y = keras.layers.Dense(classes or e.classes, activation="softmax", name="final")(y)
    return keras.Model(x, y, name=name)


def build(name: str, *, input_shape: tuple[int, ...] | None = None, classes: int | None = None, early_view: bool = False):
    """The T-RecX early-exit model `name`: a Keras model with outputs [exit0, final]."""
    keras = _keras()
    layers = keras.layers
    e = entry(name)
    shape = tuple(input_shape or e.input_shape)
    classes = classes or e.classes
    x = keras.Input(shape=shape, name="x")
    tap, features = _FEATURES[name](x)
    exit0 = trecx_head(tap, classes, kind=e.head, pool=e.head_pool, name="exit0")
    pooled = layers.GlobalAveragePooling2D(name="final_gap")(features)
    if early_view:
        model_so_far = keras.Model(x, exit0)
        ev = early_view_branch(features, model_so_far.get_layer("exit0_dw"))
        pooled = layers.Concatenate(name="final_concat")([pooled, ev])
    final = layers.Dense(classes, activation="softmax", name="final")(pooled)
    model = keras.Model(x, [exit0, final], name=f"{name}_ee" + ("_ev" if early_view else ""))
    # for heads-only training: everything but the exit head is backbone
    model.tinyexit_backbone_layers = {layer.name for layer in model.layers if not layer.name.startswith("exit")}
    return model


def loss_weights(name: str) -> dict[str, float]:
    """T-RecX loss weights for zoo model `name`."""
    return {"exit0": entry(name).exit_weight, "final": 1.0}
