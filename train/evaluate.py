"""Side-by-side evaluation: the Keras model and its ``.tflite`` variants on the same validation images.

The ``.tflite`` files are evaluated through ``edge`` (the device code path); the Keras model sees the
same decoded, resized and normalised pixels (``train.data.load_input``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.bench import Latency, measure_invoke
from edge.evaluate.classify import Evaluation, evaluate_classifier, evaluate_scores
from edge.sources.images import ImageFolder
from edge.tasks.loader import load
from train.data.folders import load_input


@dataclass(frozen=True)
class VariantResult:
    """One row of the comparison: accuracy, agreement with Keras, size and latency."""

    variant: str
    evaluation: Evaluation
    size_bytes: int | None
    latency: Latency | None
    agreement: float | None

    def per_class_change(self, reference: Evaluation) -> dict[str, float]:
        """Accuracy change per class against the reference, in percentage points."""
        ref = reference.per_class()
        return {name: round((acc - ref[name]) * 100, 2) for name, acc in self.evaluation.per_class().items()}

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
