"""Backbones from keras.applications that run well on a Pi as int8, one row each: how to build it, the
width multipliers with ImageNet weights, and the input range it expects (written into the exported
model's metadata, so nobody has to know it).

``--weights imagenet`` uses Keras' own download and its cache (``~/.keras/models``); ``--weights FILE``
loads a weights file of the backbone without its top; ``--weights none`` trains from scratch.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError

IMAGENET = "imagenet"


@dataclass(frozen=True)
class Backbone:
    """One row: a keras.applications family at one setting."""

    name: str
    summary: str
    alphas: tuple[float, ...]  # width multipliers that have ImageNet weights
    default_alpha: float
    build: Callable[..., object]  # (input_shape, alpha, weights) -> Keras model, no top, no pooling
    mean: tuple[float, ...] = (127.5,)  # every row here takes inputs in [-1, 1]
    std: tuple[float, ...] = (127.5,)

    @property
    def default_weights(self) -> str | None:
        """ImageNet where this backbone has weights, else None (from scratch)."""
        return IMAGENET if self.alphas else None

    def weights_file(self, alpha: float, size: int) -> str:
        """The file Keras looks for in ~/.keras/models for these weights (no top)."""
        return WEIGHTS_FILES[self.name](alpha, size)


def _v1(input_shape, alpha, weights):
    import keras

    return keras.applications.MobileNet(
        input_shape=input_shape, alpha=alpha, include_top=False, weights=weights
    )


def _v2(input_shape, alpha, weights):
    import keras

    return keras.applications.MobileNetV2(
        input_shape=input_shape, alpha=alpha, include_top=False, weights=weights
    )


def _v3(large: bool, minimalistic: bool):
    def build(input_shape, alpha, weights):
        import keras

        family = keras.applications.MobileNetV3Large if large else keras.applications.MobileNetV3Small
        # Inputs in [-1, 1] like the others, so no Rescaling layer: the int8 input maps pixels directly.
        return family(
            input_shape=input_shape,
            alpha=alpha,
            minimalistic=minimalistic,
            include_top=False,
            weights=weights,
            include_preprocessing=False,
        )

    return build


def _tiny(input_shape, alpha, weights):
    """MobileNet-style and small enough to train on a CPU in minutes: a stem of two regular 3x3
    convolutions to stride 4 (depthwise convolutions are slow to train at high resolution on CPUs),
    then depthwise-separable blocks with ReLU6 to stride 32. No pretrained weights."""
    import keras
    from keras import layers

    def width(c: int) -> int:
        return max(8, round(c * alpha / 8) * 8)

    def conv(x, filters, kernel, strides, name):
        x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
        x = layers.BatchNormalization(momentum=0.97, name=f"{name}_bn")(x)
        return layers.ReLU(6.0, name=f"{name}_relu")(x)

    inputs = keras.Input(input_shape, name="image")
    x = conv(inputs, width(16), 3, 2, "stem1")
    x = conv(x, width(32), 3, 2, "stem2")
    plan = ((64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1))
    for i, (filters, strides) in enumerate(plan):
        x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"block{i}_dw")(x)
        x = layers.BatchNormalization(momentum=0.97, name=f"block{i}_dw_bn")(x)
        x = layers.ReLU(6.0, name=f"block{i}_dw_relu")(x)
        x = conv(x, width(filters), 1, 1, f"block{i}_pw")
    return keras.Model(inputs, x, name=f"mobilenet_tiny_{alpha:g}")


def _alpha_text(alpha: float) -> str:
    return {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}.get(alpha, str(alpha))


def _v1_file(alpha: float, size: int) -> str:
    rows = size if size in (128, 160, 192, 224) else 224
    return f"mobilenet_{_alpha_text(alpha)}_{rows}_tf_no_top.h5"


def _v2_file(alpha: float, size: int) -> str:
    rows = size if size in (96, 128, 160, 192, 224) else 224
    return f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{rows}_no_top.h5"


def _v3_file(kind: str) -> Callable[[float, int], str]:
    return lambda alpha, size: f"weights_mobilenet_v3_{kind}_224_{alpha}_float_no_top_v2.h5"


V3_NOTE = "hard-swish and squeeze-excite"
V3_MIN = "ReLU, no SE"
BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone("mobilenet_tiny", "regular-conv stem, depthwise-separable, ReLU6", (), 1.0, _tiny),
        Backbone("mobilenet_v1", "MobileNet v1, ReLU6", (0.25, 0.5, 0.75, 1.0), 0.25, _v1),
        Backbone("mobilenet_v2", "MobileNet v2, ReLU6", (0.35, 0.5, 0.75, 1.0, 1.3, 1.4), 0.35, _v2),
        Backbone("mobilenet_v3_small", f"MobileNet v3 small, {V3_NOTE}", (0.75, 1.0), 1.0, _v3(False, False)),
        Backbone("mobilenet_v3_small_minimalistic", f"v3 small, {V3_MIN}", (1.0,), 1.0, _v3(False, True)),
        Backbone("mobilenet_v3_large", f"MobileNet v3 large, {V3_NOTE}", (0.75, 1.0), 1.0, _v3(True, False)),
        Backbone("mobilenet_v3_large_minimalistic", f"v3 large, {V3_MIN}", (1.0,), 1.0, _v3(True, True)),
    )
}  # fmt: skip
WEIGHTS_FILES: dict[str, Callable[[float, int], str]] = {
    "mobilenet_tiny": lambda alpha, size: "(none: mobilenet_tiny has no pretrained weights)",
    "mobilenet_v1": _v1_file,
    "mobilenet_v2": _v2_file,
    "mobilenet_v3_small": _v3_file("small"),
    "mobilenet_v3_small_minimalistic": _v3_file("small_minimalistic"),
    "mobilenet_v3_large": _v3_file("large"),
    "mobilenet_v3_large_minimalistic": _v3_file("large_minimalistic"),
}


def resolve_weights(backbone: Backbone, weights: str | None, alpha: float) -> str | None:
    """``imagenet``, a file path, or None (from scratch), checked against what exists."""
    if weights in (None, "none"):
        return None
    if weights == IMAGENET:
        if not backbone.alphas:
            raise EdgeError(
                f"{backbone.name} has no ImageNet weights: --weights none (its default) or a file"
            )
        if alpha not in backbone.alphas:
            have = ", ".join(f"{a:g}" for a in backbone.alphas)
            raise EdgeError(
                f"{backbone.name} has ImageNet weights for --alpha {have}, not {alpha:g}: pick one of those, "
                "or --weights none to train from scratch"
            )
        return IMAGENET
    path = Path(weights)
    if not path.is_file():
        raise EdgeError(f"weights file not found: {path} (--weights imagenet, none or a file)")
    return str(path)


def choose(backbone: Backbone, alpha: float | None, weights: str | None) -> tuple[float, str | None]:
    """The alpha to build (the row's default when None) and the weights resolved, checked without
    TensorFlow, so a bad choice is one line before it loads."""
    alpha = backbone.default_alpha if alpha is None else alpha
    if alpha <= 0:
        raise EdgeError(f"--alpha must be above 0, got {alpha:g}")
    return alpha, resolve_weights(backbone, weights, alpha)


def build_backbone(backbone: Backbone, size: int, alpha: float, weights: str | None):
    """The backbone (no top) at ``size``; a failed download or an unusable file is one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "weights for 224 are loaded": expected at other sizes
            return backbone.build((size, size, 3), alpha, weights)
    except Exception as exc:  # a download (URL fetch failure), a file of another model, a bad alpha
        text = " ".join(str(exc).split())[:300] or type(exc).__name__
        if weights == IMAGENET:
            name = backbone.weights_file(alpha, size)
            raise EdgeError(
                f"cannot get the ImageNet weights of {backbone.name} (alpha {alpha:g}): {text}; without "
                f"internet put {name} in ~/.keras/models/, or pass --weights FILE (that file) or "
                "--weights none"
            ) from None
        if weights is not None:
            raise EdgeError(f"cannot load {weights} into {backbone.name} (alpha {alpha:g}): {text}") from None
        raise EdgeError(f"cannot build {backbone.name} with alpha {alpha:g} at {size} px: {text}") from None
