"""A constant-velocity Kalman filter over boxes, batched: every track's state is one row of arrays.

The state is ByteTrack's (and DeepSORT's): centre x, centre y, aspect ratio w/h, height, and their
velocities per frame. Noise scales with the box's height, so near and far objects move alike.

The model's noises are diagonal and each velocity drives only its own coordinate, so the 8x8
covariance never couples two coordinates: it is four independent 2x2 blocks (position variance,
position-velocity covariance, velocity variance). Keeping just those as ``var`` (N, 3, 4) makes every
step a few element-wise operations over all tracks, with no matrix product or solve; the result is the
same filter (tests/test_track.py checks it against the full matrices).
"""

from __future__ import annotations

import numpy as np

POSITION = 1.0 / 20  # noise of position, per unit of box height
VELOCITY = 1.0 / 160  # noise of velocity, per unit of box height


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) corners -> (N, 4) centre x, centre y, w/h, h."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(boxes)
    w = boxes[:, 2] - boxes[:, 0]
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    out[:, 0] = boxes[:, 0] + w / 2
    out[:, 1] = boxes[:, 1] + h / 2
    out[:, 2] = w / h
    out[:, 3] = h
    return out


def xyah_to_xyxy(states: np.ndarray) -> np.ndarray:
    """(N, >=4) centre x, centre y, w/h, h -> (N, 4) corners."""
    half = np.empty((len(states), 2))
    half[:, 1] = states[:, 3] / 2
    half[:, 0] = states[:, 2] * half[:, 1]
    centre = states[:, :2]
    return np.concatenate([centre - half, centre + half], axis=1)


_SCALED = np.array([1.0, 1.0, 0.0, 1.0])  # which coordinates' noise scales with the height


def _std(h: np.ndarray, weight: float, aspect: float) -> np.ndarray:
    """(N, 4) standard deviations: ``weight`` times the height for x, y and h; ``aspect`` for w/h."""
    return h * (weight * _SCALED) + aspect * (1.0 - _SCALED)


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New tracks from (N, 4) xyah measurements: means (N, 8) at rest and variances (N, 3, 4)."""
    n = len(measurements)
    mean = np.concatenate([measurements, np.zeros((n, 4))], axis=1)
    h = measurements[:, 3:4]
    var = np.zeros((n, 3, 4))
    var[:, 0] = _std(h, 2 * POSITION, 1e-2) ** 2
    var[:, 2] = _std(h, 10 * VELOCITY, 1e-5) ** 2
    return mean, var


def predict(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every track one frame ahead: x' = x + v, with the model's noise added."""
    if len(mean) == 0:
        return mean, var
    h = mean[:, 3:4]
    mean = mean.copy()
    mean[:, :4] += mean[:, 4:]
    pp, pv, vv = var[:, 0], var[:, 1], var[:, 2]
    out = np.empty_like(var)
    out[:, 0] = pp + 2 * pv + vv + _std(h, POSITION, 1e-2) ** 2
    out[:, 1] = pv + vv
    out[:, 2] = vv + _std(h, VELOCITY, 1e-5) ** 2
    return mean, out


def update(mean: np.ndarray, var: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each track corrected by its (N, 4) xyah measurement."""
    if len(mean) == 0:
        return mean, var
    pp, pv, vv = var[:, 0], var[:, 1], var[:, 2]
    s = pp + _std(mean[:, 3:4], POSITION, 1e-1) ** 2  # innovation variance
    gain_p, gain_v = pp / s, pv / s
    innovation = measurements - mean[:, :4]
    mean = mean.copy()
    mean[:, :4] += gain_p * innovation
    mean[:, 4:] += gain_v * innovation
    out = np.empty_like(var)
    out[:, 0] = pp - gain_p * pp
    out[:, 1] = pv - gain_p * pv
    out[:, 2] = vv - gain_v * pv
    return mean, out
