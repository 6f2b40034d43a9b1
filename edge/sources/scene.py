"""The built-in camera in detection mode (``--source synthetic:objects``): several shapes, each with an
identity, moving and turning over a textured background, bouncing off the frame's edges and off each
other (so none hides another for long). Every frame carries its truth: each object's id, class and box.
Deterministic from ``seed``; a new scene (background and objects) every ``segment`` frames."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from edge.errors import EdgeError
from edge.sources.base import Frame, Pacer, Source
from edge.sources.shapes import CLASSES, ShapeParams, add_noise, background, draw_shape, random_shape

RADIUS = (0.04, 0.2)  # of the frame's shorter side: the sizes the built-in detection data has
MAX_COVER = 0.35  # objects turn back before one covers this share of another


@dataclass
class _Mover:
    id: int
    shape: ShapeParams
    velocity: np.ndarray
    spin: float


def covered(a: tuple, b: tuple) -> float:
    """Share of the smaller of two boxes that the other covers."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(smaller, 1e-6)


class SceneSource(Source):
    """Frames with several moving objects and their ground truth (``truth["objects"]``)."""

    def __init__(
        self,
        frames: int = 300,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        seed: int = 0,
        objects: tuple[int, int] = (2, 6),
        segment: int = 100,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        if frames < 1 or width < 64 or height < 64 or fps <= 0 or segment < 1 or objects[0] < 0:
            raise EdgeError("the synthetic scene needs frames >= 1, a size of at least 64x64 and fps > 0")
        self.frames, self.width, self.height, self.fps = frames, width, height, fps
        self.seed, self.objects, self.segment, self.realtime = seed, objects, segment, realtime
        self.live = realtime
        self._next_id = 1

    def _new_scene(self, rng: np.random.Generator) -> tuple[np.ndarray, list[_Mover]]:
        bg = background(rng, self.height, self.width)
        movers: list[_Mover] = []
        side = min(self.width, self.height)
        for _ in range(int(rng.integers(self.objects[0], self.objects[1] + 1))):
            name = CLASSES[int(rng.integers(len(CLASSES)))]
            radius = float(np.exp(rng.uniform(np.log(RADIUS[0]), np.log(RADIUS[1]))))
            for _attempt in range(20):
                shape = random_shape(rng, name, self.height, self.width, bg, scale=(radius, radius * 1.0001))
                if all(covered(shape.box(), m.shape.box()) < 0.05 for m in movers):
                    speed = rng.uniform(0.004, 0.012) * side
                    heading = rng.uniform(0, 2 * np.pi)
                    velocity = np.array([np.cos(heading), np.sin(heading)]) * speed
                    movers.append(_Mover(self._next_id, shape, velocity, rng.uniform(-0.04, 0.04)))
                    self._next_id += 1
                    break
        return bg, movers

    def _step(self, movers: list[_Mover]) -> None:
        for m in movers:
            x0, y0, x1, y1 = m.shape.box()
            v = m.velocity
            if x0 + v[0] < 0 or x1 + v[0] > self.width:
                v[0] = -v[0]
            if y0 + v[1] < 0 or y1 + v[1] > self.height:
                v[1] = -v[1]
            moved = replace(m.shape, cx=m.shape.cx + v[0], cy=m.shape.cy + v[1], angle=m.shape.angle + m.spin)
            others = [o.shape.box() for o in movers if o is not m]
            if any(covered(moved.box(), b) > MAX_COVER for b in others):
                m.velocity = -v  # turn back rather than hide another object
                continue
            m.shape = moved

    def __iter__(self) -> Iterator[Frame]:
        rng = np.random.default_rng(self.seed)
        pacer = Pacer(self.fps if self.realtime else None, self.stopping)
        bg, movers = self._new_scene(rng)
        for index in range(self.frames):
            if self.stopping.is_set():
                return
            if index and index % self.segment == 0:
                bg, movers = self._new_scene(rng)
            elif index:
                self._step(movers)
            image = bg.copy()
            for m in movers:
                draw_shape(image, m.shape)
            image = add_noise(rng, image, 4.0)
            if not pacer.wait(index):
                return
            truth = {
                "objects": [
                    {"id": m.id, "label": m.shape.name, "class_id": CLASSES.index(m.shape.name),
                     "box": [round(v, 2) for v in m.shape.box()]}
                    for m in movers
                ]
            }  # fmt: skip
            yield Frame(image, index, time.monotonic(), name=f"synthetic:objects:{index}", truth=truth)
