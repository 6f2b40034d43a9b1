"""``--stats``: the live figures (fps, stage times, frame age) as a line on stderr once a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink


class StatsPrinter(Sink):
    """Prints ``stats.line()`` at most every ``every`` seconds."""

    annotated = False

    def __init__(self, stats: LiveStats, stream: TextIO | None = None, every: float = 1.0) -> None:
        self.stats = stats
        self.stream = stream or sys.stderr
        self.every = every
        self._last = 0.0

    def write(self, item: object, image: object = None) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            print(f"[stats] {self.stats.line()}", file=self.stream, flush=True)
