"""``edgesight demo``: the whole job on the built-in data, end to end, in one run folder.

data -> train -> export float32 + int8, each checked through edge beside Keras (accuracy, latency, gate)
-> live run of the int8 model on the synthetic camera -> report.md / report.html / summary.json.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from edge.pipeline.loop import run
from edge.sinks import JsonlSink, VideoSink
from edge.sinks.files import make_folder, write_image
from edge.sinks.render import draw
from edge.sources import SyntheticSource
from edge.tasks.loader import load
from edge.util.tables import text_table
from train.data.folders import split_folder
from train.data.shapes import generate_shapes
from train.export.job import export
from train.export.modes import MODES_BY_NAME
from train.export.source import open_export_source
from train.fit import train
from train.report import table_rows, write_report

SAMPLE_FRAMES = (20, 80, 140, 200)
THREADS = 2


def _step(n: int, text: str) -> None:
    print(f"\n[{n}/5] {text}", flush=True)


def live_run(model: Path, out: Path, frames: int, seed: int, source=None):
    """The model on the synthetic camera (or ``source``), writing live.mp4 and live.jsonl and keeping
    sample frames; returns (summary, runtime label, sample paths)."""
    samples: list[Path] = []

    def keep_samples(frame, result) -> None:
        if frame.index in SAMPLE_FRAMES:
            path = out / f"frame_{frame.index:04d}.png"
            write_image(path, draw(frame.image, result))
            samples.append(path)

    with (
        load(model, threads=THREADS) as task,
        source or SyntheticSource(frames=frames, seed=seed + 1) as source,
        VideoSink(out / "live.mp4") as video,
        JsonlSink(out / "live.jsonl") as jsonl,
    ):
        live = run(task, source, [video, jsonl], on_result=keep_samples)
        return live, task.runtime.label, samples


def run_demo(
    out: Path, epochs: int = 20, size: int = 64, images_per_class: int = 800, frames: int = 300, seed: int = 0
) -> dict:
    """Run every step; returns the summary written to ``out/summary.json``."""
    start = time.perf_counter()
    make_folder(out)
    _step(1, "built-in dataset: coloured shapes over textured, noisy backgrounds")
    data = generate_shapes(out / "data", per_class=images_per_class, seed=seed)
    split = split_folder(data)  # its counts: train checks the images it reads
    print(
        f"{data}: {len(split.train)} training and {len(split.val)} validation images, "
        f"classes {', '.join(split.class_names)}"
    )

    _step(2, "training a small CNN (Keras 3, tf.data)")
    info = train(data, out / "run", epochs=epochs, size=size, seed=seed)

    _step(3, "exporting float32 and int8 (uint8 input) .tflite with embedded labels and preprocessing")
    print(f"each variant is evaluated through edge on the validation split and timed ({THREADS} threads)")
    outcome = export(
        open_export_source(out / "run"),
        [MODES_BY_NAME["float32"], MODES_BY_NAME["int8"]],
        out / "models",
        threads=THREADS,
    )
    results = [outcome.reference, *outcome.variants]
    for v in outcome.refused:
        print(f"refused {v.variant}: {v.reason}")

    _step(4, "live run of the int8 model on the synthetic camera")
    live, runtime_label, samples = live_run(outcome.path_of("int8"), out, frames, seed)
    for line in live.lines():
        print(line)

    _step(5, "report")
    accuracy = {r.variant: r.evaluation.accuracy for r in results}
    extra = {
        "runtime": runtime_label,
        "live": {
            "frames": live.frames,
            "fps": round(live.fps, 2),
            "agreement_with_truth": round(live.truth_agreement or 0.0, 4),
            "stage_ms": {k: round(v, 3) for k, v in live.stage_ms.items()},
            "video": "live.mp4",
            "jsonl": "live.jsonl",
        },
        "targets": {
            "int8_accuracy_at_least_0.97": accuracy["int8"] >= 0.97,
            "int8_within_1_point_of_float32": accuracy["float32"] - accuracy["int8"] <= 0.01,
            "live_agreement_at_least_0.95": (live.truth_agreement or 0.0) >= 0.95,
            "no_variant_refused": not outcome.refused,
        },
        "seconds": round(time.perf_counter() - start, 1),
    }
    notes = [
        f"Validation: {len(split.val)} images of {len(split.class_names)} classes; "
        f"input {info.size}x{info.size}.",
        f"Latency: invoke() p50 over 100 runs after 10 warm-up runs on {runtime_label}.",
        f"Live run: {live.frames} synthetic frames, int8 model, top-1 agrees with ground truth on "
        f"{live.truth_agreement:.1%} of frames, {live.fps:.1f} fps end to end (video and JSONL written).",
    ]
    report = write_report(out, results, extra, notes, samples)
    print()
    print(text_table(table_rows(results)))
    print(f"\nlive: {live.truth_agreement:.1%} agreement with ground truth over {live.frames} frames")
    print(f"report: {report} and {report.with_suffix('.html')}; summary: {out / 'summary.json'}")
    print(f"done in {extra['seconds']:.0f} s")
    return json.loads((out / "summary.json").read_text())
