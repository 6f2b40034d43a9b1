"""Sources read through OpenCV's VideoCapture: video files, cameras, network streams, GStreamer.

A network stream that drops is reopened with exponential backoff and the run goes on when it comes
back; a camera that stops delivering frames is an error that says so; a file ends at its end.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import cv2

from edge.errors import EdgeError
from edge.sources.base import Frame, Pacer, Source
from edge.util.opencv import has_gstreamer

if not os.environ.get("EDGESIGHT_VERBOSE"):  # OpenCV's and FFmpeg's lines would come before our one
    _logging = getattr(cv2.utils, "logging", None)  # OpenCV 5; 4.x has cv2.setLogLevel (0 = silent)
    if _logging is not None:
        _logging.setLogLevel(_logging.LOG_LEVEL_SILENT)
    elif hasattr(cv2, "setLogLevel"):
        cv2.setLogLevel(0)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET, read when FFmpeg first opens

TIMEOUT_MS = 5000  # opening or reading a network stream gives up after this long
BACKOFF = (0.25, 8.0)  # first and longest wait between reopening attempts, seconds


def _stream_params() -> list[int]:
    params = []
    for name in ("CAP_PROP_OPEN_TIMEOUT_MSEC", "CAP_PROP_READ_TIMEOUT_MSEC"):
        if hasattr(cv2, name):
            params += [getattr(cv2, name), TIMEOUT_MS]
    return params


class _Capture(Source):
    """A VideoCapture whose reads and release never overlap (a read may block on a device)."""

    capture: cv2.VideoCapture | None = None

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def _read(self):
        with self._lock:
            if self.capture is None:
                return False, None
            return self.capture.read()

    def close(self) -> None:
        # A read blocked on a device must not meet a release: give up the release instead (the
        # process is ending anyway).
        if self._lock.acquire(timeout=1.0):
            try:
                if self.capture is not None:
                    self.capture.release()
                    self.capture = None
            finally:
                self._lock.release()


class VideoSource(_Capture):
    """A video file, a camera index or a GStreamer pipeline; ``realtime`` paces a file at its fps."""

    def __init__(
        self,
        target: str | int,
        live: bool = False,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
        realtime: bool = False,
        api: int = cv2.CAP_ANY,
    ) -> None:
        super().__init__()
        self.target = target
        self.live = live or realtime
        self.realtime = realtime
        self.capture = cv2.VideoCapture(target, api)
        if not self.capture.isOpened():
            what = f"camera {target}" if isinstance(target, int) else f"video {target}"
            raise EdgeError(f"cannot open {what}: check the path or device, and that OpenCV can decode it")
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, width), (cv2.CAP_PROP_FRAME_HEIGHT, height)):
            if value:
                self.capture.set(prop, value)
        if fps and not realtime:
            self.capture.set(cv2.CAP_PROP_FPS, fps)
        file_fps = self.capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps or (file_fps if file_fps and file_fps > 0 else 30.0)

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        pacer = Pacer(self.fps if self.realtime else None, self.stopping)
        while not self.stopping.is_set():
            ok, image = self._read()
            if not ok or image is None:
                if isinstance(self.target, int) and index > 0 and not self.stopping.is_set():
                    raise EdgeError(f"camera {self.target} stopped delivering frames (unplugged or in use?)")
                return
            if not pacer.wait(index):
                return
            yield Frame(image, index, time.monotonic(), name=f"{self.target}:{index}")
            index += 1


class StreamSource(_Capture):
    """An RTSP / HTTP / MJPEG stream, reopened with backoff whenever it drops."""

    live = True

    def __init__(self, url: str, backoff: tuple[float, float] = BACKOFF) -> None:
        super().__init__()
        self.url = url
        self.backoff = backoff
        self.capture = self._open()
        if self.capture is None:
            raise EdgeError(f"cannot open stream {url}: check the address and that the server is up")

    def _open(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, _stream_params())
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _reopen(self) -> bool:
        """Release, then try again with growing waits until it opens or the source is stopped."""
        with self._lock:
            if self.capture is not None:
                self.capture.release()
                self.capture = None
        wait = self.backoff[0]
        while not self.stopping.wait(wait):
            capture = self._open()
            if capture is not None:
                with self._lock:
                    self.capture = capture
                self.reconnects += 1
                return True
            wait = min(wait * 2, self.backoff[1])
        return False

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while not self.stopping.is_set():
            ok, image = self._read()
            if ok and image is not None:
                yield Frame(image, index, time.monotonic(), name=f"{self.url}:{index}")
                index += 1
            elif not self._reopen():
                return


def gstreamer_source(pipeline: str) -> VideoSource:
    """A GStreamer pipeline ending in appsink, when this OpenCV can run one."""
    if not has_gstreamer():
        raise EdgeError(
            "this OpenCV build has no GStreamer support (the PyPI wheels do not): use a camera index, "
            "a stream URL or picamera, or an OpenCV built with GStreamer (Debian: python3-opencv)"
        )
    return VideoSource(pipeline, live=True, api=cv2.CAP_GSTREAMER)
