"""Class-wise non-maximum suppression over boxes in any pixel space, pure numpy."""

from __future__ import annotations

import numpy as np


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one xyxy box (4,) with each of ``boxes`` (N, 4); empty boxes have IoU 0."""
    w = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    h = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = max(float(box[2] - box[0]), 0.0) * max(float(box[3] - box[1]), 0.0)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(
    xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float, max_det: int
) -> np.ndarray:
    """Indices of the boxes kept, best score first: a box is dropped when it overlaps a better box
    of the same class by an IoU above ``iou_threshold``; boxes of different classes never compete.
    """
    if len(scores) == 0:
        return np.empty(0, dtype=np.int64)
    boxes = np.asarray(xyxy, dtype=np.float32)
    # Shift each class to its own region of the plane, so one pass suppresses within classes only.
    span = float(np.abs(boxes).max()) * 2.0 + 1.0
    boxes = boxes + np.asarray(class_ids, dtype=np.float32)[:, None] * span
    order = np.argsort(-np.asarray(scores), kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
