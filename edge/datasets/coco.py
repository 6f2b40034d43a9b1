"""COCO detection folders: ``annotations/instances_<split>.json`` and the images it names.

Category ids may be anything (real COCO's are 1..90 with gaps): classes follow the categories in id
order. ``iscrowd`` objects are kept as regions the AP ignores, as COCO's evaluation does.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge.datasets.boxes import Collector, DetectionSet
from edge.errors import EdgeError


def annotation_files(root: Path) -> list[Path]:
    return sorted((root / "annotations").glob("instances_*.json"))


def _for_split(root: Path, split: str) -> Path:
    files = annotation_files(root)
    matching = [f for f in files if f.stem.removeprefix("instances_").startswith(split)]
    if not matching:
        names = ", ".join(f.name for f in files)
        raise EdgeError(f"{root}/annotations has no instances_{split}*.json (found: {names})")
    return matching[0]


def _image_folder(root: Path, subset: str, file_name: str) -> Path:
    """Where the images of ``instances_<subset>.json`` are: <subset>/, images/<subset>/, images/, or root."""
    for folder in (root / subset, root / "images" / subset, root / "images", root):
        if (folder / file_name).is_file():
            return folder
    return root / subset


def read_coco(root: Path, split: str) -> DetectionSet:
    path = _for_split(root, split)
    try:
        return _parse(root, path, split, json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # a field missing or of the wrong type anywhere (an image without "height", a bbox of 3)
        raise EdgeError(f"{path} is not a COCO annotation file: {type(exc).__name__} {exc}") from None


def _parse(root: Path, path: Path, split: str, data: dict) -> DetectionSet:
    """The split from the file's JSON; a field missing or of the wrong type raises as Python does."""
    categories = sorted(data["categories"], key=lambda c: c["id"])
    images, annotations = data["images"], data.get("annotations", [])
    class_of = {c["id"]: i for i, c in enumerate(categories)}
    names = tuple(str(c["name"]) for c in categories)
    by_image: dict[int, list[dict]] = {}
    for ann in annotations:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    collector = Collector(len(names))
    subset = path.stem.removeprefix("instances_")
    folder = _image_folder(root, subset, images[0]["file_name"]) if images else root
    for image in images:
        file = folder / image["file_name"]
        if not file.is_file():
            collector.broken("unreadable image")
            continue
        anns = [a for a in by_image.get(image["id"], []) if "bbox" in a]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
        classes = [class_of.get(a.get("category_id"), -1) for a in anns]
        crowd = [bool(a.get("iscrowd", 0)) for a in anns]
        collector.add(file, image["width"], image["height"], boxes, classes, crowd)
    return collector.done(root, "coco", split, names)
