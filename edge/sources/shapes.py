"""Coloured shapes over textured, noisy backgrounds: the built-in dataset and the synthetic camera.

numpy and OpenCV only, deterministic from a ``numpy.random.Generator``. ``train.data`` writes these
images as an image folder; ``edge.sources.SyntheticSource`` animates them with known ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.tasks.preprocess import resize

CLASSES = ("circle", "cross", "square", "star", "triangle")  # sorted: folder order == class id


def _unit_polygon(name: str) -> np.ndarray:
    """Outline of a shape of radius about 1 centred at 0, as (K, 2) float points."""
    if name == "circle":
        t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    if name == "square":
        t = np.pi / 4 + np.arange(4) * np.pi / 2
        return 1.05 * np.stack([np.cos(t), np.sin(t)], axis=1)
    if name == "triangle":
        t = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return 1.1 * np.stack([np.cos(t), np.sin(t)], axis=1)
    if name == "star":
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.1, 0.45)
        return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)
    if name == "cross":
        a, b = 0.32, 1.0
        return np.array(
            [
                [-a, -b],
                [a, -b],
                [a, -a],
                [b, -a],
                [b, a],
                [a, a],
                [a, b],
                [-a, b],
                [-a, a],
                [-b, a],
                [-b, -a],
                [-a, -a],
            ]
        )
    raise ValueError(f"unknown shape {name!r}: choose one of {', '.join(CLASSES)}")


_POLYGONS = {name: _unit_polygon(name) for name in CLASSES}


@dataclass(frozen=True)
class ShapeParams:
    """Where and how one shape is drawn: centre and radius in pixels, rotation, x/y stretch, colour."""

    name: str
    cx: float
    cy: float
    radius: float
    angle: float
    aspect: float
    color: tuple[int, int, int]

    def polygon(self) -> np.ndarray:
        pts = _POLYGONS[self.name] * self.radius * np.array([self.aspect, 1.0 / self.aspect])
        c, s = np.cos(self.angle), np.sin(self.angle)
        pts = pts @ np.array([[c, s], [-s, c]])
        return pts + np.array([self.cx, self.cy])

    def box(self) -> tuple[float, float, float, float]:
        """Axis-aligned box (x0, y0, x1, y1) around the drawn outline."""
        pts = self.polygon()
        return (
            float(pts[:, 0].min()),
            float(pts[:, 1].min()),
            float(pts[:, 0].max()),
            float(pts[:, 1].max()),
        )


def background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A textured background: base colour, smooth blotches, a gradient and faint lines (BGR uint8)."""
    base = rng.uniform(30, 225, size=3)
    coarse = rng.normal(0, 1, size=(max(2, height // 12), max(2, width // 12), 3)).astype(np.float32)
    blotches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) * rng.uniform(8, 28)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(direction) * xx / width + np.sin(direction) * yy / height)[..., None]
    img = base + blotches + ramp * rng.uniform(-40, 40, size=3)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 5))):
        p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        shade = tuple(int(v) for v in np.clip(base + rng.normal(0, 35, 3), 0, 255))
        cv2.line(img, p0, p1, shade, int(rng.integers(1, 3)), cv2.LINE_AA)
    return img


def contrasting_color(rng: np.random.Generator, near: np.ndarray, min_distance: float = 90.0) -> tuple:
    """A random saturated-ish colour at least ``min_distance`` (RGB euclidean) from ``near``."""
    for _ in range(100):
        color = rng.integers(0, 256, size=3)
        if np.linalg.norm(color - near) >= min_distance:
            break
    return tuple(int(v) for v in color)


def random_shape(
    rng: np.random.Generator,
    name: str,
    height: int,
    width: int,
    bg: np.ndarray,
    scale: tuple = (0.22, 0.42),
    stretch: float = 0.3,
) -> ShapeParams:
    """Random size, position, rotation, stretch (log aspect in +-``stretch``) and colour, fully inside."""
    side = min(height, width)
    radius = rng.uniform(*scale) * side
    aspect = float(np.exp(rng.uniform(-stretch, stretch)))
    reach = 1.12 * radius * max(aspect, 1 / aspect)
    cx = rng.uniform(reach, max(reach + 1, width - reach))
    cy = rng.uniform(reach, max(reach + 1, height - reach))
    x0, x1 = int(max(0, cx - radius)), int(min(width, cx + radius + 1))
    y0, y1 = int(max(0, cy - radius)), int(min(height, cy + radius + 1))
    local = bg[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0)
    return ShapeParams(name, cx, cy, radius, rng.uniform(0, 2 * np.pi), aspect, contrasting_color(rng, local))


def draw_shape(img: np.ndarray, shape: ShapeParams) -> np.ndarray:
    """Fill the shape (anti-aliased) onto ``img`` in place; returns it."""
    pts = np.round(shape.polygon() * 16).astype(np.int32)  # 4 fractional bits
    cv2.fillPoly(img, [pts], shape.color, cv2.LINE_AA, shift=4)
    return img


def add_noise(rng: np.random.Generator, img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian sensor noise."""
    noisy = img.astype(np.int16) + rng.normal(0, sigma, img.shape).astype(np.int16)
    return np.clip(noisy, 0, 255).astype(np.uint8)


DATASET_STRETCH = 0.45  # covers a 4:3 or 16:10 camera frame stretched to a square input


CAMERA_SHARE = 0.5  # share of samples rendered as a camera frame, then stretched to the square
CAMERA_SIZES = ((240, 320), (360, 480), (480, 640), (360, 640))


def render_sample(rng: np.random.Generator, name: str, size: int) -> np.ndarray:
    """One dataset image of class ``name``: size x size BGR uint8.

    Half are drawn at the square size directly; half are drawn as a 4:3 or 16:9 camera frame and
    resized to the square the way the device does, so training covers what a camera delivers.
    """
    if rng.random() < CAMERA_SHARE:
        height, width = CAMERA_SIZES[int(rng.integers(len(CAMERA_SIZES)))]
        img = background(rng, height, width)
        draw_shape(img, random_shape(rng, name, height, width, img))
        img = add_noise(rng, img, rng.uniform(2, 8))
        return resize(img, size, size, "stretch")[0]
    img = background(rng, size, size)
    shape = random_shape(rng, name, size, size, img, stretch=DATASET_STRETCH)
    draw_shape(img, shape)
    img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.1, 0.9))
    return add_noise(rng, img, rng.uniform(2, 12))
