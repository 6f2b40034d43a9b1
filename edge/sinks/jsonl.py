"""JSON Lines output: one complete object per line, flushed line by line (``-`` is stdout)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from edge.errors import EdgeError
from edge.results import record


class JsonlSink:
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

    def write(self, item, image: object = None) -> None:
        frame = item.frame
        self.write_object(
            record(item.result, image=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
        )

    def write_object(self, obj: dict) -> None:
        try:
            self._file.write(json.dumps(obj, separators=(", ", ": ")) + "\n")
            self._file.flush()
        except OSError as exc:
            raise EdgeError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.lines += 1

    def close(self) -> None:
        if self._file is not None and self._own:
            self._file.close()
        self._file = None

    def __enter__(self) -> JsonlSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
