"""Ultralytics YOLOv8 / YOLO11 pose heads exported to TFLite without NMS -> ``Poses``.

Model contract: the detector's (letterbox with pad 114, RGB, pixels / 255) with one output
``[1, 56, N]``: cx, cy, w, h, the person score, then 17 x (x, y, visibility), the visibility already a
probability. Boxes and keypoints are normalised to the input (as Ultralytics exports them) or in input
pixels, told as for detection. Candidates are chosen on the raw (possibly int8) scores; NMS follows.
"""

from __future__ import annotations

import numpy as np

from edge.tasks.detect import Detector, raw_threshold
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Poses
from edge.tasks.yolo import MAX_CANDIDATES, input_xyxy, is_normalized


def decode_yolo_pose(
    pred: np.ndarray,
    scale: float,
    zero_point: int,
    height: int,
    width: int,
    transform: Transform,
    threshold: float,
    iou: float,
    max_detections: int,
    units: str = "auto",
) -> Poses:
    """Raw pose head [1, 56, N] -> NMS -> people with keypoints in frame pixels, best first."""
    p = pred[0]
    idx = np.flatnonzero(p[4] >= raw_threshold(threshold, scale, zero_point, p.dtype))
    rows = dequantize(p[:, idx], scale, zero_point).T  # (M, 56)
    rows = rows[rows[:, 4] >= threshold]
    if len(rows) > MAX_CANDIDATES:
        rows = rows[np.argpartition(-rows[:, 4], MAX_CANDIDATES)[:MAX_CANDIDATES]]
    people = rows[:, 5:].reshape(-1, 17, 3)
    normalized = is_normalized(units, pred, scale, zero_point)
    xyxy = input_xyxy(rows[:, :4], normalized, height, width)
    points = people[..., :2] * (np.array([width, height], dtype=np.float32) if normalized else 1.0)
    keep = nms(xyxy, rows[:, 4], np.zeros(len(rows), dtype=np.int64), iou, max_detections)
    return Poses(
        transform.to_frame(xyxy[keep]), rows[keep, 4], transform.to_frame(points[keep]), people[keep, :, 2]
    )


class YoloPoseEstimator(Detector):
    """Estimate poses with a raw YOLO pose head: ``YoloPoseEstimator(...)(frame) -> Poses``."""

    task = "pose"

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Poses:
        info = self.outputs["predictions"]
        return decode_yolo_pose(
            outputs[self.spec.outputs["predictions"]],
            scale=info.scale,
            zero_point=info.zero_point,
            height=self.spec.input.height,
            width=self.spec.input.width,
            transform=transform,
            threshold=self.threshold,
            iou=self.iou,
            max_detections=self.max_detections,
            units=self.spec.box_units,
        )
