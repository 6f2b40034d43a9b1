"""Video files: H.264 in MP4 with PyAV (libx264) where it is installed, else what OpenCV's wheels
write (mp4v in .mp4, MJPG in .avi).

Browsers and Home Assistant play H.264 MP4; they do not play mp4v. OpenCV's pip wheels cannot encode
H.264, PyAV's wheels carry libx264. ``open_video`` says which codec a file got (``.codec``). The MP4 is
written with its index at the front (``+faststart``), so a browser plays it before it has it all.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from edge.errors import EdgeError

OPENCV_CODECS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
# The recording must slow the run as little as it can: x264's fastest preset, with superfast's 3
# B-frames and adaptive quantisation for files 28% smaller at about the same speed. On 2 cores with 2
# interpreter threads, tools/save_cost.py kept 0.783 to 0.856 of the fps over ten runs (superfast:
# 0.707 to 0.730); `--x264` there compares other settings (README).
H264_OPTIONS = {"preset": "ultrafast", "crf": "23", "x264-params": "bframes=3:aq-mode=1"}


def h264_available() -> bool:
    """Is PyAV with an H.264 encoder installed?"""
    try:
        import av
    except ImportError:
        return False
    try:
        av.codec.Codec("libx264", "w")
    except Exception:  # PyAV built without libx264
        return False
    return True


class _PyAVWriter:
    """H.264 (yuv420p) in MP4 through PyAV; odd frame sizes are cropped by a pixel to even ones."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int], threads: int = 1) -> None:
        import av

        self.codec = "H.264 (libx264 via PyAV)"
        self.width, self.height = size[0] // 2 * 2, size[1] // 2 * 2
        try:
            self.container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
        except (OSError, av.error.FFmpegError) as exc:
            raise EdgeError(f"cannot open {path} for writing: {exc}") from None
        self.path = path
        self.stream = self.container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = self.width, self.height
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = dict(H264_OPTIONS)
        self.stream.codec_context.thread_count = threads

    def write(self, image: np.ndarray) -> None:
        import av

        # OpenCV's BGR to I420 is several times faster than the conversion inside the encoder
        planes = cv2.cvtColor(image[: self.height, : self.width], cv2.COLOR_BGR2YUV_I420)
        frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        try:
            for packet in self.stream.encode(frame):
                self.container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            raise EdgeError(f"cannot write {self.path}: {exc}") from None

    def close(self) -> None:
        import av

        try:
            for packet in self.stream.encode(None):  # flush the encoder's delayed frames
                self.container.mux(packet)
        except (OSError, av.error.FFmpegError) as exc:
            raise EdgeError(f"cannot write {self.path}: {exc}") from None
        finally:
            self.container.close()


class _OpenCVWriter:
    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        fourcc = OPENCV_CODECS[path.suffix.lower()]
        self.codec = f"{fourcc} (OpenCV{'; pip install av for H.264' if fourcc == 'mp4v' else ''})"
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not self.writer.isOpened():
            raise EdgeError(f"cannot open {path} for writing")

    def write(self, image: np.ndarray) -> None:
        self.writer.write(image)

    def close(self) -> None:
        self.writer.release()


def codec_for(path: Path) -> str:
    """What ``open_video`` will write to ``path``."""
    if path.suffix.lower() == ".mp4" and h264_available():
        return "H.264 (libx264 via PyAV)"
    fourcc = OPENCV_CODECS[path.suffix.lower()]
    return f"{fourcc} (OpenCV{'; pip install av for H.264' if fourcc == 'mp4v' else ''})"


def check_video_path(path: Path) -> None:
    """A clear error for a suffix no writer takes or a folder that is not there."""
    if path.suffix.lower() not in OPENCV_CODECS:
        raise EdgeError(f"cannot write video {path}: use one of {', '.join(OPENCV_CODECS)}")
    if not path.parent.exists():
        raise EdgeError(f"folder for {path} does not exist")


def open_video(path: Path, fps: float, size: tuple[int, int]):
    """A writer (``write(image)``, ``close()``, ``codec``) for BGR frames of ``size`` (w, h)."""
    check_video_path(path)
    if path.suffix.lower() == ".mp4" and h264_available():
        return _PyAVWriter(path, fps, size)
    return _OpenCVWriter(path, fps, size)
