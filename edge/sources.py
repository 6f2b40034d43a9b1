"""Frame sources: the synthetic camera, video files, image folders and camera indexes.

Each source is a context manager and an iterable of :class:`Frame` (image, index, monotonic
timestamp, and ground truth where the source knows it).
"""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.imagefolder import IMAGE_EXTENSIONS, is_image, read_image
from edge.shapes import CLASSES, add_noise, background, draw_shape, random_shape


@dataclass(frozen=True)
class Frame:
    """One frame: BGR uint8 image, index from 0, capture time (``time.monotonic``), optional truth."""

    image: np.ndarray
    index: int
    timestamp: float
    name: str | None = None
    truth: dict | None = field(default=None)


class Source:
    """Base: a context manager yielding frames; ``live`` says whether it is a live camera or stream."""

    live = False

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError


class SyntheticSource(Source):
    """A built-in camera: one coloured shape moving and turning over a textured background.

    The shape changes class every ``segment`` frames; each frame carries its truth (label, class id,
    box). Deterministic from ``seed``; ``realtime`` paces frames at ``fps``.
    """

    def __init__(
        self,
        frames: int = 300,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        seed: int = 0,
        segment: int = 30,
        realtime: bool = False,
    ) -> None:
        if frames < 1 or width < 32 or height < 32 or fps <= 0 or segment < 1:
            raise EdgeError("synthetic source needs frames >= 1, a size of at least 32x32 and fps > 0")
        self.frames, self.width, self.height = frames, width, height
        self.fps, self.seed, self.segment, self.realtime = fps, seed, segment, realtime
        self.live = realtime

    def __iter__(self) -> Iterator[Frame]:
        rng = np.random.default_rng(self.seed)
        start = time.monotonic()
        bg = shape = None
        velocity = np.zeros(2)
        spin = 0.0
        for index in range(self.frames):
            if index % self.segment == 0:
                name = CLASSES[int(rng.integers(len(CLASSES)))]
                bg = background(rng, self.height, self.width)
                shape = random_shape(rng, name, self.height, self.width, bg, scale=(0.25, 0.4))
                velocity = rng.uniform(-1, 1, 2) * 0.01 * min(self.width, self.height)
                spin = rng.uniform(-0.05, 0.05)
            else:
                shape, velocity = self._move(shape, velocity, spin)
            img = add_noise(rng, draw_shape(bg.copy(), shape), 4.0)
            if self.realtime:
                delay = start + index / self.fps - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            truth = {"label": shape.name, "id": CLASSES.index(shape.name), "box": list(shape.box())}
            yield Frame(img, index, time.monotonic(), name=f"synthetic:{index}", truth=truth)

    def _move(self, shape, velocity: np.ndarray, spin: float):
        x0, y0, x1, y1 = shape.box()
        v = velocity.copy()
        if x0 + v[0] < 0 or x1 + v[0] > self.width:
            v[0] = -v[0]
        if y0 + v[1] < 0 or y1 + v[1] > self.height:
            v[1] = -v[1]
        moved = replace(shape, cx=shape.cx + v[0], cy=shape.cy + v[1], angle=shape.angle + spin)
        return moved, v


class VideoSource(Source):
    """A video file, a camera index or a stream URL through OpenCV's VideoCapture."""

    def __init__(self, target: str | int, live: bool = False) -> None:
        self.target = target
        self.live = live
        self.capture = cv2.VideoCapture(target)
        if not self.capture.isOpened():
            what = f"camera {target}" if isinstance(target, int) else f"video {target}"
            raise EdgeError(f"cannot open {what}: check the path or device, and that OpenCV can decode it")

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while self.capture is not None:
            ok, image = self.capture.read()
            if not ok or image is None:
                break
            yield Frame(image, index, time.monotonic(), name=f"{self.target}:{index}")
            index += 1

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()
            self.capture = None


class FolderSource(Source):
    """Images of a folder (sorted) or of a glob pattern; unreadable files are skipped and counted."""

    def __init__(self, pattern: str) -> None:
        path = Path(pattern)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if is_image(p))
        else:
            files = sorted(p for p in map(Path, glob.glob(pattern)) if is_image(p))
        if not files:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise EdgeError(f"no images ({exts}) found at {pattern}")
        self.files = files
        self.skipped = 0

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.files:
            try:
                image = read_image(path)
            except EdgeError:
                self.skipped += 1
                continue
            yield Frame(image, index, time.monotonic(), name=str(path))
            index += 1


VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg"})


def open_source(spec: str, *, frames: int | None = None, seed: int = 0, realtime: bool = False) -> Source:
    """``synthetic``, a camera index (``0``), a video file, an image folder or glob, or a stream URL."""
    if spec == "synthetic":
        return SyntheticSource(frames=frames or 300, seed=seed, realtime=realtime)
    if spec.isdigit():
        return VideoSource(int(spec), live=True)
    if "://" in spec:
        return VideoSource(spec, live=True)
    path = Path(spec)
    if path.is_dir() or any(ch in spec for ch in "*?["):
        return FolderSource(spec)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource(spec)
        return VideoSource(str(path))
    raise EdgeError(
        f"unknown source {spec!r}: expected 'synthetic', a camera index such as 0, "
        "a video file, an image folder or glob, or a stream URL"
    )
