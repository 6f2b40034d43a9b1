"""Load a model as a task object: ``load("model.tflite", threads=2)(frame) -> Classes``."""

from __future__ import annotations

from pathlib import Path

from edge.metadata import read_model_file
from edge.runtime import Runtime
from edge.spec import Overrides, read_spec
from edge.tasks.base import Task
from edge.tasks.classify import Classifier


def load(
    path: str | Path,
    threads: int = 1,
    runtime: str | None = None,
    overrides: Overrides | None = None,
    top_k: int = 5,
    threshold: float = 0.0,
) -> Task:
    """Read a ``.tflite`` once, load it on the first available interpreter and check its spec.

    ``runtime`` picks one interpreter (``litert``, ``tflite-runtime``, ``tf``); ``overrides`` supplies
    what a third-party model's metadata lacks (labels, normalisation, task). Raises ``EdgeError``.
    """
    model = read_model_file(path)
    rt = Runtime(model.content, threads=threads, runtime=runtime)
    try:
        spec = read_spec(model, rt, overrides)
        return Classifier(model, rt, spec, top_k=top_k, threshold=threshold)
    except Exception:
        rt.close()
        raise


__all__ = ["Classifier", "Task", "load"]
