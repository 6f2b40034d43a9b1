"""One benchmark setting of one model, as TensorFlow Lite's benchmark_model measures it: load and
allocate (init), the first inference, warm-up, then timed runs; latency figures, throughput, and the
memory the model adds (RSS after warm-up minus RSS before the load) and the peak RSS on the way."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.bench.device import thermal_state
from edge.bench.latency import Latency, Progress, first_and_warmup, random_inputs, summarize, time_runs
from edge.bench.memory import peak_rss_mb, reset_peak, rss_mb
from edge.bench.sustained import Window, sustained
from edge.model.runtime import Runtime, import_runtime


@dataclass(frozen=True)
class Setting:
    """What a sweep varies: interpreter, threads, XNNPACK."""

    runtime: str
    threads: int
    xnnpack: bool

    @property
    def label(self) -> str:
        plural = "s" if self.threads != 1 else ""
        return f"{self.runtime}, {self.threads} thread{plural}, {'XNNPACK' if self.xnnpack else 'no XNNPACK'}"


@dataclass(frozen=True)
class InvokeResult:
    """One model on one setting: the latency figures plus what loading took and what it cost."""

    model: str
    setting: Setting
    runtime_version: str
    delegate: str
    init_ms: float
    latency: Latency
    rss_before_mb: float | None
    rss_model_mb: float | None  # RSS after warm-up minus RSS before loading
    peak_rss_mb: float | None  # highest RSS from the load to the end of the timed runs
    end_state: dict  # temperature, clock and throttling when the runs ended
    windows: tuple[Window, ...] = ()  # sustained mode
    samples: np.ndarray | None = field(default=None, repr=False)  # seconds of each timed run

    def record(self) -> dict:
        """The JSON result: flat, with threads, xnnpack, p50_ms ... fps at the top."""
        lat = asdict(self.latency)
        lat.pop("runtime")
        lat.pop("runtime_version")
        return {
            "model": self.model,
            "runtime": self.setting.runtime,
            "runtime_version": self.runtime_version,
            "threads": self.setting.threads,
            "xnnpack": self.setting.xnnpack,
            "delegate": self.delegate,
            "init_ms": round(self.init_ms, 3),
            **{k: round(v, 4) if isinstance(v, float) else v for k, v in lat.items()},
            "rss_before_mb": _round(self.rss_before_mb),
            "rss_model_mb": _round(self.rss_model_mb),
            "peak_rss_mb": _round(self.peak_rss_mb),
            **{f"end_{k}": v for k, v in self.end_state.items()},
            **({"windows": [w.record() for w in self.windows]} if self.windows else {}),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def bench_invoke(
    path: Path,
    setting: Setting,
    inputs: Sequence[Sequence[np.ndarray]] | None = None,
    runs: int | None = 100,
    warmup: int = 10,
    seconds: float | None = None,
    progress: Progress | None = None,
    duration: float | None = None,
    window: float = 10.0,
    on_window: Callable[[Window], None] | None = None,
) -> InvokeResult:
    """Load ``path`` on ``setting`` and measure it: ``runs`` timed runs, a ``seconds`` budget, or
    sustained windows for ``duration`` seconds. ``inputs`` are input sets (default random)."""
    import_runtime(setting.runtime)  # the library's own memory is not the model's
    gc.collect()
    reset_peak()
    before = rss_mb()
    t = time.perf_counter()
    content = Path(path).read_bytes()
    with Runtime(content, threads=setting.threads, runtime=setting.runtime, xnnpack=setting.xnnpack) as rt:
        init = time.perf_counter() - t
        if inputs is None:
            inputs = [random_inputs(rt)]
        first = first_and_warmup(rt, inputs, warmup)
        windows: tuple[Window, ...] = ()
        if duration:
            windows, samples = sustained(rt, inputs, duration, window, on_window)
        else:
            samples = time_runs(rt, inputs, None if seconds else runs, seconds, progress)
        latency = summarize(rt, samples, warmup, first)
        after = rss_mb()
        peak = peak_rss_mb()
        delegate, version = rt.delegate, rt.version
    return InvokeResult(
        model=str(path),
        setting=setting,
        runtime_version=version,
        delegate=delegate,
        init_ms=init * 1e3,
        latency=latency,
        rss_before_mb=before,
        rss_model_mb=None if before is None or after is None else after - before,
        peak_rss_mb=peak,
        end_state=thermal_state(),
        windows=windows,
        samples=samples,
    )
