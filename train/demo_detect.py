"""``edgesight demo --task detect``: the detector's whole job on the built-in data, in one run folder.

data (COCO format) -> train -> export float32 + int8, each scored by COCO mAP through edge beside
Keras (latency, gate) -> live run of the int8 model on the synthetic camera's detection mode (moving
objects with known boxes) -> report.md / report.html / summary.json, and exit 1 if a target is missed.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.model.metadata import read_model_file
from edge.model.spec import score_threshold
from edge.sinks.files import make_folder
from edge.sources.scene import SceneSource
from edge.tasks.loader import default_threshold
from edge.util.tables import text_table
from train.data.detect_shapes import generate_detection_shapes
from train.demo import live_run
from train.detect_fit import DetectConfig, train_detector
from train.export.job import export
from train.export.modes import MODES_BY_NAME
from train.export.source import open_export_source
from train.report import Section, plot_per_class, plot_variants, table_rows, write_pages

THREADS = 2
GATE_POINTS = 3.0  # the export gate in the demo: int8 is refused beyond 3 mAP@[.5:.95] points
TARGETS = {
    "int8_mAP50": 0.90,
    "int8_mAP50_95": 0.65,
    "int8_drop_points": 1.5,
    "live_found": 0.95,
    "live_fp": 0.05,
}


def _step(n: int, text: str) -> None:
    print(f"\n[{n}/5] {text}", flush=True)


def _variant_summary(result) -> dict:
    s = result.summary()
    return {
        "mAP50_95": s["mAP50_95"],
        "mAP50": s["mAP50"],
        "size_bytes": s["size_bytes"],
        "p50_ms": s["latency_p50_ms"],
    }


def _targets(variants: dict, live, refused: tuple) -> dict:
    int8, float32 = variants["int8"], variants["float32"]
    return {
        f"int8_mAP50_at_least_{TARGETS['int8_mAP50']}": int8["mAP50"] >= TARGETS["int8_mAP50"],
        f"int8_mAP50_95_at_least_{TARGETS['int8_mAP50_95']}": int8["mAP50_95"] >= TARGETS["int8_mAP50_95"],
        "int8_within_1.5_points_of_float32": (float32["mAP50_95"] - int8["mAP50_95"]) * 100
        <= TARGETS["int8_drop_points"],
        "live_found_at_least_0.95": live.objects is not None and live.objects.recall >= TARGETS["live_found"],
        "live_false_positives_at_most_0.05": live.objects is not None
        and live.objects.false_positive_share <= TARGETS["live_fp"],
        "no_variant_refused": not refused,
    }


def run_detect_demo(out: Path, config: DetectConfig, images: int = 2000, frames: int = 300) -> dict:
    """Run every step; returns the summary written to ``out/summary.json``."""
    start = time.perf_counter()
    make_folder(out)
    _step(1, "built-in detection data: shapes over textured backgrounds, written as COCO")
    data = generate_detection_shapes(out / "data", images, max(1, images // 7), config.seed)
    _step(2, f"training a detector ({config.model}, {config.size} px, {config.epochs} epochs)")
    train_detector(data, out / "run", config)
    _step(3, "exporting float32 and int8 (uint8 input, int8 distances and scores), each scored by mAP")
    # the gate is wider than the 1.5-point target, which is checked and reported on its own: the live
    # run needs an int8 model even on a run where int8 lands past the target (with the distances output
    # it landed 0.84 and 1.09 points below float32 in the README's runs)
    outcome = export(
        open_export_source(out / "run"), [MODES_BY_NAME["float32"], MODES_BY_NAME["int8"]], out / "models",
        max_drop=GATE_POINTS, threads=THREADS,
    )  # fmt: skip
    results = [outcome.reference, *outcome.variants]
    _step(4, "live run of the int8 model on the synthetic camera, several moving objects with known boxes")
    scene = SceneSource(frames=frames, seed=config.seed + 1)
    live, runtime_label, samples = live_run(outcome.path_of("int8"), out, frames, config.seed, scene)
    int8 = read_model_file(outcome.path_of("int8"))
    threshold = default_threshold(int8)
    whose = "the int8 model's own: best F1 on validation" if score_threshold(int8) else "edge's default"
    print(f"score threshold {threshold:.2f} ({whose})")
    for line in live.lines():
        print(line)
    _step(5, "report")
    variants = {r.variant: _variant_summary(r) for r in results}
    extra = {
        "runtime": runtime_label,
        "live": {
            "frames": live.frames,
            "score_threshold": threshold,
            "fps": round(live.fps, 2),
            "objects": live.objects.objects if live.objects else 0,
            "found": round(live.objects.recall, 4) if live.objects else 0.0,
            "false_positives": round(live.objects.false_positive_share, 4) if live.objects else None,
            "video": "live.mp4",
            "jsonl": "live.jsonl",
        },
        "targets": _targets(variants, live, outcome.refused),
        "seconds": round(time.perf_counter() - start, 1),
    }
    summary = {"task": "detect", "variants": variants, **extra}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    _report(out, results, summary, samples, live)
    print()
    print(text_table(table_rows(results)))
    print(f"\nlive: {live.objects.line() if live.objects else 'no objects'}")
    print(f"report: {out / 'report.md'} and {out / 'report.html'}; summary: {out / 'summary.json'}")
    print(f"done in {extra['seconds']:.0f} s")
    return summary


def _report(out: Path, results, summary: dict, samples: list[Path], live) -> Path:
    plot_variants(results, out / "variants.png")
    plot_per_class(results, out / "per_class.png")
    notes = [
        "mAP: pycocotools' COCOeval on the validation split, score threshold 0.001, "
        "100 detections per image; "
        "the .tflite files through edge (letterbox, decoding, class-wise NMS), the Keras model through the "
        "same decoding.",
        f"Latency: invoke() p50 on {summary['runtime']}.",
        f"Live: score threshold {summary['live']['score_threshold']:.2f}; "
        f"{live.objects.line() if live.objects else 'no objects'}; {live.fps:.1f} fps end to end.",
        "Targets: "
        + ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in summary["targets"].items())
        + ".",
    ]
    sections = [
        Section(None, table_rows(results), tuple(notes), (out / "variants.png", out / "per_class.png")),
        Section("Live run samples", images=tuple(samples)),
    ]
    return write_pages(out, "edgesight detection demo report", sections)
