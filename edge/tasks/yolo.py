"""Ultralytics YOLO detectors exported to TFLite without NMS: YOLOv8 / YOLO11 and YOLOv5.

Model contract (float32, float16, int8 with float I/O, full-integer int8): one image input, RGB,
letterboxed with pad value 114, pixels / 255; one output of candidates, either
``[1, 4+C, N]`` (v8/11: cx, cy, w, h, then C class scores) or ``[1, N, 5+C]`` (v5: cx, cy, w, h,
objectness, then C class probabilities; score = objectness x class). Boxes are centre/size,
normalised to the input (as Ultralytics exports them) or in input pixels. Class-wise NMS follows.
"""

from __future__ import annotations

import numpy as np

from edge.tasks.detect import Detector, detections, raw_threshold
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Detections

HEADS = {"yolov8": (True, False), "yolov5": (False, True)}  # layout -> (channels first, objectness)
MAX_CANDIDATES = 3000  # best-scoring candidates that enter NMS
NORMALISED_SPAN = 2.0  # box centres of a normalised head stay below this; pixel heads span the input


def candidates(
    pred: np.ndarray, channels_first: bool, objectness: bool, scale: float, zero_point: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw output [1, A, B] -> (cxcywh (M, 4), best score (M,), class id (M,)) scoring ``threshold`` or more.

    Candidates are chosen on the raw (possibly quantized) values and only they are dequantized.
    """
    p = pred[0]
    cut = raw_threshold(threshold, scale, zero_point, p.dtype)
    if channels_first:  # (4+C, N)
        best = p[4:].max(axis=0)
        idx = np.flatnonzero(best >= cut)
        sub = dequantize(p[:, idx], scale, zero_point).T  # (M, 4+C)
        cls = sub[:, 4:]
    else:  # (N, 5+C): a score is objectness x class, never above objectness
        idx = np.flatnonzero(p[:, 4] >= cut)
        sub = dequantize(p[idx], scale, zero_point)
        cls = sub[:, 5:] * sub[:, 4:5]
    ids = cls.argmax(axis=1) if len(sub) else np.empty(0, dtype=np.int64)
    scores = cls[np.arange(len(sub)), ids]
    keep = scores >= threshold
    return sub[keep, :4], scores[keep], ids[keep]


def normalised(pred: np.ndarray, channels_first: bool, scale: float, zero_point: int) -> bool:
    """Are the boxes normalised to the input? Every grid cell has a candidate, so the centres of a
    head in pixels span the whole input, while normalised centres stay near 0..1."""
    p = pred[0]
    cx, cy = (p[0], p[1]) if channels_first else (p[:, 0], p[:, 1])
    top = max(cx.max(), cy.max())
    return float(dequantize(np.asarray(top), scale, zero_point)) <= NORMALISED_SPAN


def input_xyxy(cxcywh: np.ndarray, normalized: bool, height: int, width: int) -> np.ndarray:
    """Centre/size boxes (M, 4), normalised or in input pixels -> xyxy in input pixels."""
    if normalized:
        cxcywh = cxcywh * np.array([width, height, width, height], dtype=np.float32)
    half = cxcywh[:, 2:] / 2
    return np.concatenate([cxcywh[:, :2] - half, cxcywh[:, :2] + half], axis=1)


def is_normalized(
    units: str, pred: np.ndarray, scale: float, zero_point: int, channels_first: bool = True
) -> bool:
    """Box units from the metadata, else told from the head's candidate centres (``normalised``)."""
    return units == "normalized" or (units == "auto" and normalised(pred, channels_first, scale, zero_point))


def decode_yolo(
    pred: np.ndarray,
    channels_first: bool,
    objectness: bool,
    scale: float,
    zero_point: int,
    height: int,
    width: int,
    transform: Transform,
    threshold: float,
    iou: float,
    max_detections: int,
    labels: tuple[str, ...] | None = None,
    units: str = "auto",
) -> Detections:
    """Raw YOLO output -> class-wise NMS -> detections in frame pixels, best first."""
    cxcywh, scores, ids = candidates(pred, channels_first, objectness, scale, zero_point, threshold)
    if len(scores) > MAX_CANDIDATES:
        top = np.argpartition(-scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
        cxcywh, scores, ids = cxcywh[top], scores[top], ids[top]
    xyxy = input_xyxy(cxcywh, is_normalized(units, pred, scale, zero_point, channels_first), height, width)
    keep = nms(xyxy, scores, ids, iou, max_detections)
    return detections(transform.to_frame(xyxy[keep]), scores[keep], ids[keep], labels)


class YoloDetector(Detector):
    """Detect with a raw YOLO head: ``YoloDetector(...)(frame) -> Detections``."""

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Detections:
        info = self.outputs["predictions"]
        channels_first, objectness = HEADS[self.spec.layout]
        return decode_yolo(
            outputs[self.spec.outputs["predictions"]],
            channels_first=channels_first,
            objectness=objectness,
            scale=info.scale,
            zero_point=info.zero_point,
            height=self.spec.input.height,
            width=self.spec.input.width,
            transform=transform,
            threshold=self.threshold,
            iou=self.iou,
            max_detections=self.max_detections,
            labels=self.spec.labels,
            units=self.spec.box_units,
        )
