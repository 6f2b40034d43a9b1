"""The built-in classification data: coloured shapes written as an image folder, deterministic from a
seed (``edge.sources.shapes`` draws them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.sinks.files import make_folder, write_image
from edge.sources.shapes import CLASSES, render_sample

SHAPES_SIZE = 96
_DONE = ".complete.json"


def generate_shapes(
    out: Path,
    per_class: int = 800,
    val_per_class: int | None = None,
    seed: int = 0,
    classes: tuple[str, ...] = CLASSES,
) -> Path:
    """Write the built-in dataset as ``out/train/<class>/*.png`` and ``out/val/<class>/*.png``.

    Deterministic from ``seed``; a class's images are the same whichever ``classes`` are asked for. A
    folder already complete with the same settings is reused.
    """
    val_per_class = val_per_class if val_per_class is not None else max(20, per_class // 4)
    if per_class < 1 or val_per_class < 1:
        raise EdgeError("images per class must be 1 or more")
    unknown = sorted(set(classes) - set(CLASSES))
    if unknown:
        raise EdgeError(f"unknown built-in classes {unknown}: choose from {', '.join(CLASSES)}")
    settings = {
        "classes": [c for c in CLASSES if c in classes],
        "per_class": per_class,
        "val_per_class": val_per_class,
        "seed": seed,
        "size": SHAPES_SIZE,
        "version": 3,
    }
    marker = out / _DONE
    if marker.is_file() and json.loads(marker.read_text()) == json.loads(json.dumps(settings)):
        return out
    for split_id, (split, count) in enumerate((("train", per_class), ("val", val_per_class))):
        for class_id, name in enumerate(CLASSES):
            if name not in classes:
                continue
            folder = out / split / name
            make_folder(folder)
            rng = np.random.default_rng([seed, split_id, class_id])
            for i in range(count):
                write_image(folder / f"{name}_{i:05d}.png", render_sample(rng, name, SHAPES_SIZE))
    marker.write_text(json.dumps(settings))
    return out
