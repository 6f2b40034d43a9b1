"""Tracking in a run: the tracker and the watcher of lines and zones, stepped once per frame in the
inference thread (well under a millisecond: tools/track_overhead.py), so every output sees the same
ids, events and counts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError
from edge.track.bytetrack import ByteTracker, TrackerConfig
from edge.track.events import Event, Watcher
from edge.track.regions import Region


@dataclass(frozen=True)
class Snapshot:
    """A frame to write as ``name`` in ``--snapshots``: a copy taken before anything is drawn on it, with
    the box of the track it shows."""

    name: str
    image: np.ndarray
    box: tuple[float, float, float, float]
    label: str


class Tracking:
    """``--track`` (with ``--line``, ``--zone`` and ``--snapshots``) for one run."""

    def __init__(self, regions: tuple[Region, ...] = (), snapshots: bool = False,
                 config: TrackerConfig | None = None) -> None:  # fmt: skip
        self.tracker = ByteTracker(config)
        self.watcher = Watcher(regions, snapshots=snapshots)
        self.regions = regions
        self.last_timestamp = 0.0

    @property
    def low(self) -> float:
        """The least score the detector must report: ByteTrack's second matching uses those too."""
        return self.tracker.config.low

    def step(self, frame, result) -> tuple[object, tuple[Event, ...], tuple[Snapshot, ...]]:
        """One frame: the result with track ids (tracked objects only), its events and snapshots."""
        if not hasattr(result, "select"):
            raise EdgeError(f"--track needs boxes to follow: this model's results are {result.task}")
        update = self.tracker.update(result)
        size = (frame.image.shape[1], frame.image.shape[0])
        events = self.watcher.observe(update.result, update.ended, frame.index, frame.timestamp, size)
        self.last_timestamp = frame.timestamp
        snaps = tuple(
            Snapshot(e.snapshot, frame.image.copy(), e.box, f"#{e.track} {e.label or e.class_id}")
            for e in events
            if e.snapshot is not None and e.type in ("new", "update")
        )
        return update.result, tuple(events), snaps

    def finish(self) -> tuple[Event, ...]:
        """``end`` for every track still live: the run is over."""
        self.tracker.finish()
        return tuple(self.watcher.finish(self.last_timestamp))

    def counts(self) -> dict:
        """Counts so far, JSON-ready (copied: the inference thread keeps counting)."""
        tally = self.watcher.tally
        return {
            "tracks": tally.tracks,
            "lines": {k: dict(v) for k, v in tally.lines.items()},
            "zones": {k: dict(v) for k, v in tally.zones.items()},
        }

    def lines(self) -> list[str]:
        """The summary's lines about tracking."""
        c = self.counts()
        out = [f"tracks: {c['tracks']}"]
        out += [f"line {k}: in {v['in']}, out {v['out']}" for k, v in c["lines"].items()]
        out += [
            f"zone {k}: {v['entered']} entered, {v['exited']} exited, at most {v['peak']} inside at once"
            for k, v in c["zones"].items()
        ]
        return out

    def overlay(self) -> list[tuple[str, str, np.ndarray]]:
        """(kind, name, points in frame pixels) of every line and zone, once the frame size is known."""
        pixels = self.watcher.pixels
        return [(r.kind, r.name, pixels[r.name]) for r in self.regions if r.name in pixels]
