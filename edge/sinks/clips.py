"""``--clips DIR``: a video around each event, from ``pre`` seconds before it to ``post`` seconds after
the last event that follows it (events close together share one clip).

The outputs thread keeps the last ``pre`` seconds of annotated frames (references, not copies: about
90 frames at 30 fps) and hands a clip's frames to an encoder thread through a bounded queue, so a
slow encoder never holds the pipeline up: when the queue is full, the frame is left out of the clip and
counted (``clip_frames_dropped``). Files are H.264 MP4 with PyAV, else mp4v (``edge.sinks.encode``),
named ``clip-<frame>-<event>-track<id>.mp4``. An encoder error (a full disk) ends the run.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink
from edge.sinks.encode import open_video
from edge.sinks.files import make_folder
from edge.sinks.video import check_free_space

QUEUE_FRAMES = 60  # frames waiting for the encoder before new ones are dropped
_CLOSE = object()


class ClipSink(Sink):
    """Writes event clips with a pre-roll."""

    annotated = True

    def __init__(
        self, folder: Path, pre: float = 3.0, post: float = 3.0, stats: LiveStats | None = None
    ) -> None:
        if pre < 0 or post < 0:
            raise EdgeError("--pre-roll and --post-roll must not be negative")
        self.folder = make_folder(Path(folder))
        self.pre, self.post, self.stats = pre, post, stats
        self._buffer: deque[tuple[float, np.ndarray]] = deque()
        self._until: float | None = None  # the open clip ends after this time
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_FRAMES)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._encode, name="clips", daemon=True)
        self._thread.start()
        self.written: list[Path] = []
        self.codec: str | None = None

    def write(self, item, image: np.ndarray) -> None:
        if self._error is not None:
            raise self._error
        now = item.frame.timestamp
        if item.events:
            if self._until is None:
                first = item.events[0]
                name = f"clip-{item.frame.index:06d}-{first.type}-track{first.track}.mp4"
                self._put((self.folder / name, _fps(self._buffer)), block=True)
                for _, old in self._buffer:  # the pre-roll
                    self._put(old)
                self._buffer.clear()
            self._until = now + self.post
        if self._until is not None:
            self._put(image)
            if now >= self._until:
                self._until = None
                self._put(_CLOSE, block=True)
        else:
            self._buffer.append((now, image))
            while self._buffer and self._buffer[0][0] < now - self.pre:
                self._buffer.popleft()

    def _put(self, entry: object, block: bool = False) -> None:
        try:
            self._queue.put(entry, block=block, timeout=5.0 if block else None)
        except queue.Full:
            if self.stats is not None:
                self.stats.count_output("clip_frames_dropped")

    def _encode(self) -> None:
        writer = path = None
        fps = 30.0
        try:
            while True:
                entry = self._queue.get()
                if entry is None:
                    return
                if isinstance(entry, tuple):
                    path, fps = entry
                elif entry is _CLOSE:
                    if writer is not None:
                        writer.close()
                        self.written.append(path)
                        if self.stats is not None:
                            self.stats.count_output("clips")
                    writer = None
                else:
                    if writer is None:
                        writer = open_video(path, fps, (entry.shape[1], entry.shape[0]))
                        self.codec = writer.codec
                    writer.write(entry)
                    check_free_space(path)
        except BaseException as exc:  # handed to the outputs thread, which ends the run
            self._error = exc if isinstance(exc, EdgeError) else EdgeError(f"cannot write {path}: {exc}")
            if writer is not None:
                with contextlib.suppress(Exception):  # the first error is the one to report
                    writer.close()

    def report(self) -> str:
        codec = f", {self.codec}" if self.codec else ""
        return f"clips: {len(self.written)} in {self.folder}{codec}"

    def close(self) -> None:
        if self._thread.is_alive() and self._error is None:
            if self._until is not None:
                self._put(_CLOSE, block=True)
            self._put(None, block=True)
            self._thread.join(timeout=30.0)
        if self._error is not None:
            raise self._error


def _fps(buffer: deque) -> float:
    """The frame rate the buffered frames came at (30 when there are too few to tell)."""
    if len(buffer) < 2 or buffer[-1][0] <= buffer[0][0]:
        return 30.0
    return min(max((len(buffer) - 1) / (buffer[-1][0] - buffer[0][0]), 1.0), 120.0)
