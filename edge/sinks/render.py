"""Draw results onto frames: ``draw(frame, result) -> frame`` for every result type: top-k text, boxes,
skeletons coloured by keypoint confidence, and class maps over the frame with a legend."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import cv2
import numpy as np

from edge.tasks.results import Classes, Detections, Poses, Result, Segmentation, percent

_FONT = cv2.FONT_HERSHEY_SIMPLEX
# the limbs between COCO keypoints: face, arms, torso, legs
SKELETON = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10),
    (5, 11), (6, 12), (11, 12), (11, 13), (13, 15), (12, 14), (14, 16),
)  # fmt: skip
KEYPOINT_THRESHOLD = 0.2  # keypoints below it are not drawn
MASK_ALPHA = 0.5


@lru_cache(maxsize=1024)
def _color(class_id: int) -> tuple[int, int, int]:
    """A stable, distinct colour per class id (golden-ratio hue steps); kept, as a frame asks for the
    same few again and again."""
    hue = int((class_id * 0.618033988749895 % 1.0) * 179)
    bgr = cv2.cvtColor(np.uint8([[[hue, 200, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(v) for v in bgr)


@lru_cache(maxsize=1)
def _class_lut() -> np.ndarray:
    """Every uint8 class id's colour, as the 256 x 1 BGR table ``cv2.applyColorMap`` takes."""
    return np.uint8([_color(i) for i in range(256)]).reshape(256, 1, 3)


def put_text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=(255, 255, 255)) -> None:
    """``text`` in white (or ``color``) on a black box, its baseline starting at ``org``, clipped to
    ``img``. The box is drawn once per text, scale and colour and kept: a legend or a footer shows
    the same few again and again, and copying a box costs a fraction of drawing it."""
    patch, baseline = _text_patch(text, float(scale), tuple(int(c) for c in color))
    x, y = org[0] - 2, org[1] - baseline  # the box's top left
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + patch.shape[1], img.shape[1]), min(y + patch.shape[0], img.shape[0])
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = patch[y0 - y : y1 - y, x0 - x : x1 - x]


@lru_cache(maxsize=128)  # a few MB at most: texts that change every frame (fps, scores) pass through
def _text_patch(text: str, scale: float, color: tuple[int, int, int]) -> tuple[np.ndarray, int]:
    """The black box with ``text`` drawn in it, two pixels of margin round the strokes (their
    anti-aliased edges included), and the row of its baseline."""
    thickness = max(1, round(scale * 2))
    (w, h), base = cv2.getTextSize(text, _FONT, scale, thickness)
    baseline = h + thickness + 2
    patch = np.zeros((baseline + base + thickness + 2, w + thickness + 6, 3), np.uint8)
    cv2.putText(patch, text, (2, baseline), _FONT, scale, color, thickness, cv2.LINE_AA)
    patch.flags.writeable = False
    return patch, baseline


def _name(class_id: int, label: str | None) -> str:
    return label if label is not None else f"class {class_id}"


def _confidence_color(score: float) -> tuple[int, int, int]:
    """Red for a doubtful keypoint through yellow to green for a sure one."""
    hue = int(np.clip((score - KEYPOINT_THRESHOLD) / (1 - KEYPOINT_THRESHOLD), 0, 1) * 60)
    bgr = cv2.cvtColor(np.uint8([[[hue, 255, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return tuple(int(v) for v in bgr)


def _draw_poses(img: np.ndarray, result: Poses, scale: float, line: int) -> None:
    thickness = max(1, round(scale * 2))
    radius = max(2, round(scale * 4))
    for points, kps in zip(result.keypoints, result.keypoint_scores):
        xy = [(round(float(x)), round(float(y))) for x, y in points]
        for a, b in SKELETON:
            if a < len(xy) and b < len(xy) and min(kps[a], kps[b]) >= KEYPOINT_THRESHOLD:
                cv2.line(img, xy[a], xy[b], _confidence_color(min(kps[a], kps[b])), thickness, cv2.LINE_AA)
        for point, s in zip(xy, kps):
            if s >= KEYPOINT_THRESHOLD:
                cv2.circle(img, point, radius, _confidence_color(float(s)), -1, cv2.LINE_AA)
    for i, (box, score) in enumerate(zip(result.xyxy, result.scores)):
        x0, y0 = round(float(box[0])), round(float(box[1]))
        track = f"#{result.track_ids[i]} " if result.track_ids is not None else ""
        put_text(img, f"{track}person {score:.2f}", (x0, max(y0, line)), scale * 0.8)


def _background(result: Segmentation) -> int | None:
    """The class left untinted: the one labelled background, else id 0 when there are no labels."""
    for cid, label in zip(result.class_ids.tolist(), result.labels):
        if label is not None and label.lower() == "background":
            return cid
    return 0 if all(label is None for label in result.labels) else None


def _draw_segmentation(img: np.ndarray, result: Segmentation, scale: float, line: int) -> None:
    """Each class but the background tinted with its colour, then the legend. Only the rectangles
    that hold tinted pixels are made at the frame's size, coloured and blended: in a street or a room
    most of the frame is background. A large rectangle is done a band of rows at a time
    (``_bands``)."""
    background = _background(result)
    if result.frame_size != (img.shape[1], img.shape[0]):  # drawn at another size: resize the map
        class_map = cv2.resize(
            result.frame_map(), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST
        )
        result = replace(result, class_map=class_map, sampling=None)
    whole = [(0, 0, img.shape[1], img.shape[0])]
    for x0, y0, x1, y1 in whole if background is None else _tinted_rects(result, background):
        bands = _bands(x0, y0, x1, y1)
        for band in bands:
            if background is None or len(bands) == 1:  # a single band is the box round its tint
                left, top, right, bottom = band
            elif (tight := _tight(result, background, band)) is None:
                continue
            else:
                left, top, right, bottom = tight
            part = result.frame_map(left, top, right, bottom)
            where = None if background is None else _tinted(part, background)
            _tint(img[top:bottom, left:right], part, result.class_ids, where)
    rows = zip(result.class_ids.tolist(), result.labels, result.shares.tolist())  # numbers of Python's
    for row, (cid, label, share) in enumerate(rows):
        color = (200, 200, 200) if cid == background else _color(cid)
        put_text(img, f"{_name(cid, label)} {percent(share)}", (8, line * (row + 1)), scale * 0.8, color)


BAND_PIXELS = 65536  # a band's colour image and its temporaries: a few hundred KB, in the L2 cache


def _bands(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int, int, int]]:
    """A rectangle cut into bands of rows of about ``BAND_PIXELS``: a band's map, colours and blend
    stay in the cache from one step to the next."""
    step = max(1, BAND_PIXELS // max(x1 - x0, 1))
    return [(x0, top, x1, min(top + step, y1)) for top in range(y0, y1, step)]


def _tight(result: Segmentation, background: int, rect: tuple) -> tuple[int, int, int, int] | None:
    """Frame rectangle ``rect`` (x0, y0, x1, y1) cut down to the box round its pixels that are not
    ``background``, found on the map as it is; None when it has none. A person or an animal is
    narrower at the head than at the feet: a band of rows round it holds less background."""
    x0, y0, x1, y1 = rect
    sampling = result.sampling
    if sampling is None:
        mx0, my0, mx1, my1 = x0, y0, x1, y1
    else:  # the map rows and columns the rectangle's pixels sample
        mx0, my0 = int(sampling.columns[x0]), int(sampling.rows[y0])
        mx1, my1 = int(sampling.columns[x1 - 1]) + 1, int(sampling.rows[y1 - 1]) + 1
    bx, by, bw, bh = cv2.boundingRect(_tinted(result.class_map[my0:my1, mx0:mx1], background))
    if bw == 0 or bh == 0:
        return None
    fx0, fy0, fx1, fy1 = _frame_rect(result, (mx0 + bx, my0 + by, bw, bh))
    return max(fx0, x0), max(fy0, y0), min(fx1, x1), min(fy1, y1)  # a map pixel's span may go past it


SPARSE = 0.25  # tinted pixels under this share of the box round them all: tint each region's box
MAX_REGIONS = 12  # more regions than that: one box round them all costs less


def _tinted_rects(result: Segmentation, background: int) -> list[tuple[int, int, int, int]]:
    """Frame rectangles (x0, y0, x1, y1), none overlapping, that hold every class but ``background``,
    found on the map as it is (at the output's size for a segmenter) and taken to frame pixels: the
    box round them all; or, when they fill little of it (a few cars in a street), the boxes of the
    map's regions (outer contours), merged where they overlap. Finding the regions costs about as
    much as tinting a large part of the frame, so it is done only where they fill under a quarter
    of the box round them all."""
    mask = _tinted(result.class_map, background)
    whole = _frame_rect(result, cv2.boundingRect(mask))
    rects = [whole]
    (x0, y0, x1, y1), (w, h) = whole, result.frame_size
    shares = zip(result.class_ids.tolist(), result.shares.tolist())
    tinted = sum(share for cid, share in shares if cid != background) * w * h  # frame pixels
    if tinted < SPARSE * (x1 - x0) * (y1 - y0):
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if len(contours) <= MAX_REGIONS:
            rects = [_frame_rect(result, box) for box in _disjoint([cv2.boundingRect(c) for c in contours])]
    return [(x0, y0, x1, y1) for x0, y0, x1, y1 in rects if x1 > x0 and y1 > y0]  # some sampled


def _tinted(class_map: np.ndarray, background: int) -> np.ndarray:
    """Where ``class_map`` is not ``background``, as OpenCV takes a mask (nonzero is set): a uint8 map
    with background 0 is its own mask, with no pass over it."""
    if background == 0 and class_map.dtype == np.uint8:
        return class_map
    return (class_map != background).view(np.uint8)


def _disjoint(boxes: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(x, y, w, h) boxes, any two that overlap replaced by the box round both until none do: a
    pixel in two would be tinted twice."""
    boxes = list(boxes)
    i = 0
    while i < len(boxes):
        x, y, w, h = boxes[i]
        for j in range(i + 1, len(boxes)):
            u, v, p, q = boxes[j]
            if u < x + w and x < u + p and v < y + h and y < v + q:
                x0, y0 = min(x, u), min(y, v)
                boxes[i] = (x0, y0, max(x + w, u + p) - x0, max(y + h, v + q) - y0)
                del boxes[j]
                i = -1  # the grown box may now overlap one checked before: start again
                break
        i += 1
    return boxes


def _frame_rect(result: Segmentation, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A map box (x, y, w, h) as the frame rectangle (x0, y0, x1, y1) of the pixels that sample it."""
    x, y, w, h = box
    return (x, y, x + w, y + h) if result.sampling is None else result.sampling.spans(x, y, w, h)


def _tint(img: np.ndarray, class_map: np.ndarray, class_ids, where: np.ndarray | None) -> None:
    """Blend each pixel of ``img`` (a view, changed in place) half and half with its class's colour,
    where ``where`` is set (everywhere without it): each halved, then added. That is within one level
    of the rounded average, in integer steps that cost less than ``cv2.addWeighted``'s floats."""
    if class_map.dtype == np.uint8:  # one table look-up: much faster than fancy indexing
        half = cv2.applyColorMap(class_map, _half_lut())
    else:
        palette = np.zeros((int(class_map.max()) + 1, 3), np.uint8)
        for cid in class_ids:
            palette[cid] = _color(int(cid))
        half = palette[class_map] >> 1
    tinted = np.add(half, np.right_shift(img, 1), out=half)
    if where is None:
        img[:] = tinted
    else:
        cv2.copyTo(tinted, where, img)


@lru_cache(maxsize=1)
def _half_lut() -> np.ndarray:
    """``_class_lut`` halved: each class's share of a half-and-half blend."""
    return _class_lut() >> 1


def _draw_masks(img: np.ndarray, result: Detections) -> None:
    """Each instance's mask tinted with its class colour, over its box only."""
    for mask, box, cid in zip(result.masks, result.xyxy, result.class_ids):
        x0, y0 = max(int(box[0]), 0), max(int(box[1]), 0)
        x1, y1 = min(int(np.ceil(box[2])), img.shape[1]), min(int(np.ceil(box[3])), img.shape[0])
        if x1 <= x0 or y1 <= y0:
            continue
        patch, where = img[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        tint = np.empty_like(patch)
        tint[:] = _color(int(cid))
        cv2.copyTo(cv2.addWeighted(patch, 1 - MASK_ALPHA, tint, MASK_ALPHA, 0), where.view(np.uint8), patch)


REGION_COLOR = (0, 215, 255)  # lines and zones: amber


def draw_regions(img: np.ndarray, regions: list, counts: dict) -> np.ndarray:
    """Lines (with an arrow to their ``in`` side) and zones outlined on ``img`` in place, each with its
    name and counts; ``regions`` is ``[(kind, name, points in pixels), ...]``."""
    scale = max(0.4, min(img.shape[:2]) / 800)
    thickness = max(2, round(scale * 3))
    for kind, name, points in regions:
        pts = np.round(points).astype(np.int32)
        if kind == "line":
            a, b = pts
            cv2.line(img, tuple(a.tolist()), tuple(b.tolist()), REGION_COLOR, thickness, cv2.LINE_AA)
            mid, d = (a + b) / 2, (b - a).astype(np.float64)
            normal = np.array([d[1], -d[0]]) / max(np.hypot(*d), 1e-6)  # towards ``in``
            tip = tuple(np.round(mid + normal * 30 * scale).astype(int).tolist())
            cv2.arrowedLine(img, tuple(np.round(mid).astype(int).tolist()), tip, REGION_COLOR, thickness)
            c = counts.get("lines", {}).get(name, {})
            text, org = f"{name} in {c.get('in', 0)} out {c.get('out', 0)}", tip
        else:
            cv2.polylines(img, [pts], True, REGION_COLOR, thickness, cv2.LINE_AA)
            c = counts.get("zones", {}).get(name, {})
            text, org = f"{name}: {c.get('occupancy', 0)}", tuple(pts.min(axis=0).tolist())
        x = min(max(org[0], 0), img.shape[1] - 10)
        y = min(max(org[1], int(20 * scale) + 4), img.shape[0] - 4)
        put_text(img, text, (x, y), scale * 0.7, REGION_COLOR)
    return img


def draw(
    frame: np.ndarray,
    result: Result,
    fps: float | None = None,
    copy: bool = True,
    stats: dict | None = None,
) -> np.ndarray:
    """Annotate a BGR frame with a result (top-k text, boxes, skeletons or a class map), the fps, and
    with ``stats`` (a ``LiveStats`` snapshot) the stage times and frame age."""
    img = frame.copy() if copy else frame
    scale = max(0.4, min(img.shape[:2]) / 800)
    line = int(30 * scale) + 6
    if isinstance(result, Classes):
        for row, (cid, label, score) in enumerate(zip(result.ids, result.labels, result.scores)):
            put_text(img, f"{_name(cid, label)} {score:.2f}", (8, line * (row + 1)), scale, _color(int(cid)))
    elif isinstance(result, Detections):
        if result.masks is not None:
            _draw_masks(img, result)
        rows = zip(result.xyxy, result.class_ids, result.labels, result.scores)
        for i, (box, cid, label, score) in enumerate(rows):
            x0, y0, x1, y1 = (round(float(v)) for v in box)
            color = _color(int(cid))
            cv2.rectangle(img, (x0, y0), (x1, y1), color, max(1, round(scale * 2)))
            track = f"#{result.track_ids[i]} " if result.track_ids is not None else ""
            put_text(img, f"{track}{_name(cid, label)} {score:.2f}", (x0, max(y0, line)), scale * 0.8, color)
    elif isinstance(result, Poses):
        _draw_poses(img, result, scale, line)
    elif isinstance(result, Segmentation):
        _draw_segmentation(img, result, scale, line)
    footer = [f"{fps:.1f} fps"] if fps is not None else []
    if stats and stats.get("stage_ms"):
        footer.append(" ".join(f"{k[:4]} {v:.1f}" for k, v in stats["stage_ms"].items()) + " ms")
        if stats.get("age_ms") is not None:
            footer[-1] += f", age {stats['age_ms']:.0f} ms"
    for row, text in enumerate(reversed(footer)):
        put_text(
            img, text, (8, img.shape[0] - 8 - row * line), scale * (1.0 if text.endswith("fps") else 0.7)
        )
    return img
