"""Accuracy of a classifier on an image folder, through the same code path the device runs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError
from edge.sources.images import ImageFolder, read_image
from edge.tasks.classify import Classifier


@dataclass(frozen=True, eq=False)
class Evaluation:
    """Top-1 accuracy, the confusion matrix (rows: truth, columns: prediction), predictions and, when
    kept, every image's class probabilities (in the model's class order)."""

    class_names: tuple[str, ...]
    labels: np.ndarray
    predictions: np.ndarray
    confusion: np.ndarray
    scores: np.ndarray | None = None

    @property
    def count(self) -> int:
        return len(self.labels)

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.labels == self.predictions)) if self.count else 0.0

    def per_class(self) -> dict[str, float]:
        """Accuracy of each class (recall)."""
        totals = self.confusion.sum(axis=1)
        return {
            name: float(self.confusion[i, i] / totals[i]) if totals[i] else 0.0
            for i, name in enumerate(self.class_names)
        }


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, n: int) -> np.ndarray:
    matrix = np.zeros((n, n), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def folder_to_model_ids(
    folder: ImageFolder, model_labels: tuple[str, ...] | None, num_classes: int
) -> np.ndarray:
    """Map folder class ids onto model class ids by label name (or by order when the model has none)."""
    if model_labels is None:
        if len(folder.class_names) > num_classes:
            raise EdgeError(f"the folder has {len(folder.class_names)} classes, the model only {num_classes}")
        return np.arange(len(folder.class_names))
    index = {name: i for i, name in enumerate(model_labels)}
    missing = [name for name in folder.class_names if name not in index]
    if missing:
        raise EdgeError(f"folder classes not among the model's labels: {', '.join(missing[:5])}")
    return np.array([index[name] for name in folder.class_names])


def evaluate_scores(
    folder: ImageFolder, model_labels: tuple[str, ...] | None, scores: np.ndarray
) -> Evaluation:
    """Top-1 of per-image class scores (N, classes in the model's order) against the folder's classes."""
    to_model = folder_to_model_ids(folder, model_labels, scores.shape[1])
    to_folder = {int(m): f for f, m in enumerate(to_model)}
    labels = np.array(folder.labels, dtype=np.int64)
    predictions = np.array([to_folder.get(int(i), -1) for i in scores.argmax(axis=1)], dtype=np.int64)
    valid = predictions >= 0  # a prediction outside the folder's classes counts as wrong
    confusion = confusion_matrix(labels[valid], predictions[valid], len(folder.class_names))
    return Evaluation(folder.class_names, labels, predictions, confusion, scores)


def evaluate_classifier(task: Classifier, folder: ImageFolder) -> Evaluation:
    """Classify every image of ``folder`` and compare top-1 with the folder's class."""
    if task.spec.task != "classify":
        raise EdgeError(
            f"eval measures the top-1 accuracy of classifiers; {task.spec.path} is a {task.spec.task} model"
        )
    scores = np.empty((len(folder), task.spec.num_classes), dtype=np.float32)
    for i, path in enumerate(folder.paths):
        tensor, _ = task.prepare(read_image(path))
        scores[i] = task.scores(task.runtime.invoke(tensor))
    return evaluate_scores(folder, task.spec.labels, scores)
