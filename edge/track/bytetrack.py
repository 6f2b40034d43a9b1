"""ByteTrack-style multi-object tracking over any result with boxes (``Detections``, ``Poses``).

Per frame (Zhang et al., "ByteTrack", ECCV 2022):
0. a box that overlaps a better-scoring box of another class by ``same_object`` IoU or more is the same
   object under a doubtful class, and is left out: a tracker follows objects, each with one class (a
   detector unsure between two classes puts both boxes on the object, and each would start a track);
1. every track is moved one frame ahead by its Kalman filter;
2. confident detections (score >= ``high``) are matched to the tracked and the lost tracks by IoU;
3. the less confident ones (``low`` <= score < ``high``), which a plain tracker throws away, are
   matched to the tracked tracks still unmatched: an object half hidden keeps its id;
4. tracks seen once are confirmed by a second match, or dropped; confident detections left over
   (score >= ``new``) start tracks;
5. a track unmatched is lost, and ends when it has been lost for ``lost_frames`` frames (ByteTrack's
   30: a second at 30 fps; counted in frames, so a video gives the same tracks however fast it runs).

Ids are given at confirmation, so they count up without gaps. Matching prefers a track's own class:
a box of another class ranks as if its IoU were ``OTHER_CLASS`` lower, so it goes to a track when no
box of its class overlaps the track nearly as well (a detector unsure of an object's class flips
between two from frame to frame, and a strict rule started a new track on every flip); a track is
matched as the class it started with, and each frame's result keeps the class its box had.
Matching is greedy, best first, without SciPy on the device: pairs must reach the IoU threshold, and are
ranked by their IoU plus ``direction`` times the cosine between the track's velocity and the way from
its last position to the box (OC-SORT's direction consistency, Cao et al., CVPR 2023, at its weight
0.2): when two objects pass each other and one hides the other, the box left is given to the track that
moves towards it, not to the one it would have to turn back for.
tests/test_track.py checks it against Roboflow's ByteTrack on the same detections; the README has
what the three additions to ByteTrack (the same object, the class preference, the direction) changed
with the demo's detector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from edge.tasks.results import Detections, Poses
from edge.track import kalman

Tracked = Union[Detections, Poses]


@dataclass(frozen=True)
class TrackerConfig:
    """The tracker's thresholds; the defaults are ByteTrack's (and supervision's)."""

    high: float = 0.25  # detections at or above it are matched first
    low: float = 0.1  # detections between low and high are matched second
    new: float = 0.35  # the least score that starts a track
    match_iou: float = 0.2  # first association
    low_iou: float = 0.5  # second association
    confirm_iou: float = 0.3  # tracks seen once
    lost_frames: int = 30  # a lost track ends after this many frames unseen
    same_object: float = 0.7  # IoU at which two boxes of different classes are one object (1: off)
    direction: float = 0.2  # weight of the direction consistency in the ranking (0: off)

    @classmethod
    def for_threshold(cls, threshold: float) -> TrackerConfig:
        """A detector's score threshold as ByteTrack's first-matching score; tracks start 0.1 above it."""
        return cls(high=threshold, low=min(0.1, threshold), new=threshold + 0.1)


@dataclass(frozen=True)
class TrackUpdate:
    """One frame's tracking: the result with ``track_ids`` (tracked objects only, in the detector's
    order) and the ids of the tracks that ended on this frame."""

    result: Tracked
    ended: tuple[int, ...]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4): (N, M)."""
    ax0, ay0, ax1, ay1 = (c[:, None] for c in np.asarray(a, dtype=np.float64).T)
    bx0, by0, bx1, by1 = np.asarray(b, dtype=np.float64).T
    w = np.minimum(ax1, bx1) - np.maximum(ax0, bx0)
    h = np.minimum(ay1, by1) - np.maximum(ay0, by0)
    inter = np.maximum(w, 0.0) * np.maximum(h, 0.0)
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def greedy_match(iou: np.ndarray, threshold: float, rank: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Pairs (row, column) with IoU >= ``threshold``, best ``rank`` (default: IoU) first, each row and
    column used once."""
    if iou.size == 0:
        return []
    rows, cols = np.nonzero(iou >= threshold)
    if len(rows) == 0:
        return []
    order = np.argsort(-(iou if rank is None else rank)[rows, cols], kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs = []
    for r, c in zip(rows[order].tolist(), cols[order].tolist()):
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


MIN_SPEED = 0.5  # px a frame: slower tracks have no direction to keep
# A pair of another class ranks as if its IoU were this much lower: a track prefers a box of its own
# class, but a box that all but covers it is its object whatever the detector names it. At 2.0 (after
# every pair of one class), a lost star track took the star box on a cross's track (IoU 0.31 against
# 0.89) when the detector named the cross both ways, and the line counted one crossing twice (README).
OTHER_CLASS = 0.5


def same_objects(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, iou: float) -> np.ndarray:
    """``scores`` with 0 for every box that overlaps a better-scoring box of another class by ``iou``
    or more (a box already left out leaves out no other)."""
    if iou >= 1.0 or len(boxes) < 2:
        return scores
    overlap = iou_matrix(boxes, boxes) >= iou
    out = np.array(scores, dtype=np.float64)
    dropped = np.zeros(len(boxes), bool)
    for i in np.argsort(-out, kind="stable").tolist():
        if not dropped[i]:
            dropped |= overlap[i] & (classes != classes[i]) & (out < out[i])
    out[dropped] = 0.0
    return out


class ByteTracker:
    """Tracks boxes across frames; ``update`` once per frame, in order."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.mean = np.zeros((0, 8))
        self.cov = np.zeros((0, 3, 4))  # the filter's variances (kalman.py)
        self.ids = np.zeros(0, np.int64)  # 0 while unconfirmed
        self.classes = np.zeros(0, np.int64)
        self.seen = np.zeros(0, np.int64)  # the frame last matched
        self.lost = np.zeros(0, bool)
        self.next_id = 1
        self.frames = 0

    def __len__(self) -> int:
        return int(np.count_nonzero(self.ids))

    @staticmethod
    def _match(iou: np.ndarray, rank: np.ndarray, tracks: list[int], rows: list[int], threshold: float):
        """Greedy matching of ``tracks`` (indices) to detection ``rows`` on this frame's IoU, ranked by
        ``rank``."""
        if not tracks or not rows:
            return []
        pick = np.ix_(tracks, rows)
        pairs = greedy_match(iou[pick], threshold, rank[pick])
        return [(tracks[t], rows[d]) for t, d in pairs]

    def _direction(self, last: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(tracks, boxes): the cosine between each track's velocity and the way from its position
        ``last`` (before this frame's prediction) to each box's centre; 0 for a track moving under
        ``MIN_SPEED`` px a frame (its direction is noise)."""
        velocity = self.mean[:, 4:6]
        way = (boxes[None, :, :2] + boxes[None, :, 2:]) / 2 - last[:, None, :]
        speed = np.linalg.norm(velocity, axis=1)[:, None]
        length = np.linalg.norm(way, axis=2)
        dot = (way * velocity[:, None, :]).sum(axis=2)
        valid = (speed >= MIN_SPEED) & (length > 0)
        return np.divide(dot, speed * length, out=np.zeros_like(length), where=valid)

    def update(self, result: Tracked) -> TrackUpdate:
        """Match this frame's objects to the tracks; returns the tracked objects with their ids."""
        cfg = self.config
        self.frames += 1
        boxes = np.asarray(result.xyxy, dtype=np.float64).reshape(-1, 4)
        classes = np.asarray(result.class_ids)
        scores = same_objects(boxes, np.asarray(result.scores), classes, cfg.same_object)
        last = self.mean[:, :2].copy()
        self.mean, self.cov = kalman.predict(self.mean, self.cov)
        self.mean[self.lost, 7] = 0.0  # a lost box keeps its size
        iou = iou_matrix(kalman.xyah_to_xyxy(self.mean), boxes)  # every track with every box, once
        rank = iou + cfg.direction * self._direction(last, boxes) * (iou > 0) if cfg.direction else iou.copy()
        rank[self.classes[:, None] != classes[None, :]] -= OTHER_CLASS
        high = np.flatnonzero(scores >= cfg.high).tolist()
        low = np.flatnonzero((scores >= cfg.low) & (scores < cfg.high)).tolist()
        ids, lost = self.ids.tolist(), self.lost.tolist()
        confirmed = [t for t, i in enumerate(ids) if i > 0]
        pairs = self._match(iou, rank, confirmed, high, cfg.match_iou)
        taken_t, taken_d = {t for t, _ in pairs}, {d for _, d in pairs}
        left_high = [d for d in high if d not in taken_d]
        tracked_left = [t for t in confirmed if t not in taken_t and not lost[t]]
        pairs += self._match(iou, rank, tracked_left, low, cfg.low_iou)
        unconfirmed = [t for t, i in enumerate(ids) if i == 0]
        fresh = self._match(iou, rank, unconfirmed, left_high, cfg.confirm_iou)
        for t, _ in fresh:
            self.ids[t], self.next_id = self.next_id, self.next_id + 1
        pairs += fresh
        used = {d for _, d in pairs}
        starts = np.array([d for d in left_high if d not in used and scores[d] >= cfg.new], np.int64)
        return self._apply(pairs, starts, boxes, classes, result)

    def _apply(self, pairs, starts, boxes, classes, result: Tracked) -> TrackUpdate:
        matched_t = np.array([t for t, _ in pairs], np.int64)
        matched_d = np.array([d for _, d in pairs], np.int64)
        if len(pairs):
            measured = kalman.xyxy_to_xyah(boxes[matched_d])
            self.mean[matched_t], self.cov[matched_t] = kalman.update(
                self.mean[matched_t], self.cov[matched_t], measured
            )
            self.seen[matched_t] = self.frames
        self.lost[:] = True
        self.lost[matched_t] = False
        first = self.frames == 1  # ByteTrack confirms the first frame's tracks at once
        # unconfirmed tracks (id 0) that found no match go; confirmed ones live until lost too long
        keep = (self.ids > 0) & (self.frames - self.seen <= self.config.lost_frames)
        ended = tuple(self.ids[~keep & (self.ids > 0)].tolist())
        ids = self.ids.tolist()
        out = sorted((d, ids[t]) for t, d in pairs if ids[t] > 0)
        out_rows, out_ids = [d for d, _ in out], [i for _, i in out]
        if not keep.all():
            self._keep(keep)
        if len(starts):
            mean, cov = kalman.initiate(kalman.xyxy_to_xyah(boxes[starts]))
            ids = np.zeros(len(starts), np.int64)
            if first:
                ids = np.arange(self.next_id, self.next_id + len(starts))
                self.next_id += len(starts)
                out_rows += starts.tolist()
                out_ids += ids.tolist()
            self._add(mean, cov, ids, classes[starts])
        order = np.argsort(out_rows, kind="stable")
        rows = np.array(out_rows, np.int64)[order]
        return TrackUpdate(result.select(rows, np.array(out_ids, np.int64)[order]), ended)

    def _keep(self, keep: np.ndarray) -> None:
        self.mean, self.cov, self.ids = self.mean[keep], self.cov[keep], self.ids[keep]
        self.classes, self.seen, self.lost = self.classes[keep], self.seen[keep], self.lost[keep]

    def _add(self, mean, cov, ids, classes) -> None:
        self.mean = np.concatenate([self.mean, mean])
        self.cov = np.concatenate([self.cov, cov])
        self.ids = np.concatenate([self.ids, ids])
        self.classes = np.concatenate([self.classes, classes])
        self.seen = np.concatenate([self.seen, np.full(len(ids), self.frames)])
        self.lost = np.concatenate([self.lost, np.zeros(len(ids), bool)])

    def finish(self) -> tuple[int, ...]:
        """The ids of every live track, ended now (the run is over); the tracker is empty after."""
        ended = tuple(int(i) for i in self.ids if i > 0)
        self._keep(np.zeros(len(self.ids), bool))
        return ended
