"""The transform back from a map at a model's output size to the frame it was made from.

A segmenter keeps its class map at the output's size (DeepLab: 257 x 257) and says, per frame row and
column, which output row and column that frame pixel's centre falls in: the inverse of the input
transform, nearest pixel, made with the same OpenCV call that would warp the whole map. Whoever needs
frame pixels (the drawing, eval) makes them from that, for the part of the frame they need.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from edge.tasks.preprocess import Transform


@dataclass(frozen=True, eq=False)
class Sampling:
    """The transform back from a map at a model's output size to a frame: frame pixel (y, x) takes the
    class of map pixel (``rows[y]``, ``columns[x]``), its centre's nearest. Both never decrease, as
    any resize samples; made once per frame size and shared, read-only, by every frame's result."""

    rows: np.ndarray
    columns: np.ndarray

    def __post_init__(self) -> None:
        for name in ("rows", "columns"):
            index = np.array(getattr(self, name), dtype=np.intp)  # a copy of its own, then read-only
            if index.ndim != 1:
                raise ValueError(f"{name}: expected shape (N,), got {index.shape}")
            if (len(index) and index[0] < 0) or (np.diff(index) < 0).any():
                raise ValueError(f"{name}: indices must be 0 or more and never decrease")
            index.flags.writeable = False
            object.__setattr__(self, name, index)

    @property
    def frame_size(self) -> tuple[int, int]:
        """The frame's (width, height)."""
        return len(self.columns), len(self.rows)

    @cached_property
    def extent(self) -> tuple[int, int]:
        """The (width, height) of the map it reads at least: one past its last column and row."""
        return tuple(int(i[-1]) + 1 if len(i) else 0 for i in (self.columns, self.rows))

    def spans(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        """The frame rectangle (x0, y0, x1, y1) of the pixels that sample map box (x, y, w, h); empty
        when none does."""
        (left_x, left_y), (right_x, right_y) = self._starts
        last_x, last_y = len(left_x) - 1, len(left_y) - 1  # past the last sampled: none samples it
        x0, y0 = int(left_x[min(x, last_x)]), int(left_y[min(y, last_y)])
        if w <= 0 or h <= 0:  # an empty box (``cv2.boundingRect`` of nothing)
            return x0, y0, x0, y0
        return x0, y0, int(right_x[min(x + w - 1, last_x)]), int(right_y[min(y + h - 1, last_y)])

    @cached_property
    def _starts(self) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """Per map column and row up to one past the last sampled: the first frame column and row
        that samples it or one after it, and the first that samples one after it."""
        per_axis = [(np.arange(n + 1), i) for n, i in zip(self.extent, (self.columns, self.rows))]
        left = tuple(np.searchsorted(i, at) for at, i in per_axis)
        right = tuple(np.searchsorted(i, at, side="right") for at, i in per_axis)
        return left, right


def _matrix(shape: tuple, transform: Transform, in_height: int, in_width: int) -> np.ndarray | None:
    """How frame pixels sample an output map of ``shape``, by the inverse of the input transform: None
    when the input was stretched (a plain nearest resize), else the affine matrix from frame to output
    pixel centres, ``output = (frame + 0.5) * s + pad - 0.5``."""
    oh, ow = shape
    fw, fh = transform.frame_width, transform.frame_height
    sx, sy = transform.scale_x * ow / in_width, transform.scale_y * oh / in_height  # frame -> output
    px, py = transform.pad_x * ow / in_width, transform.pad_y * oh / in_height
    if px == 0 and py == 0 and abs(sx * fw - ow) < 1e-3 and abs(sy * fh - oh) < 1e-3:  # stretched
        return None
    return np.float32([[sx, 0, px + 0.5 * sx - 0.5], [0, sy, py + 0.5 * sy - 0.5]])


_NEAREST_INVERSE = cv2.INTER_NEAREST + cv2.WARP_INVERSE_MAP  # bit flags: + is |


def _warp(img: np.ndarray, matrix: np.ndarray | None, width: int, height: int) -> np.ndarray:
    """``img`` sampled to width x height by ``_matrix``'s answer (nearest pixel)."""
    if matrix is None:
        if img.shape[:2] == (height, width):
            return img
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    replicate = cv2.BORDER_REPLICATE
    return cv2.warpAffine(img, matrix, (width, height), flags=_NEAREST_INVERSE, borderMode=replicate)


def sampled_indices(shape: tuple, transform: Transform, in_height: int, in_width: int) -> Sampling:
    """For an output map of ``shape``: the output row each frame row takes its class from, and the
    output column each frame column does (the pixel its centre falls in), as a ``Sampling``. The
    mapping is separable (the matrix has no shear), so the OpenCV call that would warp the whole
    map, made on one row and one column of output indices, says where each frame column and row
    samples from."""
    oh, ow = shape
    fw, fh = transform.frame_width, transform.frame_height
    matrix = _matrix(shape, transform, in_height, in_width)
    columns, rows = np.arange(ow, dtype=np.float32)[None], np.arange(oh, dtype=np.float32)[:, None]
    if matrix is None:
        x_from, y_from = _warp(columns, None, fw, 1), _warp(rows, None, 1, fh)
    else:  # one axis each: the other's row of the matrix sends every pixel to 0
        x_from = _warp(columns, np.float32([matrix[0], [0, 0, 0]]), fw, 1)
        y_from = _warp(rows, np.float32([[0, 0, 0], matrix[1]]), 1, fh)
    return Sampling(y_from.ravel(), x_from.ravel())
