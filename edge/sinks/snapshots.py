"""``--snapshots DIR``: a JPEG of a track's best frame, with its box, for each ``new`` and ``update``
event that names one (``snapshot`` in the event is the file's name in DIR).

The frame is copied in the inference thread before anything is drawn on it; the JPEG is encoded and
written here, in the outputs thread. A write that fails (a full disk) ends the run with its error.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink
from edge.sinks.files import make_folder, write_image
from edge.sinks.render import REGION_COLOR, put_text

JPEG_QUALITY = 90


class SnapshotSink(Sink):
    """Writes the snapshots items carry."""

    annotated = False

    def __init__(self, folder: Path, stats: LiveStats | None = None) -> None:
        self.folder = make_folder(Path(folder))
        self.stats = stats
        self.written = 0

    def write(self, item, image: object = None) -> None:
        for snap in item.snapshots:
            img = snap.image
            x0, y0, x1, y1 = (round(v) for v in snap.box)
            cv2.rectangle(img, (x0, y0), (x1, y1), REGION_COLOR, 2)
            put_text(img, snap.label, (max(x0, 0), max(y0, 20)), 0.6, REGION_COLOR)
            write_image(self.folder / snap.name, img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            self.written += 1
            if self.stats is not None:
                self.stats.count_output("snapshots")

    def report(self) -> str:
        return f"snapshots: {self.written} in {self.folder}"
