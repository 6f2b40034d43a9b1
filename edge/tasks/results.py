"""Results shared by every task: small frozen dataclasses over numpy arrays, validated on construction.

Rendering, JSON and metrics read these types; nothing downstream knows which model produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import numpy as np

from edge.tasks.sampling import Sampling


def _check(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(e is None or e == a for e, a in zip(shape, array.shape))
    if not ok:
        expected = (
            "("
            + ", ".join("N" if e is None else str(e) for e in shape)
            + ("," if len(shape) == 1 else "")
            + ")"
        )
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")


def _check_tracks(result: object, n: int) -> None:
    if result.track_ids is not None:
        object.__setattr__(result, "track_ids", np.asarray(result.track_ids, dtype=np.int64))
        _check("track_ids", result.track_ids, (n,))


def _label_dict(cid: int, label: str | None, score: float) -> dict:
    return {"id": int(cid), "label": label, "score": round(float(score), 4)}


@dataclass(frozen=True, eq=False)
class Classes:
    """Top classes of one image, best first: ids (K,), scores (K,) in 0..1, labels (K,) or None each."""

    ids: np.ndarray
    scores: np.ndarray
    labels: tuple[str | None, ...]

    task = "classify"

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", np.asarray(self.ids, dtype=np.int64))
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32))
        object.__setattr__(self, "labels", tuple(self.labels))
        _check("ids", self.ids, (None,))
        _check("scores", self.scores, (len(self.ids),))
        if len(self.labels) != len(self.ids):
            raise ValueError(f"labels: expected {len(self.ids)} labels, got {len(self.labels)}")

    def __len__(self) -> int:
        return len(self.ids)

    def to_dict(self) -> dict:
        """The JSON shape: ``{"task": "classify", "classes": [{"id", "label", "score"}, ...]}``."""
        return {
            "task": self.task,
            "classes": [_label_dict(i, lb, s) for i, lb, s in zip(self.ids, self.labels, self.scores)],
        }


@dataclass(frozen=True, eq=False)
class Detections:
    """Objects in one image: xyxy (N, 4) in frame pixels, scores (N,), class ids (N,), labels (N,),
    for instance segmentation masks (N, H, W) of the frame's pixels, and with ``--track`` track_ids (N,),
    each object's id across frames (None otherwise)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str | None, ...]
    masks: np.ndarray | None = None
    track_ids: np.ndarray | None = None

    task = "detect"

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        object.__setattr__(self, "xyxy", xyxy.reshape(0, 4) if xyxy.size == 0 else xyxy)
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32))
        object.__setattr__(self, "class_ids", np.asarray(self.class_ids, dtype=np.int64))
        object.__setattr__(self, "labels", tuple(self.labels))
        _check("xyxy", self.xyxy, (None, 4))
        n = len(self.xyxy)
        _check("scores", self.scores, (n,))
        _check("class_ids", self.class_ids, (n,))
        if len(self.labels) != n:
            raise ValueError(f"labels: expected {n} labels, got {len(self.labels)}")
        if self.masks is not None:
            object.__setattr__(self, "masks", np.asarray(self.masks, dtype=bool))
            _check("masks", self.masks, (n, None, None))
        _check_tracks(self, n)

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, rows: np.ndarray, track_ids: np.ndarray | None = None) -> Detections:
        """The objects at ``rows``, in that order, with ``track_ids`` (one per row) when given."""
        masks = None if self.masks is None else self.masks[rows]
        labels = tuple(self.labels[i] for i in rows)
        return Detections(self.xyxy[rows], self.scores[rows], self.class_ids[rows], labels, masks, track_ids)

    def to_dict(self) -> dict:
        """The JSON shape: ``{"task": "detect", "detections": [{"id", "label", "score", "box"}, ...]}``;
        with masks, each detection also has ``mask_area``, its mask's pixels; with tracking, ``track``."""
        items = []
        rows = zip(self.xyxy, self.class_ids, self.labels, self.scores)
        for i, (box, cid, label, score) in enumerate(rows):
            item = _label_dict(cid, label, score)
            item["box"] = [round(float(v), 1) for v in box]
            if self.masks is not None:
                item["mask_area"] = int(np.count_nonzero(self.masks[i]))
            if self.track_ids is not None:
                item["track"] = int(self.track_ids[i])
            items.append(item)
        return {"task": self.task, "detections": items}


# COCO's 17 body keypoints, in MoveNet's (and Ultralytics pose's) order
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Poses:
    """People in one image: xyxy (P, 4) and scores (P,) in frame pixels, keypoints (P, K, 2) as (x, y)
    in frame pixels, keypoint_scores (P, K) in 0..1, the K keypoint names, and with ``--track`` track_ids
    (P,) (None otherwise)."""

    xyxy: np.ndarray
    scores: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    names: tuple[str, ...] = KEYPOINTS
    track_ids: np.ndarray | None = None

    task = "pose"

    def __post_init__(self) -> None:
        k = len(self.names)
        xyxy = np.asarray(self.xyxy, dtype=np.float32)
        points = np.asarray(self.keypoints, dtype=np.float32)
        object.__setattr__(self, "xyxy", xyxy.reshape(0, 4) if xyxy.size == 0 else xyxy)
        object.__setattr__(self, "scores", np.asarray(self.scores, dtype=np.float32))
        object.__setattr__(self, "keypoints", points.reshape(0, k, 2) if points.size == 0 else points)
        kps = np.asarray(self.keypoint_scores, dtype=np.float32)
        object.__setattr__(self, "keypoint_scores", kps.reshape(0, k) if kps.size == 0 else kps)
        object.__setattr__(self, "names", tuple(self.names))
        _check("xyxy", self.xyxy, (None, 4))
        n = len(self.xyxy)
        _check("scores", self.scores, (n,))
        _check("keypoints", self.keypoints, (n, k, 2))
        _check("keypoint_scores", self.keypoint_scores, (n, k))
        _check_tracks(self, n)

    def __len__(self) -> int:
        return len(self.xyxy)

    def select(self, rows: np.ndarray, track_ids: np.ndarray | None = None) -> Poses:
        """The people at ``rows``, in that order, with ``track_ids`` (one per row) when given."""
        return Poses(
            self.xyxy[rows], self.scores[rows], self.keypoints[rows], self.keypoint_scores[rows], self.names,
            track_ids,
        )  # fmt: skip

    @property
    def class_ids(self) -> np.ndarray:
        return np.zeros(len(self), dtype=np.int64)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every pose is a person: what counts and MQTT read."""
        return ("person",) * len(self)

    def to_dict(self) -> dict:
        """The JSON shape: ``{"task": "pose", "poses": [{"id", "label", "score", "box", "keypoints":
        [{"name", "x", "y", "score"}, ...]}, ...]}``."""
        items = []
        rows = zip(self.xyxy, self.scores, self.keypoints, self.keypoint_scores)
        for i, (box, score, points, kps) in enumerate(rows):
            item = _label_dict(0, "person", score)
            if self.track_ids is not None:
                item["track"] = int(self.track_ids[i])
            item["box"] = [round(float(v), 1) for v in box]
            item["keypoints"] = [
                {"name": name, "x": round(float(x), 1), "y": round(float(y), 1), "score": round(float(s), 4)}
                for name, (x, y), s in zip(self.names, points, kps)
            ]
            items.append(item)
        return {"task": self.task, "poses": items}


def percent(share: float, decimals: int = 0) -> str:
    """A share as a percentage to ``decimals`` places, never rounded to an end it is not at: a class
    that is there but rounds to zero reads "<1%" (or "<0.1%"), and one that is not the whole frame
    but rounds to all of it ">99%" (">99.9%")."""
    text = f"{share:.{decimals}%}"
    shown, step = float(text[:-1]), 10.0**-decimals
    if share > 0 and shown == 0:
        return f"<{step:.{decimals}f}%"
    if share < 1 and shown == 100:
        return f">{100 - step:.{decimals}f}%"
    return text


@dataclass(frozen=True, eq=False)
class Segmentation:
    """A class for every pixel; the classes found, most pixels first: class_ids (K,), shares (K,) of
    the frame's pixels and labels (K,).

    ``class_map`` (H, W) is in frame pixels; or, with a ``sampling``, at the model's output size with
    the transform back (``Sampling``). ``frame_map()`` gives the frame's map, or a part of it, in both
    cases: a segmenter leaves the frame-sized map to whoever needs it (the drawing makes only the
    rectangles it tints)."""

    class_map: np.ndarray
    class_ids: np.ndarray
    shares: np.ndarray
    labels: tuple[str | None, ...]
    sampling: Sampling | None = None

    task = "segment"

    def __post_init__(self) -> None:
        object.__setattr__(self, "class_ids", np.asarray(self.class_ids, dtype=np.int64))
        object.__setattr__(self, "shares", np.asarray(self.shares, dtype=np.float32))
        object.__setattr__(self, "labels", tuple(self.labels))
        _check("class_map", np.asarray(self.class_map), (None, None))
        _check("class_ids", self.class_ids, (None,))
        _check("shares", self.shares, (len(self.class_ids),))
        if len(self.labels) != len(self.class_ids):
            raise ValueError(f"labels: expected {len(self.class_ids)} labels, got {len(self.labels)}")
        if self.sampling is not None:  # validated when made: here only that it fits this map
            (w, h), (mw, mh) = self.sampling.extent, self.class_map.shape[::-1]
            if w > mw or h > mh:
                raise ValueError(f"sampling: reads a {w} x {h} map, the class map is {mw} x {mh}")

    def __len__(self) -> int:
        return len(self.class_ids)

    @property
    def frame_size(self) -> tuple[int, int]:
        """The frame's (width, height)."""
        if self.sampling is None:
            return self.class_map.shape[1], self.class_map.shape[0]
        return self.sampling.frame_size

    def frame_map(self, x0: int = 0, y0: int = 0, x1: int | None = None, y1: int | None = None) -> np.ndarray:
        """The class of each frame pixel in columns x0:x1 and rows y0:y1 (the whole frame by default)."""
        if self.sampling is None:
            return self.class_map[y0:y1, x0:x1]
        rows, columns = self.sampling.rows[y0:y1], self.sampling.columns[x0:x1]
        if not len(rows) or not len(columns):
            return np.empty((len(rows), len(columns)), self.class_map.dtype)
        top = int(rows[0])  # the output rows the part needs, columns gathered first: fewer pixels
        part = self.class_map[top : int(rows[-1]) + 1].take(columns, axis=1, mode="clip")  # in range:
        return part.take(rows - top, axis=0, mode="clip")  # checked when made, not per index here

    def to_dict(self) -> dict:
        """The JSON shape: ``{"task": "segment", "size": [w, h], "classes": [{"id", "label", "share"},
        ...]}``; the map itself is an image (``--save``, the web view), not JSON."""
        w, h = self.frame_size
        classes = [
            {"id": int(c), "label": lb, "share": round(float(s), 4)}
            for c, lb, s in zip(self.class_ids, self.labels, self.shares)
        ]
        return {"task": self.task, "size": [int(w), int(h)], "classes": classes}


Result = Union[Classes, Detections, Poses, Segmentation]


def record(result: Result, **extra: object) -> dict:
    """One JSON-ready object for a result: ``extra`` keys (image, index, timestamp) first."""
    return {**extra, **result.to_dict()}
