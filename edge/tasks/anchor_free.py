"""Anchor-free detectors with separate box and score outputs, as ``edgesight train --task detect``
exports them (and any model whose metadata names the two outputs).

Model contract: one image input, letterboxed; two outputs, their roles named by the metadata (never
told from order or size): scores [1, N, C] as per-class probabilities (sigmoid), and either

- distances [1, N, 4] (what ``edgesight export`` writes): at N anchor points, the cell centres of each
  stride's grid row by row, the left, top, right and bottom distances to the box's edges as fractions
  0..1 of the point's level's reach; the strides and reaches are in the metadata (``DistanceGrid``);
- or boxes [1, N, 4] as xmin, ymin, xmax, ymax normalised to the input (exports before distances).

Separate tensors keep their own int8 scales: 0..1 distances and 0..1 scores each use the full range.
Boxes are decoded here, in float, and only for the candidates that pass the score threshold: decoded
inside an int8 graph they were rounded at each step to 1/255 of the input (1.25 px at 320 px), and
the demo's int8 detector lost 2.54 mAP@[.5:.95] points against float32 instead of 0.84 (README).
NMS is edge's class-wise NMS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError
from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import DistanceGrid, ModelSpec
from edge.tasks.detect import Detector, detections, raw_threshold
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Detections

MAX_CANDIDATES = 3000  # best-scoring candidates that enter NMS


@dataclass(frozen=True)
class AnchorPoints:
    """The anchor points of a distances output, in input pixels: centres (N, 2) x, y, the reach of
    each (N, 1), and the input's width and height (the edges the distances are capped at)."""

    centers: np.ndarray
    reach: np.ndarray
    width: int
    height: int

    def boxes(self, distances: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The points ``idx``'s distances (M, 4), 0..1 of their reach -> boxes xmin, ymin, xmax, ymax in
        input pixels, inside the input (each distance capped by how far its point is from that edge,
        as the model's training graph decodes them)."""
        c = self.centers[idx]
        d = distances * self.reach[idx]
        room = np.concatenate([c, np.float32([self.width, self.height]) - c], axis=1)
        d = np.minimum(d, room)
        return np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1)


def anchor_points(grid: DistanceGrid, height: int, width: int) -> AnchorPoints:
    """The anchor points of ``grid`` on a height x width input."""
    if any(height % s or width % s for s in grid.strides):
        raise EdgeError(f"a {width}x{height} input is not a multiple of the model's strides {grid.strides}")
    centers, reach = [], []
    for stride, r in zip(grid.strides, grid.reach):
        ys, xs = np.mgrid[0 : height // stride, 0 : width // stride].astype(np.float32)
        centers.append(np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1))
        reach.append(np.full((xs.size, 1), r, np.float32))
    return AnchorPoints(np.concatenate(centers), np.concatenate(reach), width, height)


def candidates(
    scores: np.ndarray, scale: float, zero_point: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw scores [1, N, C] -> (box index (M,), best score (M,), class id (M,)) scoring ``threshold`` or
    more; chosen on the raw values, only they are dequantized."""
    raw = scores[0]
    best_raw = raw.max(axis=1)
    idx = np.flatnonzero(best_raw >= raw_threshold(threshold, scale, zero_point, raw.dtype))
    sub = dequantize(raw[idx], scale, zero_point)
    ids = sub.argmax(axis=1) if len(idx) else np.empty(0, dtype=np.int64)
    best = sub[np.arange(len(idx)), ids]
    keep = best >= threshold
    idx, best, ids = idx[keep], best[keep], ids[keep]
    if len(idx) > MAX_CANDIDATES:
        top = np.argpartition(-best, MAX_CANDIDATES)[:MAX_CANDIDATES]
        idx, best, ids = idx[top], best[top], ids[top]
    return idx, best, ids


def decode_anchor_free(
    boxes: np.ndarray,
    scores: np.ndarray,
    quant: tuple[tuple[float, int], tuple[float, int]],
    height: int,
    width: int,
    transform: Transform,
    threshold: float,
    iou: float,
    max_detections: int,
    labels: tuple[str, ...] | None = None,
    points: AnchorPoints | None = None,
) -> Detections:
    """Raw outputs -> class-wise NMS -> detections in frame pixels, best first. ``quant`` holds the
    (scale, zero point) of the boxes and of the scores; with ``points``, ``boxes`` are the distances
    output and are decoded from those points."""
    (box_scale, box_zero), (score_scale, score_zero) = quant
    idx, best, ids = candidates(scores, score_scale, score_zero, threshold)
    values = dequantize(boxes[0][idx], box_scale, box_zero)
    if points is not None:
        xyxy = points.boxes(values, idx)
    else:
        xyxy = values * np.array([width, height, width, height], np.float32)
    keep = nms(xyxy, best, ids, iou, max_detections)
    return detections(transform.to_frame(xyxy[keep]), best[keep], ids[keep], labels)


class AnchorFreeDetector(Detector):
    """Detect with a distances (or boxes) + scores model: ``AnchorFreeDetector(...)(frame) ->
    Detections``."""

    def __init__(self, model: ModelFile, runtime: Runtime, spec: ModelSpec, **options) -> None:
        super().__init__(model, runtime, spec, **options)
        self._boxes = "distances" if "distances" in spec.outputs else "boxes"
        self._points = None
        if spec.distances is not None:
            self._points = anchor_points(spec.distances, spec.input.height, spec.input.width)
            count = runtime.outputs[spec.outputs["distances"]].shape[1]
            if len(self._points.centers) != count:
                raise EdgeError(
                    f"the model's distances output has {count} points, but its metadata's grid (strides "
                    f"{spec.distances.strides}) has {len(self._points.centers)} on its input"
                )

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Detections:
        boxes, scores = self.outputs[self._boxes], self.outputs["scores"]
        return decode_anchor_free(
            outputs[self.spec.outputs[self._boxes]],
            outputs[self.spec.outputs["scores"]],
            ((boxes.scale, boxes.zero_point), (scores.scale, scores.zero_point)),
            self.spec.input.height,
            self.spec.input.width,
            transform,
            self.threshold,
            self.iou,
            self.max_detections,
            self.spec.labels,
            self._points,
        )
