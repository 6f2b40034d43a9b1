"""How a run's results compare with the ground truth of the built-in camera: top-1 against the true
label (one shape), or detections against the true objects (``synthetic:objects``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.tasks.results import Classes, Detections, Result


@dataclass
class ObjectTally:
    """Detections against ground-truth objects: found (IoU >= 0.5, the right class, each object once),
    and false positives (detections that found nothing)."""

    objects: int = 0
    found: int = 0
    detections: int = 0
    false_positives: int = 0

    def add(self, result: Detections, truth: list[dict], min_iou: float = 0.5) -> None:
        from edge.tasks.nms import box_iou

        boxes = np.array([o["box"] for o in truth], dtype=np.float32).reshape(-1, 4)
        labels = [o["label"] for o in truth]
        taken = np.zeros(len(truth), bool)
        for i in np.argsort(-result.scores, kind="stable"):
            ious = box_iou(result.xyxy[i], boxes) if len(boxes) else np.zeros(0)
            other = np.array([lb != result.labels[i] for lb in labels], dtype=bool)
            ious[other | taken] = 0.0
            best = int(np.argmax(ious)) if len(ious) else -1
            if best >= 0 and ious[best] >= min_iou:
                taken[best] = True
            else:
                self.false_positives += 1
        self.objects += len(truth)
        self.found += int(taken.sum())
        self.detections += len(result)

    @property
    def recall(self) -> float:
        return self.found / self.objects if self.objects else 0.0

    @property
    def false_positive_share(self) -> float:
        return self.false_positives / self.detections if self.detections else 0.0

    def line(self) -> str:
        return (
            f"objects found: {self.recall:.1%} of {self.objects} (IoU >= 0.5, right class); false positives "
            f"{self.false_positive_share:.1%} of {self.detections} detections"
        )


def agrees(result: Result, truth: dict) -> bool:
    """Does a result name the true label (top-1 for classes, any box for detections)?"""
    if isinstance(result, Classes):
        return len(result) > 0 and result.labels[0] == truth.get("label")
    return truth.get("label") in result.labels


def result_labels(result: Result) -> list[str]:
    """The labels a result counts for: top-1 for classes, every box for detections, every person for
    poses, every class found for a segmentation."""
    names = [lb if lb is not None else str(i) for lb, i in zip(result.labels, _ids(result))]
    return names[:1] if isinstance(result, Classes) else names


def _ids(result: Result) -> np.ndarray:
    return result.ids if isinstance(result, Classes) else result.class_ids
