"""``--max-fps``: the pipeline's pace, kept by waiting before a frame is taken."""

from __future__ import annotations

import time


class Pace:
    """``--max-fps``: waits *before* a frame is taken, so the frame taken is the newest."""

    def __init__(self, max_fps: float | None) -> None:
        self.interval = 1.0 / max_fps if max_fps else 0.0
        self.next_start = time.monotonic()

    def wait(self) -> None:
        if self.interval:
            delay = self.next_start - time.monotonic()
            if delay > 0:
                time.sleep(delay)

    def took(self) -> None:
        if self.interval:
            self.next_start = max(self.next_start + self.interval, time.monotonic() - self.interval)
