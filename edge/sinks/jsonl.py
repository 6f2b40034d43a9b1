"""JSON Lines output: one complete object per line, flushed line by line (``-`` is stdout).

With tracking, a frame's line has its ``events``, and the run's last events (every track ends) come on
a line of their own after the last frame: ``{"events": [...]}``."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import TextIO

from edge.errors import EdgeError
from edge.sinks.base import Sink
from edge.tasks.results import record


class JsonlSink(Sink):
    """One JSON object per frame; every line is whole even if the run is interrupted.

    A failed write (a full disk) is an ``EdgeError``; the file is cut back to its last whole line, so
    the lines before it stay whole and no half line is left behind.
    """

    annotated = False

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._own = self.path != "-"
        try:
            self._file: TextIO | None = open(self.path, "w", encoding="utf-8") if self._own else sys.stdout  # noqa: SIM115
        except OSError as exc:
            raise EdgeError(f"cannot write {self.path}: {exc.strerror}") from exc
        self.lines = 0
        self.failed = False
        self._whole = 0  # bytes of whole lines written

    def write(self, item, image: object = None) -> None:
        frame = item.frame
        obj = record(item.result, image=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
        if item.events:
            obj["events"] = [e.to_dict() for e in item.events]
        self._line(obj)

    def finish(self, events: tuple) -> None:
        """The run's last events, on a line of their own: ``{"events": [...]}``."""
        if events:
            self._line({"events": [e.to_dict() for e in events]})

    def _line(self, obj: dict) -> None:
        line = json.dumps(obj, separators=(", ", ": ")) + "\n"
        try:
            self._file.write(line)
            self._file.flush()
        except OSError as exc:
            self.failed = True
            self._cut_back()
            raise EdgeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.lines += 1
        self._whole += len(line.encode("utf-8"))

    def _cut_back(self) -> None:
        """Drop a half-written last line (truncating frees space, so it works on a full disk)."""
        if not self._own:
            return
        with contextlib.suppress(OSError):
            os.truncate(self.path, self._whole)

    def close(self) -> None:
        file, self._file = self._file, None
        if file is None or not self._own:
            return
        try:
            file.close()  # closes the file even when its last flush fails
        except OSError as exc:
            if not self.failed:  # a failed write has already said so
                raise EdgeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
