"""Invoke latency: a first run, warm-up, then timed runs of set-input / invoke / read-outputs."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

from edge.model.runtime import Runtime

Progress = Callable[[int, Optional[int], float], None]  # (runs done, runs planned or None, seconds)
PROGRESS_EVERY = 0.5  # seconds between progress calls


@dataclass(frozen=True)
class Latency:
    """Invoke latency in milliseconds over ``runs`` timed runs after ``warmup`` untimed ones.

    ``fps`` is invokes per second one after another (runs over the timed seconds)."""

    runtime: str
    runtime_version: str
    threads: int
    runs: int
    warmup: int
    first_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    std_ms: float
    fps: float = 0.0


def random_inputs(runtime: Runtime, seed: int = 0) -> list[np.ndarray]:
    """Random tensors of each input's shape and dtype."""
    rng = np.random.default_rng(seed)
    arrays = []
    for info in runtime.inputs:
        if np.issubdtype(info.dtype, np.integer):
            limits = np.iinfo(info.dtype)
            arrays.append(
                rng.integers(limits.min, limits.max, size=info.shape, endpoint=True).astype(info.dtype)
            )
        else:
            arrays.append(rng.uniform(-1, 1, size=info.shape).astype(info.dtype))
    return arrays


def summarize(runtime: Runtime, samples: np.ndarray, warmup: int, first_s: float) -> Latency:
    """Latency figures from timed samples in seconds."""
    ms = np.asarray(samples, dtype=np.float64) * 1e3
    total = float(samples.sum()) if len(samples) else 0.0
    return Latency(
        runtime=runtime.name,
        runtime_version=runtime.version,
        threads=runtime.threads,
        runs=len(ms),
        warmup=warmup,
        first_ms=first_s * 1e3,
        p50_ms=float(np.percentile(ms, 50)),
        p90_ms=float(np.percentile(ms, 90)),
        p99_ms=float(np.percentile(ms, 99)),
        mean_ms=float(ms.mean()),
        min_ms=float(ms.min()),
        max_ms=float(ms.max()),
        std_ms=float(ms.std()),
        fps=len(ms) / total if total > 0 else 0.0,
    )


def time_runs(
    runtime: Runtime,
    inputs: Sequence[Sequence[np.ndarray]],
    runs: int | None = None,
    seconds: float | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Seconds per ``invoke`` over ``runs`` runs, or as many as fit in ``seconds`` (at least one),
    cycling through the input sets."""
    if (runs is None) == (seconds is None):
        raise ValueError("give runs or seconds")
    samples: list[float] = []
    clock = time.perf_counter
    start = last = clock()
    i = 0
    while True:
        if runs is not None and i >= runs:
            break
        t = clock()
        runtime.invoke(*inputs[i % len(inputs)])
        done = clock()
        samples.append(done - t)
        i += 1
        if seconds is not None and done - start >= seconds:
            break
        if progress is not None and done - last >= PROGRESS_EVERY:
            progress(i, runs, done - start)
            last = done
    return np.asarray(samples)


def first_and_warmup(runtime: Runtime, inputs: Sequence[Sequence[np.ndarray]], warmup: int) -> float:
    """The first invoke (seconds; where lazy work such as packing weights lands), then ``warmup``
    untimed ones."""
    t = time.perf_counter()
    runtime.invoke(*inputs[0])
    first = time.perf_counter() - t
    for i in range(warmup):
        runtime.invoke(*inputs[i % len(inputs)])
    return first


def measure_invoke(
    runtime: Runtime,
    inputs: Sequence[Sequence[np.ndarray]] | None = None,
    runs: int | None = 50,
    warmup: int = 5,
    seconds: float | None = None,
    progress: Progress | None = None,
) -> Latency:
    """Time ``runtime.invoke`` (inputs set and outputs read included, as a caller pays them): one
    first run (timed apart), ``warmup`` untimed runs, then ``runs`` timed runs or a ``seconds`` budget.
    ``inputs`` is a list of input sets, cycled through (default: one set of random tensors)."""
    inputs = list(inputs) if inputs else [random_inputs(runtime)]
    first = first_and_warmup(runtime, inputs, warmup)
    samples = time_runs(runtime, inputs, runs=None if seconds else runs, seconds=seconds, progress=progress)
    return summarize(runtime, samples, warmup, first)
