"""Is a detector's trouble finding objects or naming them? COCO mAP class-wise beside class-agnostic
(every class taken as one: the same detections, scored by the same pycocotools), and, per COCO size,
each true object's class against the class of the best-scoring box on it at IoU >= 0.5 (or missed),
at the model's own score threshold unless ``--threshold`` is given.

    python tools/detect_confusion.py runs/demo-detect/models/model_int8.tflite runs/demo-detect/data

A class-agnostic mAP@.5 well above the class-wise one says the boxes are there and the classes are
wrong. Exit 0 whatever it measures, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.datasets.detect import open_detection_data  # noqa: E402
from edge.errors import EdgeError  # noqa: E402
from edge.evaluate.detect import (  # noqa: E402
    MAX_DETECTIONS,
    THRESHOLD,
    class_mapping,
    coco_results,
    ground_truth,
    score_coco,
)
from edge.model.metadata import read_model_file  # noqa: E402
from edge.sources.images import read_image  # noqa: E402
from edge.tasks.loader import default_threshold, load  # noqa: E402
from edge.track.bytetrack import iou_matrix  # noqa: E402

SIZES = (("small", 32**2), ("medium", 96**2), ("large", float("inf")))  # COCO's areas, frame pixels


def agnostic(gt: dict, results: list[dict]) -> tuple[dict, list[dict]]:
    """The ground truth and the results with every class made one."""
    one = {**gt, "categories": [{"id": 1, "name": "object"}]}
    one["annotations"] = [{**a, "category_id": 1} for a in gt["annotations"]]
    return one, [{**r, "category_id": 1} for r in results]


def confusion(records, found, mapping: dict, classes: int, threshold: float) -> dict[str, np.ndarray]:
    """Per COCO size, counts[true class, class of the best box at IoU >= 0.5 scoring ``threshold`` or
    more; the last column: none]."""
    out = {name: np.zeros((classes, classes + 1), np.int64) for name, _ in SIZES}
    for record, dets in zip(records, found):
        keep = dets.scores >= threshold
        boxes, scores = dets.xyxy[keep].astype(np.float64), dets.scores[keep]
        ids = [mapping.get(int(c), -1) for c in dets.class_ids[keep]]
        truth = np.asarray(record.boxes, np.float64).reshape(-1, 4)
        iou = iou_matrix(truth, boxes.reshape(-1, 4))
        for t, (box, cls, ignored) in enumerate(zip(truth, record.classes, record.ignore)):
            if ignored:
                continue
            area = (box[2] - box[0]) * (box[3] - box[1])
            size = next(name for name, limit in SIZES if area < limit)
            on = np.flatnonzero(iou[t] >= 0.5) if iou.shape[1] else np.empty(0, np.int64)
            guess = ids[on[np.argmax(scores[on])]] if len(on) else -1
            out[size][int(cls), guess if guess >= 0 else classes] += 1
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path, help="a detector (.tflite)")
    parser.add_argument("data", type=Path, help="a COCO, VOC or YOLO folder")
    parser.add_argument("--split", default="val")
    parser.add_argument("--threshold", type=float, help="the confusion's threshold (default: the model's)")
    args = parser.parse_args(argv)
    try:
        data = open_detection_data(args.data, args.split)
        threshold = args.threshold
        if threshold is None:
            threshold = default_threshold(read_model_file(args.model))
        with load(args.model, threads=2) as task:
            if task.spec.task != "detect":
                raise EdgeError(f"{args.model} is a {task.spec.task} model, not a detector")
            mapping = class_mapping(task.spec.labels, data)
            task.threshold, task.max_detections = THRESHOLD, MAX_DETECTIONS  # COCO's, as edgesight eval
            found = [task(read_image(record.path)) for record in data.images]
    except EdgeError as exc:
        print(f"detect_confusion: error: {exc}", file=sys.stderr)
        return 2
    gt, results = ground_truth(data), coco_results(found, mapping)
    wise = score_coco(gt, results, data.class_names)
    one = score_coco(*agnostic(gt, results), ("object",))
    print(f"{args.model.name} on {len(data)} {args.split} images ({data.boxes} boxes)")
    print(f"class-wise    mAP@[.5:.95] {wise.mAP50_95:.4f}  mAP@.5 {wise.mAP50:.4f}")
    print(f"class-agnostic mAP@[.5:.95] {one.mAP50_95:.4f}  mAP@.5 {one.mAP50:.4f}")
    names = [*data.class_names, "(missed)"]
    width = max(len(n) for n in names) + 2
    for size, counts in confusion(data.images, found, mapping, len(data.class_names), threshold).items():
        total = int(counts.sum())
        right = int(np.trace(counts[:, :-1]))
        print(f"\n{size}: {total} objects, {right / max(total, 1):.1%} named right at IoU >= 0.5, score >= "
              f"{threshold:.2f}; rows true, columns found")  # fmt: skip
        print(" " * width + "".join(f"{n:>{width}}" for n in names))
        for name, row in zip(data.class_names, counts):
            print(f"{name:<{width}}" + "".join(f"{int(v):>{width}}" for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
