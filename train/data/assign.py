"""Which anchor point learns which object: FCOS-style center sampling with scale ranges, computed once
per training image in the input pipeline (numpy), not in the graph.

A point is positive for an object when it lies inside the box, within ``RADIUS`` strides of its
centre, and the box's longest distance from the point falls in its level's range (small objects on
stride 8, large ones on stride 32). A point inside several boxes takes the smallest. An object that no
point takes (a sliver between points) gets its nearest point. Points inside an ignored object (COCO
``iscrowd``, VOC ``difficult``) are neither positive nor negative.

Why this and not a dynamic assigner (SimOTA, TAL): it is cheap, deterministic and the same on every
epoch, which on a CPU budget of minutes is worth more than the last point of mAP; the loss makes up
for part of it by scoring each positive by the IoU its box reaches (quality focal loss).
"""

from __future__ import annotations

import numpy as np

from train.models.detector import REACH, STRIDES, Anchors

RADIUS = 2.5
RANGES = ((0.0, 64.0), (64.0, 128.0), (128.0, REACH[-1]))  # longest distance point -> box edge, per level
BACKGROUND, IGNORE = -1, -2


def assign(
    anchors: Anchors, boxes: np.ndarray, classes: np.ndarray, ignore: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(class target (N,) with -1 background and -2 ignored, box target (N, 4) xyxy normalised)."""
    n = anchors.count
    cls = np.full(n, BACKGROUND, dtype=np.int32)
    target = np.zeros((n, 4), dtype=np.float32)
    if len(boxes) == 0:
        return cls, target
    boxes = np.asarray(boxes, dtype=np.float32)
    ignore = np.zeros(len(boxes), bool) if ignore is None else np.asarray(ignore, bool)
    cx, cy = anchors.centers[:, :1], anchors.centers[:, 1:]
    dist = np.stack([cx - boxes[:, 0], cy - boxes[:, 1], boxes[:, 2] - cx, boxes[:, 3] - cy], axis=2)
    inside = dist.min(axis=2) > 0  # (N, M)
    stride = np.asarray(STRIDES, np.float32)[anchors.level][:, None]
    gcx, gcy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    near = (np.abs(cx - gcx) < RADIUS * stride) & (np.abs(cy - gcy) < RADIUS * stride)
    longest = dist.max(axis=2)
    lo = np.asarray([r[0] for r in RANGES], np.float32)[anchors.level][:, None]
    hi = np.asarray([r[1] for r in RANGES], np.float32)[anchors.level][:, None]
    candidate = inside & near & (longest > lo) & (longest <= hi) & ~ignore[None]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for m in np.flatnonzero(~candidate.any(axis=0) & ~ignore):  # nobody took it: its nearest point
        candidate[np.argmin((cx[:, 0] - gcx[m]) ** 2 + (cy[:, 0] - gcy[m]) ** 2), m] = True
    chosen = np.where(candidate, area[None], np.inf).argmin(axis=1)
    positive = candidate.any(axis=1)
    cls[positive] = np.asarray(classes, np.int32)[chosen[positive]]
    target[positive] = boxes[chosen[positive]] / anchors.size
    if ignore.any():
        in_ignored = inside[:, ignore].any(axis=1) & ~positive
        cls[in_ignored] = IGNORE
    return cls, target
