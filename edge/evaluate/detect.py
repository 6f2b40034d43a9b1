"""COCO mAP of a detector on a labelled dataset, through the code path the device runs, scored by
pycocotools (the reference COCO evaluator), not by hand.

The score threshold and detection cap are COCO's conventions (0.001 and 100 per image), whatever the
live defaults are. The model's class names are matched to the dataset's categories by name; a category
the model does not know is an error. Objects marked ``iscrowd`` (COCO) or ``difficult`` (VOC) are
ignore regions: detecting them is neither rewarded nor punished.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from edge.datasets.boxes import DetectionSet
from edge.errors import EdgeError
from edge.evaluate.operating import OperatingPoint, best_f1, matches_at_iou50
from edge.tasks.results import Detections

THRESHOLD = 0.001
MAX_DETECTIONS = 100


@dataclass(frozen=True)
class DetectionEvaluation:
    """mAP@[.5:.95] and mAP@.5 (fractions, 0 to 1), AP per class, and what was counted."""

    mAP50_95: float
    mAP50: float
    per_class: dict[str, float]
    images: int
    boxes: int
    detections: int
    stats: tuple[float, ...]  # pycocotools' 12 summary figures
    problem: str | None = None  # no detections, NaN outputs, collapsed boxes: what makes it unusable
    operating: OperatingPoint | None = None  # the score threshold with the best F1 at IoU 0.5

    def summary(self) -> dict:
        return {
            "mAP50_95": round(self.mAP50_95, 4),
            "mAP50": round(self.mAP50, 4),
            "per_class_AP50_95": {k: round(v, 4) for k, v in self.per_class.items()},
            "images": self.images,
            "boxes": self.boxes,
            "detections": self.detections,
            "best_f1": self.operating.summary() if self.operating else None,
        }


def class_mapping(model_labels: tuple[str, ...] | None, data: DetectionSet) -> dict[int, int]:
    """Model class id -> dataset class index, by name; a dataset class the model lacks is an error."""
    if model_labels is None:
        raise EdgeError("the model has no labels to match the dataset's classes by name: pass --labels FILE")
    index = {name: i for i, name in enumerate(data.class_names)}
    missing = [name for name in data.class_names if name not in set(model_labels)]
    if missing:
        shown = ", ".join(model_labels[:8]) + (", ..." if len(model_labels) > 8 else "")
        raise EdgeError(
            f"the dataset's classes {', '.join(missing[:8])} are not among the model's labels "
            f"({shown}): class names must match"
        )
    return {i: index[name] for i, name in enumerate(model_labels) if name in index}


def ground_truth(data: DetectionSet) -> dict:
    """The dataset as a COCO annotation dict (image ids and category ids from 1)."""
    images, annotations = [], []
    for image_id, record in enumerate(data.images, start=1):
        images.append({"id": image_id, "width": record.width, "height": record.height})
        for box, cls, ignore in zip(record.boxes, record.classes, record.ignore):
            x0, y0, x1, y1 = (float(v) for v in box)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(cls) + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": int(bool(ignore)),
                }
            )
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(data.class_names)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_results(per_image: Iterable[Detections], mapping: dict[int, int]) -> list[dict]:
    """Detections of each image (in dataset order) as COCO results; classes outside the dataset drop."""
    out = []
    for image_id, found in enumerate(per_image, start=1):
        for box, cls, score in zip(found.xyxy, found.class_ids, found.scores):
            if int(cls) not in mapping:
                continue
            x0, y0, x1, y1 = (float(v) for v in box)
            out.append(
                {
                    "image_id": image_id,
                    "category_id": mapping[int(cls)] + 1,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "score": float(score),
                }
            )
    return out


def degenerate(results: list[dict]) -> str | None:
    """What makes a detector's output unusable, or None: no detections, non-finite boxes or scores,
    or boxes collapsed (most under a pixel, or all the same box)."""
    if not results:
        return "no detections"
    values = np.array([[*r["bbox"], r["score"]] for r in results], dtype=np.float64)
    if not np.isfinite(values).all():
        return "NaN or infinite boxes or scores"
    tiny = (values[:, 2] < 1) | (values[:, 3] < 1)
    if tiny.mean() > 0.5:
        return f"boxes collapsed: {tiny.mean():.0%} are under a pixel wide or high"
    if len(results) > 10 and len(np.unique(np.round(values[:, :4]), axis=0)) == 1:
        return "boxes collapsed: every detection is the same box"
    return None


def score_coco(gt: dict, results: list[dict], class_names: tuple[str, ...]) -> DetectionEvaluation:
    """pycocotools' COCOeval on in-memory ground truth and results (its prints kept off stdout)."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise EdgeError("detector evaluation needs pycocotools: pip install pycocotools") from None
    boxes = sum(1 for a in gt["annotations"] if not a["iscrowd"])
    problem = degenerate(results)
    if problem:
        zero = dict.fromkeys(class_names, 0.0)
        return DetectionEvaluation(
            0.0, 0.0, zero, len(gt["images"]), boxes, len(results), (0.0,) * 12, problem
        )
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
        run = COCOeval(coco_gt, coco_dt, "bbox")
        run.params.maxDets = [1, 10, MAX_DETECTIONS]
        run.evaluate()
        run.accumulate()
        run.summarize()
    precision = run.eval["precision"]  # [IoU thresholds, recall points, classes, areas, max dets]
    per_class = {}
    for k, name in enumerate(class_names):
        p = precision[:, :, k, 0, -1]
        per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else 0.0
    stats = tuple(max(float(v), 0.0) for v in run.stats)
    operating = best_f1(*matches_at_iou50(run))
    return DetectionEvaluation(
        stats[0], stats[1], per_class, len(gt["images"]), boxes, len(results), stats, operating=operating
    )


def evaluate_detector(
    task, data: DetectionSet, read: Callable[[object], np.ndarray] | None = None
) -> DetectionEvaluation:
    """Run ``task`` (an edge Detector) on every image of ``data`` and score it; COCO's threshold and cap
    apply during the evaluation only."""
    from edge.sources.images import read_image

    if task.spec.task != "detect":
        raise EdgeError(f"{task.spec.path} is a {task.spec.task} model; this dataset needs a detector")
    mapping = class_mapping(task.spec.labels, data)
    saved = task.threshold, task.max_detections
    task.threshold, task.max_detections = THRESHOLD, MAX_DETECTIONS
    try:
        found = [task((read or read_image)(record.path)) for record in data.images]
    finally:
        task.threshold, task.max_detections = saved
    return score_coco(ground_truth(data), coco_results(found, mapping), data.class_names)
