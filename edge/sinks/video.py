"""Annotated video output: H.264 MP4 with PyAV where installed, else mp4v (.mp4) or MJPG (.avi) with
OpenCV (``edge.sinks.encode``).

The file is opened at the first frame (its size sets the video size) and finalised by ``close``,
which the CLI reaches on the source's end, Ctrl-C and SIGTERM alike, so the video stays playable.
OpenCV's writer says nothing when the disk fills up (PyAV's does not always say it at once either),
so the free space of the video's filesystem is checked at every frame: below ``MIN_FREE_BYTES`` the
run ends with an error instead of a silently truncated video.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.sinks.base import Sink
from edge.sinks.encode import check_video_path, codec_for, open_video

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
        check_video_path(self.path)
        self.codec = codec_for(self.path)
        self.fps = fps
        self.writer = None
        self.frames = 0

    def write(self, item: object, image: np.ndarray) -> None:
        if self.writer is None:
            h, w = image.shape[:2]
            self.writer = open_video(self.path, self.fps, (w, h))
        self.writer.write(image)
        self.frames += 1
        check_free_space(self.path)

    def report(self) -> str:
        """A line for the run's summary: the file, its frames and the codec they were written with."""
        return f"recording {self.path}: {self.frames} frames, {self.codec}"

    def close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
