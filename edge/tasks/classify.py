"""Image classification: dequantize, softmax when the model gives logits, top-k with labels.

Model contract: one image input [1, H, W, C] and one output [1, N] of class scores (probabilities or
logits, float or quantized). Output index i is class id i; label i names it (``background`` first in
the 1001-class ImageNet layout, as its labels file says).
"""

from __future__ import annotations

import numpy as np

from edge.errors import EdgeError
from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.base import Task
from edge.tasks.preprocess import Transform
from edge.tasks.quant import dequantize
from edge.tasks.results import Classes


def softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable softmax over the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def top_k(
    scores: np.ndarray, k: int, threshold: float = 0.0, labels: tuple[str, ...] | None = None
) -> Classes:
    """The ``k`` best classes with a score of at least ``threshold``, best first."""
    k = min(k, scores.shape[-1])
    ids = np.argpartition(-scores, k - 1)[:k] if k < scores.shape[-1] else np.arange(scores.shape[-1])
    ids = ids[np.argsort(-scores[ids], kind="stable")]
    ids = ids[scores[ids] >= threshold]
    names = tuple(labels[i] for i in ids) if labels is not None else (None,) * len(ids)
    return Classes(ids=ids, scores=scores[ids], labels=names)


def class_scores(raw: np.ndarray, scale: float, zero_point: int, kind: str) -> np.ndarray:
    """Raw output [1, N] -> probabilities (N,)."""
    scores = dequantize(raw, scale, zero_point).reshape(-1)
    return softmax(scores) if kind == "logits" else scores


class Classifier(Task):
    """Classify frames: ``Classifier(...)(frame) -> Classes``."""

    task = "classify"

    def __init__(
        self, model: ModelFile, runtime: Runtime, spec: ModelSpec, top_k: int = 5, threshold: float = 0.0
    ) -> None:
        if top_k < 1:
            raise EdgeError(f"top-k must be 1 or more, got {top_k}")
        if not 0.0 <= threshold <= 1.0:
            raise EdgeError(f"threshold must be between 0 and 1, got {threshold}")
        super().__init__(model, runtime, spec)
        self.top_k = top_k
        self.threshold = threshold
        self._out = runtime.outputs[spec.outputs["scores"]]

    def scores(self, outputs: list[np.ndarray]) -> np.ndarray:
        """All class probabilities (N,) from the raw outputs."""
        return class_scores(
            outputs[self.spec.outputs["scores"]], self._out.scale, self._out.zero_point, self.spec.scores
        )

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Classes:
        return top_k(self.scores(outputs), self.top_k, self.threshold, self.spec.labels)
