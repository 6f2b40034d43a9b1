"""edgesight's device half: load a ``.tflite``, read frames, run the model, show and publish results.

Never imports TensorFlow. The short API::

    import edge
    with edge.load("model.tflite", threads=2) as model:
        result = model(frame)          # Classes, Detections, Poses or Segmentation, by the model's task
        edge.draw(frame, result)
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"  # pyproject.toml's
__all__ = ["Classes", "Detections", "EdgeError", "Overrides", "Poses", "Segmentation", "draw", "load"]

_LAZY = {
    "load": ("edge.tasks.loader", "load"),
    "Classes": ("edge.tasks.results", "Classes"),
    "Detections": ("edge.tasks.results", "Detections"),
    "Poses": ("edge.tasks.results", "Poses"),
    "Segmentation": ("edge.tasks.results", "Segmentation"),
    "EdgeError": ("edge.errors", "EdgeError"),
    "Overrides": ("edge.model.spec", "Overrides"),
    "draw": ("edge.sinks.render", "draw"),
}


def __getattr__(name: str) -> Any:  # lazy, so `edgesight --help` stays fast and light
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'edge' has no attribute {name!r}")
