"""Semantic segmentation: a class per pixel (e.g. DeepLab v3) -> ``Segmentation`` in frame pixels.

The class of a pixel is the argmax of its scores. That needs no dequantization (it keeps the order)
and no softmax (it keeps the order too), so the raw output is read as it is. The map is made at the
output's size and then brought to the frame through the preprocessing's transform (nearest class).
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.detect import label_names
from edge.tasks.preprocess import Transform
from edge.tasks.results import Segmentation


def frame_map(small: np.ndarray, transform: Transform, in_height: int, in_width: int) -> np.ndarray:
    """A class map at the output's size -> the frame's size, by the inverse of the input transform:
    each frame pixel takes the class of the output pixel its centre falls in."""
    oh, ow = small.shape
    fw, fh = transform.frame_width, transform.frame_height
    sx, sy = transform.scale_x * ow / in_width, transform.scale_y * oh / in_height  # frame -> output
    px, py = transform.pad_x * ow / in_width, transform.pad_y * oh / in_height
    if px == 0 and py == 0 and abs(sx * fw - ow) < 1e-3 and abs(sy * fh - oh) < 1e-3:  # stretched
        if (ow, oh) == (fw, fh):
            return small
        return cv2.resize(small, (fw, fh), interpolation=cv2.INTER_NEAREST_EXACT)
    # pixel centres: output = (frame + 0.5) * s + pad - 0.5
    matrix = np.float32([[sx, 0, px + 0.5 * sx - 0.5], [0, sy, py + 0.5 * sy - 0.5]])
    flags = cv2.INTER_NEAREST + cv2.WARP_INVERSE_MAP  # bit flags: + is |
    return cv2.warpAffine(small, matrix, (fw, fh), flags=flags, borderMode=cv2.BORDER_REPLICATE)


def segmentation(class_map: np.ndarray, labels: tuple[str, ...] | None) -> Segmentation:
    """The classes found in a map, most pixels first, with their shares of it."""
    if class_map.dtype == np.uint8:  # a histogram: faster than bincount on a frame's pixels
        counts = cv2.calcHist([class_map], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    else:
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

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Segmentation:
        scores = outputs[self._index][0]
        small = np.argmax(scores, axis=-1).astype(self._dtype)
        inp = self.spec.input
        return segmentation(frame_map(small, transform, inp.height, inp.width), self.spec.labels)
