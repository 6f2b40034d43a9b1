"""Which image files decode, checked before training starts: a file cut short or corrupt would
otherwise stop TensorFlow's input pipeline mid-epoch with a traceback. Those that do not decode are
left out and named."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from edge.datasets.boxes import DetectionSet
from edge.util.stderr import quiet_native_stderr

NAMED = 3  # files named in the note; the rest counted


def decodes(path: Path) -> bool:
    """Whether ``path`` can be read and decodes as an image. Decoded at an eighth of its size: for a
    JPEG, libjpeg's scaled decoding reads every byte a full one does (a file cut short or corrupt
    fails alike), at about half the cost on the asset photos."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError:
        return False
    return data.size > 0 and cv2.imdecode(data, cv2.IMREAD_REDUCED_GRAYSCALE_8) is not None


def undecodable(paths: Sequence[Path]) -> list[Path]:
    """The paths that do not decode, in their order; checked on a few threads (OpenCV lets go of the
    GIL while it decodes), with the image libraries' own messages kept off standard error."""
    with quiet_native_stderr(), ThreadPoolExecutor(min(4, os.cpu_count() or 1)) as pool:
        return [path for path, ok in zip(paths, pool.map(decodes, paths)) if not ok]


def left_out_note(paths: Sequence[Path]) -> str:
    """One line naming the images left out (the first few, then a count)."""
    named = ", ".join(str(p) for p in paths[:NAMED])
    more = f" and {len(paths) - NAMED} more" if len(paths) > NAMED else ""
    image = "image" if len(paths) == 1 else "images"
    return f"left out {len(paths)} {image} that cannot be read or decoded: {named}{more}"


def readable_set(data: DetectionSet) -> DetectionSet:
    """A detection split without its images that cannot be read or decoded, counted among its
    problems: a reader checks only that each is there, or its header."""
    bad = set(undecodable([r.path for r in data.images]))
    if not bad:
        return data
    problems = {**data.problems, "unreadable image": data.problems.get("unreadable image", 0) + len(bad)}
    return replace(data, images=tuple(r for r in data.images if r.path not in bad), problems=problems)
