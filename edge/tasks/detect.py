"""What every detector shares: its options (score and IoU thresholds, most detections) and labels.

Model families live in their own modules (``ssd``, ``yolo``); each turns raw outputs into one
``Detections`` type: xyxy boxes in the original frame's pixels, scores, class ids and labels.
"""

from __future__ import annotations

import math

import numpy as np

from edge.errors import EdgeError
from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.results import Detections

DEFAULT_THRESHOLD = 0.25
DEFAULT_IOU = 0.45
DEFAULT_MAX_DETECTIONS = 100


def label_names(class_ids: np.ndarray, labels: tuple[str, ...] | None) -> tuple[str | None, ...]:
    """The label of each class id; None for ids the labels do not cover (or without labels)."""
    if labels is None:
        return (None,) * len(class_ids)
    return tuple(labels[i] if 0 <= i < len(labels) else None for i in map(int, class_ids))


def detections(
    xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, labels: tuple[str, ...] | None
) -> Detections:
    """A ``Detections`` with labels looked up from the class ids."""
    ids = np.asarray(class_ids, dtype=np.int64)
    return Detections(xyxy=xyxy, scores=scores, class_ids=ids, labels=label_names(ids, labels))


def raw_threshold(threshold: float, scale: float, zero_point: int, dtype: np.dtype) -> float | int:
    """A score threshold in an output's raw (quantized) values, one step low so that no candidate is
    lost; candidates are chosen on raw values and only they are dequantized."""
    if scale == 0.0 or not np.issubdtype(dtype, np.integer):
        return threshold
    info = np.iinfo(dtype)
    return int(np.clip(math.floor(zero_point + threshold / scale), info.min - 1, info.max + 1))


def check_options(threshold: float, iou: float, max_detections: int) -> None:
    """Detector options in range, or an ``EdgeError`` that says which and why."""
    if not 0.0 <= threshold <= 1.0:
        raise EdgeError(f"threshold must be between 0 and 1, got {threshold}")
    if not 0.0 <= iou <= 1.0:
        raise EdgeError(f"IoU threshold must be between 0 and 1, got {iou}")
    if max_detections < 1:
        raise EdgeError(f"the number of detections to keep must be 1 or more, got {max_detections}")


class Detector(Task):
    """A detection model: call it on a BGR frame to get ``Detections``."""

    task = "detect"

    def __init__(
        self,
        model: ModelFile,
        runtime: Runtime,
        spec: ModelSpec,
        threshold: float = DEFAULT_THRESHOLD,
        iou: float = DEFAULT_IOU,
        max_detections: int = DEFAULT_MAX_DETECTIONS,
    ) -> None:
        check_options(threshold, iou, max_detections)
        super().__init__(model, runtime, spec)
        self.threshold = threshold
        self.iou = iou
        self.max_detections = max_detections
        self.outputs = {role: runtime.outputs[i] for role, i in spec.outputs.items()}
