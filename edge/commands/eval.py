"""``edgesight eval MODEL DATA``: top-1 accuracy of a classifier on an image folder, COCO mAP of a
detector on a COCO, VOC or YOLO folder, mean IoU of a segmentation model on a VOC or images/ + masks/
folder, or COCO keypoint AP of a pose model on a COCO keypoints folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.options import add_model_options, load_task


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "eval", help="accuracy of a classifier, mAP of a detector, mIoU of a segmenter, keypoint AP of poses"
    )
    p.add_argument("model", type=Path)
    p.add_argument(
        "data",
        type=Path,
        help="image folder (one subfolder per class); COCO, VOC or YOLO detection data; VOC or images/ + "
        "masks/ segmentation data; COCO keypoints data",
    )
    p.add_argument("--split", default="val", help="detection and VOC data: the split to score (default val)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_model_options(p)
    return p


def handle(args: argparse.Namespace) -> int:
    with load_task(args) as task:
        if task.spec.task == "detect":
            return _detector(args, task)
        if task.spec.task == "segment":
            return _segmenter(args, task)
        if task.spec.task == "pose":
            return _poses(args, task)
        return _classifier(args, task)


def _print_json(args: argparse.Namespace, task, summary: dict) -> int:
    """One JSON object: the model, the data, the evaluation's summary and the runtime."""
    print(
        json.dumps(
            {"model": str(args.model), "data": str(args.data), **summary, "runtime": task.runtime.label}
        )
    )
    return 0


def _poses(args: argparse.Namespace, task) -> int:
    from edge.evaluate.pose import evaluate_poses

    ev = evaluate_poses(task, args.data, args.split)
    if args.json:
        return _print_json(args, task, ev.summary())
    print(
        f"{args.model}: keypoint AP {ev.ap:.3f}, AP50 {ev.ap50:.3f}, AP75 {ev.ap75:.3f} "
        f"({ev.people} people in {ev.images} images, {task.runtime.label})"
    )
    return 0


def _segmenter(args: argparse.Namespace, task) -> int:
    from edge.evaluate.segment import evaluate_segmenter, segmentation_pairs

    ev = evaluate_segmenter(task, segmentation_pairs(args.data, args.split))
    if args.json:
        return _print_json(args, task, ev.summary())
    print(
        f"{args.model}: mean IoU {ev.mean_iou:.3f}, pixel accuracy {ev.pixel_accuracy:.3f} "
        f"over {ev.images} images"
    )
    for name, iou in ev.iou().items():
        print(f"  {name:20s} IoU {iou:.3f}")
    return 0


def _detector(args: argparse.Namespace, task) -> int:
    from edge.datasets.detect import open_detection_data
    from edge.evaluate.detect import MAX_DETECTIONS, THRESHOLD, evaluate_detector

    data = open_detection_data(args.data, args.split)
    ev = evaluate_detector(task, data)
    runtime = task.runtime.label
    if args.json:
        summary = {
            "model": str(args.model),
            "data": str(args.data),
            "format": data.format,
            "split": data.split,
            **ev.summary(),
            "threshold": THRESHOLD,
            "max_detections": MAX_DETECTIONS,
            "broken_labels": data.problems,
            "runtime": runtime,
        }
        print(json.dumps(summary))
        return 0
    print(f"{args.model}: mAP@[.5:.95] {ev.mAP50_95:.3f}, mAP@.5 {ev.mAP50:.3f} ({runtime})")
    print(f"  {data.summary()}")
    if ev.operating is not None:
        print(f"  {ev.operating.line()}")
    for name, ap in ev.per_class.items():
        print(f"  {name:20s} AP {ap:.3f}")
    return 0


def _classifier(args: argparse.Namespace, task) -> int:
    from edge.datasets.detect import is_detection_data
    from edge.errors import EdgeError
    from edge.evaluate.classify import evaluate_classifier
    from edge.sources.images import scan_image_folder

    if is_detection_data(args.data):
        raise EdgeError(
            f"{args.data} is a detection dataset; {args.model} is a classifier (class folders needed)"
        )
    folder = scan_image_folder(args.data)
    ev = evaluate_classifier(task, folder)
    runtime = task.runtime.label
    if args.json:
        summary = {
            "model": str(args.model),
            "images": ev.count,
            "accuracy": ev.accuracy,
            "per_class": ev.per_class(),
            "runtime": runtime,
        }
        print(json.dumps(summary))
        return 0
    print(f"{args.model}: top-1 accuracy {ev.accuracy:.2%} on {ev.count} images ({runtime})")
    for name, acc in ev.per_class().items():
        print(f"  {name:20s} {acc:.2%}")
    return 0
