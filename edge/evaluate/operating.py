"""A detector's operating point: the score threshold with the best F1 on a labelled dataset.

mAP ranks detections and never says where to cut them; a live run has to cut. The cut with the best F1
(IoU >= 0.5, the right class) balances what is missed against what is wrongly reported, as Ultralytics
reports it after validation. The matching is pycocotools' own (its ``evaluate()`` results at IoU 0.5
over all areas: greedy by score, crowd and difficult boxes ignored), so it agrees with the mAP beside it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRID = tuple(round(0.05 + 0.01 * i, 2) for i in range(91))  # thresholds tried: 0.05 to 0.95


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold with the best F1, and the precision and recall it gives (fractions, 0 to 1)."""

    threshold: float
    f1: float
    precision: float
    recall: float

    def summary(self) -> dict:
        return {k: round(v, 4) for k, v in vars(self).items()}

    def line(self) -> str:
        return (
            f"best F1 {self.f1:.3f} at score threshold {self.threshold:.2f} "
            f"(precision {self.precision:.3f}, recall {self.recall:.3f}, IoU 0.5)"
        )


def matches_at_iou50(evaluation) -> tuple[np.ndarray, np.ndarray, int]:
    """(scores, matched) of each counted detection at IoU 0.5 over all areas, and the number of counted
    ground-truth boxes, from a pycocotools ``COCOeval`` whose ``evaluate()`` has run."""
    params = evaluation.params
    at = list(np.round(params.iouThrs, 2)).index(0.5)
    scores, matched, boxes = [], [], 0
    for entry in evaluation.evalImgs:
        if entry is None or list(entry["aRng"]) != list(params.areaRng[0]):
            continue
        counted = ~np.asarray(entry["dtIgnore"], dtype=bool).reshape(len(params.iouThrs), -1)[at]
        scores.append(np.asarray(entry["dtScores"], dtype=np.float64)[counted])
        matched.append(np.asarray(entry["dtMatches"]).reshape(len(params.iouThrs), -1)[at][counted] > 0)
        boxes += int((np.asarray(entry["gtIgnore"]) == 0).sum())
    if not scores:
        return np.zeros(0), np.zeros(0, dtype=bool), boxes
    return np.concatenate(scores), np.concatenate(matched), boxes


def best_f1(scores: np.ndarray, matched: np.ndarray, boxes: int) -> OperatingPoint | None:
    """The lowest threshold of ``GRID`` with the best F1 (F1 = 2 TP / (detections + boxes)), or None when
    there is nothing to find or nothing is found at any threshold of the grid."""
    if boxes == 0 or len(scores) == 0:
        return None
    grid = np.array(GRID)
    kept = scores[None, :] >= grid[:, None]  # (thresholds, detections)
    tp = (kept & matched[None, :]).sum(axis=1)
    if tp.max() == 0:
        return None
    found = kept.sum(axis=1)
    f1 = 2 * tp / (found + boxes)
    best = int(np.argmax(f1))
    precision = tp[best] / found[best] if found[best] else 0.0
    return OperatingPoint(float(grid[best]), float(f1[best]), float(precision), float(tp[best] / boxes))
