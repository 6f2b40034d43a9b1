"""Semantic segmentation: a class per pixel (e.g. DeepLab v3) -> ``Segmentation`` in frame pixels.

The class of a pixel is the argmax of its scores. That needs no dequantization (it keeps the order)
and no softmax (it keeps the order too), so the raw output is read as it is. The map is made at the
output's size and then brought to the frame through the preprocessing's transform (nearest class).

numpy's argmax over a short last axis costs a call per pixel (1.4 to 2.7 ms for DeepLab's
257 x 257 x 21 float scores on this x86 CPU, by the frame; OpenCV's ``reduceArgMax`` and a loop over
class planes were slower). It releases the GIL, so a model run with N interpreter threads has its map made
in N bands of rows at once: the cores that ran ``invoke`` are idle while the frame is decoded.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.detect import label_names
from edge.tasks.preprocess import Transform
from edge.tasks.results import Segmentation


def _sampling(shape: tuple, transform: Transform, in_height: int, in_width: int) -> np.ndarray | None:
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
    """``img`` sampled to width x height by ``_sampling``'s answer (nearest pixel)."""
    if matrix is None:
        if img.shape[:2] == (height, width):
            return img
        return cv2.resize(img, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
    replicate = cv2.BORDER_REPLICATE
    return cv2.warpAffine(img, matrix, (width, height), flags=_NEAREST_INVERSE, borderMode=replicate)


def frame_map(small: np.ndarray, transform: Transform, in_height: int, in_width: int) -> np.ndarray:
    """A class map at the output's size -> the frame's size: each frame pixel takes the class of the
    output pixel its centre falls in."""
    matrix = _sampling(small.shape, transform, in_height, in_width)
    return _warp(small, matrix, transform.frame_width, transform.frame_height)


def pixel_weights(shape: tuple, transform: Transform, in_height: int, in_width: int) -> np.ndarray:
    """For each pixel of an output map of ``shape`` (flattened), how many frame pixels ``frame_map``
    gives its class. The mapping is separable (the matrix has no shear), so the same OpenCV call on
    one row and one column of output indices says where each frame column and row samples from.
    Counting classes at the output's size with these weights gives the frame map's histogram: 66,049
    pixels weighed instead of 307,200 counted for DeepLab on a 640x480 frame."""
    oh, ow = shape
    fw, fh = transform.frame_width, transform.frame_height
    matrix = _sampling(shape, transform, in_height, in_width)
    columns, rows = np.arange(ow, dtype=np.float32)[None], np.arange(oh, dtype=np.float32)[:, None]
    if matrix is None:
        x_from, y_from = _warp(columns, None, fw, 1), _warp(rows, None, 1, fh)
    else:  # one axis each: the other's row of the matrix sends every pixel to 0
        x_from = _warp(columns, np.float32([matrix[0], [0, 0, 0]]), fw, 1)
        y_from = _warp(rows, np.float32([[0, 0, 0], matrix[1]]), 1, fh)
    per_column = np.bincount(x_from.ravel().astype(np.intp), minlength=ow)
    per_row = np.bincount(y_from.ravel().astype(np.intp), minlength=oh)
    return np.outer(per_row, per_column).ravel().astype(np.float64)


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


def segmentation(
    class_map: np.ndarray, labels: tuple[str, ...] | None, counts: np.ndarray | None = None
) -> Segmentation:
    """The classes found in a map, most pixels first, with their shares of it (``counts``: its pixels
    per class id when known already)."""
    if counts is None and class_map.dtype == np.uint8:  # a histogram: faster than bincount
        counts = cv2.calcHist([class_map], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    elif counts is None:
        counts = np.bincount(class_map.ravel())
    ids = np.flatnonzero(counts)
    ids = ids[np.argsort(-counts[ids], kind="stable")]
    shares = counts[ids] / class_map.size
    return Segmentation(class_map, ids, shares, label_names(ids, labels))


class Segmenter(Task):
    """A segmentation model: call it on a BGR frame to get ``Segmentation``."""

    task = "segment"

    def __init__(self, model: ModelFile, runtime: Runtime, spec: ModelSpec) -> None:
        super().__init__(model, runtime, spec)
        self._index = spec.outputs["masks"]
        classes = runtime.outputs[self._index].shape[-1]
        self._dtype = np.uint8 if classes <= 256 else np.uint16
        self._bands = runtime.threads
        self._pool = None
        self._weights: tuple[Transform, np.ndarray] | None = None  # (the transform, its pixel_weights)
        if self._bands > 1:
            self._pool = ThreadPoolExecutor(self._bands - 1, thread_name_prefix="edgesight-argmax")

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Segmentation:
        scores = outputs[self._index][0]
        small = argmax_bands(scores, self._pool, self._bands).astype(self._dtype)
        inp = self.spec.input
        if self._weights is None or self._weights[0] != transform:  # a camera's frames share one
            self._weights = (transform, pixel_weights(small.shape, transform, inp.height, inp.width))
        counts = np.bincount(small.ravel(), weights=self._weights[1]).astype(np.int64)
        return segmentation(frame_map(small, transform, inp.height, inp.width), self.spec.labels, counts)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        super().close()
