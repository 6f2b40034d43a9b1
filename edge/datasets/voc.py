"""Pascal VOC folders: ``Annotations/*.xml``, ``JPEGImages/``, and ``ImageSets/Main/{train,val}.txt``
when present (else a fixed 80/20 split by file name). ``difficult`` objects are regions the AP
ignores, as VOC's evaluation does. Classes are the object names found, sorted. An annotation with no
``<size>``, or a size of 0 (some exporters write one), is sized from its image's header."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

from edge.datasets.boxes import Collector, DetectionSet, image_size
from edge.errors import EdgeError

VAL_SHARE = 0.2


def _ids(root: Path, split: str) -> list[str]:
    listed = root / "ImageSets" / "Main" / f"{split}.txt"
    if listed.is_file():
        return [line.split()[0] for line in listed.read_text().splitlines() if line.strip()]
    stems = sorted(p.stem for p in (root / "Annotations").glob("*.xml"))
    in_val = [int(hashlib.sha1(s.encode()).hexdigest(), 16) % 1000 < VAL_SHARE * 1000 for s in stems]
    return [s for s, v in zip(stems, in_val) if v == (split == "val")]


def _size(tree: ET.ElementTree) -> tuple[int, int] | None:
    """The annotation's (width, height); None when it has no ``<size>`` or says 0."""
    size = tree.find("size")
    texts = [] if size is None else [(size.findtext(k) or "").strip() for k in ("width", "height")]
    if len(texts) != 2 or not all(texts):
        return None
    width, height = (int(float(t)) for t in texts)
    return (width, height) if width > 0 and height > 0 else None


def _parse(path: Path):
    tree = ET.parse(path)
    objects = []
    for obj in tree.findall("object"):
        box = obj.find("bndbox")
        coords = [float(box.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
        difficult = (obj.findtext("difficult") or "0").strip() == "1"
        objects.append((obj.findtext("name", "").strip(), coords, difficult))
    return tree.findtext("filename"), _size(tree), objects


def read_voc(root: Path, split: str) -> DetectionSet:
    parsed = []
    collector_problems = 0
    for stem in _ids(root, split):
        try:
            parsed.append((stem, *_parse(root / "Annotations" / f"{stem}.xml")))
        except (OSError, ET.ParseError, AttributeError, TypeError, ValueError):
            collector_problems += 1
    names = tuple(sorted({name for *_, objects in parsed for name, _, _ in objects}))
    if not parsed:
        raise EdgeError(f"{root}: no readable annotation for the {split} split in Annotations/")
    collector = Collector(len(names))
    collector.broken("unreadable annotation", collector_problems)
    index = {n: i for i, n in enumerate(names)}
    for stem, filename, size, objects in parsed:
        image = root / "JPEGImages" / (filename or f"{stem}.jpg")
        size = (size or image_size(image)) if image.is_file() else None
        if size is None:
            collector.broken("unreadable image")
            continue
        width, height = size
        boxes = [coords for _, coords, _ in objects]
        # VOC pixel coordinates are 1-based and inclusive: x in [xmin - 1, xmax) in 0-based pixels
        boxes = [[x0 - 1, y0 - 1, x1, y1] for x0, y0, x1, y1 in boxes]
        classes = [index[name] for name, _, _ in objects]
        collector.add(image, width, height, boxes, classes, [d for *_, d in objects])
    return collector.done(root, "voc", split, names)
