"""The built-in detection data: 0 to 8 coloured shapes per image from the five classes, overlapping at
times, from about 16 px at a 320 px input to half the frame, over the textured backgrounds and in the
4:3 and 16:9 frames of the classifier's data; deterministic from a seed. Written in COCO format
(``annotations/instances_{train,val}.json`` + ``{train,val}/*.jpg``), so the reader of users' data
reads it too."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.sinks.files import make_folder, write_image
from edge.sources.shapes import CLASSES, add_noise, background, draw_shape, random_shape

FRAMES = ((240, 320), (270, 480), (360, 480), (288, 512))  # (height, width): 4:3 and 16:9
MAX_SHAPES = 8
RADIUS = (0.033, 0.25)  # of the frame's shorter side: a 16 px object at 320, to half the frame
_DONE = ".complete.json"


def _overlaps_too_much(box, placed) -> bool:
    """Overlap is allowed; hiding most of another shape (or being hidden) is not."""
    x0, y0, x1, y1 = box
    for p in placed:
        iw = min(x1, p[2]) - max(x0, p[0])
        ih = min(y1, p[3]) - max(y0, p[1])
        if iw <= 0 or ih <= 0:
            continue
        inter = iw * ih
        smaller = min((x1 - x0) * (y1 - y0), (p[2] - p[0]) * (p[3] - p[1]))
        if inter / smaller > 0.35:
            return True
    return False


def render_scene(rng: np.random.Generator) -> tuple[np.ndarray, list[tuple[str, tuple[float, ...]]]]:
    """One frame and its objects: (class name, (x0, y0, x1, y1)) each."""
    height, width = FRAMES[int(rng.integers(len(FRAMES)))]
    image = background(rng, height, width)
    objects: list[tuple[str, tuple[float, ...]]] = []
    for _ in range(int(rng.integers(0, MAX_SHAPES + 1))):
        name = CLASSES[int(rng.integers(len(CLASSES)))]
        radius = float(np.exp(rng.uniform(np.log(RADIUS[0]), np.log(RADIUS[1]))))
        for _attempt in range(10):
            shape = random_shape(rng, name, height, width, image, scale=(radius, radius * 1.0001))
            if not _overlaps_too_much(shape.box(), [b for _, b in objects]):
                draw_shape(image, shape)
                objects.append((name, shape.box()))
                break
    image = cv2.GaussianBlur(image, (3, 3), rng.uniform(0.1, 0.8))
    return add_noise(rng, image, rng.uniform(2, 8)), objects


def _write_split(out: Path, split: str, count: int, seed: int) -> None:
    folder = make_folder(out / split)
    rng = np.random.default_rng([seed, 0 if split == "train" else 1])
    images, annotations = [], []
    for i in range(count):
        image, objects = render_scene(rng)
        name = f"{split}_{i:05d}.jpg"
        write_image(folder / name, image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        images.append({"id": i + 1, "file_name": name, "width": image.shape[1], "height": image.shape[0]})
        for label, (x0, y0, x1, y1) in objects:
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i + 1,
                    "category_id": CLASSES.index(label) + 1,
                    "bbox": [round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                    "area": round((x1 - x0) * (y1 - y0), 2),
                    "iscrowd": 0,
                }
            )
    categories = [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(CLASSES)]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    make_folder(out / "annotations")
    (out / "annotations" / f"instances_{split}.json").write_text(json.dumps(coco))


def generate_detection_shapes(
    out: Path, train_images: int = 2000, val_images: int = 300, seed: int = 0
) -> Path:
    """Write the built-in detection set in COCO format; a folder already complete with the same
    settings is reused."""
    if train_images < 1 or val_images < 1:
        raise EdgeError("the detection set needs 1 or more training and validation images")
    settings = {"train": train_images, "val": val_images, "seed": seed, "classes": CLASSES, "version": 1}
    marker = out / _DONE
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(settings)):
        return out
    _write_split(out, "train", train_images, seed)
    _write_split(out, "val", val_images, seed)
    marker.write_text(json.dumps(settings))
    return out
