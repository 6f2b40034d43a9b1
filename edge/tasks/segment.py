"""Semantic segmentation: a class per pixel (e.g. DeepLab v3) -> ``Segmentation``.

The class of a pixel is the argmax of its scores. That needs no dequantization (it keeps the order)
and no softmax (it keeps the order too), so the raw output is read as it is. The map is made at the
output's size and carries the transform back (``Sampling``: for each frame row and column, the
output row and column its centre falls in); the shares are of the frame's pixels. The frame-sized
map is made by whoever needs it (``Segmentation.frame_map``): the drawing makes only the rectangles
it tints.

The argmax itself is ``edge.tasks.class_argmax``'s. When the graph ends in a bilinear upsample that
allows it (DeepLab v3: 33 x 33 to 257 x 257 class scores, align_corners), the interpreter runs the
model without that last op (``edge.model.graph.without_final_resize``) and the map is found from the
coarse scores: the 5.5 MB output a frame is never made (``invoke`` about 6% shorter on an x86 test
machine) and decoding reads 91 KB instead. Failing that, through an upsample the graph still makes,
reading few of its pixels; else in bands of rows on the interpreter's threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.model.flatbuf import FlatbufferError
from edge.model.graph import Trimmed, grid_strides, resize_producing, without_final_resize
from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.class_argmax import (
    argmax_bands,
    argmax_of_upsample,
    argmax_upsampled,
    cell_weights,
    weighted_counts,
)
from edge.tasks.detect import label_names
from edge.tasks.preprocess import Transform
from edge.tasks.results import Segmentation
from edge.tasks.sampling import Sampling, sampled_indices


def pixel_weights(shape: tuple, sampling: Sampling) -> np.ndarray:
    """For each pixel of an output map of ``shape``, how many frame pixels take its class. Counting
    classes at the output's size with these weights gives the frame map's histogram: 66,049 pixels
    weighed instead of 307,200 counted for DeepLab on a 640x480 frame."""
    per_row = np.bincount(sampling.rows, minlength=shape[0])
    per_column = np.bincount(sampling.columns, minlength=shape[1])
    return np.outer(per_row, per_column).astype(np.float64)


def segmentation(
    class_map: np.ndarray,
    labels: tuple[str, ...] | None,
    counts: np.ndarray | None = None,
    sampling: Sampling | None = None,
) -> Segmentation:
    """The classes found in a map, most pixels first, with their shares of the frame (``counts``:
    its frame pixels per class id when known already; ``sampling``: the transform back when the map
    is at the output's size)."""
    if counts is None and sampling is not None:  # each output pixel weighed by the frame pixels it gives
        weights = pixel_weights(class_map.shape, sampling)
        counts = np.bincount(class_map.ravel(), weights.ravel()).astype(np.int64)
    elif counts is None and class_map.dtype == np.uint8:  # a histogram: faster than bincount
        counts = cv2.calcHist([class_map], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    elif counts is None:
        counts = np.bincount(class_map.ravel())
    w, h = (class_map.shape[1], class_map.shape[0]) if sampling is None else sampling.frame_size
    found = sorted((-n, i) for i, n in enumerate(counts.tolist()) if n)  # a few classes: in Python,
    ids = [i for _, i in found]  # cheaper right after invoke than numpy's sorting
    shares = np.array([-n / (w * h) for n, _ in found], np.float32)
    return Segmentation(class_map, np.array(ids, np.int64), shares, label_names(ids, labels), sampling)


def _upsample_strides(model: ModelFile, tensor: int, shape: tuple) -> tuple[int, int] | None:
    """The output's source-point steps when the graph makes it by a bilinear upsample of (1, h, w, C)
    scores that allows ``argmax_upsampled``; else None."""
    try:
        resize = resize_producing(model.content, tensor)
    except FlatbufferError:
        return None
    if resize is None or len(shape) != 4 or tuple(shape[1:3]) != resize.size:
        return None
    return grid_strides(resize)


def _without_upsample(model: ModelFile, runtime: Runtime) -> tuple[Runtime, Trimmed] | None:
    """The model on a new interpreter like ``runtime`` (which is then closed), without its final
    bilinear upsample, when the graph ends in one that ``argmax_of_upsample`` can stand in for;
    None when it does not, or when the interpreter refuses the edited file (it runs as it is)."""
    trimmed = without_final_resize(model.content)
    if trimmed is None:
        return None
    try:
        lighter = Runtime(trimmed.content, runtime.threads, runtime.name, runtime.xnnpack)
    except EdgeError:
        return None
    runtime.close()
    return lighter, trimmed


class Segmenter(Task):
    """A segmentation model: call it on a BGR frame to get ``Segmentation``. ``trimmed``: the model
    as the interpreter runs it when it leaves out the final upsample, which decoding stands in for."""

    task = "segment"
    reads_in_place = True  # the map and counts are new arrays: no copy of the output

    def __init__(self, model: ModelFile, runtime: Runtime, spec: ModelSpec) -> None:
        self._index = spec.outputs["masks"]
        output = runtime.outputs[self._index]
        self._size = tuple(output.shape[1:3])  # the map's (H, W): the file's output's
        self.trimmed: Trimmed | None = None
        lighter = _without_upsample(model, runtime)
        if lighter is not None:
            runtime, self.trimmed = lighter
            self._strides = grid_strides(self.trimmed.resize)
        else:
            self._strides = _upsample_strides(model, output.index, tuple(output.shape))
        super().__init__(model, runtime, spec)
        classes = output.shape[-1]
        self._dtype = np.uint8 if classes <= 256 else np.uint16
        self._bands = runtime.threads
        self._pool = None
        self._sampling: tuple | None = None  # (transform, Sampling, pixel weights, by cells)
        if self._bands > 1:
            self._pool = ThreadPoolExecutor(self._bands - 1, thread_name_prefix="edgesight-argmax")

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Segmentation:
        scores = outputs[self._index][0]
        inp = self.spec.input
        if self._sampling is None or self._sampling[0] != transform:  # a camera's frames share one
            sampling = sampled_indices(self._size, transform, inp.height, inp.width)
            weights = pixel_weights(self._size, sampling)
            by_cells = cell_weights(weights, self._strides) if self._strides else None
            self._sampling = (transform, sampling, weights, by_cells)  # every frame's result shares it
        _, sampling, weights, by_cells = self._sampling
        if self.trimmed is not None:
            cells = argmax_of_upsample(scores, self._size, self._strides, self._dtype)
        elif self._strides:
            cells = argmax_upsampled(scores, self._strides, self._dtype)
        else:
            cells = None
        if cells is not None:
            small = cells.classes
            counts = weighted_counts(cells, by_cells, scores.shape[-1])
        else:
            small = argmax_bands(scores, self._pool, self._bands).astype(self._dtype)
            counts = np.bincount(small.ravel(), weights=weights.ravel())
        return segmentation(small, self.spec.labels, counts, sampling)

    @property
    def graph_note(self) -> str | None:
        return None if self.trimmed is None else self.trimmed.note

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        super().close()
