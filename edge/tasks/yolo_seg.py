"""Ultralytics YOLOv8 / YOLO11 segmentation heads exported to TFLite -> ``Detections`` with masks.

Model contract: the detector's (letterbox with pad 114, RGB, pixels / 255) with two outputs, in either
order: candidates ``[1, 4+C+M, N]`` (cx, cy, w, h, C class scores, M mask coefficients) and prototypes
``[1, H, W, M]`` or ``[1, M, H, W]`` (a quarter of the input's size). After class-wise NMS, a
detection's mask is sigmoid(coefficients . prototypes) > 0.5, which is the logit above 0, inside its
box. It is computed over the box's part of the prototypes only, and warped straight into the frame's
pixels of the box: no full-size mask is ever upsampled.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.model.layouts import proto_layout
from edge.tasks.detect import Detector, detections, raw_threshold
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Detections
from edge.tasks.yolo import MAX_CANDIDATES, input_xyxy, is_normalized


def seg_candidates(
    p: np.ndarray, classes: int, scale: float, zero_point: int, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(4+C+M, N) raw -> cxcywh (K, 4), best score (K,), class id (K,), mask coefficients (K, M)."""
    best = p[4 : 4 + classes].max(axis=0)
    idx = np.flatnonzero(best >= raw_threshold(threshold, scale, zero_point, p.dtype))
    sub = dequantize(p[:, idx], scale, zero_point).T
    cls = sub[:, 4 : 4 + classes]
    ids = cls.argmax(axis=1) if len(sub) else np.empty(0, dtype=np.int64)
    scores = cls[np.arange(len(sub)), ids]
    keep = scores >= threshold
    return sub[keep, :4], scores[keep], ids[keep], sub[keep, 4 + classes :]


def instance_masks(
    coefficients: np.ndarray,
    protos: np.ndarray,
    proto_quant: tuple[float, int],
    xyxy: np.ndarray,
    transform: Transform,
    in_height: int,
    in_width: int,
) -> np.ndarray:
    """Masks (K, H, W) of the frame's pixels: for each box, the prototypes under it (H', W', M), raw,
    dequantized and combined with its coefficients, then warped into the box's frame pixels."""
    fh, fw = transform.frame_height, transform.frame_width
    ph, pw = protos.shape[:2]
    sx, sy = transform.scale_x * pw / in_width, transform.scale_y * ph / in_height  # frame -> protos
    px, py = transform.pad_x * pw / in_width, transform.pad_y * ph / in_height
    masks = np.zeros((len(xyxy), fh, fw), dtype=bool)
    for k, box in enumerate(xyxy):
        c0, r0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
        c1, r1 = min(int(np.ceil(box[2])), fw), min(int(np.ceil(box[3])), fh)
        if c1 <= c0 or r1 <= r0:
            continue
        u0, v0 = max(int(np.floor(c0 * sx + px)) - 1, 0), max(int(np.floor(r0 * sy + py)) - 1, 0)
        u1, v1 = min(int(np.ceil(c1 * sx + px)) + 1, pw), min(int(np.ceil(r1 * sy + py)) + 1, ph)
        if u1 <= u0 or v1 <= v0:
            continue
        region = dequantize(protos[v0:v1, u0:u1], *proto_quant)
        logits = np.ascontiguousarray(region @ coefficients[k], dtype=np.float32)
        # the centre of frame pixel (c0 + i, r0 + j) in the region's prototype coordinates
        matrix = np.float32(
            [[sx, 0, (c0 + 0.5) * sx + px - 0.5 - u0], [0, sy, (r0 + 0.5) * sy + py - 0.5 - v0]]
        )
        flags, border = cv2.INTER_LINEAR + cv2.WARP_INVERSE_MAP, cv2.BORDER_REPLICATE  # bit flags: + is |
        warped = cv2.warpAffine(logits, matrix, (c1 - c0, r1 - r0), flags=flags, borderMode=border)
        masks[k, r0:r1, c0:c1] = warped > 0
    return masks


class YoloSegDetector(Detector):
    """Detect and segment with a raw YOLO-seg head: ``YoloSegDetector(...)(frame) -> Detections``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        inp = self.spec.input
        self._masks, self._protos_first = proto_layout(self.outputs["protos"].shape, inp.height, inp.width)
        self._classes = self.outputs["predictions"].shape[1] - 4 - self._masks

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Detections:
        info, proto = self.outputs["predictions"], self.outputs["protos"]
        pred = outputs[self.spec.outputs["predictions"]]
        protos = outputs[self.spec.outputs["protos"]][0]
        if self._protos_first:
            protos = protos.transpose(1, 2, 0)  # a view: only the boxes' regions are ever read
        cxcywh, scores, ids, coefficients = seg_candidates(
            pred[0], self._classes, info.scale, info.zero_point, self.threshold
        )
        if len(scores) > MAX_CANDIDATES:
            top = np.argpartition(-scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
            cxcywh, scores, ids, coefficients = cxcywh[top], scores[top], ids[top], coefficients[top]
        inp = self.spec.input
        normalized = is_normalized(self.spec.box_units, pred, info.scale, info.zero_point)
        xyxy = input_xyxy(cxcywh, normalized, inp.height, inp.width)
        keep = nms(xyxy, scores, ids, self.iou, self.max_detections)
        boxes = transform.to_frame(xyxy[keep])
        quant = (proto.scale, proto.zero_point)
        masks = instance_masks(coefficients[keep], protos, quant, boxes, transform, inp.height, inp.width)
        found = detections(boxes, scores[keep], ids[keep], self.spec.labels)
        return Detections(found.xyxy, found.scores, found.class_ids, found.labels, masks)
