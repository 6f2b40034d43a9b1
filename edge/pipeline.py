"""The frame pipeline: capture, inference and outputs in their own threads, with bounded hand-offs.

    capture thread --(latest slot | bounded queue)--> inference, in the caller's thread
                   --(bounded queue)--> outputs thread (draw once, then every sink)

Throughput is set by the slowest stage, not by their sum: OpenCV's decoding and encoding and the
interpreter's invoke release the GIL. Live sources default to latest-frame mode: the capture thread
keeps only the newest frame, so results are never behind the camera and older frames are counted as
dropped. Files and folders default to every frame. Inference runs in the caller's thread, so Ctrl-C
(and SIGTERM, which the CLI turns into Ctrl-C) stops it at once; the outputs then drain, and the
summary says the run was interrupted.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError, StopRun
from edge.render import draw
from edge.results import Classes, Detections
from edge.sinks.base import Sink
from edge.sources import Frame, Source
from edge.stats import STAGES, LiveStats
from edge.tasks.base import Task

MODES = ("latest", "every")
QUEUE_SIZE = 4
POLL = 0.05  # seconds between checks of the stop flag while waiting


@dataclass(frozen=True)
class Item:
    """One processed frame on its way to the outputs."""

    frame: Frame
    result: Classes | Detections
    times: dict[str, float]  # seconds per stage (output added by the outputs thread)
    age: float  # result time minus capture time, seconds


@dataclass(frozen=True)
class RunSummary:
    """What a run did: frames, wall time, fps, median ms per stage and frame age, counters, truth."""

    frames: int
    seconds: float
    fps: float
    mode: str
    stage_ms: dict[str, float]
    age_ms: float
    age_p90_ms: float
    dropped: int
    unreadable: int
    reconnects: int
    truth_frames: int
    truth_agreement: float | None
    interrupted: bool = False  # stopped by Ctrl-C or SIGTERM

    def lines(self) -> list[str]:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in self.stage_ms.items())
        out = [
            f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps, {self.mode}-frame mode); "
            f"median ms: {stages}",
            f"frame age (result minus capture): median {self.age_ms:.1f} ms, p90 {self.age_p90_ms:.1f} ms; "
            f"dropped {self.dropped}, unreadable {self.unreadable}, reconnects {self.reconnects}",
        ]
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


def result_labels(result: Classes | Detections) -> list[str]:
    """The labels a result counts for: top-1 for classes, every box for detections."""
    names = [lb if lb is not None else str(i) for lb, i in zip(result.labels, _ids(result))]
    return names[:1] if isinstance(result, Classes) else names


def _ids(result: Classes | Detections) -> np.ndarray:
    return result.ids if isinstance(result, Classes) else result.class_ids


_END = object()


class _Latest:
    """A one-frame slot: ``put`` replaces what is there (counted as dropped); ``get`` waits."""

    def __init__(self, stats: LiveStats) -> None:
        self._cond = threading.Condition()
        self._item: object = None
        self._stats = stats

    def put(self, item: object, stop: threading.Event) -> None:
        with self._cond:
            if self._item is not None and self._item is not _END:
                self._stats.count(dropped=1)
            if self._item is not _END:
                self._item = item
            self._cond.notify()

    def get(self, timeout: float) -> object:
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, (None if self._item is not _END else _END)
            return item


class _Queue:
    """A bounded FIFO whose ``put`` waits for room but gives up when the run stops."""

    def __init__(self, size: int) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=size)

    def put(self, item: object, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self._queue.put(item, timeout=POLL)
                return
            except queue.Full:
                continue

    def get(self, timeout: float) -> object:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None


class _Worker(threading.Thread):
    """A daemon thread that keeps the first exception it meets for the caller to re-raise."""

    def __init__(self, name: str, target: Callable[[], None]) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc


def _capture(source: Source, slot, stop: threading.Event, stats: LiveStats) -> None:
    frames: Iterator[Frame] = iter(source)
    reconnects = skipped = 0
    try:
        while not stop.is_set():
            t0 = time.perf_counter()
            frame = next(frames, None)
            elapsed = time.perf_counter() - t0
            if (source.reconnects, source.skipped) != (reconnects, skipped):  # the source's own counters
                stats.count(reconnects=source.reconnects - reconnects, unreadable=source.skipped - skipped)
                reconnects, skipped = source.reconnects, source.skipped
            if frame is None:
                return
            slot.put((frame, elapsed), stop)
    finally:
        slot.put(_END, stop)


def _outputs(
    out: _Queue, sinks: Sequence[Sink], stop: threading.Event, stats: LiveStats, overlay: bool
) -> None:
    annotate = any(s.annotated for s in sinks)
    snap, snapped = None, 0.0
    while True:
        item = out.get(POLL)
        if item is _END:
            return
        if item is None:
            if stop.is_set():
                return
            continue
        t0 = time.perf_counter()
        image = None
        if annotate:
            if overlay and t0 - snapped > 0.25:  # the overlay's figures, refreshed 4 times a second
                snap, snapped = stats.snapshot(), t0
            # Drawn in place: the frame goes nowhere after its outputs.
            image = draw(
                item.frame.image, item.result, fps=snap["fps"] if snap else None, copy=False, stats=snap
            )
        for sink in sinks:
            sink.write(item, image)
        times = {**item.times, "output": time.perf_counter() - t0}
        stats.record(times, item.age, result_labels(item.result))


def run(
    task: Task,
    source: Source,
    sinks: Sequence[Sink] = (),
    mode: str | None = None,
    max_fps: float | None = None,
    stats: LiveStats | None = None,
    on_result: Callable[[Frame, Classes | Detections], None] | None = None,
    overlay: bool = True,
) -> RunSummary:
    """Run ``task`` on ``source`` through the pipeline until the source ends, an output stops the run
    (``StopRun``) or the caller is interrupted; every thread is done when this returns."""
    mode = mode or ("latest" if source.live else "every")
    if mode not in MODES:
        raise EdgeError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if max_fps is not None and max_fps <= 0:
        raise EdgeError(f"--max-fps must be above 0, got {max_fps}")
    stats = stats or LiveStats()
    stop = threading.Event()
    slot = _Latest(stats) if mode == "latest" else _Queue(QUEUE_SIZE)
    out = _Queue(QUEUE_SIZE)
    capture = _Worker("capture", lambda: _capture(source, slot, stop, stats))
    outputs = _Worker("outputs", lambda: _outputs(out, sinks, stop, stats, overlay))
    hits = truths = 0
    interval = 1.0 / max_fps if max_fps else 0.0
    start = time.perf_counter()
    next_start = time.monotonic()
    interrupted = False
    capture.start()
    outputs.start()
    try:
        while outputs.is_alive():
            if interval:  # the rate cap waits before taking a frame, so the frame taken is the newest
                delay = next_start - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            got = slot.get(POLL)
            if got is _END:
                break
            if got is None:
                continue
            if interval:
                next_start = max(next_start + interval, time.monotonic() - interval)
            frame, capture_s = got
            t1 = time.perf_counter()
            tensor, transform = task.prepare(frame.image)
            t2 = time.perf_counter()
            raw = task.runtime.invoke(tensor)
            t3 = time.perf_counter()
            result = task.decode(raw, transform)
            t4 = time.perf_counter()
            age = time.monotonic() - frame.timestamp
            times = {"capture": capture_s, "preprocess": t2 - t1, "invoke": t3 - t2, "postprocess": t4 - t3}
            if frame.truth is not None:
                truths += 1
                hits += agrees(result, frame.truth)
            if on_result is not None:
                on_result(frame, result)
            out.put(Item(frame, result, times, age), stop)
        out.put(_END, stop)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop, let the outputs drain, report
        interrupted = True
    finally:
        stop.set()
        source.stop()
        outputs.join(timeout=5.0)  # outputs drain what they have, then close in the caller's hands
        capture.join(timeout=1.0)  # a stream read may block; the thread is a daemon
    for worker in (outputs, capture):
        if worker.error is not None and not isinstance(worker.error, StopRun):
            raise worker.error
    seconds = time.perf_counter() - start
    hist = stats.stages
    return RunSummary(
        frames=stats.frames,
        seconds=seconds,
        fps=stats.frames / seconds if seconds > 0 else 0.0,
        mode=mode,
        stage_ms={s: hist[s].ms(0.5) for s in STAGES},
        age_ms=stats.age.ms(0.5),
        age_p90_ms=stats.age.ms(0.9),
        dropped=stats.dropped,
        unreadable=stats.unreadable,
        reconnects=stats.reconnects,
        truth_frames=truths,
        truth_agreement=hits / truths if truths else None,
        interrupted=interrupted,
    )
