"""Box-aware augmentation for detection, numpy and OpenCV: random scale and crop into a letterboxed
canvas, mosaic (four images in one), horizontal flips and colour jitter. Validation images get the
device's own letterbox (``edge.tasks.preprocess.resize``), so the model sees what the Pi will feed it.

Every function takes and returns (image uint8 HxWx3 BGR, boxes (M, 4) xyxy pixels, classes (M,),
ignore (M,)); boxes cut by the canvas edge are clipped, and dropped when less than ``MIN_VISIBLE`` of
them is left or they are under ``MIN_SIDE`` pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.datasets.boxes import ImageRecord
from edge.tasks.preprocess import resize

PAD = 114
MIN_VISIBLE = 0.4
MIN_SIDE = 3.0


@dataclass(frozen=True)
class Augment:
    """How much to vary the training images."""

    scale: tuple[float, float] = (0.6, 1.4)  # relative to the letterbox size
    mosaic: float = 0.5  # share of samples made of four images
    flip: float = 0.5  # share flipped left-right
    hue: float = 0.015
    saturation: float = 0.5
    value: float = 0.3


class ImageCache:
    """Decoded images, kept in memory while they fit in ``budget`` bytes (small datasets train faster)."""

    def __init__(self, budget: int = 1 << 30) -> None:
        self.budget = budget
        self.used = 0
        self.images: dict[str, np.ndarray] = {}

    def read(self, record: ImageRecord) -> np.ndarray:
        key = str(record.path)
        image = self.images.get(key)
        if image is None:
            image = cv2.imread(key, cv2.IMREAD_COLOR)
            if image is None:
                image = np.full((record.height, record.width, 3), PAD, np.uint8)  # vanished: a blank frame
            if self.used + image.nbytes <= self.budget:
                self.images[key] = image
                self.used += image.nbytes
        return image


def _place(image, boxes, scale: float, dx: float, dy: float, size: int, canvas: np.ndarray | None = None):
    """``image`` scaled by ``scale`` and put at (dx, dy) on a size x size canvas; boxes follow."""
    h, w = image.shape[:2]
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    out = np.full((size, size, 3), PAD, np.uint8) if canvas is None else canvas
    scaled = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA)
    x0, y0 = round(dx), round(dy)
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    cw, ch = min(nw - sx0, size - dx0), min(nh - sy0, size - dy0)
    if cw > 0 and ch > 0:
        out[dy0 : dy0 + ch, dx0 : dx0 + cw] = scaled[sy0 : sy0 + ch, sx0 : sx0 + cw]
    moved = boxes * (nw / w) + np.array([x0, y0, x0, y0], np.float32) if len(boxes) else boxes
    return out, moved


def _keep(boxes, classes, ignore, before: np.ndarray, limit: tuple[float, float, float, float]):
    """Clip to ``limit`` and drop boxes mostly cut away or too small."""
    if not len(boxes):
        return boxes, classes, ignore
    clipped = boxes.copy()
    clipped[:, 0::2] = np.clip(clipped[:, 0::2], limit[0], limit[2])
    clipped[:, 1::2] = np.clip(clipped[:, 1::2], limit[1], limit[3])
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    full = np.maximum((before[:, 2] - before[:, 0]) * (before[:, 3] - before[:, 1]), 1e-6)
    keep = (w >= MIN_SIDE) & (h >= MIN_SIDE) & (w * h / full >= MIN_VISIBLE)
    return clipped[keep], classes[keep], ignore[keep]


def random_crop(image, record: ImageRecord, size: int, aug: Augment, rng: np.random.Generator):
    """One image, scaled around its letterbox size and shifted at random."""
    h, w = image.shape[:2]
    scale = min(size / w, size / h) * rng.uniform(*aug.scale)
    nw, nh = w * scale, h * scale
    dx = rng.uniform(min(0.0, size - nw), max(0.0, size - nw))
    dy = rng.uniform(min(0.0, size - nh), max(0.0, size - nh))
    out, boxes = _place(image, record.boxes, scale, dx, dy, size)
    boxes, classes, ignore = _keep(boxes, record.classes, record.ignore, boxes, (0, 0, size, size))
    return out, boxes, classes, ignore


def mosaic(images, records, size: int, aug: Augment, rng: np.random.Generator):
    """Four images around a random centre, each scaled to about half the canvas."""
    canvas = np.full((size, size, 3), PAD, np.uint8)
    cx, cy = rng.uniform(0.3, 0.7) * size, rng.uniform(0.3, 0.7) * size
    quads = ((0, 0, cx, cy), (cx, 0, size, cy), (0, cy, cx, size), (cx, cy, size, size))
    all_boxes, all_classes, all_ignore = [], [], []
    for image, record, (qx0, qy0, qx1, qy1) in zip(images, records, quads):
        h, w = image.shape[:2]
        scale = min(size / w, size / h) * 0.5 * rng.uniform(*aug.scale)
        nw, nh = w * scale, h * scale
        dx = qx0 + rng.uniform(min(0.0, qx1 - qx0 - nw), max(0.0, qx1 - qx0 - nw))
        dy = qy0 + rng.uniform(min(0.0, qy1 - qy0 - nh), max(0.0, qy1 - qy0 - nh))
        quad = np.full((size, size, 3), PAD, np.uint8)
        quad, boxes = _place(image, record.boxes, scale, dx, dy, size, quad)
        x0, y0, x1, y1 = (round(v) for v in (qx0, qy0, qx1, qy1))
        canvas[y0:y1, x0:x1] = quad[y0:y1, x0:x1]
        boxes, classes, ignore = _keep(boxes, record.classes, record.ignore, boxes, (x0, y0, x1, y1))
        all_boxes.append(boxes), all_classes.append(classes), all_ignore.append(ignore)
    return canvas, np.concatenate(all_boxes), np.concatenate(all_classes), np.concatenate(all_ignore)


def flip_and_colour(image, boxes, aug: Augment, rng: np.random.Generator):
    if rng.random() < aug.flip:
        image = image[:, ::-1].copy()
        if len(boxes):
            boxes = boxes.copy()
            boxes[:, [0, 2]] = image.shape[1] - boxes[:, [2, 0]]
    gains = 1 + rng.uniform(-1, 1, 3) * np.array([aug.hue, aug.saturation, aug.value])
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] * gains[0]) % 180
    hsv[..., 1:] = np.clip(hsv[..., 1:] * gains[1:], 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR), boxes


def letterboxed(image, record: ImageRecord, size: int):
    """Exactly the device's preprocessing: letterbox (pad 114), boxes mapped into the input."""
    out, transform = resize(image, size, size, "letterbox")
    boxes = record.boxes * np.array([transform.scale_x, transform.scale_y] * 2, np.float32)
    boxes = boxes + np.array([transform.pad_x, transform.pad_y] * 2, np.float32) if len(boxes) else boxes
    return out, boxes, record.classes, record.ignore
