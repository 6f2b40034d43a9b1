"""Datasets: the built-in shapes written as an image folder, train/validation splits, tf.data pipelines
and calibration images. Images are decoded and resized by ``edge`` code, so training sees exactly the
pixels the device will see."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.imagefolder import IMAGE_EXTENSIONS, ImageFolder, is_image, read_image, scan_image_folder
from edge.preprocess import resize
from edge.shapes import CLASSES, render_sample

MEAN = (127.5,)
STD = (127.5,)
SHAPES_SIZE = 96
_DONE = ".complete.json"


def generate_shapes(out: Path, per_class: int = 800, val_per_class: int | None = None, seed: int = 0) -> Path:
    """Write the built-in dataset as ``out/train/<class>/*.png`` and ``out/val/<class>/*.png``.

    Deterministic from ``seed``; a folder already complete with the same settings is reused.
    """
    val_per_class = val_per_class if val_per_class is not None else max(20, per_class // 4)
    if per_class < 1 or val_per_class < 1:
        raise EdgeError("images per class must be 1 or more")
    settings = {
        "classes": CLASSES,
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
            folder = out / split / name
            folder.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, split_id, class_id])
            for i in range(count):
                cv2.imwrite(str(folder / f"{name}_{i:05d}.png"), render_sample(rng, name, SHAPES_SIZE))
    marker.write_text(json.dumps(settings))
    return out


@dataclass(frozen=True)
class Split:
    """Training and validation images of one dataset, with one class list."""

    class_names: tuple[str, ...]
    train: ImageFolder
    val: ImageFolder


def _subset(folder: ImageFolder, keep: np.ndarray) -> ImageFolder:
    return ImageFolder(
        folder.root,
        folder.class_names,
        tuple(folder.paths[i] for i in keep),
        tuple(folder.labels[i] for i in keep),
    )


def load_split(data_dir: Path, val_split: float = 0.2, seed: int = 0) -> Split:
    """``data_dir/train`` + ``data_dir/val`` when present, else a seeded per-class split of ``data_dir``."""
    data_dir = Path(data_dir)
    val_dir = next((data_dir / n for n in ("val", "validation") if (data_dir / n).is_dir()), None)
    if (data_dir / "train").is_dir() and val_dir is not None:
        train, val = scan_image_folder(data_dir / "train"), scan_image_folder(val_dir)
        if train.class_names != val.class_names:
            raise EdgeError(f"train/ and {val_dir.name}/ have different class folders")
        return Split(train.class_names, train, val)
    if not 0.0 < val_split < 1.0:
        raise EdgeError(f"--val-split must be between 0 and 1, got {val_split}")
    folder = scan_image_folder(data_dir)
    rng = np.random.default_rng(seed)
    labels = np.array(folder.labels)
    val_idx = []
    for cid in range(len(folder.class_names)):
        idx = np.flatnonzero(labels == cid)
        if len(idx) < 2:
            raise EdgeError(
                f"class {folder.class_names[cid]!r} needs at least 2 images for a validation split"
            )
        val_idx.extend(rng.permutation(idx)[: max(1, round(len(idx) * val_split))])
    is_val = np.zeros(len(labels), dtype=bool)
    is_val[val_idx] = True
    return Split(
        folder.class_names, _subset(folder, np.flatnonzero(~is_val)), _subset(folder, np.flatnonzero(is_val))
    )


def load_input(path: str | Path, height: int, width: int, channels: int = 3) -> np.ndarray:
    """An image resized (stretch) to the model's input, RGB (or grey) uint8: the device's preprocessing."""
    image, _ = resize(read_image(path), height, width, "stretch")
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None] if channels == 1 else image[..., ::-1].copy()


def normalize(x):
    """uint8 pixels -> model input, (x - mean) / std; works on numpy arrays and tensors."""
    return (x - MEAN[0]) / STD[0]


def make_dataset(folder: ImageFolder, size: int, batch_size: int, training: bool, seed: int = 0):
    """tf.data: decode (edge code) -> cache -> shuffle -> augment -> batch -> normalise -> prefetch."""
    import tensorflow as tf

    paths = [str(p) for p in folder.paths]
    labels = np.array(folder.labels, dtype=np.int32)

    def decode(path):
        image = tf.numpy_function(lambda p: load_input(p.decode(), size, size), [path], tf.uint8)
        image.set_shape((size, size, 3))
        return image

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    ds = ds.map(lambda p, y: (decode(p), y), num_parallel_calls=tf.data.AUTOTUNE).cache()
    if training:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(_augment, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).map(lambda x, y: (normalize(tf.cast(x, tf.float32)), y))
    return ds.prefetch(tf.data.AUTOTUNE)


def _augment(image, label):
    import tensorflow as tf

    x = tf.cast(image, tf.float32)
    x = tf.image.random_flip_left_right(x)
    x = tf.image.random_flip_up_down(x)
    x = tf.image.random_brightness(x, 20.0)
    x = tf.image.random_contrast(x, 0.8, 1.2)
    return tf.clip_by_value(x, 0.0, 255.0), label


def list_images(root: Path) -> list[Path]:
    """Every image file under ``root`` (recursively, sorted): a flat folder or class subfolders."""
    root = Path(root)
    if not root.is_dir():
        raise EdgeError(f"calibration folder not found: {root}")
    return sorted(p for p in root.rglob("*") if is_image(p) and not p.name.startswith("."))


def calibration_set(
    paths: list[Path],
    height: int,
    width: int,
    channels: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    count: int,
    seed: int = 0,
    where: str = "the calibration images",
) -> np.ndarray:
    """Up to ``count`` readable images, normalised float32 (N, H, W, C); unreadable files are skipped.

    No readable image at all is an ``EdgeError`` naming ``where``.
    """
    if not paths:
        exts = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise EdgeError(f"no images in {where} ({exts})")
    order = np.random.default_rng(seed).permutation(len(paths))
    images, unreadable = [], 0
    for i in order:
        if len(images) >= count:
            break
        try:
            images.append(load_input(paths[i], height, width, channels))
        except EdgeError:
            unreadable += 1
    if not images:
        raise EdgeError(f"none of the {unreadable} image files in {where} could be decoded")
    x = np.stack(images).astype(np.float32)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
