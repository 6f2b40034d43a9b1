"""Quantize and dequantize arrays by a tensor's (scale, zero_point), for uint8, int8, int16 and float."""

from __future__ import annotations

import numpy as np


def quantize(x: np.ndarray, scale: float, zero_point: int, dtype: np.dtype) -> np.ndarray:
    """Real values -> integer tensor values (round, then clip to the dtype); float dtypes pass through."""
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.integer):
        return np.asarray(x, dtype=dtype)
    if scale == 0.0:
        raise ValueError("cannot quantize to a tensor with scale 0")
    info = np.iinfo(dtype)
    q = np.rint(np.asarray(x, dtype=np.float32) / np.float32(scale)) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """Tensor values -> real values as float32; float tensors (or scale 0) pass through."""
    if scale == 0.0 or not np.issubdtype(q.dtype, np.integer):
        return np.asarray(q, dtype=np.float32)
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
