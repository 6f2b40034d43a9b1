"""Frame sources behind one interface: ``open_source(spec)`` gives a context manager of ``Frame``.

``synthetic`` (``synthetic:objects``: several objects to detect; ``synthetic:tracks``: objects on
known paths, for tracking), a camera index (``0``), ``picamera``,
a video file, an image folder or glob, an RTSP / HTTP / MJPEG URL, or a GStreamer pipeline
(``... ! appsink``).
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import EdgeError
from edge.sources.base import Frame, Source
from edge.sources.capture import StreamSource, VideoSource, gstreamer_source
from edge.sources.folder import FolderSource
from edge.sources.images import IMAGE_EXTENSIONS
from edge.sources.synthetic import SyntheticSource

STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def open_source(
    spec: str,
    *,
    frames: int | None = None,
    seed: int = 0,
    realtime: bool = False,
    width: int | None = None,
    height: int | None = None,
    fps: float | None = None,
) -> Source:
    """Open the source ``spec`` names; ``width``, ``height`` and ``fps`` apply where the source
    supports them (cameras, the synthetic source); ``realtime`` paces files and the synthetic source."""
    if spec == "synthetic":
        return SyntheticSource(
            frames=frames or 300,
            seed=seed,
            realtime=realtime,
            width=width or 640,
            height=height or 480,
            fps=fps or 30.0,
        )
    if spec == "synthetic:objects":
        from edge.sources.scene import SceneSource

        return SceneSource(
            frames=frames or 300, seed=seed, realtime=realtime, width=width or 640, height=height or 480,
            fps=fps or 30.0,
        )  # fmt: skip
    if spec == "synthetic:tracks":
        from edge.sources.paths import PathsSource

        return PathsSource(
            frames=frames or 600, seed=seed, realtime=realtime, width=width or 640, height=height or 480,
            fps=fps or 30.0,
        )  # fmt: skip
    if spec == "picamera":
        from edge.sources.picamera import PicameraSource

        return PicameraSource(width=width or 640, height=height or 480, fps=fps)
    if spec.isdigit():
        return VideoSource(int(spec), live=True, width=width, height=height, fps=fps)
    if spec.lower().startswith(STREAM_SCHEMES):
        return StreamSource(spec)
    if " ! " in spec:
        return gstreamer_source(spec)
    path = Path(spec)
    if path.is_dir() or any(ch in spec for ch in "*?["):
        return FolderSource(spec)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTENSIONS:
            return FolderSource(spec)
        return VideoSource(str(path), realtime=realtime, fps=fps)
    if (path.suffix or path.parent != Path(".")) and not path.exists():  # clip.mp4, videos/clip
        raise EdgeError(f"unknown source {spec!r}: no such file or folder")
    raise EdgeError(
        f"unknown source {spec!r}: expected 'synthetic', 'picamera', a camera index such as 0, "
        "a video file, an image folder or glob, a stream URL or a GStreamer pipeline"
    )


__all__ = ["FolderSource", "Frame", "Source", "StreamSource", "SyntheticSource", "VideoSource", "open_source"]
