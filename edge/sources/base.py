"""What every source is: a context manager yielding ``Frame`` objects, stoppable from another thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Frame:
    """One frame: BGR uint8 image, index from 0, capture time (``time.monotonic``), optional truth."""

    image: np.ndarray
    index: int
    timestamp: float
    name: str | None = None
    truth: dict | None = field(default=None)


class Pacer:
    """Real-time pacing: frame ``index`` is released at ``start + index / fps`` (no pacing without
    ``fps``). ``wait`` returns False when ``stopping`` is set meanwhile."""

    def __init__(self, fps: float | None, stopping: threading.Event) -> None:
        self.fps = fps
        self.stopping = stopping
        self.start = time.monotonic()

    def wait(self, index: int) -> bool:
        if not self.fps:
            return True
        delay = self.start + index / self.fps - time.monotonic()
        return not (delay > 0 and self.stopping.wait(delay))


class Source:
    """Base: iterate for frames; ``live`` says whether frames come at the world's pace (a camera or
    stream) rather than as fast as they are read (a file). ``skipped`` counts unreadable frames and
    ``reconnects`` the times a stream was reopened."""

    live = False
    skipped = 0
    reconnects = 0

    def __init__(self) -> None:
        self.stopping = threading.Event()

    def stop(self) -> None:
        """Ask a running iteration to end soon (from any thread); waits such as backoff end early."""
        self.stopping.set()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.close()

    def close(self) -> None:
        pass

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError
