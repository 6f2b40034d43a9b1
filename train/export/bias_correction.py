"""Bias correction before full-integer conversion: the empirical bias correction of Nagel et al.,
"Data-Free Quantization Through Weight Equalization and Bias Correction" (ICCV 2019).

The converter folds each batch norm into the convolution before it and rounds the folded kernel to
int8, symmetric per output channel (127 steps each side of 0). Where a channel's taps differ a lot in
size, as in MobileNet's early depthwise layers with their ImageNet statistics, the small taps round
badly and the errors do not cancel: they shift the channel's output by about the same amount on every
image. That shift is the layer's mean input (over the calibration images) through the rounding error
of its folded kernel; it is taken off the batch norm's offset, or the convolution's bias when no batch
norm follows, in a copy of the weights used for the integer modes only.

The 3x3 depthwise kernels also get their rounding chosen first (``chosen_rounding``): each tap up or
down, whichever leaves the output's error least variable over the calibration windows, and the
kernel written back on the int8 grid so the converter keeps it. On the 256 px demo detector's run it
moved int8 mAP@[.5:.95] from 0.624 to 0.626 (README).

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


def output_shift(conv, bn, mean_input: np.ndarray, error: np.ndarray | None = None) -> np.ndarray:
    """The mean change of each output channel that rounding the folded kernel makes (``error``: the
    rounding's error when it is not to the nearest step)."""
    error = rounding_error(folded_kernel(conv, bn)) if error is None else error
    if _is_depthwise(conv):
        if error.shape[-1] != mean_input.shape[-1]:  # several filters per channel: not corrected
            return np.zeros(error.shape[-1], np.float32)
        return error.sum(axis=(0, 1)) * mean_input
    return np.einsum("hwio,i->o", error, mean_input)


def _roundable(conv) -> bool:
    """A 3x3 depthwise convolution with one filter per channel, undilated: its rounding is chosen."""
    return (
        _is_depthwise(conv)
        and tuple(conv.kernel_size) == (3, 3)
        and conv.get_weights()[0].shape[-1] == 1
        and tuple(conv.dilation_rate) == (1, 1)
    )


def patches(x: np.ndarray, conv) -> np.ndarray:
    """The 3x3 windows a depthwise convolution reads from ``x`` (B, H, W, C), with TensorFlow's
    padding: (windows, C, 9), taps in the kernel's row-major order."""
    k, (sh, sw) = 3, conv.strides
    if conv.padding == "same":
        pads = []
        for size, stride in ((x.shape[1], sh), (x.shape[2], sw)):
            total = max((-(-size // stride) - 1) * stride + k - size, 0)
            pads.append((total // 2, total - total // 2))
        x = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(1, 2))[:, ::sh, ::sw]
    return windows.reshape(-1, x.shape[-1], k * k)


def chosen_rounding(kernel: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """The int8 grid values of a folded depthwise kernel (3, 3, C), each tap rounded up or down so
    that the output's rounding error varies least over the calibration windows: ``d' S d`` with ``d``
    the channel's 9 tap errors and ``S`` its windows' covariance (9, 9, per channel). Bias correction
    then takes off the error's mean. All 512 up/down choices of a channel are tried, so this is exact
    for the 3x3 kernel (AdaRound's aim, Nagel et al. 2020, solved by enumeration). Returns the
    kernel as the converter will hold it, scale times steps."""
    taps = kernel.reshape(9, -1).T.astype(np.float64)  # (C, 9)
    largest = np.abs(taps).max(axis=1, keepdims=True)
    scale = largest / STEPS
    safe = np.where(scale > 0, scale, 1.0)
    ratio = taps / safe
    # the largest tap stays at +-127 exactly: moving it would change the scale the converter picks
    ratio = np.where(np.abs(taps) == largest, np.sign(taps) * STEPS, ratio)
    low, high = np.floor(ratio), np.ceil(ratio)  # equal for a tap already on the grid
    choices = ((np.arange(512)[:, None] >> np.arange(9)) & 1).astype(np.float64)  # (512, 9)
    out = np.empty_like(taps)
    for c in range(len(taps)):
        steps = low[c] + choices * (high[c] - low[c])
        error = steps * safe[c] - taps[c]
        cost = np.einsum("kt,tu,ku->k", error, covariance[c], error)
        out[c] = steps[int(np.argmin(cost))] * scale[c]
    return out.T.reshape(kernel.shape)


def _input_stats(scope, layers: list, calibration: np.ndarray) -> tuple[list, list]:
    """Each layer's mean input per channel over the calibration images, and for the depthwise layers
    whose rounding is chosen the covariance of their 3x3 windows (C, 9, 9); a batch at a time."""
    import keras

    probe = keras.Model(scope.inputs, [layer.input for layer in layers])
    sums = [np.zeros(int(layer.input.shape[-1]), np.float64) for layer in layers]
    counts = [0] * len(layers)
    moments = {i: [0.0, 0.0, 0] for i, layer in enumerate(layers) if _roundable(layer)}
    for start in range(0, len(calibration), BATCH):
        outputs = probe.predict_on_batch(calibration[start : start + BATCH])
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        for i, x in enumerate(outputs):
            x = np.asarray(x, np.float64)
            if i in moments:
                for image in x:  # an image at a time: a large early layer's windows are 9 times its input
                    windows = patches(image[None], layers[i])
                    moments[i][0] = moments[i][0] + windows.sum(axis=0)
                    moments[i][1] = moments[i][1] + np.einsum("nct,ncu->ctu", windows, windows)
                    moments[i][2] += len(windows)
            x = x.reshape(-1, x.shape[-1])
            sums[i] += x.sum(axis=0)
            counts[i] += len(x)
    means = [total / max(n, 1) for total, n in zip(sums, counts)]
    covariances = [None] * len(layers)
    for i, (first, second, n) in moments.items():
        mean = first / max(n, 1)
        covariances[i] = second / max(n, 1) - np.einsum("ct,cu->ctu", mean, mean)
    return means, covariances


def _set_folded(conv, bn, folded: np.ndarray) -> None:
    """Write the kernel whose folded form is ``folded`` (3, 3, C): the converter, folding the batch norm
    in again, finds every tap on the int8 grid and keeps the rounding chosen."""
    weights = conv.get_weights()
    factor = 1.0
    if bn is not None:
        bn_weights = bn.get_weights()  # [gamma if scale], [beta if center], moving mean, moving variance
        factor = (bn_weights[0] if bn.scale else 1.0) / np.sqrt(bn_weights[-1] + bn.epsilon)
        factor = np.where(factor != 0, factor, 1.0)  # a channel with gamma 0 folds to zeros either way
    weights[0] = (folded / factor)[..., None].astype(weights[0].dtype)
    conv.set_weights(weights)


def _round_on_grid(conv, bn, covariance: np.ndarray) -> np.ndarray:
    """Write ``conv``'s kernel with its rounding chosen; the folded kernel's error against before."""
    folded = folded_kernel(conv, bn)
    grid = chosen_rounding(folded, covariance)
    _set_folded(conv, bn, grid)
    return grid - folded


@contextmanager
def corrected_biases(model, calibration: np.ndarray) -> Iterator[int]:
    """Within the block the model's batch norm offsets (or biases) are corrected; after it they are
    restored. Yields the number of layers corrected (0 for a model that is not Keras, a SavedModel)."""
    import keras

    saved, count = [], 0
    if not isinstance(model, keras.Model):
        yield 0
        return
    try:
        for scope in _scopes(model):
            targets = [(conv, bn) for conv, bn in _targets(scope) if bn is None or bn.center]
            if not targets:
                continue
            means, covariances = _input_stats(scope, [conv for conv, _ in targets], calibration)
            for (conv, bn), mean, covariance in zip(targets, means, covariances):
                error = None
                if covariance is not None:
                    saved.append((conv, conv.get_weights()))
                    error = _round_on_grid(conv, bn, covariance)
                shift = output_shift(conv, bn, mean, error)
                owner, index = (conv, 1) if bn is None else (bn, 1 if bn.scale else 0)  # bias / beta
                weights = owner.get_weights()
                saved.append((owner, [w.copy() for w in weights]))
                weights[index] = weights[index] - shift.astype(weights[index].dtype)
                owner.set_weights(weights)
                count += 1
        yield count
    finally:
        for owner, weights in reversed(saved):
            owner.set_weights(weights)
