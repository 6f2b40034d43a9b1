"""JSON Lines output: one complete object per line, flushed line by line (``-`` is stdout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from edge.errors import EdgeError
from edge.results import record
from edge.sinks.base import Sink


class JsonlSink(Sink):
    """One JSON object per frame; every line is whole even if the run is interrupted.

    A failed write (a full disk) is an ``EdgeError``: the lines before it stay whole.
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

    def write(self, item, image: object = None) -> None:
        frame = item.frame
        obj = record(item.result, image=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
        try:
            self._file.write(json.dumps(obj, separators=(", ", ": ")) + "\n")
            self._file.flush()
        except OSError as exc:
            self.failed = True
            raise EdgeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.lines += 1

    def close(self) -> None:
        file, self._file = self._file, None
        if file is None or not self._own:
            return
        try:
            file.close()  # closes the file even when its last flush fails
        except OSError as exc:
            if not self.failed:  # a failed write has already said so
                raise EdgeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
