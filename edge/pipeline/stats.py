"""Run statistics in constant memory: per-stage times, frame age, fps, counts per label.

A pipeline updates one ``LiveStats`` from its threads; the web view, ``/metrics``, ``--stats`` and
the end-of-run summary read snapshots of it. Times go into log-spaced histograms (quantiles within
about 2%, however long the run) and a short window of recent frames (the live figures).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import Counter, deque
from collections.abc import Callable

STAGES = ("capture", "preprocess", "invoke", "postprocess", "output")
WINDOW = 120  # recent frames behind the live figures
OUTPUT_COUNTERS = {
    "mqtt_published": "MQTT events published.",
    "mqtt_dropped": "MQTT events dropped while the broker was away.",
    "snapshots": "Snapshots written.",
    "clips": "Event clips written.",
    "clip_frames_dropped": "Clip frames dropped because the encoder fell behind.",
}


class Histogram:
    """Counts of values (seconds) in log-spaced bins from 1 us to 1000 s; quantiles from the bins."""

    EDGES = tuple(1e-6 * 10 ** (i / 50) for i in range(451))  # 50 bins a decade

    def __init__(self) -> None:
        self.counts = [0] * (len(self.EDGES) + 1)
        self.total = 0
        self.sum = 0.0

    def add(self, value: float) -> None:
        self.counts[bisect.bisect_right(self.EDGES, value)] += 1
        self.total += 1
        self.sum += value

    def quantile(self, q: float) -> float:
        """The ``q`` quantile (geometric middle of its bin); NaN when empty."""
        if not self.total:
            return math.nan
        rank, seen = q * (self.total - 1), 0
        for i, count in enumerate(self.counts):
            seen += count
            if seen > rank:
                lo = self.EDGES[i - 1] if i > 0 else 0.0
                hi = self.EDGES[i] if i < len(self.EDGES) else self.EDGES[-1]
                return math.sqrt(lo * hi) if lo > 0 else hi
        return self.EDGES[-1]

    def ms(self, q: float) -> float:
        """The ``q`` quantile in milliseconds; 0 when empty."""
        value = self.quantile(q)
        return value * 1e3 if value == value else 0.0


def _median(values) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else math.nan


class LiveStats:
    """Thread-safe counters and timings of one run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.started = time.monotonic()
        self.frames = 0
        self.dropped = 0  # captured, then replaced by a newer frame before inference (latest-frame mode)
        self.unreadable = 0
        self.reconnects = 0
        self.last_result = None  # monotonic time of the last result
        self.labels: Counter[str] = Counter()
        self.stages = {s: Histogram() for s in STAGES}
        self.age = Histogram()
        self._recent = {s: deque(maxlen=WINDOW) for s in (*STAGES, "age")}
        self._stamps: deque[float] = deque(maxlen=WINDOW)
        self.outputs: Counter[str] = Counter()  # per-output counts, e.g. mqtt_published, mqtt_dropped
        self.note = ""
        self.tracking: Callable[[], dict] | None = None  # with --track: the counts so far

    def record(self, times: dict[str, float], age: float, labels: list[str]) -> None:
        """One frame done: its stage times and age (seconds), and the labels it found."""
        now = time.monotonic()
        with self._lock:
            self.frames += 1
            self.last_result = now
            self._stamps.append(now)
            for stage, seconds in times.items():
                self.stages[stage].add(seconds)
                self._recent[stage].append(seconds)
            self.age.add(age)
            self._recent["age"].append(age)
            self.labels.update(labels)

    def count(self, dropped: int = 0, unreadable: int = 0, reconnects: int = 0) -> None:
        with self._lock:
            self.dropped += dropped
            self.unreadable += unreadable
            self.reconnects += reconnects

    def count_output(self, name: str, n: int = 1) -> None:
        """An output's own counter (``mqtt_dropped``: events made while the broker was away)."""
        with self._lock:
            self.outputs[name] += n

    def snapshot(self) -> dict:
        """Live figures: fps and median ms per stage over the recent window, and the run's counters."""
        with self._lock:
            stamps = list(self._stamps)
            fps = (
                (len(stamps) - 1) / (stamps[-1] - stamps[0])
                if len(stamps) > 1 and stamps[-1] > stamps[0]
                else 0.0
            )
            recent = {k: _median(v) * 1e3 for k, v in self._recent.items()}
            return {
                "frames": self.frames,
                "fps": round(fps, 2),
                "stage_ms": {s: round(recent[s], 3) for s in STAGES if not math.isnan(recent[s])},
                "age_ms": None if math.isnan(recent["age"]) else round(recent["age"], 3),
                "dropped": self.dropped,
                "unreadable": self.unreadable,
                "reconnects": self.reconnects,
                "labels": dict(self.labels.most_common()),
                "outputs": dict(self.outputs),
                "uptime_s": round(time.monotonic() - self.started, 3),
                "seconds_since_result": None
                if self.last_result is None
                else round(time.monotonic() - self.last_result, 3),
                **({"tracking": self.tracking()} if self.tracking is not None else {}),
            }

    def line(self) -> str:
        """One line for ``--stats``."""
        s = self.snapshot()
        stages = " ".join(f"{k} {v:.1f}" for k, v in s["stage_ms"].items())
        age = f"{s['age_ms']:.0f}" if s["age_ms"] is not None else "-"
        return f"{s['frames']} frames, {s['fps']:.1f} fps, age {age} ms, dropped {s['dropped']}; ms: {stages}"

    def prometheus(self, prefix: str = "edgesight") -> str:
        """The run in Prometheus' text exposition format."""
        s = self.snapshot()
        out = [
            f"# HELP {prefix}_frames_total Frames processed.",
            f"# TYPE {prefix}_frames_total counter",
            f"{prefix}_frames_total {s['frames']}",
            f"# HELP {prefix}_dropped_frames_total Frames replaced by a newer one before inference.",
            f"# TYPE {prefix}_dropped_frames_total counter",
            f"{prefix}_dropped_frames_total {s['dropped']}",
            f"# HELP {prefix}_unreadable_frames_total Frames that could not be read, skipped.",
            f"# TYPE {prefix}_unreadable_frames_total counter",
            f"{prefix}_unreadable_frames_total {s['unreadable']}",
            f"# HELP {prefix}_reconnects_total Times the source was reopened.",
            f"# TYPE {prefix}_reconnects_total counter",
            f"{prefix}_reconnects_total {s['reconnects']}",
            f"# HELP {prefix}_fps Frames per second over the last {WINDOW} frames.",
            f"# TYPE {prefix}_fps gauge",
            f"{prefix}_fps {s['fps']}",
            f"# HELP {prefix}_stage_seconds Median seconds per frame over the last {WINDOW} frames.",
            f"# TYPE {prefix}_stage_seconds gauge",
        ]
        out += [f'{prefix}_stage_seconds{{stage="{k}"}} {v / 1e3:.6f}' for k, v in s["stage_ms"].items()]
        out += [
            f"# HELP {prefix}_frame_age_seconds Median result time minus capture time, last {WINDOW} frames.",
            f"# TYPE {prefix}_frame_age_seconds gauge",
            f"{prefix}_frame_age_seconds {(s['age_ms'] or 0) / 1e3:.6f}",
            f"# HELP {prefix}_detections_total Results per label.",
            f"# TYPE {prefix}_detections_total counter",
        ]
        out += [f'{prefix}_detections_total{{label="{_escape(k)}"}} {v}' for k, v in s["labels"].items()]
        out += _tracking_metrics(s.get("tracking"), prefix)
        for name, value in sorted(s["outputs"].items()):
            out += [
                f"# HELP {prefix}_{name}_total {OUTPUT_COUNTERS.get(name, name)}",
                f"# TYPE {prefix}_{name}_total counter",
                f"{prefix}_{name}_total {value}",
            ]
        return "\n".join(out) + "\n"


def _tracking_metrics(counts: dict | None, prefix: str) -> list[str]:
    """Tracks, line crossings and zone figures in Prometheus' format (none without tracking)."""
    if counts is None:
        return []
    out = [
        f"# HELP {prefix}_tracks_total Objects tracked.",
        f"# TYPE {prefix}_tracks_total counter",
        f"{prefix}_tracks_total {counts['tracks']}",
    ]
    if counts["lines"]:
        out += [f"# HELP {prefix}_line_crossings_total Crossings of each line, by direction.",
                f"# TYPE {prefix}_line_crossings_total counter"]  # fmt: skip
        for name, c in counts["lines"].items():
            out += [f'{prefix}_line_crossings_total{{line="{_escape(name)}",direction="{d}"}} {c[d]}'
                    for d in ("in", "out")]  # fmt: skip
    zones = counts["zones"].items()
    for key, kind, text in (("occupancy", "gauge", "Objects in each zone now."),
                            ("entered", "counter", "Entries into each zone."),
                            ("exited", "counter", "Exits from each zone.")):  # fmt: skip
        if zones:
            metric = f"{prefix}_zone_{key}" + ("_total" if kind == "counter" else "")
            out += [f"# HELP {metric} {text}", f"# TYPE {metric} {kind}"]
            out += [f'{metric}{{zone="{_escape(name)}"}} {c[key]}' for name, c in zones]
    return out


def _escape(label: str) -> str:
    return label.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
