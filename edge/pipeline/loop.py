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

import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from edge.errors import EdgeError, StopRun
from edge.pipeline.pace import Pace
from edge.pipeline.stats import STAGES, LiveStats
from edge.pipeline.truth import ObjectTally, agrees, result_labels
from edge.sinks.base import Sink
from edge.sinks.render import draw, draw_regions
from edge.sources import Frame, Source
from edge.tasks.base import Task
from edge.tasks.results import Result
from edge.track.session import Tracking

MODES = ("latest", "every")
QUEUE_SIZE = 4
POLL = 0.05  # seconds between checks of the stop flag while waiting
GUI_POLL = 0.01  # with a window: it is redrawn and its keys read at least this often
# Linux: the outputs thread's niceness. Outputs then take the CPU that inference leaves instead of
# preempting the interpreter's threads (one preempted thread stalls the other at the op's end). With 2
# interpreter threads on 2 cores and the machine slow, --save kept a median 0.806 of the fps at 10
# against 0.773 at 0 over 6 paired runs; fast, no difference (README; tools/save_cost.py --nice). The
# bounded queue still makes inference wait for outputs that fall behind, so they are never starved.
OUTPUTS_NICE = 10


@dataclass(frozen=True)
class Item:
    """One processed frame on its way to the outputs."""

    frame: Frame
    result: Result
    times: dict[str, float]  # seconds per stage (output added by the outputs thread)
    age: float  # result time minus capture time, seconds
    events: tuple = ()  # with tracking: this frame's events (edge.track.events.Event)
    snapshots: tuple = ()  # with --snapshots: frames to write (edge.track.session.Snapshot)


@dataclass(frozen=True)
class Final:
    """The run's last events (every live track ends), after the last frame."""

    events: tuple


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
    outputs: dict[str, int] = field(default_factory=dict)  # the outputs' own counters
    objects: ObjectTally | None = None  # detection against truth, on sources with objects
    tracking: tuple[str, ...] = ()  # with --track: the counts, one line each

    @property
    def inference_ms(self) -> float:
        """The median time to turn a frame into a result: preprocess, invoke and postprocess."""
        return sum(self.stage_ms[s] for s in ("preprocess", "invoke", "postprocess"))

    def lines(self) -> list[str]:
        stages = ", ".join(f"{k} {v:.2f}" for k, v in self.stage_ms.items())
        out = [
            f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps, {self.mode}-frame mode); "
            f"median ms: {stages}",
            f"frame age (result minus capture): median {self.age_ms:.1f} ms, p90 {self.age_p90_ms:.1f} ms; "
            f"dropped {self.dropped}, unreadable {self.unreadable}, reconnects {self.reconnects}",
        ]
        if "mqtt_published" in self.outputs or "mqtt_dropped" in self.outputs:
            out.append(
                f"mqtt: {self.outputs.get('mqtt_published', 0)} events published, "
                f"{self.outputs.get('mqtt_dropped', 0)} dropped while the broker was away"
            )
        if self.objects is not None:
            out.append(self.objects.line())
        out += list(self.tracking)
        if self.truth_agreement is not None:
            out.append(
                f"agreement with ground truth: {self.truth_agreement:.1%} of {self.truth_frames} frames"
            )
        return out


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

    def put(self, item: object, stop: threading.Event, timeout: float | None = None) -> None:
        """Waits for room until the run stops (or ``timeout`` seconds pass: the item is then lost)."""
        end = None if timeout is None else time.monotonic() + timeout
        while not stop.is_set() and (end is None or time.monotonic() < end):
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
    """A daemon thread that keeps the first exception it meets for the caller to re-raise, and sets
    ``stop`` when it ends on one: a failed stage ends the run instead of leaving the others waiting."""

    def __init__(self, name: str, target: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn = target
        self._stop_run = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn()
        except BaseException as exc:  # handed to the caller's thread
            self.error = exc
            self._stop_run.set()


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


def _lower_priority(nice: int) -> None:
    """On Linux, the calling thread (and the threads it starts later, an encoder's) runs at niceness
    ``nice`` or lower priority still; elsewhere, where niceness is per process, nothing changes."""
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()  # Linux keeps a niceness per thread
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
    except OSError:  # a sandbox that forbids it: the run goes on at the same priority
        pass


def _outputs(
    out: _Queue, sinks: Sequence[Sink], stop: threading.Event, stats: LiveStats, overlay: bool, tracking
) -> None:
    _lower_priority(OUTPUTS_NICE)
    annotate = any(s.annotated for s in sinks)
    snap, snapped = None, 0.0
    while True:
        item = out.get(POLL)
        if item is _END:
            return
        if isinstance(item, Final):
            for sink in sinks:
                sink.finish(item.events)
            continue
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
            if tracking is not None and tracking.regions:
                draw_regions(image, tracking.overlay(), tracking.counts())
        stopping = None
        for sink in sinks:
            try:
                sink.write(item, image)
            except StopRun as exc:  # this frame is out (shown, counted); the run ends after it
                stopping = exc
        times = {**item.times, "output": time.perf_counter() - t0}
        stats.record(times, item.age, result_labels(item.result))
        if stopping is not None:
            raise stopping


def _infer(task: Task, frame: Frame) -> tuple[Result, dict[str, float]]:
    """One frame through the model: the result and the seconds of each stage."""
    t1 = time.perf_counter()
    transform = task.load_input(frame.image)  # into the interpreter's input: no tensor copied in
    t2 = time.perf_counter()
    raw = task.invoke()
    t3 = time.perf_counter()
    result = task.decode(raw, transform)
    t4 = time.perf_counter()
    del raw  # the interpreter's own buffers for some tasks: let go before the next invoke
    return result, {"preprocess": t2 - t1, "invoke": t3 - t2, "postprocess": t4 - t3}


def _track(tracking: Tracking | None, frame: Frame, result: Result, times: dict[str, float]):
    """With tracking: the result with ids, its events and snapshots (timed as postprocess: well under
    a millisecond)."""
    if tracking is None:
        return result, (), ()
    t0 = time.perf_counter()
    stepped = tracking.step(frame, result)
    times["postprocess"] += time.perf_counter() - t0
    return stepped


def _summary(stats: LiveStats, mode: str, seconds: float, truths: int, hits: int, interrupted: bool,
             objects: ObjectTally):  # fmt: skip
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
        outputs=dict(stats.outputs),
        objects=objects if objects.objects or objects.detections else None,
    )


def check_options(mode: str | None, max_fps: float | None, frames: int | None) -> None:
    """``run``'s options checked: a caller checks them before it opens any output."""
    if mode is not None and mode not in MODES:
        raise EdgeError(f"unknown mode {mode!r}: choose one of {', '.join(MODES)}")
    if max_fps is not None and max_fps <= 0:
        raise EdgeError(f"--max-fps must be above 0, got {max_fps}")
    if frames is not None and frames < 1:
        raise EdgeError(f"--frames must be 1 or more, got {frames}")


def run(
    task: Task,
    source: Source,
    sinks: Sequence[Sink] = (),
    mode: str | None = None,
    max_fps: float | None = None,
    stats: LiveStats | None = None,
    on_result: Callable[[Frame, Result], None] | None = None,
    overlay: bool = True,
    tracking: Tracking | None = None,
    frames: int | None = None,
) -> RunSummary:
    """Run ``task`` on ``source`` through the pipeline until the source ends (or ``frames`` have run),
    an output stops the run (``StopRun``, or an error, re-raised here) or the caller is interrupted;
    every thread is done when this returns, within a fraction of a second. With ``tracking``, results
    carry track ids, items carry events, and the last events go out after the last frame."""
    check_options(mode, max_fps, frames)
    mode = mode or ("latest" if source.live else "every")
    stats = stats or LiveStats()
    stop = threading.Event()
    slot = _Latest(stats) if mode == "latest" else _Queue(QUEUE_SIZE)
    out = _Queue(QUEUE_SIZE)
    capture = _Worker("capture", lambda: _capture(source, slot, stop, stats), stop)
    outputs = _Worker("outputs", lambda: _outputs(out, sinks, stop, stats, overlay, tracking), stop)
    hits = truths = 0
    objects = ObjectTally()
    pace = Pace(max_fps)
    start = time.perf_counter()
    interrupted, ended, run_frames = False, False, 0
    gui = [s for s in sinks if getattr(s, "main_thread", False)]  # GUI toolkits: the thread that made them
    capture.start()
    outputs.start()
    try:
        while not stop.is_set():
            for sink in gui:
                sink.pump()
            pace.wait()
            got = slot.get(GUI_POLL if gui else POLL)
            if got is _END:
                ended = True
                break
            if got is None:
                continue
            pace.took()
            frame, capture_s = got
            result, times = _infer(task, frame)
            result, events, snapshots = _track(tracking, frame, result, times)
            age = time.monotonic() - frame.timestamp
            if frame.truth is not None:
                if "objects" in frame.truth:
                    objects.add(result, frame.truth["objects"])
                else:
                    truths += 1
                    hits += agrees(result, frame.truth)
            if on_result is not None:
                on_result(frame, result)
            out.put(Item(frame, result, {"capture": capture_s, **times}, age, events, snapshots), stop)
            run_frames += 1
            if frames is not None and run_frames >= frames:  # as at the end of a file: outputs drain
                ended = True
                break
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop, let the outputs drain, report
        interrupted = True
    except StopRun:  # q, Esc or the window closed: the run ends like at the end of a file
        pass
    finally:
        if tracking is not None and not stop.is_set():  # every live track ends, for every output
            out.put(Final(tracking.finish()), stop, timeout=1.0)
        if ended:
            out.put(_END, stop)
        stop.set()
        source.stop()
        outputs.join(timeout=5.0)  # outputs drain what they have, then close in the caller's hands
        capture.join(timeout=1.0)  # a stream read may block; the thread is a daemon
    for worker in (outputs, capture):
        if worker.error is not None and not isinstance(worker.error, StopRun):
            raise worker.error
    summary = _summary(stats, mode, time.perf_counter() - start, truths, hits, interrupted, objects)
    return replace(summary, tracking=tuple(tracking.lines())) if tracking is not None else summary
