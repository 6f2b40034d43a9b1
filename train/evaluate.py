"""Side-by-side evaluation: the Keras model and its ``.tflite`` variants on the same validation images.

The ``.tflite`` files are evaluated through ``edge`` (the device code path); the Keras model sees the
same decoded and resized pixels through ``train.data``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bench import Latency, measure_invoke
from edge.evaluate import Evaluation, confusion_matrix, evaluate_classifier
from edge.imagefolder import ImageFolder
from edge.tasks import load
from train.data import make_dataset


@dataclass(frozen=True)
class VariantResult:
    """One row of the comparison: accuracy, agreement with Keras, size and latency."""

    variant: str
    evaluation: Evaluation
    size_bytes: int | None
    latency: Latency | None
    agreement: float | None

    def summary(self) -> dict:
        lat = self.latency
        return {
            "accuracy": round(self.evaluation.accuracy, 4),
            "size_bytes": self.size_bytes,
            "latency_p50_ms": round(lat.p50_ms, 3) if lat else None,
            "latency_p90_ms": round(lat.p90_ms, 3) if lat else None,
            "runtime": f"{lat.runtime} {lat.runtime_version}" if lat else None,
            "threads": lat.threads if lat else None,
            "agreement_with_keras": round(self.agreement, 4) if self.agreement is not None else None,
            "images": self.evaluation.count,
        }


def evaluate_keras(model, folder: ImageFolder, size: int, batch_size: int = 64) -> Evaluation:
    """Top-1 of a Keras model on an image folder."""
    probs = model.predict(make_dataset(folder, size, batch_size, training=False), verbose=0)
    labels = np.array(folder.labels, dtype=np.int64)
    predictions = probs.argmax(axis=1).astype(np.int64)
    n = len(folder.class_names)
    return Evaluation(folder.class_names, labels, predictions, confusion_matrix(labels, predictions, n))


def evaluate_tflite(
    path: Path, folder: ImageFolder, threads: int = 2, runs: int = 100, keras: Evaluation | None = None
) -> VariantResult:
    """Accuracy through edge, plus invoke latency on the same runtime and thread count."""
    with load(path, threads=threads) as task:
        evaluation = evaluate_classifier(task, folder)
        latency = measure_invoke(task.runtime, runs=runs, warmup=10)
    agreement = float(np.mean(evaluation.predictions == keras.predictions)) if keras is not None else None
    name = Path(path).stem.removeprefix("model_")
    return VariantResult(name, evaluation, Path(path).stat().st_size, latency, agreement)
