"""ModelSpec: everything edge needs to run a model, read once at load from the model (and user flags).

The model is the contract: labels, normalisation, colour order, resize mode, task and score type
come from the embedded metadata; a flag supplies what a third-party model lacks. Nothing is guessed
from an output's size or index order; what cannot be settled is an ``EdgeError`` naming the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.flatbuf import FlatbufferError
from edge.graph import producer, read_ops
from edge.metadata import ModelFile, read_labels_file
from edge.preprocess import RESIZE_MODES
from edge.runtime import Runtime, TensorInfo

TASKS = ("classify",)
LAYOUTS = {"classify": "class_scores"}  # the output layout each task reads
COLORS = ("RGB", "BGR")
PROBABILITY_OPS = frozenset({"SOFTMAX", "LOGISTIC"})
PASS_THROUGH_OPS = frozenset({"QUANTIZE", "DEQUANTIZE", "RESHAPE", "SQUEEZE"})


@dataclass(frozen=True)
class InputSpec:
    """The image input: size, colour order, resize mode, normalisation and quantization."""

    height: int
    width: int
    channels: int
    dtype: np.dtype
    scale: float
    zero_point: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    color: str
    resize: str
    normalization_from: str


@dataclass(frozen=True)
class ModelSpec:
    """A checked description of a loaded model."""

    path: str
    task: str
    input: InputSpec
    labels: tuple[str, ...] | None
    labels_from: str
    scores: str
    scores_from: str
    num_classes: int


@dataclass(frozen=True)
class Overrides:
    """User flags that supply or replace what the model says."""

    task: str | None = None
    labels: str | Path | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    resize: str | None = None
    color: str | None = None


def _image_input(runtime: Runtime) -> TensorInfo:
    if len(runtime.inputs) != 1:
        raise EdgeError(f"expected a model with one image input, found {len(runtime.inputs)} inputs")
    info = runtime.inputs[0]
    if len(info.shape) != 4 or info.shape[0] != 1 or info.shape[3] not in (1, 3):
        raise EdgeError(
            f"expected an image input of shape [1, H, W, 3] or [1, H, W, 1], found {list(info.shape)}"
        )
    if any(d < 0 for d in info.shape_signature[1:]):
        raise EdgeError(
            f"input has dynamic dimensions {list(info.shape_signature)}: export with a fixed size"
        )
    return info


def _normalization(info: TensorInfo, model: ModelFile, flags: Overrides) -> tuple[tuple, tuple, str]:
    if flags.mean is not None or flags.std is not None:
        if flags.mean is None or flags.std is None:
            raise EdgeError("give both --mean and --std")
        if any(s == 0 for s in flags.std):
            raise EdgeError("--std must not be 0")
        return tuple(flags.mean), tuple(flags.std), "flags"
    meta = model.metadata.inputs[0] if model.metadata and model.metadata.inputs else None
    if meta is not None and meta.mean is not None and meta.std is not None:
        return meta.mean, meta.std, "metadata"
    if info.quantized:  # a quantized input without metadata takes raw pixels: the identity mapping
        return (float(info.zero_point),), (1.0 / info.scale,), "quantization"
    raise EdgeError(
        f"{model.path.name} has a float input but no normalisation metadata: pass --mean and --std "
        "(e.g. --mean 127.5 --std 127.5 for inputs in [-1, 1], --mean 0 --std 255 for [0, 1])"
    )


def _task(runtime: Runtime, custom: dict, flags: Overrides) -> str:
    task = flags.task or custom.get("task")
    if task is None:
        shapes = [list(o.shape) for o in runtime.outputs]
        if len(shapes) == 1 and len(shapes[0]) == 2 and shapes[0][0] == 1:
            task = "classify"
        else:
            raise EdgeError(
                f"cannot tell the task from outputs {shapes} and the model has no task metadata: "
                f"pass --task ({', '.join(TASKS)})"
            )
    if task not in TASKS:
        raise EdgeError(f"unsupported task {task!r}: this version runs {', '.join(TASKS)}")
    layout = custom.get("layout", LAYOUTS[task])
    if layout != LAYOUTS[task]:
        raise EdgeError(
            f"the model's metadata names output layout {layout!r}, which task {task} does not read"
        )
    return task


def _labels(model: ModelFile, flags: Overrides, num_classes: int) -> tuple[tuple[str, ...] | None, str]:
    if flags.labels is not None:
        labels, source = read_labels_file(flags.labels), str(flags.labels)
    else:
        meta = model.metadata.outputs[0] if model.metadata and model.metadata.outputs else None
        if meta is None or meta.axis_labels is None:
            return None, "none"
        labels, source = meta.axis_labels, "metadata"
    if len(labels) != num_classes:
        raise EdgeError(
            f"labels from {source} have {len(labels)} entries but the model outputs {num_classes} classes"
        )
    return labels, source


def _score_kind(model: ModelFile, runtime: Runtime, custom: dict) -> tuple[str, str]:
    """Probabilities or logits: from metadata, else from the op in the file that produces the output."""
    if custom.get("scores") in ("probabilities", "logits"):
        return custom["scores"], "metadata"
    out = runtime.outputs[0]
    try:
        op = producer(read_ops(model.content), out.index, PASS_THROUGH_OPS)
    except FlatbufferError as exc:
        raise EdgeError(f"{model.path} is a corrupt TFLite model: {exc}") from exc
    if op is not None:
        kind = "probabilities" if op.name in PROBABILITY_OPS else "logits"
        return kind, f"graph ({op.name} output)"
    return "logits", "default"


def read_spec(model: ModelFile, runtime: Runtime, flags: Overrides | None = None) -> ModelSpec:
    """Read and check the spec of a loaded model; raises ``EdgeError`` naming the fix."""
    flags = flags or Overrides()
    custom = model.metadata.custom if model.metadata else {}
    info = _image_input(runtime)
    task = _task(runtime, custom, flags)
    mean, std, norm_from = _normalization(info, model, flags)
    resize = flags.resize or custom.get("resize", "stretch")
    if resize not in RESIZE_MODES:
        raise EdgeError(f"unknown resize mode {resize!r}: choose one of {', '.join(RESIZE_MODES)}")
    meta_in = model.metadata.inputs[0] if model.metadata and model.metadata.inputs else None
    color = flags.color or custom.get("color") or (meta_in.color_space if meta_in else None) or "RGB"
    if info.shape[3] == 1:
        color = "GRAY"
    elif color not in COLORS:
        raise EdgeError(f"unknown colour order {color!r}: choose one of {', '.join(COLORS)}")
    out = runtime.outputs[0]
    num_classes = int(out.shape[-1])
    labels, labels_from = _labels(model, flags, num_classes)
    scores, scores_from = _score_kind(model, runtime, custom)
    return ModelSpec(
        path=str(model.path),
        task=task,
        input=InputSpec(
            height=info.shape[1],
            width=info.shape[2],
            channels=info.shape[3],
            dtype=info.dtype,
            scale=info.scale,
            zero_point=info.zero_point,
            mean=tuple(float(m) for m in mean),
            std=tuple(float(s) for s in std),
            color=color,
            resize=resize,
            normalization_from=norm_from,
        ),
        labels=labels,
        labels_from=labels_from,
        scores=scores,
        scores_from=scores_from,
        num_classes=num_classes,
    )
