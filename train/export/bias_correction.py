"""Bias correction before full-integer conversion: the empirical bias correction of Nagel et al.,
"Data-Free Quantization Through Weight Equalization and Bias Correction" (ICCV 2019).

The converter folds each batch norm into the convolution before it and rounds the folded kernel to
int8, symmetric per output channel (127 steps each side of 0). Where a channel's taps differ a lot in
size, as in MobileNet's early depthwise layers with their ImageNet statistics, the small taps round
badly and the errors do not cancel: they shift the channel's output by about the same amount on every
image. That shift is the layer's mean input (over the calibration images) through the rounding error
of its folded kernel; it is taken off the batch norm's offset, or the convolution's bias when no batch
norm follows, in a copy of the weights used for the integer modes only.

What it changes, measured (``python tools/bias_correction.py runs/demo-detect/run``): the README.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

STEPS = 127  # symmetric int8 kernels: -127..127 times a scale per output channel
BATCH = 16


def _is_conv(layer) -> bool:
    import keras

    return isinstance(layer, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D))


def _is_depthwise(layer) -> bool:
    import keras

    return isinstance(layer, keras.layers.DepthwiseConv2D)


def _tensor(layer, which: str):
    """The layer's one input or output tensor, or None for a layer called more than once (shared
    weights)."""
    try:
        return getattr(layer, which)
    except (AttributeError, ValueError):
        return None


def _targets(scope) -> list[tuple[object, object]]:
    """(convolution, batch norm or None) of ``scope``'s layers: the batch norm that reads the
    convolution's output, else None when the convolution has a bias of its own to correct."""
    import keras

    bn_of = {
        id(_tensor(layer, "input")): layer
        for layer in scope.layers
        if isinstance(layer, keras.layers.BatchNormalization) and _tensor(layer, "input") is not None
    }
    found = []
    for layer in scope.layers:
        out = _tensor(layer, "output") if _is_conv(layer) else None
        if out is None:
            continue
        bn = bn_of.get(id(out))
        if bn is not None or layer.use_bias:
            found.append((layer, bn))
    return found


def _scopes(model) -> Iterator[object]:
    """The model, and each functional model inside it that reads the model's own input (a backbone):
    the calibration images can be fed to both as they are."""
    import keras

    yield model
    shape = tuple(model.inputs[0].shape[1:])
    for layer in model.layers:
        if (
            isinstance(layer, keras.Model)
            and len(layer.inputs) == 1
            and tuple(layer.inputs[0].shape[1:]) == shape
        ):
            yield layer


def folded_kernel(conv, bn) -> np.ndarray:
    """The kernel the converter quantizes: the batch norm's scale folded in, output channels last
    ((kh, kw, C) for a depthwise convolution with one filter per channel)."""
    kernel = conv.get_weights()[0]
    if _is_depthwise(conv):
        kernel = kernel[:, :, :, 0] if kernel.shape[-1] == 1 else kernel.reshape(*kernel.shape[:2], -1)
    if bn is None:
        return kernel
    weights = bn.get_weights()  # [gamma if scale], [beta if center], moving mean, moving variance
    gamma = weights[0] if bn.scale else 1.0
    return kernel * (gamma / np.sqrt(weights[-1] + bn.epsilon))


def rounding_error(kernel: np.ndarray) -> np.ndarray:
    """The int8 kernel minus the float one, each output channel (last axis) with its own scale."""
    axes = tuple(range(kernel.ndim - 1))
    scale = np.abs(kernel).max(axis=axes) / STEPS
    safe = np.where(scale > 0, scale, 1.0)
    return np.round(kernel / safe) * scale - kernel


def output_shift(conv, bn, mean_input: np.ndarray) -> np.ndarray:
    """The mean change of each output channel that rounding the folded kernel makes."""
    error = rounding_error(folded_kernel(conv, bn))
    if _is_depthwise(conv):
        if error.shape[-1] != mean_input.shape[-1]:  # several filters per channel: not corrected
            return np.zeros(error.shape[-1], np.float32)
        return error.sum(axis=(0, 1)) * mean_input
    return np.einsum("hwio,i->o", error, mean_input)


def _mean_inputs(scope, layers: list, calibration: np.ndarray) -> list[np.ndarray]:
    """Each layer's mean input per channel over the calibration images, a batch at a time."""
    import keras

    probe = keras.Model(scope.inputs, [layer.input for layer in layers])
    sums = [np.zeros(int(layer.input.shape[-1]), np.float64) for layer in layers]
    counts = [0] * len(layers)
    for start in range(0, len(calibration), BATCH):
        outputs = probe.predict_on_batch(calibration[start : start + BATCH])
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for i, x in enumerate(outputs):
            x = np.asarray(x, np.float64).reshape(-1, x.shape[-1])
            sums[i] += x.sum(axis=0)
            counts[i] += len(x)
    return [total / max(n, 1) for total, n in zip(sums, counts)]


@contextmanager
def corrected_biases(model, calibration: np.ndarray) -> Iterator[int]:
    """Within the block the model's batch norm offsets (or biases) are corrected; after it they are
    restored. Yields the number of layers corrected (0 for a model that is not Keras, a SavedModel)."""
    import keras

    saved = []
    if not isinstance(model, keras.Model):
        yield 0
        return
    try:
        for scope in _scopes(model):
            targets = [(conv, bn) for conv, bn in _targets(scope) if bn is None or bn.center]
            if not targets:
                continue
            means = _mean_inputs(scope, [conv for conv, _ in targets], calibration)
            for (conv, bn), mean in zip(targets, means):
                shift = output_shift(conv, bn, mean)
                owner, index = (conv, 1) if bn is None else (bn, 1 if bn.scale else 0)  # bias / beta
                weights = owner.get_weights()
                saved.append((owner, [w.copy() for w in weights]))
                weights[index] = weights[index] - shift.astype(weights[index].dtype)
                owner.set_weights(weights)
        yield len(saved)
    finally:
        for owner, weights in reversed(saved):
            owner.set_weights(weights)
