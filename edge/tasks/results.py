"""Results shared by every task: small frozen dataclasses over numpy arrays, validated on construction.

Rendering, JSON and metrics read these types; nothing downstream knows which model produced them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    """Objects in one image: xyxy (N, 4) in frame pixels, scores (N,), class ids (N,), labels (N,)."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    labels: tuple[str | None, ...]

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

    def __len__(self) -> int:
        return len(self.xyxy)

    def to_dict(self) -> dict:
        """The JSON shape: ``{"task": "detect", "detections": [{"id", "label", "score", "box"}, ...]}``."""
        items = []
        for box, cid, label, score in zip(self.xyxy, self.class_ids, self.labels, self.scores):
            item = _label_dict(cid, label, score)
            item["box"] = [round(float(v), 1) for v in box]
            items.append(item)
        return {"task": self.task, "detections": items}


def record(result: Classes | Detections, **extra: object) -> dict:
    """One JSON-ready object for a result: ``extra`` keys (image, index, timestamp) first."""
    return {**extra, **result.to_dict()}
