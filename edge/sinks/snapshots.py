"""``--snapshots DIR``: a JPEG of a track's best frame, with its box, for each ``new`` and ``update``
event that names one (``snapshot`` in the event is the file's name in DIR).

The frame is copied in the inference thread before anything is drawn on it; the JPEG is encoded and
written here, in the outputs thread. A write that fails (a full disk) ends the run with its error.
"""

from __future__ import annotations

from pathlib import Path

import cv2

from edge.errors import EdgeError
from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink
from edge.sinks.render import REGION_COLOR, put_text

JPEG_QUALITY = 90


class SnapshotSink(Sink):
    """Writes the snapshots items carry."""

    annotated = False

    def __init__(self, folder: Path, stats: LiveStats | None = None) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeError(f"cannot make {self.folder}: {exc.strerror or exc}") from None
        self.stats = stats
        self.written = 0

    def write(self, item, image: object = None) -> None:
        for snap in item.snapshots:
            img = snap.image
            x0, y0, x1, y1 = (round(v) for v in snap.box)
            cv2.rectangle(img, (x0, y0), (x1, y1), REGION_COLOR, 2)
            put_text(img, snap.label, (max(x0, 0), max(y0, 20)), 0.6, REGION_COLOR)
            ok, data = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            path = self.folder / snap.name
            try:
                if not ok:
                    raise OSError("JPEG encoding failed")
                path.write_bytes(data.tobytes())
            except OSError as exc:
                path.unlink(missing_ok=True)
                raise EdgeError(f"cannot write {path}: {exc.strerror or exc}") from None
            self.written += 1
            if self.stats is not None:
                self.stats.count_output("snapshots")

    def report(self) -> str:
        return f"snapshots: {self.written} in {self.folder}"
