"""Draw results onto frames: ``draw(frame, result) -> frame`` for Classes and Detections alike."""

from __future__ import annotations

import cv2
import numpy as np

from edge.tasks.results import Classes, Detections

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _color(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct colour per class id (golden-ratio hue steps)."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 179)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(v) for v in bgr)


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=(255, 255, 255)) -> None:
    thickness = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thickness)
    x, y = org
    cv2.rectangle(img, (x, y - h - base), (x + w + 4, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 2, y), _FONT, scale, color, thickness, cv2.LINE_AA)


def _name(class_id: int, label: str | None) -> str:
    return label if label is not None else f"class {class_id}"


def draw(
    frame: np.ndarray,
    result: Classes | Detections,
    fps: float | None = None,
    copy: bool = True,
    stats: dict | None = None,
) -> np.ndarray:
    """Annotate a BGR frame with a result (top-k text or boxes), the fps, and with ``stats`` (a
    ``LiveStats`` snapshot) the stage times and frame age."""
    img = frame.copy() if copy else frame
    scale = max(0.4, min(img.shape[:2]) / 800)
    line = int(30 * scale) + 6
    if isinstance(result, Classes):
        for row, (cid, label, score) in enumerate(zip(result.ids, result.labels, result.scores)):
            _text(img, f"{_name(cid, label)} {score:.2f}", (8, line * (row + 1)), scale, _color(int(cid)))
    elif isinstance(result, Detections):
        for box, cid, label, score in zip(result.xyxy, result.class_ids, result.labels, result.scores):
            x0, y0, x1, y1 = (round(float(v)) for v in box)
            color = _color(int(cid))
            cv2.rectangle(img, (x0, y0), (x1, y1), color, max(1, round(scale * 2)))
            _text(img, f"{_name(cid, label)} {score:.2f}", (x0, max(y0, line)), scale * 0.8, color)
    footer = [f"{fps:.1f} fps"] if fps is not None else []
    if stats and stats.get("stage_ms"):
        footer.append(" ".join(f"{k[:4]} {v:.1f}" for k, v in stats["stage_ms"].items()) + " ms")
        if stats.get("age_ms") is not None:
            footer[-1] += f", age {stats['age_ms']:.0f} ms"
    for row, text in enumerate(reversed(footer)):
        _text(img, text, (8, img.shape[0] - 8 - row * line), scale * (1.0 if text.endswith("fps") else 0.7))
    return img
