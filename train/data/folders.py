"""Image folders for training: train/validation splits, images as the device sees them (decoded and
resized by edge code), normalisation, and calibration sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.sources.images import IMAGE_EXTENSIONS, ImageFolder, is_image, read_image, scan_image_folder
from edge.tasks.preprocess import resize
from train.data.readable import undecodable

MEAN = (127.5,)
STD = (127.5,)


@dataclass(frozen=True)
class Split:
    """Training and validation images of one dataset, with one class list."""

    class_names: tuple[str, ...]
    train: ImageFolder
    val: ImageFolder
    unreadable: tuple[Path, ...] = ()  # images of the folder left out of both: they do not decode


def _subset(folder: ImageFolder, keep: np.ndarray) -> ImageFolder:
    return ImageFolder(
        folder.root,
        folder.class_names,
        tuple(folder.paths[i] for i in keep),
        tuple(folder.labels[i] for i in keep),
    )


def load_split(data_dir: Path, val_split: float = 0.2, seed: int = 0) -> Split:
    """``data_dir/train`` + ``data_dir/val`` when present, else a seeded per-class split of ``data_dir``;
    then the images that do not decode left out of both (``Split.unreadable``). The split is made
    first, so it is the same whichever files turn out unreadable."""
    return _readable(split_folder(data_dir, val_split, seed))


def _readable(split: Split) -> Split:
    """``split`` without its images that cannot be read or decoded; an ``EdgeError`` when a class
    is left with no training image, or the validation split with none."""
    bad = set(undecodable(split.train.paths + split.val.paths))
    if not bad:
        return split
    train, val = (
        _subset(f, np.flatnonzero([p not in bad for p in f.paths])) for f in (split.train, split.val)
    )
    where = split.train.root
    for cid, name in enumerate(split.class_names):
        if cid not in train.labels:
            raise EdgeError(f"{where}: class {name!r} has no training image that can be read or decoded")
    if not val.paths:
        raise EdgeError(f"{where}: no validation image can be read or decoded")
    return Split(split.class_names, train, val, tuple(sorted(bad)))


def split_folder(data_dir: Path, val_split: float = 0.2, seed: int = 0) -> Split:
    """``load_split``'s split, its images not decoded: for data just written whole (the built-in set)."""
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


def load_input(
    path: str | Path, height: int, width: int, channels: int = 3, mode: str = "stretch"
) -> np.ndarray:
    """An image resized (``mode``: stretch, letterbox) to the model's input, RGB (or grey) uint8: the
    device's preprocessing."""
    image, _ = resize(read_image(path), height, width, mode)
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None] if channels == 1 else image[..., ::-1].copy()


def normalize(x):
    """uint8 pixels -> model input, (x - mean) / std; works on numpy arrays and tensors."""
    return (x - MEAN[0]) / STD[0]


def list_images(root: Path) -> list[Path]:
    """Every image file under ``root`` (recursively, sorted): a flat folder or class subfolders."""
    root = Path(root)
    if not root.is_dir():
        raise EdgeError(f"calibration folder not found: {root}")
    return sorted(p for p in root.rglob("*") if is_image(p) and not p.name.startswith("."))


def _none_in(paths, where: str) -> None:
    if not paths:
        exts = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise EdgeError(f"no images in {where} ({exts})")


def check_decodable(paths: list[Path], where: str) -> None:
    """The errors ``calibration_set`` would give, before TensorFlow loads: no image files, or not one
    that decodes (stops at the first that does)."""
    _none_in(paths, where)
    for path in paths:
        try:
            read_image(path)
            return
        except EdgeError:
            continue
    raise EdgeError(f"none of the {len(paths)} image files in {where} could be decoded")


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
    mode: str = "stretch",
) -> np.ndarray:
    """Up to ``count`` readable images, normalised float32 (N, H, W, C); unreadable files are skipped.

    No readable image at all is an ``EdgeError`` naming ``where``.
    """
    _none_in(paths, where)
    order = np.random.default_rng(seed).permutation(len(paths))
    images, unreadable = [], 0
    for i in order:
        if len(images) >= count:
            break
        try:
            images.append(load_input(paths[i], height, width, channels, mode))
        except EdgeError:
            unreadable += 1
    if not images:
        raise EdgeError(f"none of the {unreadable} image files in {where} could be decoded")
    x = np.stack(images).astype(np.float32)
    return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
