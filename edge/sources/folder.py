"""Images of a folder or a glob pattern, in name order; unreadable files are skipped and counted."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from pathlib import Path

from edge.errors import EdgeError
from edge.imagefolder import IMAGE_EXTENSIONS, is_image, read_image
from edge.sources.base import Frame, Source


class FolderSource(Source):
    """Images of a folder (sorted) or of a glob pattern; unreadable files are skipped and counted."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        path = Path(pattern)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if is_image(p))
        else:
            files = sorted(p for p in map(Path, glob.glob(pattern)) if is_image(p))
        if not files:
            exts = ", ".join(sorted(IMAGE_EXTENSIONS))
            raise EdgeError(f"no images ({exts}) found at {pattern}")
        self.files = files
        self.skipped = 0

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        for path in self.files:
            if self.stopping.is_set():
                return
            try:
                image = read_image(path)
            except EdgeError:
                self.skipped += 1
                continue
            yield Frame(image, index, time.monotonic(), name=str(path))
            index += 1
