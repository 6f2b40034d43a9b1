"""Folders and files that outputs write: every failure a one-line ``EdgeError``."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
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
    probe = _partial(path)  # the name write_whole gives its partial file, so nothing new is left
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc}") from None


def _partial(path: Path) -> Path:
    return path.with_name(f"{path.stem}.partial{path.suffix}")  # the suffix kept: Keras goes by it


def write_whole(path: Path, write: Callable[[Path], object], note: str = "") -> None:
    """``write(partial)`` beside ``path``, then moved over it, so ``path`` is never half written: on a
    failure (a full disk, Ctrl-C) the partial file is removed and ``path`` is as it was. An
    ``OSError`` is an ``EdgeError``, ``note`` after its reason."""
    partial = _partial(path)
    try:
        write(partial)
        os.replace(partial, path)
    except OSError as exc:
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc}{note}") from None
    finally:
        partial.unlink(missing_ok=True)


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
