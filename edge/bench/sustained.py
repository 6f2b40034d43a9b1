"""Sustained mode: invoke without pause for a duration, reported per window of time, with the
temperature, clock and throttling at the end of each window: how a Pi's throughput holds up as it heats."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from edge.bench.device import thermal_state
from edge.bench.latency import time_runs
from edge.errors import EdgeError
from edge.model.runtime import Runtime

UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h``, ``1.5m`` -> seconds (above 0)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise EdgeError(f"expected a duration above 0 such as 90s, 10m or 1h, got {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


@dataclass(frozen=True)
class Window:
    """One window of a sustained run."""

    start_s: float
    seconds: float
    runs: int
    fps: float
    p50_ms: float
    p90_ms: float
    state: dict  # temperature, clock, throttling at the window's end

    def record(self) -> dict:
        return {
            "start_s": round(self.start_s, 2),
            "seconds": round(self.seconds, 3),
            "runs": self.runs,
            "fps": round(self.fps, 2),
            "p50_ms": round(self.p50_ms, 4),
            "p90_ms": round(self.p90_ms, 4),
            **self.state,
        }


def sustained(
    runtime: Runtime,
    inputs: Sequence[Sequence[np.ndarray]],
    duration: float,
    window: float,
    on_window: Callable[[Window], None] | None = None,
) -> tuple[tuple[Window, ...], np.ndarray]:
    """Invoke back to back for ``duration`` seconds, cut into windows of ``window`` seconds; returns
    the windows and every run's seconds."""
    if window <= 0 or window > duration:
        raise EdgeError(
            f"the window ({window:g} s) must be above 0 and at most the duration ({duration:g} s)"
        )
    windows: list[Window] = []
    every: list[np.ndarray] = []
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < duration - 1e-3:
        span = min(window, duration - elapsed)
        t = time.perf_counter()
        seconds = time_runs(runtime, inputs, seconds=span)
        took = time.perf_counter() - t
        every.append(seconds)
        samples = seconds * 1e3
        w = Window(
            start_s=elapsed,
            seconds=took,
            runs=len(samples),
            fps=len(samples) / took if took > 0 else 0.0,
            p50_ms=float(np.percentile(samples, 50)),
            p90_ms=float(np.percentile(samples, 90)),
            state=thermal_state(),
        )
        windows.append(w)
        if on_window is not None:
            on_window(w)
    return tuple(windows), np.concatenate(every)
