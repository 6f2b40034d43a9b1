"""Image folders (one subfolder per class) and reading single images, with clear errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class ImageFolder:
    """Image paths and their class ids; class ids follow the sorted subfolder names."""

    root: Path
    class_names: tuple[str, ...]
    paths: tuple[Path, ...]
    labels: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.paths)


def is_image(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS


def images_in(folder: Path) -> list[Path]:
    """The images of a folder (not of its subfolders), by name."""
    return sorted(p for p in folder.iterdir() if is_image(p))


def scan_image_folder(root: str | Path) -> ImageFolder:
    """List ``root/<class>/<image>``; a missing, empty or flat folder is an ``EdgeError``."""
    root = Path(root)
    if not root.exists():
        raise EdgeError(f"data folder not found: {root}")
    if not root.is_dir():
        raise EdgeError(f"expected a folder of class subfolders, got a file: {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise EdgeError(f"{root} has no class subfolders: expected {root}/<class name>/<image files>")
    paths, labels = [], []
    for cid, name in enumerate(classes):
        for path in sorted((root / name).iterdir()):
            if is_image(path):
                paths.append(path)
                labels.append(cid)
    if not paths:
        exts = ", ".join(sorted(IMAGE_EXTENSIONS))
        raise EdgeError(f"{root} has class subfolders but no images ({exts})")
    return ImageFolder(root, tuple(classes), tuple(paths), tuple(labels))


class UnreadableImage(EdgeError):
    """A file that is there but is not an image (corrupt, truncated, another format), or vanished."""


def read_image(path: str | Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """An image file as BGR uint8 (HxWx3), or as OpenCV's ``flags`` read it (a mask: unchanged). A
    missing or undecodable file is ``UnreadableImage``; one this process may not read (permissions,
    I/O) is an ``EdgeError``."""
    path = Path(path)
    if not path.is_file():
        raise UnreadableImage(f"image not found: {path}")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:  # permission denied, a folder, an I/O error
        raise EdgeError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, flags) if data.size and not png_cut_short(data) else None
    if image is None:
        raise UnreadableImage(f"cannot decode image {path}: not a readable image file")
    return image


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_cut_short(data: np.ndarray) -> bool:
    """Is ``data`` (a file's bytes) a PNG whose chunks stop before their end chunk (a copy or a
    download cut short)? libpng would print a line of its own on standard error for it, before
    OpenCV returns nothing; found here first, the user sees only ours. Walking the chunk headers
    costs microseconds; a chunk whose content is damaged is still libpng's to find."""
    data = data.reshape(-1)  # flat: OpenCV's encoders give (n, 1)
    if data.size < 8 or data[:8].tobytes() != PNG_SIGNATURE:
        return False
    view, at = memoryview(data), 8
    while at + 8 <= len(view):
        length, kind = int.from_bytes(view[at : at + 4], "big"), view[at + 4 : at + 8].tobytes()
        at += 12 + length  # length, type, content, CRC
        if kind == b"IEND":
            return at > len(view)
    return True
