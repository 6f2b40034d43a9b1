"""Build small real TFLite models that emit the raw Ultralytics YOLO layouts, with planted candidates.

No YOLO weights can be downloaded here, so the tests and tools/task_overhead.py use these instead:
a Keras model whose output is a full YOLO head tensor (every grid cell has a candidate, centred on
its cell, score 0) with a few candidates planted at known boxes and scores; converted by edgesight's
own export table (float32, float16, int8-floatio, int8-int8io). The output depends on the image
only through a very small weight, so the candidates stay where they were planted. Ultralytics'
``metadata.json`` (class names, task, imgsz) is appended the way Ultralytics does.

    python tools/yolo_heads.py OUT_DIR [--layout yolov8|yolov5] [--size 640] [--classes 80]
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STRIDES = (8, 16, 32)
MODES = ("float32", "float16", "int8-floatio", "int8-int8io")


@dataclass(frozen=True)
class Planted:
    """One candidate in input pixels: centre, size, class and score."""

    cx: float
    cy: float
    w: float
    h: float
    class_id: int
    score: float

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.cx - self.w / 2, self.cy - self.h / 2, self.cx + self.w / 2, self.cy + self.h / 2)


def grid_centres(size: int) -> np.ndarray:
    """(N, 4) cx, cy, w, h of every grid cell of a P3-P5 head, in input pixels."""
    rows = []
    for s in STRIDES:
        n = size // s
        ys, xs = np.mgrid[0:n, 0:n]
        centres = np.stack([(xs.ravel() + 0.5) * s, (ys.ravel() + 0.5) * s], axis=1)
        rows.append(np.concatenate([centres, np.full((n * n, 2), float(s))], axis=1))
    return np.concatenate(rows).astype(np.float32)


def head_tensor(
    layout: str, size: int, classes: int, planted: list[Planted], normalized: bool = True
) -> np.ndarray:
    """The raw output [A, B] (batch dimension left out) a model of ``layout`` gives for the planted set."""
    boxes = grid_centres(size)
    if layout == "yolov5":
        boxes = np.repeat(boxes, 3, axis=0)  # three anchors per cell
    n = len(boxes)
    scores = np.zeros((n, classes), dtype=np.float32)
    objectness = np.zeros((n, 1), dtype=np.float32)
    for i, p in enumerate(planted):
        slot = (i * 7919) % n  # spread the planted rows over the head
        boxes[slot] = (p.cx, p.cy, p.w, p.h)
        if layout == "yolov5":
            objectness[slot] = 0.95
            scores[slot, p.class_id] = p.score / 0.95
        else:
            scores[slot, p.class_id] = p.score
    if normalized:
        boxes = boxes / size
    if layout == "yolov5":
        return np.concatenate([boxes, objectness, scores], axis=1)  # (N, 5+C)
    return np.concatenate([boxes, scores], axis=1).T  # (4+C, N)


def pose_head_tensor(size: int, planted: list[Planted], keypoints: list[np.ndarray]) -> np.ndarray:
    """The raw pose output [56, N]: each planted person's box and score, and its keypoints (17, 3) of
    (x, y) in input pixels and visibility; every other candidate scores 0. Normalised, as exported."""
    head = head_tensor("yolov8", size, 1, planted)  # (5, N): the box and the person score
    points = np.zeros((51, head.shape[1]), dtype=np.float32)
    for i, kps in enumerate(keypoints):
        slot = (i * 7919) % head.shape[1]  # the planted person's row, as head_tensor placed it
        kps = np.asarray(kps, dtype=np.float32)
        points[:, slot] = (kps / np.array([size, size, 1], dtype=np.float32)).ravel()
    return np.concatenate([head, points])


def seg_head_tensors(
    size: int, classes: int, planted: list[Planted], coefficients: list[np.ndarray], protos: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The raw seg outputs: candidates [4+C+M, N] with each planted object's mask coefficients (M,),
    and the prototypes ([size/4, size/4, M] or [M, size/4, size/4]) as given."""
    head = head_tensor("yolov8", size, classes, planted)
    coeffs = np.zeros((len(coefficients[0]), head.shape[1]), dtype=np.float32)
    for i, c in enumerate(coefficients):
        coeffs[:, (i * 7919) % head.shape[1]] = c
    return np.concatenate([head, coeffs]), protos.astype(np.float32)


def keras_head(head, size: int, seed: int = 0):
    """A batch-1 Keras model [1, size, size, 3] float (pixels / 255) -> [1, *head.shape], or one output
    per array when ``head`` is a tuple of them (in that order)."""
    from train.quiet import import_tensorflow

    import_tensorflow()  # without TensorFlow's start-up chatter
    import keras

    rng = np.random.default_rng(seed)
    inputs = keras.Input((size, size, 3), batch_size=1, name="images")
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    outputs = []
    for i, tensor in enumerate(head if isinstance(head, tuple) else (head,)):
        dense = keras.layers.Dense(tensor.size, name=f"head{i}" if i else "head")
        flat = dense(pooled)
        kernel = rng.normal(0.0, 1e-5, size=(3, tensor.size)).astype(np.float32)
        dense.set_weights([kernel, tensor.ravel().astype(np.float32)])
        outputs.append(keras.layers.Reshape(tensor.shape)(flat))
    return keras.Model(inputs, outputs if isinstance(head, tuple) else outputs[0], name="yolo_head")


def ultralytics_metadata(names: list[str], size: int, task: str = "detect") -> dict:
    """The dict Ultralytics appends to its TFLite exports (the keys edge reads, and a few more)."""
    return {
        "description": "edgesight test head in the Ultralytics layout",
        "author": "Ultralytics",
        "version": "8.3.0",
        "stride": 32,
        "task": task,
        "batch": 1,
        "imgsz": [size, size],
        "names": {str(i): name for i, name in enumerate(names)},
    }


def write(path: Path, content: bytes, metadata: dict | None = None) -> Path:
    """Write a .tflite, appending ``metadata.json`` in a zip archive as Ultralytics does."""
    path.write_bytes(content)
    if metadata is not None:
        with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("metadata.json", json.dumps(metadata, indent=2))
    return path


def convert(model, mode: str, size: int, samples: int = 32, seed: int = 0) -> bytes:
    """Convert with one row of edgesight's export table; calibration images are uniform noise."""
    from train.export.convert import convert as convert_row
    from train.export.modes import QUANT_MODES

    row = {m.name: m for m in QUANT_MODES}[mode]
    rng = np.random.default_rng(seed)
    calib = rng.uniform(0, 1, size=(samples, size, size, 3)).astype(np.float32)
    return convert_row(model, row, calib if row.needs_calibration else None)


def default_planted(size: int, classes: int) -> list[Planted]:
    """Six candidates that exercise NMS: overlaps within and across classes, one below 0.25."""
    k = size / 64
    return [
        Planted(20 * k, 24 * k, 16 * k, 20 * k, 0, 0.90),
        Planted(21 * k, 25 * k, 16 * k, 20 * k, 0, 0.80),  # same class, IoU ~0.8 with the first
        Planted(21 * k, 25 * k, 16 * k, 20 * k, min(1, classes - 1), 0.70),  # another class
        Planted(48 * k, 40 * k, 10 * k, 30 * k, min(2, classes - 1), 0.60),
        Planted(48 * k, 52 * k, 10 * k, 10 * k, min(2, classes - 1), 0.50),  # IoU 0.25 with the one above
        Planted(40 * k, 12 * k, 8 * k, 8 * k, min(1, classes - 1), 0.20),  # below the default threshold
    ]


def seg_planted(size: int, classes: int, count: int = 10) -> list[Planted]:
    """``count`` objects on a 5-wide grid over the input, apart enough that NMS keeps them all."""
    step, side = size / 5, size / 5 * 0.8
    return [
        Planted((i % 5 + 0.5) * step, (i // 5 + 1.5) * step, side, side, i % classes, 0.9 - 0.02 * i)
        for i in range(count)
    ]


def seg_model(size: int, classes: int, seed: int = 0):
    """A seg head with 10 planted objects and random prototypes (the timing case of issue 18)."""
    rng = np.random.default_rng(seed)
    planted = seg_planted(size, classes)
    protos = rng.normal(0.0, 2.0, size=(size // 4, size // 4, 32)).astype(np.float32)
    coefficients = [rng.normal(0.0, 1.0, size=32) for _ in planted]
    return keras_head(seg_head_tensors(size, classes, planted, coefficients, protos), size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--layout", choices=("yolov8", "yolov5", "yolov8_seg"), default="yolov8")
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--classes", type=int, default=80)
    parser.add_argument("--modes", default=",".join(MODES))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.layout == "yolov8_seg":
        model, task = seg_model(args.size, args.classes), "segment"
    else:
        planted = default_planted(args.size, args.classes)
        model = keras_head(head_tensor(args.layout, args.size, args.classes, planted), args.size)
        task = "detect"
    names = [f"class{i}" for i in range(args.classes)]
    for mode in args.modes.split(","):
        path = args.out / f"{args.layout}_{args.size}_{mode}.tflite"
        write(path, convert(model, mode, args.size), ultralytics_metadata(names, args.size, task))
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
