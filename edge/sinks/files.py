"""Folders and image files that outputs write: every failure a one-line ``EdgeError``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.errors import EdgeError


def make_folder(folder: Path) -> Path:
    """``folder`` made with its parents when missing."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise EdgeError(f"cannot make {folder}: a part of that path is a file, not a folder") from None
    except OSError as exc:
        raise EdgeError(f"cannot make {folder}: {exc.strerror or exc}") from None
    return folder


def check_writable(path: Path) -> None:
    """Fail now, not after a long job, when file ``path`` could not be written: its folder is made and
    a file tried beside it (then removed); an ``EdgeError`` says why."""
    if path.is_dir():
        raise EdgeError(f"cannot write {path}: it is a folder; give a file name")
    make_folder(path.parent)
    probe = path.with_name(path.name + ".tmp")
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc}") from None


def write_image(path: Path, image: np.ndarray, params: Sequence[int] = ()) -> None:
    """An image file, its format by its suffix (OpenCV's ``params``); when it cannot be written (a
    full disk), no part of it is left behind."""
    import cv2

    ok, data = cv2.imencode(path.suffix, image, list(params))
    try:
        if not ok:
            raise OSError(f"OpenCV cannot encode {path.suffix}")
        path.write_bytes(data.tobytes())
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc}") from None
