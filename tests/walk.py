"""The two-person clip of the tracking tests: people cut from the person.jpg asset walk across a plain
wall in opposite directions, on known paths."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

FRAMES = 64
STEP = 9  # pixels a frame
SIZE = (640, 360)


def a_box(i: int) -> tuple[int, int, int, int]:
    """Where person A (walking right, lower lane) is in frame ``i``."""
    return (10 + STEP * i, 170, 70 + STEP * i, 350)


def b_box(i: int) -> tuple[int, int, int, int]:
    """Where person B (walking left, upper lane, mirrored) is in frame ``i``."""
    return (570 - STEP * i, 10, 630 - STEP * i, 190)


def write_walk(assets: Path, path: Path) -> Path:
    """The clip (MJPG): a plain textured wall, A and B crossing the middle near frame 33."""
    photo = cv2.imread(str(assets / "images/person.jpg"))
    person = cv2.resize(photo[95:378, 180:275], (60, 180))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 20, (SIZE[1], SIZE[0], 3), np.uint8)
    wall = cv2.GaussianBlur(
        cv2.add(np.full((SIZE[1], SIZE[0], 3), (120, 130, 125), np.uint8), noise), (5, 5), 0
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    for i in range(FRAMES):
        frame = wall.copy()
        for (x0, y0, x1, y1), image in ((a_box(i), person), (b_box(i), cv2.flip(person, 1))):
            frame[y0:y1, x0:x1] = image
        writer.write(frame)
    writer.release()
    return path
