"""The class of each pixel of a segmentation output: the argmax of its scores, made cheap.

numpy's argmax over a short last axis costs a call per pixel (about 1 ms for DeepLab's
257 x 257 x 21 float scores on this x86 CPU: five times what reading them takes; OpenCV's
``reduceArgMax`` and a loop over class planes were slower). Two ways round it, both exact:

- In bands: numpy's argmax releases the GIL, so the rows are cut into one band per interpreter
  thread and done at once; the cores that ran ``invoke`` are idle while the frame is decoded.
- Through the upsample: many segmenters end in a bilinear resize of coarse scores (DeepLab v3:
  33 x 33 to 257 x 257, align_corners). When the graph says so and the coarse points fall on output
  pixels every ``s`` pixels, each ``s x s`` cell between four such points is a bilinear blend of their
  scores. The difference of two classes' scores is then bilinear in the cell, so it is smallest at a
  corner: a class that beats every other at the four corners, by more than the kernel's rounding,
  wins at every pixel of the cell. Only the other cells, along the class boundaries (4 to 22% of
  DeepLab's on the asset photos), are read in full.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from edge.model.graph import Resize

MAX_UNSETTLED = 0.5  # more cells than this on boundaries: the plain argmax is cheaper
FLOAT_TOLERANCE = 1e-4  # of the largest corner score: far above float32 rounding in the resize kernel
INTEGER_TOLERANCE = 2  # quantized steps: a kernel rounds each blended score by under one


def argmax_bands(scores: np.ndarray, pool: ThreadPoolExecutor | None, bands: int) -> np.ndarray:
    """The index of the largest score along the last axis (the first on a tie, as ``np.argmax``), the
    rows cut into ``bands`` bands: all but the last computed on ``pool``'s threads, the last in this
    one."""
    out = np.empty(scores.shape[:-1], np.intp)
    edges = np.linspace(0, scores.shape[0], max(bands, 1) + 1).astype(int)
    cuts = [(a, b) for a, b in zip(edges[:-1], edges[1:]) if b > a]
    if pool is None or len(cuts) < 2:
        return np.argmax(scores, axis=-1, out=out)
    futures = [pool.submit(np.argmax, scores[a:b], -1, out[a:b]) for a, b in cuts[:-1]]
    a, b = cuts[-1]
    np.argmax(scores[a:b], axis=-1, out=out[a:b])
    for future in futures:
        future.result()
    return out


def grid_strides(resize: Resize | None) -> tuple[int, int] | None:
    """Every how many output pixels a bilinear resize's source points land exactly on an output pixel
    (rows, columns), when they do at a step of 2 or more; else None (half-pixel centres, sizes that do
    not divide)."""
    if resize is None or resize.half_pixel_centers:
        return None
    strides = []
    for n, size in zip(resize.source, resize.size):
        if resize.align_corners:  # source i sits at output i * (size - 1) / (n - 1)
            step = (size - 1) // (n - 1) if n > 1 and (size - 1) % (n - 1) == 0 else 0
        else:  # at output i * size / n; the rows past the last one repeat it
            step = size // n if size % n == 0 else 0
        if step < 2:
            return None
        strides.append(step)
    return strides[0], strides[1]


def _corner_keys(corners: np.ndarray) -> np.ndarray:
    """Per source point, its best class when that class leads every other by more than the resize
    kernel can round away; else -1."""
    planes = corners.transpose(2, 0, 1).copy()  # (C, ny, nx): elementwise from here
    integer = np.issubdtype(planes.dtype, np.integer)
    if integer:
        planes = planes.astype(np.int32)
    top = planes.max(axis=0)
    tolerance = (
        INTEGER_TOLERANCE if integer else FLOAT_TOLERANCE * max(1.0, float(top.max()), -float(top.min()))
    )
    near = (planes >= top - tolerance).reshape(len(planes), -1).astype(np.float32)  # best and close
    count, index = np.dot(_count_and_index(len(planes)), near)  # one product: how many, and whose
    return np.where(count == 1, index, -1).astype(np.int32).reshape(top.shape)


@lru_cache(maxsize=8)
def _count_and_index(classes: int) -> np.ndarray:
    """Rows of ones and of class indices: times a near-best mask, how many classes and (for one) which."""
    return np.stack([np.ones(classes), np.arange(classes)]).astype(np.float32)  # exact to 2 ** 24


@dataclass(frozen=True)
class CellMap:
    """A class map made through the upsample: ``classes`` (H, W); per cell, the class of its corners
    (``first``), and the cells those do not settle (``unsettled``: rows and columns of cells)."""

    classes: np.ndarray
    strides: tuple[int, int]
    first: np.ndarray
    settled: np.ndarray
    unsettled: tuple[np.ndarray, np.ndarray]


def _cells(array: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """A (cell row, y, cell column, x, ...) view of the part of a C-contiguous ``array`` inside
    cells (all but its last row and column at least)."""
    (h, w), (sy, sx) = array.shape[:2], strides
    rs, cs = array.strides[:2]
    shape, steps = ((h - 1) // sy, sy, (w - 1) // sx, sx, *array.shape[2:]), (rs * sy, rs, cs * sx, cs)
    return np.ndarray(shape, array.dtype, array, 0, steps + array.strides[2:])  # checked inside ``array``


def argmax_upsampled(scores: np.ndarray, strides: tuple[int, int], dtype) -> CellMap | None:
    """``np.argmax(scores, axis=-1)`` as ``dtype`` for (H, W, C) scores that are a bilinear upsample
    whose source points sit every ``strides`` output pixels: corners first, then only the cells they
    do not settle. None when over ``MAX_UNSETTLED`` of the cells are unsettled.

    Few, large numpy calls: right after ``invoke`` the caches are cold and each call costs several
    times what it does in a loop of its own."""
    scores = np.ascontiguousarray(scores)
    h, w, _ = scores.shape
    sy, sx = strides
    hc, wc = sy * ((h - 1) // sy), sx * ((w - 1) // sx)  # the rows and columns inside cells
    if hc == 0 or wc == 0:
        return None
    keys = _corner_keys(scores[: hc + 1 : sy, : wc + 1 : sx])
    first = keys[:-1, :-1]
    settled = (first == keys[1:, :-1]) & (first == keys[:-1, 1:]) & (first == keys[1:, 1:]) & (first >= 0)
    bi, bj = np.nonzero(~settled)
    if len(bi) > MAX_UNSETTLED * settled.size:
        return None
    first = first.astype(dtype)  # -1 (unsure) wraps round, in unsettled cells only
    out = np.empty((h, w), dtype)
    out[:hc, :wc] = np.repeat(np.repeat(first, sy, axis=0), sx, axis=1)
    if len(bi):  # the unsettled cells' pixels
        _cells(out, strides)[bi, :, bj] = _cells(scores, strides)[bi, :, bj].argmax(axis=-1)
    out[hc:] = scores[hc:].argmax(axis=-1)  # past the last source row or column: read in full
    out[:hc, wc:] = scores[:hc, wc:].argmax(axis=-1)
    return CellMap(out, strides, first, settled, (bi, bj))


def cell_weights(weights: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    """The sum of per-pixel ``weights`` (H, W) over each cell."""
    return _cells(np.ascontiguousarray(weights), strides).sum(axis=(1, 3))


def weighted_counts(cell_map: CellMap, weights: np.ndarray, per_cell: np.ndarray, length: int) -> np.ndarray:
    """``np.bincount(classes, weights, minlength=length)`` of a ``CellMap`` (``weights`` C-contiguous),
    a settled cell counted at once with its summed weight (``cell_weights``)."""
    classes, settled, (bi, bj) = cell_map.classes, cell_map.settled, cell_map.unsettled
    hc, wc = settled.shape[0] * cell_map.strides[0], settled.shape[1] * cell_map.strides[1]
    ids = [cell_map.first[settled], classes[hc:].ravel(), classes[:hc, wc:].ravel()]
    sums = [per_cell[settled], weights[hc:].ravel(), weights[:hc, wc:].ravel()]
    if len(bi):
        ids.append(_cells(classes, cell_map.strides)[bi, :, bj].ravel())
        sums.append(_cells(weights, cell_map.strides)[bi, :, bj].ravel())
    return np.bincount(np.concatenate(ids), np.concatenate(sums), minlength=length)
