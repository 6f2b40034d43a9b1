"""Pose estimation with MoveNet: SinglePose (Lightning, Thunder) and MultiPose -> ``Poses``.

On video, SinglePose follows the person with a crop, as the reference Raspberry Pi example does: the
next frame's crop is a square centred on the hips, sized from the torso and the body's spread and
capped at the frame; when the hips or the shoulders are not seen, the next frame is read whole again.
Two defects of that reference are not repeated: the body's spread is measured over every confident
keypoint (both hips, not one), and MultiPose maps its points back through the letterbox padding that
was added (the ``Transform``), not as if the frame had been stretched.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.errors import EdgeError
from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.preprocess import Transform, as_bgr8
from edge.tasks.quant import dequantize
from edge.tasks.results import KEYPOINTS, Poses

MIN_CROP_SCORE = 0.2  # a keypoint the crop trusts
TORSO_EXPANSION = 1.9
BODY_EXPANSION = 1.2
MIN_CROP_SIDE = 16.0  # frame pixels: a smaller crop means the keypoints collapsed; read the frame whole
SHOULDERS = (KEYPOINTS.index("left_shoulder"), KEYPOINTS.index("right_shoulder"))
HIPS = (KEYPOINTS.index("left_hip"), KEYPOINTS.index("right_hip"))
DEFAULT_POSE_THRESHOLD = 0.2


@dataclass(frozen=True)
class Crop:
    """A square region of the frame, in frame pixels; it may reach past the frame (padded with black)."""

    x0: float
    y0: float
    side: float


def next_crop(points: np.ndarray, scores: np.ndarray, width: int, height: int) -> Crop | None:
    """Where to look in the next frame, from one person's keypoints (17, 2) in frame pixels and their
    scores (17,); None for the whole frame (hips or shoulders not seen, or the crop would not fit)."""
    if scores[list(HIPS)].max() < MIN_CROP_SCORE or scores[list(SHOULDERS)].max() < MIN_CROP_SCORE:
        return None
    centre = points[list(HIPS)].mean(axis=0)
    torso = np.abs(points[list(SHOULDERS + HIPS)] - centre).max()
    seen = scores >= MIN_CROP_SCORE
    body = np.abs(points[seen] - centre).max()  # every confident keypoint, both hips among them
    half = max(torso * TORSO_EXPANSION, body * BODY_EXPANSION)
    cx, cy = float(centre[0]), float(centre[1])
    half = min(half, max(cx, width - cx, cy, height - cy))  # capped at the frame
    if half > max(width, height) / 2 or 2 * half < MIN_CROP_SIDE:
        return None
    return Crop(cx - half, cy - half, 2 * half)


def crop_input(frame: np.ndarray, crop: Crop, height: int, width: int) -> tuple[np.ndarray, Transform]:
    """The crop resized to the model's input, black where it reaches past the frame."""
    sx, sy = width / crop.side, height / crop.side
    matrix = np.float32([[sx, 0, -crop.x0 * sx], [0, sy, -crop.y0 * sy]])
    image = cv2.warpAffine(frame, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
    fh, fw = frame.shape[:2]
    return image, Transform(sx, sy, -crop.x0 * sx, -crop.y0 * sy, fw, fh)


def _box(points: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """The box around the confident keypoints (all of them when none is)."""
    seen = points[scores >= MIN_CROP_SCORE] if (scores >= MIN_CROP_SCORE).any() else points
    return np.concatenate([seen.min(axis=0), seen.max(axis=0)])


class PoseEstimator(Task):
    """MoveNet: call it on a BGR frame to get ``Poses``; ``reset()`` forgets the crop of the last frame."""

    task = "pose"

    def __init__(
        self,
        model: ModelFile,
        runtime: Runtime,
        spec: ModelSpec,
        threshold: float = DEFAULT_POSE_THRESHOLD,
        follow: bool = True,
    ) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise EdgeError(f"threshold must be between 0 and 1, got {threshold}")
        super().__init__(model, runtime, spec)
        self.threshold = threshold
        self.follow = follow and spec.layout == "movenet"
        self._role = "keypoints" if spec.layout == "movenet" else "poses"
        self._out = runtime.outputs[spec.outputs[self._role]]
        self._crop: Crop | None = None
        self._frame_size: tuple[int, int] | None = None

    def reset(self) -> None:
        self._crop = None

    def input_image(self, frame: np.ndarray) -> tuple[np.ndarray, Transform]:
        bgr = as_bgr8(frame)
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._frame_size:  # another camera or image: nothing to follow
            self._crop, self._frame_size = None, size
        if self._crop is None:
            return super().input_image(bgr)
        inp = self.spec.input
        image, transform = crop_input(bgr, self._crop, inp.height, inp.width)
        if self._color is not None:
            image = cv2.cvtColor(image, self._color)
        return image, transform

    def _raw(self, outputs: list[np.ndarray]) -> np.ndarray:
        return dequantize(outputs[self.spec.outputs[self._role]], self._out.scale, self._out.zero_point)

    def _to_frame(self, yx: np.ndarray, transform: Transform) -> np.ndarray:
        """Normalised (y, x) of the model input (..., 2) -> (x, y) frame pixels."""
        inp = self.spec.input
        xy = np.stack([yx[..., 1] * inp.width, yx[..., 0] * inp.height], axis=-1)
        return transform.to_frame(xy)

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Poses:
        raw = self._raw(outputs)
        if self._role == "keypoints":
            people = raw.reshape(1, 17, 3)
            points, kp_scores = self._to_frame(people[..., :2], transform), people[..., 2]
            scores = kp_scores.mean(axis=1)
            boxes = np.stack([_box(p, s) for p, s in zip(points, kp_scores)])
        else:
            rows = raw.reshape(-1, 56)
            people = rows[:, :51].reshape(-1, 17, 3)
            points, kp_scores = self._to_frame(people[..., :2], transform), people[..., 2]
            scores = rows[:, 55]
            corners = rows[:, 51:55].reshape(-1, 2, 2)  # (ymin, xmin), (ymax, xmax)
            boxes = self._to_frame(corners, transform).reshape(-1, 4)
        if self.follow:
            self._crop = next_crop(points[0], kp_scores[0], transform.frame_width, transform.frame_height)
        keep = scores >= self.threshold
        return Poses(boxes[keep], scores[keep], points[keep], kp_scores[keep])
