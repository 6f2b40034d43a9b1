"""``edgesight info``: what a ``.tflite`` is and how edge will run it, as a dict and as text.

Everything the file itself says (size, metadata, op list) is shown even when the interpreter cannot
load the model or its task cannot be told: those are the cases a user runs ``info`` for.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from edge.errors import EdgeError
from edge.model.graph import without_final_resize
from edge.model.metadata import ModelFile, read_model_file
from edge.model.runtime import Runtime, TensorInfo
from edge.model.spec import Overrides, model_ops, read_spec
from edge.util.hashing import sha256_file


def _tensor(info: TensorInfo) -> dict:
    quant = {"scale": info.scale, "zero_point": info.zero_point} if info.quantized else None
    return {"name": info.name, "shape": list(info.shape), "dtype": info.dtype.name, "quantization": quant}


def _metadata(model: ModelFile) -> dict | None:
    meta = model.metadata
    if meta is None:
        return None
    return {
        "name": meta.name,
        "description": meta.description,
        "version": meta.version,
        "min_parser_version": meta.min_parser_version,
        "files": list(meta.files),
        "edgesight": meta.custom or None,
    }


def _ultralytics(model: ModelFile) -> dict | None:
    meta = model.ultralytics
    if not meta:
        return None
    keys = ("description", "version", "date", "task", "imgsz", "stride")
    return {**{k: meta[k] for k in keys if k in meta}, "classes": len(meta["names"])}


def describe(
    path: str | Path, threads: int = 1, runtime: str | None = None, overrides: Overrides | None = None
) -> dict:
    """Everything ``info`` shows, JSON-ready; ``error`` says what stops the model from running."""
    model = read_model_file(path)
    out: dict = {
        "model": str(model.path),
        "size_bytes": len(model.content),
        "sha256": sha256_file(model.path),
        "metadata": _metadata(model),
        "ultralytics": _ultralytics(model),
    }
    ops = model_ops(model)
    out["ops"] = dict(Counter(op.name for op in ops))
    out["custom_ops"] = sorted({op.name for op in ops if not op.builtin})
    try:
        rt = Runtime(model.content, threads=threads, runtime=runtime)
    except EdgeError as exc:
        return {**out, "runtime": None, "error": str(exc)}
    with rt:
        out["runtime"] = rt.label
        out["inputs"] = [_tensor(t) for t in rt.inputs]
        out["outputs"] = [_tensor(t) for t in rt.outputs]
        try:
            spec = read_spec(model, rt, overrides)
        except EdgeError as exc:
            return {**out, "task": None, "error": str(exc)}
    inp = spec.input
    return {
        **out,
        "task": spec.task,
        "layout": spec.layout,
        "layout_from": spec.layout_from,
        "outputs_by_role": {role: rt.outputs[i].name for role, i in spec.outputs.items()},
        "classes": spec.num_classes,
        "labels": len(spec.labels) if spec.labels is not None else 0,
        "labels_from": spec.labels_from,
        "preprocessing": {
            "resize": inp.resize,
            "color": inp.color,
            "mean": list(inp.mean),
            "std": list(inp.std),
            "normalization_from": inp.normalization_from,
        },
        "scores": spec.scores if spec.task == "classify" else None,
        "score_threshold": spec.score_threshold,
        "graph": _graph_note(model) if spec.task == "segment" else None,
        "error": None,
    }


def _graph_note(model: ModelFile) -> str | None:
    """How ``run`` and the pipeline run a segmenter when not as the file has it."""
    trimmed = without_final_resize(model.content)
    return None if trimmed is None else trimmed.note


def _tensor_line(t: dict) -> str:
    quant = t["quantization"]
    q = f" quant (scale {quant['scale']:.6g}, zero point {quant['zero_point']})" if quant else ""
    return f"  {t['name']}: {t['dtype']} {t['shape']}{q}"


def format_info(info: dict) -> list[str]:
    """The text ``edgesight info`` prints."""
    lines = [f"{info['model']}: {info['size_bytes'] / 1024:.1f} KiB, sha256 {info['sha256'][:16]}..."]
    lines.append(f"runtime: {info['runtime'] or 'cannot load'}")
    if "inputs" in info:
        lines += ["inputs:", *map(_tensor_line, info["inputs"])]
        lines += ["outputs:", *map(_tensor_line, info["outputs"])]
    if info.get("task"):
        pre = info["preprocessing"]
        classes = info["classes"] if info["classes"] is not None else "any"
        lines.append(f"task: {info['task']}, layout {info['layout']} (from {info['layout_from']})")
        lines.append("  outputs: " + ", ".join(f"{r} = {n}" for r, n in info["outputs_by_role"].items()))
        lines.append(f"  classes: {classes}; labels: {info['labels']} (from {info['labels_from']})")
        if info["scores"]:
            lines.append(f"  scores: {info['scores']}")
        if info.get("graph"):
            lines.append(f"  {info['graph']}")
        if info.get("score_threshold") is not None:
            lines.append(f"  score threshold: {info['score_threshold']:.2f} (from the model's metadata)")
        lines.append(
            f"preprocessing: {pre['resize']}, {pre['color']}, (x - {pre['mean']}) / {pre['std']} "
            f"(from {pre['normalization_from']})"
        )
    meta = info["metadata"]
    if meta:
        lines.append(f"metadata: {meta['name'] or '-'} (version {meta['version'] or '-'})")
        if meta["description"]:
            lines.append(f"  {meta['description']}")
        if meta["files"]:
            lines.append(f"  files: {', '.join(meta['files'])}")
        if meta["edgesight"]:
            lines.append(f"  edgesight: {meta['edgesight']}")
    else:
        lines.append("metadata: none")
    if info["ultralytics"]:
        lines.append("ultralytics: " + ", ".join(f"{k} {v}" for k, v in info["ultralytics"].items()))
    ops = ", ".join(f"{name} x{n}" for name, n in info["ops"].items())
    lines.append(f"ops ({sum(info['ops'].values())}): {ops}")
    if info["error"]:
        lines.append(f"cannot run: {info['error']}")
    return lines
