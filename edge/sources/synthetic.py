"""The built-in synthetic camera: deterministic frames with ground truth, optionally in real time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

import numpy as np

from edge.errors import EdgeError
from edge.sources.base import Frame, Pacer, Source
from edge.sources.shapes import CLASSES, add_noise, background, draw_shape, random_shape


class SyntheticSource(Source):
    """A built-in camera: one coloured shape moving and turning over a textured background.

    The shape changes class every ``segment`` frames; each frame carries its truth (label, class id,
    box). Deterministic from ``seed``; ``realtime`` paces frames at ``fps``.
    """

    def __init__(
        self,
        frames: int = 300,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        seed: int = 0,
        segment: int = 30,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        if frames < 1 or width < 32 or height < 32 or fps <= 0 or segment < 1:
            raise EdgeError("synthetic source needs frames >= 1, a size of at least 32x32 and fps > 0")
        self.frames, self.width, self.height = frames, width, height
        self.fps, self.seed, self.segment, self.realtime = fps, seed, segment, realtime
        self.live = realtime

    def __iter__(self) -> Iterator[Frame]:
        rng = np.random.default_rng(self.seed)
        pacer = Pacer(self.fps if self.realtime else None, self.stopping)
        bg = shape = None
        velocity = np.zeros(2)
        spin = 0.0
        for index in range(self.frames):
            if self.stopping.is_set():
                return
            if index % self.segment == 0:
                name = CLASSES[int(rng.integers(len(CLASSES)))]
                bg = background(rng, self.height, self.width)
                shape = random_shape(rng, name, self.height, self.width, bg, scale=(0.25, 0.4))
                velocity = rng.uniform(-1, 1, 2) * 0.01 * min(self.width, self.height)
                spin = rng.uniform(-0.05, 0.05)
            else:
                shape, velocity = self._move(shape, velocity, spin)
            img = add_noise(rng, draw_shape(bg.copy(), shape), 4.0)
            if not pacer.wait(index):
                return
            truth = {"label": shape.name, "id": CLASSES.index(shape.name), "box": list(shape.box())}
            yield Frame(img, index, time.monotonic(), name=f"synthetic:{index}", truth=truth)

    def _move(self, shape, velocity: np.ndarray, spin: float):
        x0, y0, x1, y1 = shape.box()
        v = velocity.copy()
        if x0 + v[0] < 0 or x1 + v[0] > self.width:
            v[0] = -v[0]
        if y0 + v[1] < 0 or y1 + v[1] > self.height:
            v[1] = -v[1]
        moved = replace(shape, cx=shape.cx + v[0], cy=shape.cy + v[1], angle=shape.angle + spin)
        return moved, v
