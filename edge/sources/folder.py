"""Images of a folder or a glob pattern, in name order. Files that are not images (corrupt, another
format, gone) are skipped and counted; a file this process may not read ends the run with an error,
since it is a setup to fix (a service running as another user), not one bad file."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from pathlib import Path

from edge.errors import EdgeError
from edge.sources.base import Frame, Source
from edge.sources.images import IMAGE_EXTENSIONS, UnreadableImage, images_in, is_image, read_image


class FolderSource(Source):
    """Images of a folder (sorted) or of a glob pattern; unreadable files are skipped and counted."""

    def __init__(self, pattern: str) -> None:
        super().__init__()
        path = Path(pattern)
        if path.is_dir():
            files = images_in(path)
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
            except UnreadableImage:
                self.skipped += 1
                continue
            yield Frame(image, index, time.monotonic(), name=str(path))
            index += 1
