"""Load a model as a task object: ``load("model.tflite", threads=2)(frame) -> Classes | Detections |
Poses | Segmentation``."""

from __future__ import annotations

from pathlib import Path

from edge.model.metadata import ModelFile, read_model_file
from edge.model.runtime import Runtime
from edge.model.spec import Overrides, read_spec, score_threshold
from edge.tasks.anchor_free import AnchorFreeDetector
from edge.tasks.base import Task
from edge.tasks.classify import Classifier
from edge.tasks.detect import DEFAULT_IOU, DEFAULT_MAX_DETECTIONS, DEFAULT_THRESHOLD, Detector
from edge.tasks.pose import DEFAULT_POSE_THRESHOLD, PoseEstimator
from edge.tasks.segment import Segmenter
from edge.tasks.ssd import SsdDetector
from edge.tasks.yolo import YoloDetector
from edge.tasks.yolo_pose import YoloPoseEstimator
from edge.tasks.yolo_seg import YoloSegDetector

DETECTORS: dict[str, type[Detector]] = {  # every layout decoded with a score threshold, NMS and a cap
    "ssd": SsdDetector,
    "yolov8": YoloDetector,
    "yolov5": YoloDetector,
    "anchor_free": AnchorFreeDetector,
    "yolov8_seg": YoloSegDetector,
    "yolov8_pose": YoloPoseEstimator,
}


def default_threshold(model: ModelFile) -> float:
    """A detector's score threshold when none is given: the model's own (an edgesight export's best F1,
    from its metadata), else 0.25."""
    own = score_threshold(model)
    return DEFAULT_THRESHOLD if own is None else own


def load(
    path: str | Path,
    threads: int = 1,
    runtime: str | None = None,
    overrides: Overrides | None = None,
    top_k: int | None = None,
    threshold: float | None = None,
    iou: float = DEFAULT_IOU,
    xnnpack: bool = True,
) -> Task:
    """Read a ``.tflite`` once, load it on the first available interpreter and check its spec.

    Returns a ``Classifier``, a detector, a ``PoseEstimator`` or a ``Segmenter``, by the layout read
    from the model (or ``overrides``).
    ``runtime`` picks one interpreter (``litert``, ``tflite-runtime``, ``tf``); ``overrides`` supplies
    what a third-party model's metadata lacks (labels, normalisation, task, layout). ``top_k`` is the
    number of classes (default 5) or of detections (default 100) to report; ``threshold`` the lowest
    score (default 0 for classes, 0.2 for poses, for detections the threshold in the model's metadata
    (an edgesight export's best F1), else 0.25); ``iou`` the NMS threshold of raw
    YOLO heads; ``xnnpack=False`` runs the built-in kernels only. Raises ``EdgeError``.
    """
    model = read_model_file(path)
    rt = Runtime(model.content, threads=threads, runtime=runtime, xnnpack=xnnpack)
    try:
        spec = read_spec(model, rt, overrides)
        if spec.task == "classify":
            return Classifier(
                model, rt, spec, top_k=5 if top_k is None else top_k, threshold=threshold or 0.0
            )
        if spec.task == "pose" and spec.layout not in DETECTORS:
            return PoseEstimator(
                model, rt, spec, threshold=DEFAULT_POSE_THRESHOLD if threshold is None else threshold
            )
        if spec.task == "segment":
            return Segmenter(model, rt, spec)
        return DETECTORS[spec.layout](
            model,
            rt,
            spec,
            threshold=default_threshold(model) if threshold is None else threshold,
            iou=iou,
            max_detections=DEFAULT_MAX_DETECTIONS if top_k is None else top_k,
        )
    except Exception:
        rt.close()
        raise


__all__ = [
    "Classifier",
    "Detector",
    "PoseEstimator",
    "Segmenter",
    "SsdDetector",
    "Task",
    "YoloDetector",
    "YoloPoseEstimator",
    "YoloSegDetector",
    "load",
]
