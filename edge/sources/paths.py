"""The built-in camera for tracking (``--source synthetic:tracks``): objects on known paths.

Objects travel along horizontal lanes and turn back beyond the frame's edges, so each one leaves and
comes back, and crosses the frame's middle a known number of times. Two objects share each lane,
mirror images of each other, so they always meet head-on in the middle: the one drawn later hides the
other for a few frames, right on the middle line. Every frame carries its truth: each visible
object's id, its ``visit`` (a new one each time it comes back into view: what a tracker without
appearance features can know), class, box and how much of it is ``hidden``. Deterministic from
``seed``.

``truth_detections`` turns a frame's truth into detections with box noise, lower scores for half-hidden
objects and dropouts: a detector of known quality, for measuring the tracker alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from edge.errors import EdgeError
from edge.sources.base import Frame, Pacer, Source
from edge.sources.scene import covered
from edge.sources.shapes import CLASSES, ShapeParams, add_noise, background, random_shape

VISIBLE = 0.4  # share of its box inside the frame for an object to be in the truth


@dataclass
class _Walker:
    id: int
    shape: ShapeParams
    speed: float  # pixels per frame, signed
    lane: float
    phase: float
    visit: int = 0
    seen: bool = False


class PathsSource(Source):
    """Frames of objects on lanes, with their truth in ``truth["objects"]``."""

    def __init__(self, frames: int = 600, width: int = 640, height: int = 480, fps: float = 30.0,
                 seed: int = 0, objects: int = 6, realtime: bool = False) -> None:  # fmt: skip
        super().__init__()
        if frames < 1 or width < 128 or height < 128 or fps <= 0 or objects < 1:
            raise EdgeError("the tracking scene needs frames >= 1, a size of at least 128x128 and fps > 0")
        self.frames, self.width, self.height, self.fps = frames, width, height, fps
        self.seed, self.objects, self.realtime = seed, objects, realtime
        self.live = realtime
        self._visits = 0

    def _walkers(self, rng: np.random.Generator, bg: np.ndarray) -> list[_Walker]:
        lanes = (self.objects + 1) // 2
        walkers = []
        for i in range(self.objects):
            if i % 2 == 0:  # a lane's two objects mirror each other: they always meet head-on
                radius = float(rng.uniform(0.05, 0.08))
                x = float(rng.uniform(0.1, 0.4) * self.width)
                speed = float(rng.uniform(0.004, 0.009) * self.width)
            lane = self.height * (i // 2 + 0.75) / (lanes + 0.5)
            name = CLASSES[int(rng.integers(len(CLASSES)))]
            shape = random_shape(rng, name, self.height, self.width, bg, scale=(radius, radius * 1.0001))
            shape = replace(shape, radius=radius * min(self.width, self.height), aspect=1.0)
            cx, v = (x, speed) if i % 2 == 0 else (self.width - x, -speed)
            walkers.append(_Walker(i + 1, replace(shape, cx=cx, cy=lane), v, lane, rng.uniform(0, 6.3)))
        return walkers

    def _step(self, w: _Walker, index: int) -> None:
        reach = 3.5 * w.shape.radius
        x = w.shape.cx + w.speed
        if x < -reach or x > self.width + reach:
            w.speed = -w.speed
            x = w.shape.cx + w.speed
        y = w.lane + 0.02 * self.height * np.sin(index * 0.05 + w.phase)
        w.shape = replace(w.shape, cx=x, cy=float(y), angle=w.shape.angle + 0.02)

    def _visible(self, box: tuple) -> bool:
        x0, y0, x1, y1 = box
        inside = max(0.0, min(x1, self.width) - max(x0, 0.0)) * max(0.0, min(y1, self.height) - max(y0, 0.0))
        return inside >= VISIBLE * max((x1 - x0) * (y1 - y0), 1e-6)

    def _truth(self, walkers: list[_Walker]) -> list[dict]:
        objects = []
        boxes = [w.shape.box() for w in walkers]
        for k, w in enumerate(walkers):
            if not self._visible(boxes[k]):
                w.seen = False
                continue
            if not w.seen:
                w.seen, self._visits = True, self._visits + 1
                w.visit = self._visits
            hidden = max((covered(boxes[k], boxes[j]) for j in range(k + 1, len(walkers))), default=0.0)
            x0, y0, x1, y1 = boxes[k]
            box = [max(x0, 0.0), max(y0, 0.0), min(x1, float(self.width)), min(y1, float(self.height))]
            objects.append({"id": w.id, "visit": w.visit, "label": w.shape.name,
                            "class_id": CLASSES.index(w.shape.name), "box": [round(v, 2) for v in box],
                            "hidden": round(hidden, 3)})  # fmt: skip
        return objects

    def __iter__(self) -> Iterator[Frame]:
        from edge.sources.shapes import draw_shape

        rng = np.random.default_rng(self.seed)
        pacer = Pacer(self.fps if self.realtime else None, self.stopping)
        bg = background(rng, self.height, self.width)
        for index, walkers, truth in self._walk(rng, bg):
            if self.stopping.is_set():
                return
            image = bg.copy()
            for w in walkers:  # later ones are drawn over earlier ones
                draw_shape(image, w.shape)
            image = add_noise(rng, image, 4.0)
            if not pacer.wait(index):
                return
            yield Frame(image, index, time.monotonic(), name=f"synthetic:tracks:{index}", truth=truth)

    def truths(self) -> Iterator[list[dict]]:
        """Each frame's truth (``truth["objects"]``) without drawing the frames: the same paths as the
        frames have, for measuring a tracker alone, fast."""
        rng = np.random.default_rng(self.seed)
        bg = background(rng, self.height, self.width)
        for _, _, truth in self._walk(rng, bg):
            yield truth["objects"]

    def _walk(self, rng: np.random.Generator, bg: np.ndarray):
        self._visits = 0
        walkers = self._walkers(rng, bg)
        for index in range(self.frames):
            if index:
                for w in walkers:
                    self._step(w, index)
            yield index, walkers, {"objects": self._truth(walkers)}


def truth_detections(objects: list[dict], rng: np.random.Generator, jitter: float = 0.03,
                     dropout: float = 0.03, false_rate: float = 0.02,
                     size: tuple[int, int] = (640, 480)):  # fmt: skip
    """A frame's truth as ``Detections`` from a detector of known quality: corners moved by ``jitter``
    of the box's size, ``dropout`` of objects missed, objects hidden more than 70% missed and half-hidden
    ones scored low (0.1 to 0.25, for ByteTrack's second matching), and a false box in ``false_rate``
    of frames."""
    from edge.tasks.results import Detections

    boxes, scores, classes, labels = [], [], [], []
    for o in objects:
        if o["hidden"] > 0.7 or rng.random() < dropout:
            continue
        box = np.array(o["box"], dtype=np.float64)
        wh = np.array([box[2] - box[0], box[3] - box[1]] * 2)
        boxes.append(box + rng.normal(0, jitter, 4) * wh)
        low = o["hidden"] > 0.3
        scores.append(rng.uniform(0.1, 0.25) if low else rng.uniform(0.45, 0.95))
        classes.append(o["class_id"])
        labels.append(o["label"])
    if rng.random() < false_rate:
        x, y = rng.uniform(0, size[0] - 40), rng.uniform(0, size[1] - 40)
        boxes.append([x, y, x + 30, y + 30])
        scores.append(rng.uniform(0.3, 0.5))
        classes.append(0)
        labels.append(CLASSES[0])
    return Detections(np.array(boxes).reshape(-1, 4), scores, classes, labels)
