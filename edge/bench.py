"""Invoke latency: warm-up, then timed runs of set-input / invoke / read-outputs."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from edge.runtime import Runtime


@dataclass(frozen=True)
class Latency:
    """Invoke latency in milliseconds over ``runs`` timed runs after ``warmup`` untimed ones."""

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


def measure_invoke(
    runtime: Runtime, inputs: list[np.ndarray] | None = None, runs: int = 50, warmup: int = 5
) -> Latency:
    """Time ``runtime.invoke`` (inputs set and outputs read included, as a caller pays them)."""
    inputs = inputs if inputs is not None else random_inputs(runtime)
    t = time.perf_counter()
    runtime.invoke(*inputs)
    first = time.perf_counter() - t
    for _ in range(warmup):
        runtime.invoke(*inputs)
    samples = np.empty(runs)
    for i in range(runs):
        t = time.perf_counter()
        runtime.invoke(*inputs)
        samples[i] = time.perf_counter() - t
    ms = samples * 1e3
    return Latency(
        runtime=runtime.name,
        runtime_version=runtime.version,
        threads=runtime.threads,
        runs=runs,
        warmup=warmup,
        first_ms=first * 1e3,
        p50_ms=float(np.percentile(ms, 50)),
        p90_ms=float(np.percentile(ms, 90)),
        p99_ms=float(np.percentile(ms, 99)),
        mean_ms=float(ms.mean()),
        min_ms=float(ms.min()),
        max_ms=float(ms.max()),
        std_ms=float(ms.std()),
    )
