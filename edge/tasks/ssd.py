"""SSD-style detectors whose graph ends in TFLite_Detection_PostProcess (the classic Raspberry Pi
``detect.tflite``, EfficientDet-Lite exports).

Model contract: one image input; four outputs told apart by the post-processing op (else by shape
and name): boxes [1, N, 4] as normalised (ymin, xmin, ymax, xmax), classes [1, N], scores [1, N],
count [1]. The op has already applied NMS; rows past ``count`` are padding.
"""

from __future__ import annotations

import numpy as np

from edge.tasks.detect import Detector, detections
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Detections


def decode_ssd(
    boxes: np.ndarray,
    classes: np.ndarray,
    scores: np.ndarray,
    count: np.ndarray,
    height: int,
    width: int,
    transform: Transform,
    threshold: float,
    max_detections: int,
    labels: tuple[str, ...] | None = None,
) -> Detections:
    """Post-processed SSD outputs (real values) -> detections in frame pixels, best first."""
    n = max(0, min(int(np.asarray(count).reshape(-1)[0]), boxes.reshape(-1, 4).shape[0]))
    yxyx = boxes.reshape(-1, 4)[:n]
    s = scores.reshape(-1)[:n]
    c = np.rint(classes.reshape(-1)[:n]).astype(np.int64)
    keep = np.flatnonzero(s >= threshold)
    keep = keep[np.argsort(-s[keep], kind="stable")][:max_detections]
    yxyx = yxyx[keep].astype(np.float32)
    xyxy = np.stack([yxyx[:, 1] * width, yxyx[:, 0] * height, yxyx[:, 3] * width, yxyx[:, 2] * height], 1)
    return detections(transform.to_frame(xyxy), s[keep], c[keep], labels)


class SsdDetector(Detector):
    """Detect with an SSD post-processed model: ``SsdDetector(...)(frame) -> Detections``."""

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Detections:
        real = {
            role: dequantize(outputs[self.spec.outputs[role]], info.scale, info.zero_point)
            for role, info in self.outputs.items()
        }
        return decode_ssd(
            real["boxes"],
            real["classes"],
            real["scores"],
            real["count"],
            self.spec.input.height,
            self.spec.input.width,
            transform,
            self.threshold,
            self.max_detections,
            self.spec.labels,
        )
