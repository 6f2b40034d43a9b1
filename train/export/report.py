"""The export report beside the models: report.md, a self-contained report.html and variants.png."""

from __future__ import annotations

from pathlib import Path

from train.evaluate import per_class
from train.export.outcome import ExportOutcome
from train.report import Section, plot_variants, table_rows, write_pages

GATE_CLASSIFY = (
    "Gate: a variant is refused when its outputs are NaN, constant or collapsed to one class, or when its "
    "top-1 is more than {drop:g} points below the Keras float model."
)
GATE_DETECT = (
    "Gate: a variant is refused when it detects nothing, its outputs are NaN or its boxes collapse, or "
    "when its mAP@[.5:.95] is more than {drop:g} points below the Keras float model."
)


def write_export_report(outcome: ExportOutcome) -> Path:
    """report.md, report.html and variants.png beside the exported models."""
    out = outcome.out_dir
    results = [outcome.reference, *outcome.variants]
    plot_variants(results, out / "variants.png")
    verdicts = {v.variant: v for v in outcome.verdicts}
    ref = outcome.reference.evaluation
    names = list(per_class(ref))
    detect = outcome.source.task == "detect"
    change_rows = [["variant", *names]]
    for r in outcome.variants:
        change = r.per_class_change(ref)
        change_rows.append([r.variant, *[f"{change[n]:+.1f}" for n in names]])
    s = outcome.source
    lat = next((r.latency for r in outcome.variants if r.latency), None)
    notes = [
        f"Source: {s.kind} {s.path}; input {s.width}x{s.height}x{s.channels}, mean {list(s.mean)}, "
        f"std {list(s.std)}, {len(s.labels)} labels.",
        f"Validation: {len(s.val)} images from {s.val.root}, through edge (the device code path).",
        f"Calibration: {outcome.calibration_images} images from {s.calib_from}; "
        + (
            f"bias correction of {outcome.bias_corrected_layers} layers for the int8 kernels."
            if outcome.bias_corrected_layers
            else "no bias correction."
        )
        if outcome.calibration_images
        else "Calibration: none needed.",
        f"Latency: invoke() p50 over {lat.runs} runs after {lat.warmup} warm-up runs, "
        f"{lat.runtime} {lat.runtime_version}, {lat.threads} threads."
        if lat
        else "Latency: not measured.",
        GATE_DETECT.format(drop=outcome.max_drop) if detect else GATE_CLASSIFY.format(drop=outcome.max_drop),
    ]
    if detect:
        notes.insert(2, "mAP: pycocotools' COCOeval, score threshold 0.001 and 100 detections per image.")
        notes.insert(
            3,
            "Threshold: the score cut with the best F1 (IoU 0.5, the right class) on the validation images; "
            "each accepted variant carries its own in its metadata, and edge uses it when --threshold is "
            "not given.",
        )
    refused = tuple(f"{v.variant}: {v.reason}" for v in outcome.refused)
    sections = [
        Section(None, table_rows(results, verdicts), tuple(notes), (out / "variants.png",)),
        Section(
            f"Per-class {'AP@[.5:.95]' if detect else 'top-1'} change against Keras (points)", change_rows
        ),
    ]
    if refused:
        sections.append(Section("Refused", notes=refused))
    return write_pages(out, f"edgesight export: {s.name}", sections)
