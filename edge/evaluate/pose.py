"""Pose models scored by COCO keypoint AP (object keypoint similarity), through the code path the device
runs, by pycocotools (the reference evaluator), not by hand.

Data: a COCO keypoints folder, ``annotations/person_keypoints_<split>.json`` and the images it names (in
``<split>/``, ``images/<split>/``, ``images/`` or the folder itself). Each image is read whole (the crop
that follows a person between video frames is reset), and every pose the model gives counts, whatever
its score, as COCO's evaluation expects.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.sources.images import read_image

COCO_POINTS = 17


@dataclass(frozen=True)
class PoseEvaluation:
    """Keypoint AP over OKS 0.5:0.95, at 0.5 and at 0.75 (fractions), and what was counted."""

    ap: float
    ap50: float
    ap75: float
    images: int
    people: int
    poses: int

    def summary(self) -> dict:
        return {
            "keypoint_AP": round(self.ap, 4),
            "keypoint_AP50": round(self.ap50, 4),
            "keypoint_AP75": round(self.ap75, 4),
            "images": self.images,
            "people": self.people,
            "poses": self.poses,
        }


def read_keypoints(root: Path, split: str) -> tuple[dict, dict[int, Path]]:
    """The COCO ground truth of a split and the path of each image id; ``EdgeError`` when unusable."""
    files = sorted((root / "annotations").glob(f"person_keypoints_{split}*.json"))
    if not files:
        raise EdgeError(
            f"{root} is not a COCO keypoints folder: expected annotations/person_keypoints_{split}*.json"
        )
    try:
        gt = json.loads(files[0].read_text())
        images = {int(im["id"]): im["file_name"] for im in gt["images"]}
        person = [c["id"] for c in gt["categories"] if c.get("keypoints")]
        gt.setdefault("annotations", [])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgeError(f"{files[0]} is not a COCO keypoints file: {type(exc).__name__} {exc}") from None
    if len(person) != 1:
        raise EdgeError(f"{files[0]} needs exactly one category with keypoints, found {len(person)}")
    points = len(next(c["keypoints"] for c in gt["categories"] if c.get("keypoints")))
    if points != COCO_POINTS:  # COCO's evaluation knows the spread (OKS sigma) of these 17 only
        raise EdgeError(f"{files[0]}: its people have {points} keypoints; expected COCO's {COCO_POINTS}")
    for i, ann in enumerate(gt["annotations"]):
        problem = _problem(ann, points)
        if problem:
            where = ann.get("id", i) if isinstance(ann, dict) else i
            raise EdgeError(f"{files[0]}: annotation {where} {problem}")
        ann.setdefault("id", i + 1)  # what COCO's evaluation reads and exports may leave out
        ann.setdefault("iscrowd", 0)
        ann.setdefault("num_keypoints", sum(1 for v in ann["keypoints"][2::3] if v > 0))
    subset = files[0].stem.removeprefix("person_keypoints_")
    paths = {}
    for image_id, name in images.items():
        folder = next(
            (
                f
                for f in (root / subset, root / "images" / subset, root / "images", root)
                if (f / name).is_file()
            ),
            None,
        )
        if folder is None:
            raise EdgeError(f"image {name} of {files[0].name} not found under {root}")
        paths[image_id] = folder / name
    return gt, paths


def _numbers(value: object, count: int) -> bool:
    return (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )


def _problem(ann: object, points: int) -> str | None:
    """What makes one ground-truth person unusable by COCO's evaluation, or None."""
    if not isinstance(ann, dict):
        return "is not an object"
    if not _numbers(ann.get("keypoints"), 3 * points):
        return f"needs keypoints: {3 * points} numbers (x, y, visibility for each of {points})"
    if not _numbers(ann.get("bbox"), 4):
        return "needs a bbox: 4 numbers (x, y, width, height)"
    if not _numbers([ann.get("area")], 1):
        return "needs an area (a number)"
    if "image_id" not in ann:
        return "needs an image_id"
    return None


def evaluate_poses(task, root: Path, split: str) -> PoseEvaluation:
    """Run a pose model on every image of a COCO keypoints split and score it with COCOeval."""
    try:
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
    except ImportError:
        raise EdgeError("pose evaluation needs pycocotools: pip install pycocotools") from None
    gt, paths = read_keypoints(root, split)
    person = next(c["id"] for c in gt["categories"] if c.get("keypoints"))
    saved, task.threshold = task.threshold, 0.0
    results = []
    try:
        for image_id, path in paths.items():
            task.reset()
            poses = task(read_image(path))
            for score, points, kps in zip(poses.scores, poses.keypoints, poses.keypoint_scores):
                flat = [float(v) for x_y_s in zip(points[:, 0], points[:, 1], kps) for v in x_y_s]
                results.append(
                    {"image_id": image_id, "category_id": person, "keypoints": flat, "score": float(score)}
                )
    finally:
        task.threshold = saved
    people = sum(1 for a in gt["annotations"] if not a.get("iscrowd") and a.get("num_keypoints", 0) > 0)
    if not results or not people:
        return PoseEvaluation(0.0, 0.0, 0.0, len(paths), people, len(results))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        run = COCOeval(coco_gt, coco_gt.loadRes(results), "keypoints")
        run.evaluate()
        run.accumulate()
        run.summarize()
    stats = [max(float(v), 0.0) for v in run.stats]
    return PoseEvaluation(stats[0], stats[1], stats[2], len(paths), people, len(results))
