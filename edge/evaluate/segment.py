"""Semantic segmentation scored on the device runtime: pixel accuracy and mean IoU over a folder.

Two layouts are read: Pascal VOC's (``JPEGImages/`` with ``SegmentationClass/*.png``, and
``ImageSets/Segmentation/<split>.txt`` when present) and a plain pair of folders (``images/`` and
``masks/``, matched by file stem). A mask holds a class id per pixel, 255 for pixels that do not count
(VOC's borders). VOC's masks are palette PNGs, which OpenCV reads as colours: they are mapped back to
class ids through VOC's fixed palette, so no imaging library beyond OpenCV is needed on the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.sources.images import IMAGE_EXTENSIONS, read_image
from edge.tasks.segment import Segmenter

IGNORE = 255


def voc_palette() -> np.ndarray:
    """VOC's colour for each class id (256, 3) RGB: the bits of the id spread over the three channels."""
    palette = np.zeros((256, 3), np.uint8)
    for cid in range(256):
        c, r, g, b = cid, 0, 0, 0
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette[cid] = (r, g, b)
    return palette


def read_mask(path: Path) -> np.ndarray:
    """A mask PNG -> class ids (H, W): single-channel as it is; a colour (palette) PNG through VOC's
    palette, where a colour outside it is an ``EdgeError``."""
    try:
        mask = read_image(path, cv2.IMREAD_UNCHANGED)  # a PNG cut short: our line, not libpng's too
    except EdgeError:
        raise EdgeError(f"cannot read mask {path}") from None
    if mask.ndim == 2:
        return mask
    bgr = mask[..., :3].astype(np.int32)
    packed = (bgr[..., 2] << 16) | (bgr[..., 1] << 8) | bgr[..., 0]
    palette = voc_palette().astype(np.int32)
    keys = (palette[:, 0] << 16) | (palette[:, 1] << 8) | palette[:, 2]
    order = np.argsort(keys)
    found = np.searchsorted(keys[order], packed)
    found = np.minimum(found, len(keys) - 1)
    if not np.array_equal(keys[order][found], packed):
        raise EdgeError(f"{path} has colours outside the VOC palette: save masks as class ids (one channel)")
    return order[found].astype(np.uint8)


def segmentation_pairs(root: Path, split: str) -> list[tuple[Path, Path]]:
    """(image, mask) pairs of a VOC or images/ + masks/ folder; an ``EdgeError`` says what was looked for."""
    if (root / "SegmentationClass").is_dir() and (root / "JPEGImages").is_dir():
        images, masks = root / "JPEGImages", root / "SegmentationClass"
        listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
        stems = (
            listing.read_text().split()
            if listing.is_file()
            else [p.stem for p in sorted(masks.glob("*.png"))]
        )
    elif (root / "images").is_dir() and (root / "masks").is_dir():
        images, masks = root / "images", root / "masks"
        stems = [p.stem for p in sorted(masks.glob("*.png"))]
    else:
        raise EdgeError(
            f"{root} is not a segmentation folder: expected JPEGImages/ and SegmentationClass/ (Pascal VOC), "
            "or images/ and masks/ (masks as PNGs of class ids, matched by name)"
        )
    by_stem = {p.stem: p for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
    pairs = [(by_stem.get(stem), masks / f"{stem}.png") for stem in stems]
    missing = [str(mask) for image, mask in pairs if image is None or not mask.is_file()]
    if missing:
        raise EdgeError(f"{len(missing)} mask(s) without an image or missing, e.g. {missing[0]}")
    if not pairs:
        raise EdgeError(f"{root} has no masks to score")
    return pairs


@dataclass(frozen=True)
class SegEvaluation:
    """Pixel accuracy and IoU per class from a confusion matrix (truth x prediction) of counted pixels."""

    confusion: np.ndarray
    labels: tuple[str, ...]
    images: int

    @property
    def pixel_accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(self.confusion.sum(), 1))

    def iou(self) -> dict[str, float]:
        """IoU of each class present in the truth or the predictions."""
        tp = np.diag(self.confusion).astype(np.float64)
        union = self.confusion.sum(axis=0) + self.confusion.sum(axis=1) - tp
        return {self.labels[c]: float(tp[c] / union[c]) for c in np.flatnonzero(union)}

    @property
    def mean_iou(self) -> float:
        values = list(self.iou().values())
        return float(np.mean(values)) if values else 0.0

    def summary(self) -> dict:
        return {
            "images": self.images,
            "pixel_accuracy": round(self.pixel_accuracy, 4),
            "mean_iou": round(self.mean_iou, 4),
            "iou": {k: round(v, 4) for k, v in self.iou().items()},
        }


def evaluate_segmenter(task: Segmenter, pairs: list[tuple[Path, Path]]) -> SegEvaluation:
    """Segment each image on the device runtime and count its pixels against its mask."""
    classes = task.runtime.outputs[task.spec.outputs["masks"]].shape[-1]
    labels = task.spec.labels or tuple(str(c) for c in range(classes))
    confusion = np.zeros((classes, classes), np.int64)
    for image_path, mask_path in pairs:
        truth = read_mask(mask_path)
        found = task(read_image(image_path)).frame_map()
        if truth.shape != found.shape:
            raise EdgeError(
                f"{mask_path} is {truth.shape[1]}x{truth.shape[0]} but its image "
                f"{found.shape[1]}x{found.shape[0]}"
            )
        counted = truth != IGNORE
        if (truth[counted] >= classes).any():
            raise EdgeError(f"{mask_path} has class ids the model does not have (it has {classes})")
        pairs_ids = truth[counted].astype(np.int64) * classes + found[counted]
        confusion += np.bincount(pairs_ids, minlength=classes * classes).reshape(classes, classes)
    return SegEvaluation(confusion, tuple(labels), len(pairs))
