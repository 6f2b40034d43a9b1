"""Model builders: a small CNN for the built-in data, MobileNetV2 backbones for real images.

Every model takes normalised RGB input ((x - 127.5) / 127.5) and ends in a softmax, so its output is
class probabilities.
"""

from __future__ import annotations

from edge.errors import EdgeError


def small_cnn(size: int, num_classes: int):
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
        x = layers.BatchNormalization(momentum=0.9)(x)  # settles within a few dozen steps
        x = layers.ReLU()(x)
        if filters != 96:
            x = layers.MaxPooling2D()(x)
    x = layers.GlobalMaxPooling2D()(x)
    x = layers.Dropout(0.2)(x)
    x = layers.Dense(num_classes)(x)
    outputs = layers.Softmax(name="probability")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


def mobilenet_v2(size: int, num_classes: int, alpha: float = 0.35, weights: str | None = None):
    """MobileNetV2 backbone (``weights="imagenet"`` needs the Keras download; None trains from scratch)."""
    import keras
    from keras import layers

    inputs = keras.Input((size, size, 3), name="image")
    backbone = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), alpha=alpha, include_top=False, weights=weights, pooling="avg"
    )
    if weights is None:  # from scratch: Keras' 0.999 leaves the moving statistics far behind for epochs
        for layer in backbone.layers:
            if isinstance(layer, layers.BatchNormalization):
                layer.momentum = 0.9
    x = layers.Dropout(0.2)(backbone(inputs))
    x = layers.Dense(num_classes)(x)
    outputs = layers.Softmax(name="probability")(x)
    return keras.Model(inputs, outputs, name=f"mobilenet_v2_{alpha}")


MODELS = {"small_cnn": small_cnn, "mobilenet_v2": mobilenet_v2}


def build_model(name: str, size: int, num_classes: int):
    """A fresh model by name."""
    if name not in MODELS:
        raise EdgeError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if size < 32:
        raise EdgeError(f"--size must be at least 32 pixels, got {size}")
    return MODELS[name](size, num_classes)
