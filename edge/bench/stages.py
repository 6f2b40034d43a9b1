"""The pipeline benchmark: a source through ``edge.pipeline.loop`` as ``edgesight run`` would take it,
reported per stage (capture/decode, preprocess, invoke, postprocess, output), end to end and by age."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.model.spec import Overrides
from edge.pipeline.loop import run
from edge.pipeline.stats import STAGES, LiveStats
from edge.sinks.base import Sink
from edge.sources import open_source
from edge.tasks.loader import load

LIVE_FRAMES = 300  # frames taken from a camera or stream unless told otherwise


@dataclass(frozen=True)
class StageResult:
    """A source through the pipeline: frames, fps, p50 / p90 ms per stage and frame age."""

    source: str
    frames: int
    seconds: float
    fps: float
    mode: str
    stage_p50_ms: dict[str, float]
    stage_p90_ms: dict[str, float]
    age_p50_ms: float
    age_p90_ms: float
    dropped: int
    unreadable: int
    drawn: bool
    graph: str | None = None  # how the interpreter runs the model when not as the file has it

    def record(self) -> dict:
        return {
            "source": self.source,
            "frames": self.frames,
            "seconds": round(self.seconds, 3),
            "fps": round(self.fps, 2),
            "mode": self.mode,
            "stage_p50_ms": {k: round(v, 3) for k, v in self.stage_p50_ms.items()},
            "stage_p90_ms": {k: round(v, 3) for k, v in self.stage_p90_ms.items()},
            "age_p50_ms": round(self.age_p50_ms, 3),
            "age_p90_ms": round(self.age_p90_ms, 3),
            "dropped": self.dropped,
            "unreadable": self.unreadable,
            "drawn": self.drawn,
            "graph": self.graph,
        }


class _Dropped(Sink):
    """Drops every frame; with ``draw`` each is annotated first, so the output stage pays for drawing
    as a window, video or web view would."""

    def __init__(self, draw: bool) -> None:
        self.annotated = draw

    def write(self, item, image) -> None:
        pass


def bench_pipeline(
    path: Path,
    source: str,
    *,
    threads: int,
    runtime: str,
    xnnpack: bool,
    overrides: Overrides | None = None,
    frames: int | None = None,
    draw: bool = False,
    mode: str | None = None,
) -> StageResult:
    """Run ``path`` on ``source`` through the pipeline; a camera or stream stops after ``frames``
    (default 300), a file or folder at its end unless ``frames`` is given. Raises ``EdgeError``
    when the source gives no frame."""
    stats = LiveStats()
    with (
        load(path, threads=threads, runtime=runtime, overrides=overrides, xnnpack=xnnpack) as task,
        open_source(source, frames=frames) as src,
    ):
        limit = frames if frames or not src.live else LIVE_FRAMES
        graph = task.graph_note
        summary = run(task, src, [_Dropped(draw)], mode=mode, stats=stats, frames=limit)
    if summary.interrupted:
        raise KeyboardInterrupt
    if summary.frames == 0:
        skipped = f" ({summary.unreadable} unreadable)" if summary.unreadable else ""
        raise EdgeError(f"source {source!r} gave no frames{skipped}: nothing to benchmark")
    hist = stats.stages
    return StageResult(
        source=source,
        frames=summary.frames,
        seconds=summary.seconds,
        fps=summary.fps,
        mode=summary.mode,
        stage_p50_ms=summary.stage_ms,
        stage_p90_ms={s: hist[s].ms(0.9) for s in STAGES},
        age_p50_ms=summary.age_ms,
        age_p90_ms=summary.age_p90_ms,
        dropped=summary.dropped,
        unreadable=summary.unreadable,
        drawn=draw,
        graph=graph,
    )
