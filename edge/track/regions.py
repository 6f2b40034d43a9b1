"""Counting lines and zones: their flags, and the geometry that decides a crossing and a presence.

``--line NAME=x1,y1,x2,y2[:label,label]`` and ``--zone NAME=x,y,x,y,x,y,...[:label,...]``. Points are
frame pixels, or fractions of the frame when every value is within 0..1. Labels, when given, limit what
the line or zone counts. An object's position is the bottom centre of its box: where it stands.

A crossing counts only when the object's path passes between the line's two ends, and only once the
object is clearly on the other side: a dead band of ``LINE_BAND`` of the frame's diagonal on either
side absorbs the jitter of boxes on the line. ``in`` is the move to the left of the line seen from its
first point towards its second: for a line drawn left to right, moving down the image is ``in``; swap
the points to swap the directions. Zones have the same kind of band at their edge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError

LINE_BAND = 0.015  # of the frame's diagonal, each side of a line
ZONE_BAND = 0.005  # of the frame's diagonal, each side of a zone's edge
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


@dataclass(frozen=True)
class Region:
    """A line (2 points) or a zone (3 or more) as given: ``points`` in pixels or fractions."""

    kind: str  # "line" or "zone"
    name: str
    points: tuple[tuple[float, float], ...]
    labels: tuple[str, ...] = ()  # empty: every label counts
    fractions: bool = False

    def pixels(self, width: int, height: int) -> np.ndarray:
        """The points in frame pixels, (K, 2) float64."""
        pts = np.array(self.points, dtype=np.float64)
        return pts * [width, height] if self.fractions else pts

    def counts(self, label: str | None) -> bool:
        return not self.labels or label in self.labels


def parse_region(text: str, kind: str) -> Region:
    """``NAME=x,y,...[:label,...]`` -> a ``Region``; a clear error for anything else."""
    flag = f"--{kind}"
    example = "door=0.5,0,0.5,1:person" if kind == "line" else "drive=0,0.5,1,0.5,1,1,0,1:car"
    name, sep, rest = text.partition("=")
    if not sep or not _NAME.match(name):
        raise EdgeError(f"{flag} expects NAME=x,y,... (a name of letters, digits, _ or -), e.g. {example}")
    coords, _, labels = rest.partition(":")
    try:
        values = [float(v) for v in coords.split(",")]
    except ValueError:
        raise EdgeError(f"{flag} {name}: the points must be numbers, got {coords!r}") from None
    count = len(values) // 2
    if len(values) % 2 or (kind == "line" and count != 2) or (kind == "zone" and count < 3):
        want = "4 numbers (x1,y1,x2,y2)" if kind == "line" else "at least 3 points (6 numbers)"
        raise EdgeError(f"{flag} {name}: expected {want}, got {len(values)} numbers")
    if any(v < 0 for v in values):
        raise EdgeError(f"{flag} {name}: points must not be negative")
    points = tuple((values[2 * i], values[2 * i + 1]) for i in range(count))
    if kind == "line" and points[0] == points[1]:
        raise EdgeError(f"{flag} {name}: the two ends are the same point")
    names = tuple(lb.strip() for lb in labels.split(",") if lb.strip()) if labels else ()
    return Region(kind, name, points, names, fractions=all(v <= 1.0 for v in values))


def parse_regions(lines: list[str] | None, zones: list[str] | None) -> tuple[Region, ...]:
    """Every ``--line`` and ``--zone``; names must be unique."""
    regions = [parse_region(t, "line") for t in lines or ()] + [parse_region(t, "zone") for t in zones or ()]
    names = [r.name for r in regions]
    for name in names:
        if names.count(name) > 1:
            raise EdgeError(f"the name {name!r} is given to two lines or zones: names must be unique")
    return tuple(regions)


def anchor_points(xyxy: np.ndarray) -> np.ndarray:
    """Bottom centres (N, 2) of boxes (N, 4): where each object stands."""
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    return np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1)


def side_of(a: np.ndarray, b: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Signed distance of points ``p`` (N, 2) from the infinite line a->b: positive on its ``in`` side."""
    d = b - a
    cross = d[0] * (p[..., 1] - a[1]) - d[1] * (p[..., 0] - a[0])
    return cross / np.hypot(d[0], d[1])


def passes_between(a: np.ndarray, b: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> bool:
    """Does the move p0 -> p1, which changes side, cross the line between its ends a and b?"""
    s0, s1 = float(side_of(a, b, p0)), float(side_of(a, b, p1))
    if s0 == s1:
        return False
    x = p0 + (p1 - p0) * (s0 / (s0 - s1))  # where the move meets the line
    d = b - a
    t = float(np.dot(x - a, d) / np.dot(d, d))
    return 0.0 <= t <= 1.0


def zone_distances(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Signed distances (N,) of ``points`` (N, 2) from a polygon's edge: positive inside, negative
    outside (the even-odd rule)."""
    a = polygon[None, :, :]
    ab = (np.roll(polygon, -1, axis=0) - polygon)[None, :, :]
    ap = points[:, None, :] - a  # (N, E, 2)
    t = np.clip((ap * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12), 0.0, 1.0)
    off = ap - ab * t[..., None]
    dist = np.sqrt((off * off).sum(-1).min(axis=1))
    y0, dy = a[..., 1], ab[..., 1]
    straddles = (y0 > points[:, None, 1]) != (y0 + dy > points[:, None, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = a[..., 0] + (points[:, None, 1] - y0) * ab[..., 0] / dy
    inside = np.count_nonzero(straddles & (x_at > points[:, None, 0]), axis=1) % 2 == 1
    return np.where(inside, dist, -dist)
