"""What every detection dataset becomes: images with boxes in pixels, class ids into one class list,
and the objects to leave out of the AP (COCO's ``iscrowd``, VOC's ``difficult``). Broken labels are
counted by kind, never raised: a box outside the image, an unknown class, an unreadable image."""

from __future__ import annotations

import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.errors import EdgeError

EDGE_TOLERANCE = 0.02  # a box may pass the image's edge by this share of its size before it is broken


@dataclass(frozen=True, eq=False)
class ImageRecord:
    """One image: its file, size, boxes (N, 4) xyxy in pixels, class ids (N,) and ignore flags (N,)."""

    path: Path
    width: int
    height: int
    boxes: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True, eq=False)
class DetectionSet:
    """One split of a detection dataset."""

    root: Path
    format: str  # coco, voc, yolo
    split: str
    class_names: tuple[str, ...]
    images: tuple[ImageRecord, ...]
    problems: dict[str, int] = field(default_factory=dict)  # kind of broken label -> count

    def __len__(self) -> int:
        return len(self.images)

    @property
    def boxes(self) -> int:
        return sum(len(r) for r in self.images)

    def summary(self) -> str:
        broken = "; ".join(f"{n} {kind}" for kind, n in sorted(self.problems.items())) or "none broken"
        return (
            f"{self.root} ({self.format}, {self.split}): {len(self.images)} images, {self.boxes} boxes, "
            f"{len(self.class_names)} classes; {broken}"
        )


class Collector:
    """Builds the records of a split, checking each box and counting what is broken."""

    def __init__(self, num_classes: int) -> None:
        self.num_classes = num_classes
        self.problems: Counter[str] = Counter()
        self.records: list[ImageRecord] = []

    def broken(self, kind: str, n: int = 1) -> None:
        self.problems[kind] += n

    def add(self, path: Path, width: int, height: int, boxes, classes, ignore=None) -> None:
        """Boxes xyxy in pixels; a box outside the image (beyond a small tolerance), degenerate, or of a
        class outside the list is counted and left out; the rest are clipped to the image."""
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        classes = np.asarray(classes, dtype=np.int64).reshape(-1)
        ignore = np.zeros(len(boxes), bool) if ignore is None else np.asarray(ignore, dtype=bool).reshape(-1)
        known = (classes >= 0) & (classes < self.num_classes)
        self.broken("unknown class", int((~known).sum()))
        slack_x, slack_y = EDGE_TOLERANCE * width, EDGE_TOLERANCE * height
        inside = (
            (boxes[:, 0] >= -slack_x)
            & (boxes[:, 1] >= -slack_y)
            & (boxes[:, 2] <= width + slack_x)
            & (boxes[:, 3] <= height + slack_y)
        )
        self.broken("box outside the image", int((known & ~inside).sum()))
        boxes = np.clip(boxes, 0, [width, height, width, height]).astype(np.float32)
        sized = (boxes[:, 2] - boxes[:, 0] >= 1) & (boxes[:, 3] - boxes[:, 1] >= 1)
        self.broken("empty box", int((known & inside & ~sized).sum()))
        keep = known & inside & sized
        self.records.append(
            ImageRecord(path, int(width), int(height), boxes[keep], classes[keep], ignore[keep])
        )

    def done(self, root: Path, fmt: str, split: str, class_names: tuple[str, ...]) -> DetectionSet:
        problems = {k: v for k, v in self.problems.items() if v}
        return DetectionSet(root, fmt, split, class_names, tuple(self.records), problems)


def image_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG, JPEG or BMP header (no decoding); None when it cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(26)
            if head[:8] == b"\x89PNG\r\n\x1a\n":
                return struct.unpack(">II", head[16:24])
            if head[:2] == b"BM":
                width, height = struct.unpack("<ii", head[18:26])
                return width, abs(height)
            if head[:2] == b"\xff\xd8":
                return _jpeg_size(f)
    except (OSError, struct.error):
        return None
    return _decoded_size(path)


def _jpeg_size(f) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):  # a start-of-frame
            f.read(3)
            height, width = struct.unpack(">HH", f.read(4))
            return width, height
        (length,) = struct.unpack(">H", f.read(2))
        f.seek(length - 2, 1)


def _decoded_size(path: Path) -> tuple[int, int] | None:
    import cv2

    from edge.sources.images import read_image

    try:
        image = read_image(path, cv2.IMREAD_UNCHANGED)
    except EdgeError:
        return None
    return image.shape[1], image.shape[0]
