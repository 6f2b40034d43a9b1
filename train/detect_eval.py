"""COCO mAP of a Keras detector, through the same preprocessing, decoding and NMS the device runs
(edge's letterbox, ``decode_anchor_free``, class-wise NMS), scored by pycocotools like every
``.tflite`` variant, so the figures in the export report compare like with like."""

from __future__ import annotations

import cv2
import numpy as np

from edge.datasets.boxes import DetectionSet
from edge.evaluate.detect import MAX_DETECTIONS, THRESHOLD, coco_results, ground_truth, score_coco
from edge.tasks.anchor_free import decode_anchor_free
from edge.tasks.detect import DEFAULT_IOU
from edge.tasks.preprocess import resize

BATCH = 32


def keras_detections(model, data: DetectionSet, size: int, iou: float = DEFAULT_IOU) -> list:
    """Detections (edge ``Detections``, frame pixels) of the export model on every image of ``data``."""
    out = []
    for start in range(0, len(data), BATCH):
        records = data.images[start : start + BATCH]
        batch, transforms = [], []
        for record in records:
            image = cv2.imread(str(record.path), cv2.IMREAD_COLOR)
            if image is None:
                image = np.full((record.height, record.width, 3), 114, np.uint8)
            boxed, transform = resize(image, size, size, "letterbox")
            batch.append((cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB).astype(np.float32) - 127.5) / 127.5)
            transforms.append(transform)
        pred = model.predict_on_batch(np.stack(batch))
        for i, transform in enumerate(transforms):
            out.append(
                decode_anchor_free(
                    np.asarray(pred["boxes"][i : i + 1]),
                    np.asarray(pred["scores"][i : i + 1]),
                    ((0.0, 0), (0.0, 0)),
                    size,
                    size,
                    transform,
                    THRESHOLD,
                    iou,
                    MAX_DETECTIONS,
                )
            )
    return out


def evaluate_keras_detector(model, data: DetectionSet, size: int, iou: float = DEFAULT_IOU):
    """mAP of the Keras export model (classes in the dataset's order) on ``data``."""
    mapping = {i: i for i in range(len(data.class_names))}
    found = keras_detections(model, data, size, iou)
    return score_coco(ground_truth(data), coco_results(found, mapping), data.class_names)
