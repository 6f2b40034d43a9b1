"""The class of each pixel of a segmentation output: the argmax of its scores, made cheap.

numpy's argmax over a short last axis costs a call per pixel (about 1 ms for DeepLab's
257 x 257 x 21 float scores on this x86 CPU: five times what reading them takes; OpenCV's
``reduceArgMax`` and a loop over class planes were slower). Three ways round it:

- In bands: numpy's argmax releases the GIL, so the rows are cut into one band per interpreter
  thread and done at once; the cores that ran ``invoke`` are idle while the frame is decoded.
- Through the upsample: many segmenters end in a bilinear resize of coarse scores (DeepLab v3:
  33 x 33 to 257 x 257, align_corners). When the graph says so and the coarse points fall on output
  pixels every ``s`` pixels, each ``s x s`` cell between four such points is a bilinear blend of their
  scores. The difference of two classes' scores is then bilinear in the cell, so it is smallest at a
  corner: a class that beats every other at the four corners, by more than the kernel's rounding,
  wins at every pixel of the cell. In the other cells, along the class boundaries (4 to 22% of
  DeepLab's on the asset photos), the few classes that can win there are blended from the corners
  as the kernel does, and only the pixels where two of them come within its rounding are read.
- Without the upsample (``argmax_of_upsample``): when the interpreter runs the model without that
  last resize, the same cells are found from the coarse scores alone, the unsettled ones blended
  here; the map is then the argmax of the exact blend, but where two classes come within float32
  rounding.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

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


def _planes(corners: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The source points' scores as (C, ny, nx) planes (int32 for integer outputs), each point's
    best score, and how far the resize kernel can round a blended score: ``FLOAT_TOLERANCE`` of the
    largest best score, or ``INTEGER_TOLERANCE`` steps."""
    planes = corners.transpose(2, 0, 1).copy()  # elementwise from here
    integer = planes.dtype.kind in "iu"
    if integer:
        planes = planes.astype(np.int32)
    top = planes.max(axis=0)
    if integer:
        return planes, top, INTEGER_TOLERANCE
    return planes, top, FLOAT_TOLERANCE * max(1.0, float(top.max()), -float(top.min()))


def _keys(planes: np.ndarray, top: np.ndarray, tolerance: float) -> np.ndarray:
    """Per source point, its best class when that class leads every other by more than
    ``tolerance``; else a negative number of its own (so two unsure points never match). As int32:
    a negative float cast to uint8 is an invalid operation on ARM (numpy warns), an int wraps."""
    near = planes >= top - tolerance  # the best, and any close to it
    chosen, count = _only(near, _tally(len(planes)))
    return np.where(count == 1, chosen, _unsure(top.size)).astype(np.int32).reshape(top.shape)


def _only(near: np.ndarray, tally: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For flags ``near`` (k, ...) of k classes at each place: the id of the one set, where only one
    is, and how many are set; as float32 sums, both from one matrix product with ``tally`` (2, k):
    the classes' ids, and ones. Right after ``invoke`` every kind of numpy call is slow the first
    time (its code and tables are out of the caches): this one takes the place of an argmax, a
    count and a masked copy."""
    chosen, count = np.matmul(tally, near.reshape(tally.shape[1], -1).astype(np.float32))
    return chosen, count


@lru_cache(maxsize=8)
def _tally(n: int) -> np.ndarray:
    """``_only``'s (2, n) table for classes 0 to n - 1 (its columns for a few of them)."""
    tally = np.ones((2, n), np.float32)
    tally[0] = np.arange(n)
    tally.flags.writeable = False
    return tally


@lru_cache(maxsize=8)
def _unsure(n: int) -> np.ndarray:
    """-1, -2, ...: a key of its own for each of ``n`` source points that is not sure."""
    return -1 - np.arange(n, dtype=np.float32)


@lru_cache(maxsize=8)
def _blend(strides: tuple[int, int]) -> np.ndarray:
    """The bilinear weights of a cell's corners (top left, bottom left, top right, bottom right) at
    each of its pixels, row by row: (sy * sx, 4)."""
    fy, fx = np.arange(strides[0])[:, None] / strides[0], np.arange(strides[1])[None] / strides[1]
    weights = ((1 - fy) * (1 - fx), fy * (1 - fx), (1 - fy) * fx, fy * fx)
    return np.stack([w.ravel() for w in weights], axis=-1).astype(np.float32)


@lru_cache(maxsize=8)
def _geometry(strides: tuple[int, int], shape: tuple[int, int, int]) -> tuple[np.ndarray, ...]:
    """For (H, W, C) scores cut into cells of ``strides``, per cell (flat index): its top left
    corner in the (ny + 1) x (nx + 1) source points and its top left pixel in the scores; the four
    corners' steps from the first (``_blend``'s order); and each pixel's step from the cell's first,
    row by row."""
    (sy, sx), (h, w, _) = strides, shape
    ny, nx = (h - 1) // sy, (w - 1) // sx
    row, column = np.divmod(np.arange(ny * nx), nx)
    corner, pixel = row * (nx + 1) + column, row * sy * w + column * sx
    steps = np.array([[0], [nx + 1], [1], [nx + 2]])
    inside = (np.arange(sy)[:, None] * w + np.arange(sx)).ravel()
    return corner, pixel, steps, inside


def _refine(
    scores: np.ndarray | None,
    shape: tuple[int, int, int],
    planes: np.ndarray,
    tolerance: float,
    strides: tuple,
    cells: np.ndarray,
    dtype,
) -> np.ndarray:
    """The classes of the pixels of the unsettled ``cells`` (flat indices of cells, n) of an
    upsample of ``shape`` (H, W, C), as (n, sy, sx): exactly ``np.argmax(scores, -1)`` when given
    the upsample's ``scores``; without them, the argmax of the blend made here.

    A blended score lies between its corners' least and greatest, give or take the kernel's
    rounding. So a class whose greatest corner trails some class's least by more than ``tolerance``
    wins nowhere in the cell; the few others are blended here from their corners, one matrix
    product. Where the best of them leads the next by more than ``tolerance`` it is the kernel's
    argmax as well; the other pixels, near-ties, are read in full.
    This reads a few pixels of the output instead of every score of every pixel in the cells, which
    right after ``invoke`` costs more than all the arithmetic."""
    corner, pixel, steps, inside = _geometry(strides, shape)
    corners = planes.reshape(len(planes), -1).take(corner[cells] + steps, axis=1)  # (C, 4, n)
    low, high = corners.min(axis=1), corners.max(axis=1)  # (C, n)
    ids = np.flatnonzero((high + tolerance >= low.max(axis=0)).any(axis=1))  # may win in some cell
    blended = np.matmul(_blend(strides), corners[ids].astype(np.float32)).reshape(len(ids), -1)
    near = blended >= blended.max(axis=0) - tolerance  # (k, sy * sx * n): the best, and any close
    chosen, count = _only(near, _tally(len(planes))[:, ids])
    found = chosen.astype(dtype)
    unsure = np.flatnonzero(count != 1)  # near-ties: read as the kernel rounded them
    if len(unsure) and scores is None:  # no kernel ran: the blend's own argmax
        found[unsure] = ids[blended[:, unsure].argmax(axis=0)]
    elif len(unsure):
        offset, cell = np.divmod(unsure, len(cells))
        at = pixel[cells][cell] + inside[offset]
        found[unsure] = scores.reshape(-1, scores.shape[-1])[at].argmax(axis=-1)
    return np.ascontiguousarray(found.reshape(len(inside), -1).T).reshape(len(cells), *strides)


@dataclass(frozen=True)
class CellMap:
    """A class map made through the upsample: ``classes`` (H, W); per cell, the class of its corners
    (``first``: ny, nx) and whether that holds at each of its pixels (``settled``); the others
    (``unsettled``: flat indices of cells, n) and their pixels' classes (``refined``: n, sy, sx)."""

    classes: np.ndarray
    strides: tuple[int, int]
    first: np.ndarray
    settled: np.ndarray
    unsettled: np.ndarray
    refined: np.ndarray


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

    Few numpy calls, each on few pixels: right after ``invoke`` the caches are cold, and reading
    the output costs more than the arithmetic."""
    scores = np.ascontiguousarray(scores)
    h, w, _ = scores.shape
    sy, sx = strides
    hc, wc = sy * ((h - 1) // sy), sx * ((w - 1) // sx)  # the rows and columns inside cells
    if hc == 0 or wc == 0:
        return None
    found = _through_cells(scores[: hc + 1 : sy, : wc + 1 : sx], scores, scores.shape, strides, dtype)
    if found is not None:  # past the last source row or column: read in full
        found.classes[hc:] = scores[hc:].argmax(axis=-1)
        found.classes[:hc, wc:] = scores[:hc, wc:].argmax(axis=-1)
    return found


def argmax_of_upsample(coarse: np.ndarray, size: tuple[int, int], strides: tuple[int, int], dtype) -> CellMap:
    """The class map (``size``: H, W) of the bilinear upsample of ``coarse`` (ny, nx, C) scores
    whose points sit every ``strides`` output pixels (as ``grid_strides`` finds them), without making
    the upsample: a cell that its corners settle takes their class; in the others, and past the last
    source row and column, the candidates are blended here and their argmax taken (the first on a
    tie). It is the argmax of the exact blend, but where two classes come within float32 rounding
    of each other, where an interpreter's kernel might round either way."""
    h, w = size
    sy, sx = strides
    hc, wc = sy * ((h - 1) // sy), sx * ((w - 1) // sx)
    if coarse.shape[:2] != (hc // sy + 1, wc // sx + 1):
        raise ValueError(f"{coarse.shape[:2]} source points do not fit {size} every {strides} pixels")
    found = _through_cells(coarse, None, (h, w, coarse.shape[-1]), strides, dtype)
    found.classes[hc:] = _line(coarse[-1], sx, w).argmax(axis=-1)  # a plain resize repeats the last row
    found.classes[:hc, wc:] = _line(coarse[:, -1], sy, h)[:hc, None].argmax(axis=-1)
    return found


def _line(points: np.ndarray, step: int, length: int) -> np.ndarray:
    """(n, C) scores of a row or column of source points blended to ``length`` pixels, a point
    every ``step`` pixels, the last repeated past its own: (length, C) float32."""
    return np.matmul(_line_weights(len(points), step, length), points.astype(np.float32))


@lru_cache(maxsize=8)
def _line_weights(n: int, step: int, length: int) -> np.ndarray:
    """``_line``'s blend as a (length, n) matrix: two weights a row, one past the last point."""
    at = np.arange(length)
    first = np.minimum(at // step, n - 1)
    fraction = np.where(first < n - 1, (at - first * step) / step, 0.0)
    weights = np.zeros((length, n + 1), np.float32)  # a spare last column takes the weight 0 past it
    weights[at, first] = 1 - fraction
    weights[at, first + 1] += fraction
    weights = np.ascontiguousarray(weights[:, :n])
    weights.flags.writeable = False
    return weights


def _through_cells(
    corners: np.ndarray, scores: np.ndarray | None, shape: tuple[int, int, int], strides: tuple, dtype
) -> CellMap | None:
    """A ``CellMap`` of an upsample of ``shape`` (H, W, C) from its source points' scores
    (``corners``: ny, nx, C), its rows and columns past the last source point left to the caller.
    With the upsample's ``scores`` the map is numpy's argmax of them, or None when over
    ``MAX_UNSETTLED`` of the cells are unsettled (then reading them all is cheaper); without, every
    unsettled cell is blended (``_refine``)."""
    planes, top, tolerance = _planes(corners)
    keys = _keys(planes, top, tolerance)
    first = keys[:-1, :-1]
    settled = (first == keys[1:, :-1]) & (first == keys[:-1, 1:]) & (first == keys[1:, 1:])  # all sure
    unsettled = np.flatnonzero(~settled)
    if scores is not None and len(unsettled) > MAX_UNSETTLED * settled.size:
        return None
    first = first.astype(dtype)  # negative (unsure) wraps round, in unsettled cells only
    (sy, sx), out = strides, np.empty(shape[:2], dtype)
    cells = _cells(out, strides)
    cells[...] = np.repeat(first, sx, axis=1).reshape(len(first), 1, -1, sx)  # whole rows at a time
    refined = np.empty((0, sy, sx), dtype)
    if len(unsettled):  # their pixels, into the cells
        refined = _refine(scores, shape, planes, tolerance, strides, unsettled, dtype)
        ci, cj = np.divmod(unsettled, settled.shape[1])
        cells[ci, :, cj] = refined
    return CellMap(out, strides, first, settled, unsettled, refined)


@dataclass(frozen=True)
class CellWeights:
    """Per-pixel weights (H, W) laid out for ``weighted_counts``: their sum over each cell
    (``per_cell``: ny, nx), each cell's pixels' (``in_cells``: ny * nx, sy * sx: a cell's together,
    so that taking a few cells reads a few lines of memory), and those of the pixels past the last
    source row or column (``rest``)."""

    per_cell: np.ndarray
    in_cells: np.ndarray
    rest: np.ndarray


def cell_weights(weights: np.ndarray, strides: tuple[int, int]) -> CellWeights:
    """``weights`` (H, W) laid out by the cells of ``strides``: made once per frame size."""
    cells = _cells(np.ascontiguousarray(weights), strides)
    ny, sy, nx, sx = cells.shape
    hc, wc = ny * sy, nx * sx
    in_cells = np.ascontiguousarray(cells.transpose(0, 2, 1, 3).reshape(ny * nx, sy * sx))
    return CellWeights(cells.sum(axis=(1, 3)), in_cells, _rest(weights, hc, wc))


def _rest(array: np.ndarray, hc: int, wc: int) -> np.ndarray:
    """The values of ``array`` past row ``hc`` or column ``wc``, in one order for classes and weights."""
    return np.concatenate([array[hc:].ravel(), array[:hc, wc:].ravel()])


def weighted_counts(cell_map: CellMap, weights: CellWeights, length: int) -> np.ndarray:
    """``np.bincount(classes, pixel weights, minlength=length)`` of a ``CellMap``: a settled cell
    counted at once with its summed weight, an unsettled one by its pixels."""
    settled, (sy, sx) = cell_map.settled, cell_map.strides
    rest = _rest(cell_map.classes, settled.shape[0] * sy, settled.shape[1] * sx)
    ids = np.concatenate([cell_map.first[settled], cell_map.refined.ravel(), rest])
    in_cells = weights.in_cells.take(cell_map.unsettled, axis=0).ravel()
    return np.bincount(
        ids, np.concatenate([weights.per_cell[settled], in_cells, weights.rest]), minlength=length
    )
