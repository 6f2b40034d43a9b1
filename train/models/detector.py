"""A small anchor-free detector for CPUs and Raspberry Pis, designed for full-integer int8.

    backbone (MobileNet-style, width multiplier) -> C3, C4, C5 (strides 8, 16, 32)
    -> light FPN (top-down) + PAN (bottom-up), depthwise-separable, ``neck`` channels
    -> one head shared by the three levels: class logits, and box distances (left, top, right, bottom)
       as a sigmoid times the level's reach (bounded, so int8 keeps them)
    -> boxes [1, N, 4] as xmin, ymin, xmax, ymax normalised to the input and clipped to 0..1, and
       scores [1, N, C] (sigmoid): SEPARATE outputs, so each has its own int8 scale.

Activations are ReLU6 throughout (bounded); every op is a TFLite builtin. ``train`` is the model Keras
trains (boxes and logits in one tensor); ``export`` shares its weights and has two outputs, boxes and
sigmoid scores (the run's ``model.keras``). The ``.tflite`` holds ``device_model``'s: the distances as
the sigmoids give them (0..1 of each level's reach) instead of the boxes, which edge decodes from the
anchor points in float (``edge.tasks.anchor_free``); ``DISTANCE_GRID`` goes into its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from edge.errors import EdgeError
from edge.model.spec import DistanceGrid
from edge.tasks.anchor_free import anchor_points

STRIDES = (8, 16, 32)
REACH = (64.0, 128.0, 384.0)  # pixels: the longest box distance each level can express
GRID = DistanceGrid(STRIDES, REACH)  # the anchor points: edge decodes the .tflite's distances on them
DISTANCE_GRID = {"strides": list(GRID.strides), "reach": list(GRID.reach)}  # GRID, as the metadata holds it


@dataclass(frozen=True)
class Anchors:
    """The anchor points of every level, in the order of the outputs: centres (N, 2) in input pixels,
    and each point's level (N,)."""

    size: int
    centers: np.ndarray
    level: np.ndarray

    @property
    def count(self) -> int:
        return len(self.centers)


def anchors_for(size: int) -> Anchors:
    if size % STRIDES[-1]:
        raise EdgeError(
            f"--size must be a multiple of {STRIDES[-1]} (the network's largest stride), got {size}"
        )
    points = anchor_points(GRID, size, size)  # the points edge decodes on, in the same order
    levels = np.repeat(np.arange(len(STRIDES)), [(size // s) ** 2 for s in STRIDES])
    return Anchors(size, points.centers, levels)


def _conv_bn(x, filters: int, kernel: int = 1, strides: int = 1, name: str = ""):
    layers = keras.layers
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(
        x
    )
    x = layers.BatchNormalization(momentum=0.97, name=f"{name}_bn")(x)
    return layers.ReLU(6.0, name=f"{name}_relu")(x)


def _separable(x, filters: int, strides: int = 1, name: str = ""):
    """Depthwise 3x3 + pointwise 1x1, each with batch norm and ReLU6."""
    from keras import layers

    x = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False, name=f"{name}_dw")(x)
    x = layers.BatchNormalization(momentum=0.97, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(6.0, name=f"{name}_dw_relu")(x)
    return _conv_bn(x, filters, name=f"{name}_pw")


def feature_maps(backbone, size: int) -> list:
    """The backbone's last outputs at strides 8, 16 and 32."""
    by_stride = {}
    for layer in backbone.layers:
        shape = layer.output.shape if hasattr(layer, "output") else None
        if shape is not None and len(shape) == 4 and shape[1]:
            stride = size // shape[1]
            if stride in STRIDES and size % shape[1] == 0:
                by_stride[stride] = layer.output
    missing = [s for s in STRIDES if s not in by_stride]
    if missing:
        raise EdgeError(f"the backbone has no feature map at stride {missing}: pick another --model")
    return [by_stride[s] for s in STRIDES]


def neck(features: list, channels: int) -> list:
    """FPN (top-down, nearest upsampling) then PAN (bottom-up, stride-2 depthwise)."""
    from keras import layers

    lateral = [_conv_bn(f, channels, name=f"lateral{i}") for i, f in enumerate(features)]
    top_down = [lateral[2]]
    for i in (1, 0):
        up = layers.UpSampling2D(2, interpolation="nearest", name=f"up{i}")(top_down[0])
        merged = layers.Add(name=f"fpn{i}_add")([lateral[i], up])
        top_down.insert(0, _separable(merged, channels, name=f"fpn{i}"))
    out = [top_down[0]]
    for i in (1, 2):
        down = _separable(out[-1], channels, strides=2, name=f"down{i}")
        merged = layers.Add(name=f"pan{i}_add")([top_down[i], down])
        out.append(_separable(merged, channels, name=f"pan{i}"))
    return out


def head(levels: list, channels: int, num_classes: int, size: int, depth: int) -> tuple:
    """Shared class and box branches: the class logits of each level (a list) and the joined boxes.
    Each level decodes its own boxes, normalised to the input, before the levels are joined (what
    Keras trains and evaluates). The .tflite takes each level's distance sigmoid instead
    (``device_model``): 0..1 of the level's own reach, so under int8 each level's distances keep 1/256
    of its reach (0.25 px at stride 8)."""
    from keras import layers

    tower_cls = [_SharedTower(channels, "cls", depth), _SharedTower(channels, "box", depth)]
    cls_out = layers.Conv2D(num_classes, 1, name="cls_logits", bias_initializer=_prior(0.01))
    box_out = layers.Conv2D(4, 1, name="box_distances")
    logits, boxes = [], []
    for level, feature in enumerate(levels):
        c = cls_out(tower_cls[0](feature))
        d = layers.Activation("sigmoid", name=f"distance_sigmoid{level}")(box_out(tower_cls[1](feature)))
        d = layers.Rescaling(REACH[level] / size, name=f"distance_reach{level}")(d)
        logits.append(layers.Reshape((-1, num_classes), name=f"logits_flat{level}")(c))
        d = layers.Reshape((-1, 4), name=f"distances_flat{level}")(d)
        boxes.append(DecodeBoxes(size, level, name=f"boxes{level}")(d))
    boxes = layers.Concatenate(axis=1, name="boxes")(boxes)
    return logits, boxes


def _prior(p: float):
    import keras

    return keras.initializers.Constant(float(-np.log((1 - p) / p)))


class _SharedTower:
    """``depth`` separable conv blocks whose layers are reused on every level (weights shared)."""

    def __init__(self, channels: int, name: str, depth: int) -> None:
        from keras import layers

        self.layers = []
        for block in range(depth):
            tag = f"{name}_tower" if block == 0 else f"{name}_tower{block + 1}"
            self.layers += [
                layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"{tag}_dw"),
                layers.ReLU(6.0, name=f"{tag}_dw_relu"),
                layers.Conv2D(channels, 1, use_bias=True, name=f"{tag}_pw"),
                layers.ReLU(6.0, name=f"{tag}_pw_relu"),
            ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


@keras.saving.register_keras_serializable(package="edgesight")
class DecodeBoxes(keras.layers.Layer):
    """One level's distances (B, n, 4), normalised to the input -> its boxes (B, n, 4) xmin, ymin,
    xmax, ymax normalised to the input, inside 0..1: the boxes Keras trains on and evaluates. edge
    decodes a .tflite's distances the same way, in float (``edge.tasks.anchor_free.AnchorPoints``).

    Each distance is first capped by how far its point is from the image's edge, then taken from (left,
    top) or added to (right, bottom) the point: ``c - min(d, c)`` is ``max(c - d, 0)``, and ``c +
    min(d, 1 - c)`` is ``min(c + d, 1)``, so the boxes are the clipped ones. The anchor centres are
    constants of the graph (MINIMUM, SUB, ADD, CONCATENATION)."""

    def __init__(self, size: int, level: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.size, self.level = size, level
        anchors = anchors_for(size)
        centers = (anchors.centers[anchors.level == level] / size).astype(np.float32)
        self._centers = centers[None]
        self._room = np.concatenate([centers, 1.0 - centers], axis=1)[None]  # how far each edge can go

    def call(self, distances):
        from keras import ops

        capped = ops.minimum(distances, ops.convert_to_tensor(self._room))
        centers = ops.convert_to_tensor(self._centers)
        return ops.concatenate([centers - capped[..., :2], centers + capped[..., 2:]], axis=-1)

    def compute_output_shape(self, shape):
        return shape

    def get_config(self) -> dict:
        return {**super().get_config(), "size": self.size, "level": self.level}


@dataclass(frozen=True)
class DetectorModels:
    train: object  # image -> (B, N, 4 + C): boxes then class logits, what the loss reads
    export: object  # image -> {"boxes", "scores"}
    backbone: object


def build_detector(size: int, num_classes: int, backbone, channels: int, depth: int) -> DetectorModels:
    """The detector on ``backbone`` (a Keras model taking (size, size, 3) inputs in [-1, 1])."""
    import keras
    from keras import layers

    anchors_for(size)  # the size check, with its message
    inputs = keras.Input((size, size, 3), name="image")
    features = keras.Model(backbone.inputs, feature_maps(backbone, size), name="features")(inputs)
    logits, boxes = head(neck(list(features), channels), channels, num_classes, size, depth)
    joined = layers.Concatenate(axis=-1, name="boxes_logits")(
        [boxes, layers.Concatenate(axis=1, name="logits")(logits)]
    )
    train = keras.Model(inputs, joined, name="detector_trainer")
    # each level's sigmoid before the join, so int8 carries probabilities, not logits; on the demo's
    # model it changed int8 mAP@[.5:.95] by nothing (0.624 both ways) and costs nothing
    probs = [layers.Activation("sigmoid", name=f"scores{i}")(x) for i, x in enumerate(logits)]
    scores = layers.Concatenate(axis=1, name="scores")(probs)
    export = keras.Model(inputs, {"boxes": boxes, "scores": scores}, name="detector")
    return DetectorModels(train, export, backbone)


def device_model(export):
    """The model a ``.tflite`` is converted from: ``export``'s weights, with outputs ``distances``
    [B, N, 4] (each level's box sigmoid, 0..1 of its reach, joined in the anchors' order) and
    ``scores``. Full-integer int8 keeps each sigmoid's own 1/256 steps (0.25 px at stride 8); the boxes
    decoded in the graph came out on 1/255 of the input after requantizing at every step, and the
    demo's int8 model lost 2.54 mAP@[.5:.95] points to float32 instead of 0.84 (README)."""
    import keras
    from keras import layers

    levels = len(STRIDES)
    distances = [
        layers.Reshape((-1, 4), name=f"distances{i}")(export.get_layer(f"distance_sigmoid{i}").output)
        for i in range(levels)
    ]
    joined = layers.Concatenate(axis=1, name="distances")(distances)
    outputs = {"distances": joined, "scores": export.get_layer("scores").output}
    return keras.Model(export.inputs, outputs, name="detector_device")
