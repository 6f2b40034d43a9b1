"""The frame loop: source -> prepare -> invoke -> decode -> outputs, with per-stage timing.

Everything expensive (interpreter, look-up tables, writers) is built before the loop. This version
runs the stages one after another; the summary reports where the time goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.render import draw
from edge.results import Classes, Detections, record
from edge.sinks import JsonlSink, VideoSink
from edge.sources import Frame, Source
from edge.tasks.base import Task

STAGES = ("capture", "preprocess", "invoke", "postprocess", "output")


@dataclass(frozen=True)
class RunSummary:
    """What a run did: frame count, wall time, fps, median ms per stage, agreement with truth."""

    frames: int
    seconds: float
    fps: float
    stage_ms: dict[str, float]
    truth_frames: int
    truth_agreement: float | None

    def lines(self) -> list[str]:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in self.stage_ms.items())
        out = [f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps); median ms: {stages}"]
        if self.truth_agreement is not None:
            out.append(
                f"agreement with ground truth: {self.truth_agreement:.1%} of {self.truth_frames} frames"
            )
        return out


def agrees(result: Classes | Detections, truth: dict) -> bool:
    """Does a result name the true label (top-1 for classes, any box for detections)?"""
    if isinstance(result, Classes):
        return len(result) > 0 and result.labels[0] == truth.get("label")
    return truth.get("label") in result.labels


def run(
    task: Task,
    source: Source,
    video: VideoSink | None = None,
    jsonl: JsonlSink | None = None,
    on_result: Callable[[Frame, Classes | Detections], None] | None = None,
) -> RunSummary:
    """Run ``task`` on every frame of ``source``; write annotated frames and JSON lines."""
    times = {stage: [] for stage in STAGES}
    hits = truths = frames = 0
    start = time.perf_counter()
    fps = None
    frames_iter = iter(source)
    while True:
        t0 = time.perf_counter()
        frame = next(frames_iter, None)
        if frame is None:
            break
        t1 = time.perf_counter()
        tensor, transform = task.prepare(frame.image)
        t2 = time.perf_counter()
        outputs = task.runtime.invoke(tensor)
        t3 = time.perf_counter()
        result = task.decode(outputs, transform)
        t4 = time.perf_counter()
        if video is not None:
            video.write(draw(frame.image, result, fps=fps))
        if jsonl is not None:
            jsonl.write(
                record(result, image=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
            )
        if on_result is not None:
            on_result(frame, result)
        t5 = time.perf_counter()
        for stage, a, b in zip(STAGES, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5)):
            times[stage].append(b - a)
        frames += 1
        fps = frames / max(t5 - start, 1e-9)
        if frame.truth is not None:
            truths += 1
            hits += agrees(result, frame.truth)
    seconds = time.perf_counter() - start
    return RunSummary(
        frames=frames,
        seconds=seconds,
        fps=frames / seconds if seconds > 0 else 0.0,
        stage_ms={k: float(np.median(v) * 1e3) if v else 0.0 for k, v in times.items()},
        truth_frames=truths,
        truth_agreement=hits / truths if truths else None,
    )
