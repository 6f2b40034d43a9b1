"""Anchor-free detectors with separate box and score outputs, as ``edgesight train --task detect``
exports them (and any model whose metadata names the two outputs).

Model contract: one image input, letterboxed; two outputs, their roles named by the metadata (never
told from order or size): boxes [1, N, 4] as xmin, ymin, xmax, ymax normalised to the input, and
scores [1, N, C] as per-class probabilities (sigmoid). Separate tensors keep their own int8 scales:
0..1 coordinates and 0..1 scores each use the full range. NMS is edge's class-wise NMS.
"""

from __future__ import annotations

import numpy as np

from edge.tasks.detect import Detector, detections, raw_threshold
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Detections

MAX_CANDIDATES = 3000  # best-scoring candidates that enter NMS


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
) -> Detections:
    """Raw outputs -> class-wise NMS -> detections in frame pixels, best first. ``quant`` holds the
    (scale, zero point) of the boxes and of the scores."""
    (box_scale, box_zero), (score_scale, score_zero) = quant
    idx, best, ids = candidates(scores, score_scale, score_zero, threshold)
    xyxy = dequantize(boxes[0][idx], box_scale, box_zero) * np.array(
        [width, height, width, height], np.float32
    )
    keep = nms(xyxy, best, ids, iou, max_detections)
    return detections(transform.to_frame(xyxy[keep]), best[keep], ids[keep], labels)


class AnchorFreeDetector(Detector):
    """Detect with a boxes + scores model: ``AnchorFreeDetector(...)(frame) -> Detections``."""

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Detections:
        boxes, scores = self.outputs["boxes"], self.outputs["scores"]
        return decode_anchor_free(
            outputs[self.spec.outputs["boxes"]],
            outputs[self.spec.outputs["scores"]],
            ((boxes.scale, boxes.zero_point), (scores.scale, scores.zero_point)),
            self.spec.input.height,
            self.spec.input.width,
            transform,
            self.threshold,
            self.iou,
            self.max_detections,
            self.spec.labels,
        )
