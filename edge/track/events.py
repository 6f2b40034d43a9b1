"""Events from tracks, lines and zones: what a home automation system subscribes to.

Per track: ``new`` (confirmed), ``update`` (a better snapshot, or its zones changed) and ``end`` (lost
for good, or the run ended). Per line: ``cross`` with a direction. Per zone: ``enter`` and ``exit``
(with the dwell time). Counts: crossings in and out per line, occupancy, entries and exits per zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edge.track.regions import (
    LINE_BAND,
    ZONE_BAND,
    Region,
    anchor_points,
    passes_between,
    side_of,
    zone_distances,
)

BETTER = 0.05  # a snapshot is replaced when the score beats the best by this much ...
SNAPSHOT_GAP = 1.0  # ... and this many seconds have passed since the last one


@dataclass(frozen=True)
class Event:
    """One event; ``to_dict`` is its JSON (JSONL, MQTT)."""

    type: str  # new, update, end, enter, exit, cross
    track: int
    label: str | None
    class_id: int
    timestamp: float
    index: int  # the frame
    box: tuple[float, float, float, float]
    score: float
    zone: str | None = None  # enter, exit
    line: str | None = None  # cross
    direction: str | None = None  # cross: in or out
    dwell: float | None = None  # exit: seconds in the zone
    duration: float | None = None  # end: seconds tracked
    zones: tuple[str, ...] = ()  # the zones the track is in
    snapshot: str | None = None  # file name in --snapshots, when there is one
    reason: str | None = None  # update: snapshot or zones; end: lost or stopped

    def to_dict(self) -> dict:
        out = {
            "type": self.type, "track": self.track, "label": self.label, "class_id": self.class_id,
            "timestamp": round(self.timestamp, 6), "index": self.index,
            "box": [round(float(v), 1) for v in self.box], "score": round(float(self.score), 4),
            "zones": list(self.zones),
        }  # fmt: skip
        for key in ("zone", "line", "direction", "dwell", "duration", "snapshot", "reason"):
            value = getattr(self, key)
            if value is not None:
                out[key] = round(value, 3) if isinstance(value, float) else value
        return out


@dataclass
class _Track:
    id: int
    label: str | None
    class_id: int
    first: float
    last: float
    index: int
    box: tuple
    score: float
    best: float
    snapshot: str | None = None
    snapshot_time: float = -1e9
    zones: dict[str, float] = field(default_factory=dict)  # zone -> time entered
    sides: dict[str, tuple[int, np.ndarray]] = field(default_factory=dict)  # line -> (side, where settled)


@dataclass
class Tally:
    """Counts so far: per line ``in`` and ``out``; per zone occupancy (now and at most), entries and
    exits; tracks."""

    lines: dict[str, dict[str, int]]
    zones: dict[str, dict[str, int]]
    tracks: int = 0

    def to_dict(self) -> dict:
        return {"tracks": self.tracks, "lines": self.lines, "zones": self.zones}


class Watcher:
    """Turns each frame's tracked objects into events and counts."""

    def __init__(self, regions: tuple[Region, ...] = (), snapshots: bool = False) -> None:
        self.lines = [r for r in regions if r.kind == "line"]
        self.zones = [r for r in regions if r.kind == "zone"]
        self.snapshots = snapshots
        self.tracks: dict[int, _Track] = {}
        zone_counts = {"occupancy": 0, "peak": 0, "entered": 0, "exited": 0}
        self.tally = Tally({r.name: {"in": 0, "out": 0} for r in self.lines},
                           {r.name: dict(zone_counts) for r in self.zones})  # fmt: skip
        self._size: tuple[int, int] | None = None
        self._pixels: dict[str, np.ndarray] = {}
        self._band = (0.0, 0.0)

    @property
    def pixels(self) -> dict[str, np.ndarray]:
        """Every line's and zone's points in frame pixels (empty before the first frame)."""
        return self._pixels

    def _resolve(self, width: int, height: int) -> None:
        if self._size != (width, height):
            self._size = (width, height)
            self._pixels = {r.name: r.pixels(width, height) for r in self.lines + self.zones}
            diagonal = float(np.hypot(width, height))
            self._band = (max(2.0, LINE_BAND * diagonal), max(1.0, ZONE_BAND * diagonal))

    def observe(self, result, ended: tuple[int, ...], index: int, timestamp: float,
                size: tuple[int, int]) -> list[Event]:  # fmt: skip
        """Events of one frame: ``result`` holds the tracked objects (with ``track_ids``), ``ended``
        the tracks that ended on it, ``size`` the frame's (width, height)."""
        self._resolve(*size)
        events: list[Event] = []
        points = anchor_points(result.xyxy)
        # one vectorised pass per line and zone for every object; the loop below reads plain floats
        sides = [side_of(*self._pixels[r.name], points).tolist() for r in self.lines]
        inside = [zone_distances(self._pixels[r.name], points).tolist() for r in self.zones]
        rows = zip(result.track_ids.tolist(), result.xyxy.tolist(), result.scores.tolist(), result.labels,
                   result.class_ids.tolist())  # fmt: skip
        for i, (tid, box, score, label, cid) in enumerate(rows):
            track = self.tracks.get(tid)
            if track is None:
                track = _Track(tid, label, cid, timestamp, timestamp, index, tuple(box), score, score)
                self.tracks[tid] = track
                self.tally.tracks += 1
                events.append(self._event("new", track, snapshot=self._snap(track, timestamp, index)))
            track.last, track.index, track.box, track.score = timestamp, index, tuple(box), score
            if sides:
                events += self._crossings(track, points[i], [d[i] for d in sides])
            moved = self._zones(track, [d[i] for d in inside], timestamp) if inside else []
            events += moved
            if score >= track.best + BETTER and timestamp - track.snapshot_time >= SNAPSHOT_GAP:
                track.best = score
                events.append(self._event("update", track, snapshot=self._snap(track, timestamp, index),
                                          reason="snapshot"))  # fmt: skip
            elif moved:
                events.append(self._event("update", track, reason="zones"))
        for tid in ended:
            events += self._end(tid, timestamp, "lost")
        return events

    def finish(self, timestamp: float) -> list[Event]:
        """``end`` (and ``exit``) for every track still live: the run is over."""
        events: list[Event] = []
        for tid in list(self.tracks):
            events += self._end(tid, timestamp, "stopped")
        return events

    def _snap(self, track: _Track, timestamp: float, index: int) -> str | None:
        if not self.snapshots:
            return None
        track.snapshot, track.snapshot_time = f"track{track.id}-{index}.jpg", timestamp
        return track.snapshot

    def _event(self, kind: str, track: _Track, **extra) -> Event:
        return Event(kind, track.id, track.label, track.class_id, track.last, track.index, track.box,
                     track.score, zones=tuple(track.zones), **extra)  # fmt: skip

    def _crossings(self, track: _Track, point: np.ndarray, distances: list[float]) -> list[Event]:
        events = []
        band = self._band[0]
        for line, distance in zip(self.lines, distances):
            if -band < distance < band or not line.counts(track.label):
                continue  # on the line: wait until it is clearly on one side
            side = 1 if distance > 0 else -1
            before = track.sides.get(line.name)
            track.sides[line.name] = (side, point)
            if before is not None and before[0] != side:
                a, b = self._pixels[line.name]
                if passes_between(a, b, before[1], point):
                    direction = "in" if side > 0 else "out"
                    self.tally.lines[line.name][direction] += 1
                    events.append(self._event("cross", track, line=line.name, direction=direction))
        return events

    def _zones(self, track: _Track, distances: list[float], timestamp: float) -> list[Event]:
        events = []
        for zone, distance in zip(self.zones, distances):
            if not zone.counts(track.label):
                continue
            counts = self.tally.zones[zone.name]
            if zone.name not in track.zones and distance >= self._band[1]:
                track.zones[zone.name] = timestamp
                counts["entered"] += 1
                counts["occupancy"] += 1
                counts["peak"] = max(counts["peak"], counts["occupancy"])
                events.append(self._event("enter", track, zone=zone.name))
            elif zone.name in track.zones and distance <= -self._band[1]:
                events.append(self._exit(track, zone.name, timestamp))
        return events

    def _exit(self, track: _Track, zone: str, timestamp: float) -> Event:
        entered = track.zones.pop(zone)
        counts = self.tally.zones[zone]
        counts["exited"] += 1
        counts["occupancy"] -= 1
        return self._event("exit", track, zone=zone, dwell=timestamp - entered)

    def _end(self, tid: int, timestamp: float, reason: str) -> list[Event]:
        track = self.tracks.pop(tid, None)
        if track is None:
            return []
        events = [self._exit(track, zone, track.last) for zone in list(track.zones)]
        events.append(self._event("end", track, duration=track.last - track.first, snapshot=track.snapshot,
                                  reason=reason))  # fmt: skip
        return events

    def dwell(self, timestamp: float) -> dict[str, list[float]]:
        """Seconds each present object has been in each zone."""
        out: dict[str, list[float]] = {z.name: [] for z in self.zones}
        for track in self.tracks.values():
            for zone, entered in track.zones.items():
                out[zone].append(timestamp - entered)
        return out
