"""Classifiers: a small CNN for the built-in data, and a backbone of ``train.models.backbones`` with a
pooled softmax head for real photos (from ImageNet weights where they can be had).

Every model takes normalised RGB input ((x - 127.5) / 127.5) and ends in a softmax, so its output is
class probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import EdgeError
from train.models.backbones import BACKBONES, build_backbone, choose

SMALL_CNN = "small_cnn"
MODEL_NAMES = (SMALL_CNN, *BACKBONES)


def small_cnn(size: int, num_classes: int, dropout: float = 0.2):
    """Four conv blocks, global max pooling, softmax: about 90k parameters.

    Max pooling over the final feature map keeps "is this edge pattern anywhere" evidence, which
    learns shapes at any position several times faster than average pooling does.
    """
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="image")
    x = inputs
    for filters in (24, 48, 64, 96):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        # momentum 0.9 settles within a few dozen steps; across replicas the statistics are the global
        # batch's, so several workers train the same model as one process
        x = layers.BatchNormalization(momentum=0.9, synchronized=_distributed())(x)
        x = layers.ReLU()(x)
        if filters != 96:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(num_classes)(x)
    outputs = layers.Softmax(name="probability")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def _distributed() -> bool:
    """Built under a tf.distribute strategy with more than one replica."""
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1


@dataclass(frozen=True)
class Built:
    """A fresh classifier; ``backbone`` is the pretrained part to freeze and fine-tune (None when the
    whole model trains from scratch)."""

    model: object
    backbone: object | None
    weights: str | None
    mean: tuple[float, ...]
    std: tuple[float, ...]


def check_model_choice(
    name: str, size: int, alpha: float | None, weights: str | None
) -> tuple[float | None, str | None]:
    """The model, size, alpha and weights checked without TensorFlow, so a bad choice is one line before
    it loads: (the alpha to build, the weights resolved: ``imagenet``, a file or None)."""
    if size < 32:
        raise EdgeError(f"--size must be at least 32 pixels, got {size}")
    if name == SMALL_CNN:
        if weights not in (None, "none"):
            raise EdgeError(
                "small_cnn has no pretrained weights: leave --weights out, or pick a --model backbone"
            )
        if alpha is not None:
            raise EdgeError("--alpha goes with a MobileNet backbone, not small_cnn")
        return None, None
    if name not in BACKBONES:
        raise EdgeError(f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)}")
    return choose(BACKBONES[name], alpha, weights)


def build_model(
    name: str,
    size: int,
    num_classes: int,
    alpha: float | None = None,
    weights: str | None = None,
    dropout: float = 0.2,
) -> Built:
    """A classifier by name: ``small_cnn`` or a backbone (``mobilenet_v2``, ...) at ``alpha``; ``dropout``
    before the last layer."""
    import keras
    from keras import layers

    alpha, weights = check_model_choice(name, size, alpha, weights)
    if name == SMALL_CNN:
        return Built(small_cnn(size, num_classes, dropout), None, None, (127.5,), (127.5,))
    row = BACKBONES[name]
    backbone = build_backbone(row, size, alpha, weights)
    if weights is None:  # from scratch: Keras' 0.999 leaves the moving statistics far behind for epochs
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
    inputs = keras.Input((size, size, 3), name="image")
    # Pretrained: batch norm stays in inference mode, also once the top blocks are unfrozen.
    x = backbone(inputs, training=False) if weights else backbone(inputs)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    x = layers.Dense(num_classes)(x)
    outputs = layers.Softmax(name="probability")(x)
    model = keras.Model(inputs, outputs, name=f"{name}_{alpha:g}")
    return Built(model, backbone if weights else None, weights, row.mean, row.std)
