"""Annotated video output: mp4v for .mp4, MJPG for .avi (the codecs OpenCV's wheels can write).

The file is opened at the first frame (its size sets the video size) and finalised by ``close``,
which the CLI reaches on the source's end, Ctrl-C and SIGTERM alike, so the video stays playable.
OpenCV's writer says nothing when the disk fills up, so the free space of the video's filesystem is
checked at every frame: below ``MIN_FREE_BYTES`` the run ends with an error instead of a silently
truncated video.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.sinks.base import Sink

CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
MIN_FREE_BYTES = 1 << 20  # a frame or two of headroom; less than this is a full disk


def check_free_space(path: Path, minimum: int = MIN_FREE_BYTES) -> None:
    """An ``EdgeError`` when the filesystem holding ``path`` has less than ``minimum`` bytes free."""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:  # the folder went away: the writer will say so
        return
    if free < minimum:
        raise EdgeError(f"cannot write {path}: No space left on device ({free // 1024} KiB free)")


class VideoSink(Sink):
    """Writes annotated frames to a video file."""

    annotated = True

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CODECS:
            raise EdgeError(f"cannot write video {self.path}: use one of {', '.join(CODECS)}")
        if not self.path.parent.exists():
            raise EdgeError(f"folder for {self.path} does not exist")
        self.fourcc = cv2.VideoWriter_fourcc(*CODECS[suffix])
        self.fps = fps
        self.writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, item: object, image: np.ndarray) -> None:
        if self.writer is None:
            h, w = image.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), self.fourcc, self.fps, (w, h))
            if not self.writer.isOpened():
                raise EdgeError(f"cannot open {self.path} for writing")
        self.writer.write(image)
        self.frames += 1
        check_free_space(self.path)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
