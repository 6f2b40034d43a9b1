"""ModelSpec: everything edge needs to run a model, read once at load from the model (and user flags).

The model is the contract: labels, normalisation, colour order, resize mode, task, output layout and
score type come from the embedded metadata (edgesight's, the standard TFLite one, Ultralytics'), the
layout otherwise from the tensor signature (``edge.model.layouts``); a flag supplies what a third-party
model lacks. What cannot be settled is an ``EdgeError`` naming the flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.model.flatbuf import FlatbufferError
from edge.model.graph import Op, producer, read_ops
from edge.model.layouts import ULTRALYTICS_TASKS, Layout, Signature, choose_layout
from edge.model.metadata import ModelFile, read_labels_file
from edge.model.runtime import Runtime, TensorInfo
from edge.tasks.preprocess import RESIZE_MODES

COLORS = ("RGB", "BGR")
BOX_UNITS = ("auto", "normalized", "pixels")
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
    layout: str
    layout_from: str  # --layout, edgesight metadata, signature, ...
    outputs: dict[str, int]  # role (scores, boxes, predictions, ...) -> position in the outputs
    input: InputSpec
    labels: tuple[str, ...] | None
    labels_from: str
    scores: str  # probabilities or logits (class_scores)
    scores_from: str
    num_classes: int | None  # None when the layout does not fix it (SSD)
    box_units: str = "auto"  # YOLO boxes: normalized, pixels, or auto (told per frame)
    score_threshold: float | None = None  # the detector's own cut (edgesight metadata), else None
    distances: DistanceGrid | None = None  # an anchor-free detector's distances output: how to decode it


@dataclass(frozen=True)
class DistanceGrid:
    """How an anchor-free detector's distances decode (edgesight metadata ``distances``): a point at
    each cell centre of each stride's grid, row by row, the strides in order; a point's four values in
    0..1 are its left, top, right and bottom distances as fractions of its level's ``reach`` (input
    pixels)."""

    strides: tuple[int, ...]
    reach: tuple[float, ...]


@dataclass(frozen=True)
class Overrides:
    """User flags that supply or replace what the model says."""

    task: str | None = None
    layout: str | None = None
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


def _normalization(
    info: TensorInfo, model: ModelFile, flags: Overrides, layout: Layout
) -> tuple[tuple, tuple, str]:
    if flags.mean is not None or flags.std is not None:
        if flags.mean is None or flags.std is None:
            raise EdgeError("give both --mean and --std")
        if any(s == 0 for s in flags.std):
            raise EdgeError("--std must not be 0")
        return tuple(flags.mean), tuple(flags.std), "flags"
    meta = model.metadata.inputs[0] if model.metadata and model.metadata.inputs else None
    if meta is not None and meta.mean is not None and meta.std is not None:
        return meta.mean, meta.std, "metadata"
    if layout.mean is not None and layout.std is not None:
        return layout.mean, layout.std, f"{layout.name} layout"
    if info.quantized:  # a quantized input without metadata takes raw pixels: the identity mapping
        return (float(info.zero_point),), (1.0 / info.scale,), "quantization"
    raise EdgeError(
        f"{model.path.name} has a float input but no normalisation metadata: pass --mean and --std "
        "(e.g. --mean 127.5 --std 127.5 for inputs in [-1, 1], --mean 0 --std 255 for [0, 1])"
    )


def _labels(model: ModelFile, flags: Overrides) -> tuple[tuple[str, ...] | None, str]:
    """Labels from --labels, else Ultralytics' names, else the first output the metadata labels."""
    if flags.labels is not None:
        return read_labels_file(flags.labels), str(flags.labels)
    if model.ultralytics.get("names"):
        return model.ultralytics["names"], "Ultralytics metadata"
    for meta in model.metadata.outputs if model.metadata else ():
        labels = meta.axis_labels or meta.value_labels
        if labels is not None:
            return labels, "metadata"
    return None, "none"


def _hints(model: ModelFile) -> dict:
    """What the model says about its own task and layout."""
    custom = model.metadata.custom if model.metadata else {}
    if custom.get("task") or custom.get("layout"):
        return {"task": custom.get("task"), "layout": custom.get("layout"), "task_from": "edgesight metadata"}
    task = model.ultralytics.get("task")
    if task is not None:
        return {"task": ULTRALYTICS_TASKS.get(task, task), "task_from": "Ultralytics metadata"}
    return {}


def model_ops(model: ModelFile) -> tuple[Op, ...]:
    """The main subgraph's ops; a malformed graph is an ``EdgeError`` naming the file."""
    try:
        return read_ops(model.content)
    except FlatbufferError as exc:
        raise EdgeError(f"{model.path} is a corrupt TFLite model: {exc}") from exc


def _score_kind(ops: tuple[Op, ...], out: TensorInfo, custom: dict) -> tuple[str, str]:
    """Probabilities or logits: from metadata, else from the op in the file that produces the output."""
    if custom.get("scores") in ("probabilities", "logits"):
        return custom["scores"], "metadata"
    op = producer(ops, out.index, PASS_THROUGH_OPS)
    if op is not None:
        kind = "probabilities" if op.name in PROBABILITY_OPS else "logits"
        return kind, f"graph ({op.name} output)"
    return "logits", "default"


def _box_units(custom: dict) -> str:
    units = custom.get("boxes", "auto")
    if units not in BOX_UNITS:
        raise EdgeError(
            f"the model's metadata names box units {units!r}: expected one of {', '.join(BOX_UNITS)}"
        )
    return units


def distance_grid(custom: dict, roles: dict[str, int]) -> DistanceGrid | None:
    """The metadata's ``distances`` entry, checked, when the model has a distances output."""
    if "distances" not in roles:
        return None
    entry = custom.get("distances")
    strides = entry.get("strides") if isinstance(entry, dict) else None
    reach = entry.get("reach") if isinstance(entry, dict) else None
    numbers = (strides or []) + (reach or [])
    if (
        not isinstance(strides, list) or not isinstance(reach, list) or not strides
        or len(strides) != len(reach) or any(isinstance(v, bool) for v in numbers)
        or not all(isinstance(v, int) and v > 0 for v in strides)
        or not all(isinstance(v, (int, float)) and v > 0 for v in reach)
    ):  # fmt: skip
        raise EdgeError(
            f"the model's metadata has a distances output but its grid is {entry!r}: expected "
            "{'strides': [8, 16, 32], 'reach': [64.0, 128.0, 384.0]} (one reach in pixels per stride)"
        )
    return DistanceGrid(tuple(strides), tuple(float(r) for r in reach))


def score_threshold(model: ModelFile) -> float | None:
    """The score threshold an edgesight export chose (best F1 on the validation split), if the model's
    metadata has one."""
    value = (model.metadata.custom if model.metadata else {}).get("score_threshold")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise EdgeError(f"the model's metadata names score threshold {value!r}: expected a number in 0..1")
    return float(value)


def read_spec(model: ModelFile, runtime: Runtime, flags: Overrides | None = None) -> ModelSpec:
    """Read and check the spec of a loaded model; raises ``EdgeError`` naming the fix."""
    flags = flags or Overrides()
    custom = model.metadata.custom if model.metadata else {}
    info = _image_input(runtime)
    ops = model_ops(model)
    labels, labels_from = _labels(model, flags)
    roles = custom.get("outputs") if isinstance(custom.get("outputs"), dict) else None
    sig = Signature(
        info.shape[1], info.shape[2], runtime.outputs, ops, len(labels) if labels is not None else None, roles
    )
    layout, fit, layout_from = choose_layout(sig, task=flags.task, layout=flags.layout, hints=_hints(model))
    mean, std, norm_from = _normalization(info, model, flags, layout)
    resize = flags.resize or custom.get("resize") or layout.resize
    if resize not in RESIZE_MODES:
        raise EdgeError(f"unknown resize mode {resize!r}: choose one of {', '.join(RESIZE_MODES)}")
    meta_in = model.metadata.inputs[0] if model.metadata and model.metadata.inputs else None
    color = flags.color or custom.get("color") or (meta_in.color_space if meta_in else None) or "RGB"
    if info.shape[3] == 1:
        color = "GRAY"
    elif color not in COLORS:
        raise EdgeError(f"unknown colour order {color!r}: choose one of {', '.join(COLORS)}")
    if labels is not None and fit.num_classes is not None and len(labels) != fit.num_classes:
        raise EdgeError(
            f"labels from {labels_from} have {len(labels)} entries but the model outputs "
            f"{fit.num_classes} classes"
        )
    scores, scores_from = "probabilities", "layout"
    if layout.name == "class_scores":
        scores, scores_from = _score_kind(ops, runtime.outputs[fit.outputs["scores"]], custom)
    return ModelSpec(
        path=str(model.path),
        task=layout.task,
        layout=layout.name,
        layout_from=layout_from,
        outputs=dict(fit.outputs),
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
        num_classes=fit.num_classes,
        box_units=_box_units(custom),
        score_threshold=score_threshold(model),
        distances=distance_grid(custom, fit.outputs) if layout.name == "anchor_free" else None,
    )
