"""Side-by-side evaluation: the Keras model and its ``.tflite`` variants on the same validation images.

The ``.tflite`` files are evaluated through ``edge`` (the device code path); the Keras model sees the
same decoded, resized and normalised pixels (``train.data.load_input``). A classifier is scored by
top-1 accuracy, a detector by COCO mAP (``edge.evaluate.detect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bench import Latency, measure_invoke
from edge.evaluate.classify import Evaluation, evaluate_classifier, evaluate_scores
from edge.evaluate.detect import DetectionEvaluation, evaluate_detector
from edge.sources.images import ImageFolder
from edge.tasks.loader import load
from train.data.folders import load_input


def per_class(evaluation) -> dict[str, float]:
    """Accuracy (classifier) or AP@[.5:.95] (detector) per class."""
    return evaluation.per_class if isinstance(evaluation, DetectionEvaluation) else evaluation.per_class()


def headline(evaluation) -> float:
    """The one figure a variant is judged by: top-1 accuracy, or mAP@[.5:.95]; a fraction."""
    return evaluation.mAP50_95 if isinstance(evaluation, DetectionEvaluation) else evaluation.accuracy


@dataclass(frozen=True)
class VariantResult:
    """One row of the comparison: accuracy or mAP, agreement with Keras, size and latency."""

    variant: str
    evaluation: Evaluation | DetectionEvaluation
    size_bytes: int | None
    latency: Latency | None
    agreement: float | None

    def per_class_change(self, reference) -> dict[str, float]:
        """Accuracy (or AP) change per class against the reference, in percentage points."""
        ref = per_class(reference)
        return {name: round((v - ref[name]) * 100, 2) for name, v in per_class(self.evaluation).items()}

    def summary(self) -> dict:
        lat = self.latency
        ev = self.evaluation
        figures = (
            {k: v for k, v in ev.summary().items() if k != "per_class_AP50_95"}
            if isinstance(ev, DetectionEvaluation)
            else {"accuracy": round(ev.accuracy, 4), "images": ev.count}
        )
        return {
            **figures,
            "size_bytes": self.size_bytes,
            "latency_p50_ms": round(lat.p50_ms, 3) if lat else None,
            "latency_p90_ms": round(lat.p90_ms, 3) if lat else None,
            "runtime": f"{lat.runtime} {lat.runtime_version}" if lat else None,
            "threads": lat.threads if lat else None,
            "agreement_with_keras": round(self.agreement, 4) if self.agreement is not None else None,
        }


def evaluate_keras(
    model,
    folder: ImageFolder,
    labels: tuple[str, ...],
    height: int,
    width: int,
    channels: int,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 64,
) -> Evaluation:
    """Top-1 of a Keras model on an image folder, with every image's scores."""
    mean_a, std_a = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    batches = []
    for start in range(0, len(folder), batch_size):
        chunk = folder.paths[start : start + batch_size]
        x = np.stack([load_input(p, height, width, channels) for p in chunk]).astype(np.float32)
        batches.append(np.asarray(model.predict_on_batch((x - mean_a) / std_a), dtype=np.float32))
    return evaluate_scores(folder, labels, np.concatenate(batches))


def evaluate_tflite(
    path: Path,
    folder: ImageFolder,
    threads: int = 2,
    runs: int = 100,
    keras: Evaluation | None = None,
    name: str | None = None,
) -> VariantResult:
    """Accuracy through edge, plus invoke latency on the same runtime and thread count."""
    with load(path, threads=threads) as task:
        evaluation = evaluate_classifier(task, folder)
        latency = measure_invoke(task.runtime, runs=runs, warmup=10)
    agreement = float(np.mean(evaluation.predictions == keras.predictions)) if keras is not None else None
    name = name or Path(path).stem.removeprefix("model_")
    return VariantResult(name, evaluation, Path(path).stat().st_size, latency, agreement)


def evaluate_detector_tflite(
    path: Path, data, threads: int = 2, runs: int = 100, name: str | None = None
) -> VariantResult:
    """mAP through edge, plus invoke latency on the same runtime and thread count."""
    with load(path, threads=threads) as task:
        evaluation = evaluate_detector(task, data)
        latency = measure_invoke(task.runtime, runs=runs, warmup=10)
    name = name or Path(path).stem.removeprefix("model_")
    return VariantResult(name, evaluation, Path(path).stat().st_size, latency, None)


def evaluate_source(source):
    """The Keras model of an export source on its validation data (accuracy or mAP)."""
    if source.task == "detect":
        from train.detect_eval import evaluate_keras_detector

        return evaluate_keras_detector(source.model, source.val, source.height)
    return evaluate_keras(
        source.model, source.val, source.labels, source.height, source.width, source.channels, source.mean,
        source.std,
    )  # fmt: skip


def evaluate_variant(path: Path, source, threads: int, runs: int, reference, name: str) -> VariantResult:
    if source.task == "detect":
        return evaluate_detector_tflite(path, source.val, threads, runs, name=name)
    return evaluate_tflite(path, source.val, threads, runs, reference, name=name)
