"""``edgesight export``: convert every requested mode, check each on the edge runtime, gate, report.

source -> calibration set -> one ``.tflite`` per mode (metadata embedded, read back through edge) ->
Keras and every variant evaluated on the validation images -> verdicts (an accepted detector gets its
best-F1 score threshold in its metadata) -> export.json, report.md, report.html beside the models.
Refused variants are renamed ``*.tflite.refused`` so nothing deploys them.
"""

from __future__ import annotations

import json
import os
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from edge.errors import EdgeError
from edge.evaluate.operating import OperatingPoint
from edge.sinks.files import make_folder
from train.data.folders import calibration_set
from train.evaluate import VariantResult, evaluate_source, evaluate_variant, per_class
from train.export.bias_correction import corrected_biases
from train.export.convert import Exported, batch_one, restamp, saved_model, write_model
from train.export.gate import DEFAULT_MAX_DROP, judge, judge_detector
from train.export.metadata_writer import ClassifierMetadata
from train.export.modes import QuantMode
from train.export.outcome import REFUSED_SUFFIX, ExportOutcome
from train.export.source import ExportSource


def metadata_for(source: ExportSource, mode: QuantMode, boxes_in_graph: bool = False) -> ClassifierMetadata:
    """What the model says about itself; a detector's output roles are filled in once converted. A
    detector outputs distances and the grid edge decodes them with, or (``boxes_in_graph``) boxes."""
    detect = source.task == "detect"
    grid = None
    if detect and not boxes_in_graph:  # imports Keras: only once a detector is loaded
        from train.models.detector import DISTANCE_GRID as grid
    kind = "Object detector" if detect else "Image classifier"
    return ClassifierMetadata(
        name=f"edgesight {source.name} ({mode.name})",
        description=f"{kind} over {len(source.labels)} classes, exported by edgesight; {mode.description}.",
        labels=source.labels,
        mean=source.mean,
        std=source.std,
        width=source.width,
        height=source.height,
        color="GRAYSCALE" if source.channels == 1 else "RGB",
        resize=source.resize,
        quantization=mode.name,
        task=source.task,
        layout="anchor_free" if detect else "class_scores",
        outputs=(("boxes" if boxes_in_graph else "distances"), "scores") if detect else ("probability",),
        labels_on="scores" if detect else "probability",
        distances=grid,
    )


def check_options(calib_samples: int, max_drop: float, threads: int) -> None:
    """Export's numeric options, checked before any work; ``EdgeError`` names the flag."""
    if calib_samples < 1:
        raise EdgeError(f"--calib-samples must be 1 or more, got {calib_samples}")
    if max_drop < 0:
        raise EdgeError(f"--max-drop must be 0 or more points, got {max_drop}")
    if threads < 1:
        raise EdgeError(f"--threads must be 1 or more, got {threads}")


def _say(text: str) -> None:
    print(text, flush=True)


def calibration_for(source: ExportSource, count: int):
    """The source's calibration images as the model takes them (resized as the device does,
    normalised), float32 (N, H, W, C)."""
    return calibration_set(
        list(source.calib), source.height, source.width, source.channels, source.mean, source.std,
        count, source.seed, where=source.calib_from, mode=source.resize,
    )  # fmt: skip


def export(
    source: ExportSource,
    modes: list[QuantMode],
    out_dir: Path,
    calib_samples: int = 200,
    max_drop: float = DEFAULT_MAX_DROP,
    threads: int = 2,
    latency_runs: int = 100,
    bias_correction: bool = True,
    boxes_in_graph: bool = False,
) -> ExportOutcome:
    """Convert ``source`` in each mode, evaluate and gate every variant, and write the report. The
    modes that calibrate convert from bias-corrected weights (``bias_correction``) unless told not to.
    A detector's ``.tflite`` outputs distances for edge to decode, or with ``boxes_in_graph`` the boxes
    its Keras graph decodes."""
    check_options(calib_samples, max_drop, threads)
    out_dir = Path(out_dir)
    make_folder(out_dir)
    calibration = None
    if any(m.needs_calibration for m in modes):
        calibration = calibration_for(source, calib_samples)
        _say(f"calibrating with {len(calibration)} images from {source.calib_from}")
    written, corrected = {}, 0
    for calibrated in (False, True):
        group = [m for m in modes if m.needs_calibration == calibrated]
        if not group:
            continue
        with ExitStack() as stack:
            if calibrated and bias_correction:
                corrected = stack.enter_context(corrected_biases(source.model, calibration))
                _say(f"bias correction: {corrected} layers' offsets corrected for int8 kernels")
            device = source.model
            if source.task == "detect" and not boxes_in_graph:  # distances out, decoded by edge
                from train.models.detector import device_model

                device = device_model(source.model)
            model = stack.enter_context(saved_model(batch_one(device)))
            for mode in group:
                (out_dir / (mode.filename() + REFUSED_SUFFIX)).unlink(missing_ok=True)  # an earlier refusal
                e = write_model(model, mode, out_dir, metadata_for(source, mode, boxes_in_graph), calibration)
                _say(f"wrote {e.path} ({e.size_bytes / 1024:.1f} KiB)")
                written[mode.name] = e
    exported = [written[m.name] for m in modes]

    _say(f"evaluating Keras and {len(exported)} variant(s) on {len(source.val)} validation images")
    keras_eval = evaluate_source(source)
    reference = VariantResult(
        "keras", keras_eval, source.size_bytes, None, 1.0 if source.task != "detect" else None
    )
    variants, verdicts = [], []
    for i, e in enumerate(exported):
        result = evaluate_variant(e.path, source, threads, latency_runs, keras_eval, name=e.mode)
        if source.task == "detect":
            verdict = judge_detector(e.mode, result.evaluation, keras_eval, max_drop)
        else:
            verdict = judge(e.mode, result.evaluation, keras_eval, max_drop, source.labels)
        if not verdict.accepted:
            os.replace(e.path, e.path.with_name(e.path.name + REFUSED_SUFFIX))
        elif source.task == "detect" and result.evaluation.operating is not None:
            exported[i] = _with_threshold(e, result.evaluation.operating)
            result = replace(result, size_bytes=exported[i].size_bytes)  # the file as it now is
        variants.append(result)
        verdicts.append(verdict)
    outcome = ExportOutcome(
        source=source,
        out_dir=out_dir,
        modes=tuple(modes),
        exported=tuple(exported),
        reference=reference,
        variants=tuple(variants),
        verdicts=tuple(verdicts),
        max_drop=max_drop,
        calibration_images=0 if calibration is None else len(calibration),
        bias_corrected_layers=corrected,
    )
    write_summary(outcome)
    from train.export.report import write_export_report  # matplotlib loads only when reporting

    write_export_report(outcome)
    return outcome


def _with_threshold(exported: Exported, operating: OperatingPoint) -> Exported:
    """An accepted detector with its best-F1 threshold written into its metadata, as edge's default."""
    done = restamp(exported, replace(exported.metadata, score_threshold=operating.threshold))
    _say(
        f"{exported.path.name}: score threshold {operating.threshold:.2f} in its metadata, the best F1 "
        f"({operating.f1:.3f}: precision {operating.precision:.3f}, recall {operating.recall:.3f})"
    )
    return done


def export_summary(outcome: ExportOutcome) -> dict:
    """The content of export.json."""
    s = outcome.source
    ref = outcome.reference.evaluation
    modes = {m.name: m for m in outcome.modes}
    variants = {}
    for result, verdict in zip(outcome.variants, outcome.verdicts):
        mode = modes[result.variant]
        variants[result.variant] = {
            **result.summary(),
            "file": outcome.path_of(result.variant).name,
            "description": mode.description,
            "io": mode.io,
            "accepted": verdict.accepted,
            "reason": verdict.reason or None,
            "drop_points": verdict.drop_points,
            "per_class_change_points": result.per_class_change(ref),
        }
    return {
        "source": {"kind": s.kind, "path": str(s.path), "name": s.name},
        "input": {
            "height": s.height,
            "width": s.width,
            "channels": s.channels,
            "mean": list(s.mean),
            "std": list(s.std),
        },
        "labels": list(s.labels),
        "validation": {"folder": str(s.val.root), "images": len(s.val)},
        "calibration": {
            "from": s.calib_from,
            "images": outcome.calibration_images,
            "bias_corrected_layers": outcome.bias_corrected_layers,
        },
        "max_drop_points": outcome.max_drop,
        "task": s.task,
        "keras": {**outcome.reference.summary(), "per_class": per_class(ref)},
        "variants": variants,
        "refused": [v.variant for v in outcome.refused],
    }


def write_summary(outcome: ExportOutcome) -> Path:
    path = outcome.out_dir / "export.json"
    path.write_text(json.dumps(export_summary(outcome), indent=2))
    return path
