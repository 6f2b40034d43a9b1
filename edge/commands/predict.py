"""``edgesight predict MODEL IMAGE...``: classes, boxes, poses or a class map of each image, as text or
JSON lines."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.options import add_model_options, load_task
from edge.errors import EdgeError


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("predict", help="classify, detect, estimate poses or segment images with a .tflite")
    p.add_argument("model", type=Path)
    p.add_argument("images", nargs="+", type=Path, help="image files, or folders of them")
    p.add_argument("--json", action="store_true", help="one JSON object per image")
    add_model_options(p)
    return p


def print_result(path: Path, result) -> None:
    from edge.tasks.results import Classes, Poses, Segmentation

    print(f"{path}:")
    if isinstance(result, Classes):
        for cid, label, score in zip(result.ids, result.labels, result.scores):
            print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})")
        return
    if isinstance(result, Segmentation):
        for cid, label, share in zip(result.class_ids, result.labels, result.shares):
            print(f"  {share:6.1%}  {label if label is not None else '-'}  (id {cid})")
        return
    if isinstance(result, Poses):
        if not len(result):
            print("  no poses")
        people = zip(result.xyxy, result.scores, result.keypoints, result.keypoint_scores)
        for box, score, points, kps in people:
            corners = ", ".join(f"{v:.0f}" for v in box)
            print(f"  {score:6.3f}  person  [{corners}]")
            for name, (x, y), s in zip(result.names, points, kps):
                print(f"      {s:5.2f}  {name} ({x:.0f}, {y:.0f})")
        return
    if not len(result):
        print("  no detections")
    for box, cid, label, score in zip(result.xyxy, result.class_ids, result.labels, result.scores):
        corners = ", ".join(f"{v:.0f}" for v in box)
        print(f"  {score:6.3f}  {label if label is not None else '-'}  (id {cid})  [{corners}]")


def _images(path: Path) -> list[Path]:
    """An image file, or the images in a folder (not its subfolders), by name."""
    from edge.sources.images import IMAGE_EXTENSIONS, images_in

    if path.is_file():
        return [path]
    if not path.is_dir():
        raise EdgeError(f"image not found: {path}")
    found = images_in(path)
    if not found:
        raise EdgeError(f"no images in folder {path} ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return found


def handle(args: argparse.Namespace) -> int:
    from edge.sources.images import read_image
    from edge.tasks.results import record

    with load_task(args) as task:
        paths = [image for path in args.images for image in _images(path)]  # all checked before the first
        for path in paths:
            task.reset()  # each image on its own: nothing carried over from the one before
            result = task(read_image(path))
            if args.json:
                print(json.dumps(record(result, image=str(path))))
            else:
                print_result(path, result)
    return 0
