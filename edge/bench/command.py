"""``edgesight bench``: every model on every setting of the sweep, the device record, and the JSON.

The record (``--json OUT``) has ``device``, ``runtime`` and ``model`` (one object each, or a list when
the sweep covered several), ``settings`` and ``results``: one flat object per model and setting with
``threads``, ``xnnpack``, ``delegate``, ``p50_ms``, ``p90_ms``, ``p99_ms``, ``mean_ms``, ``fps`` and
the rest, plus ``pipeline`` (with ``--source``) and ``windows`` (with ``--duration``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path

import numpy as np

from edge.bench.device import device_record, model_record
from edge.bench.invoke import Setting
from edge.bench.progress import Progress
from edge.bench.stages import bench_pipeline
from edge.bench.worker import run_isolated
from edge.errors import EdgeError
from edge.model.runtime import RUNTIMES, install_hint, installed_runtimes
from edge.model.spec import Overrides
from edge.sinks.files import make_folder, write_whole

FORMAT = "edgesight.bench/1"
INPUT_FRAMES = 32  # frames of --source preprocessed once and cycled through by the invoke benchmark
XNNPACK_CHOICES = {"on": (True,), "off": (False,), "both": (True, False)}


def parse_threads(text: str) -> tuple[int, ...]:
    """``1,2,4`` -> (1, 2, 4); each 1 or more."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise EdgeError(f"--threads takes whole numbers separated by commas, got {text!r}") from None
    if not values or min(values) < 1:
        raise EdgeError(f"--threads must be 1 or more, got {text!r}")
    return tuple(dict.fromkeys(values))


def parse_runtimes(text: str | None) -> tuple[str, ...]:
    """``litert,tf``, ``all`` (every one installed here) or None (the first installed)."""
    found = installed_runtimes()
    if not found:
        raise EdgeError(f"no TFLite interpreter found: {install_hint()}")
    if text is None:
        return (found[0],)
    if text == "all":
        return tuple(found)
    names = tuple(dict.fromkeys(text.split(",")))
    packages = {r[0]: r[2] for r in RUNTIMES}
    for name in names:
        if name not in packages:
            raise EdgeError(f"unknown runtime {name!r}: choose from {', '.join(packages)} or all")
        if name not in found:
            raise EdgeError(f"runtime {name!r} is not installed: pip install {packages[name]}")
    return names


@dataclass(frozen=True)
class Plan:
    """What to measure and how."""

    models: tuple[Path, ...]
    runtimes: tuple[str, ...]
    threads: tuple[int, ...]
    xnnpack: tuple[bool, ...]
    runs: int = 100
    warmup: int = 10
    seconds: float | None = None
    image: Path | None = None
    source: str | None = None
    frames: int | None = None
    draw: bool = False
    duration: float | None = None
    window: float = 10.0
    overrides: Overrides | None = None
    name: str | None = None

    def check(self) -> None:
        """Every flag and path, before the first measurement."""
        for model in self.models:
            if not model.is_file():
                raise EdgeError(f"model not found: {model}")
        if self.runs < 1 or self.warmup < 0:
            raise EdgeError(f"--runs must be 1 or more and --warmup 0 or more: {self.runs}, {self.warmup}")
        if self.seconds is not None and self.seconds <= 0:
            raise EdgeError(f"--seconds must be above 0, got {self.seconds}")
        if self.frames is not None and self.frames < 1:
            raise EdgeError(f"--frames must be 1 or more, got {self.frames}")
        if self.image is not None and self.source is not None:
            raise EdgeError("give --image or --source, not both")
        if self.image is not None and not self.image.is_file():
            raise EdgeError(f"image not found: {self.image}")
        if self.duration is not None and not 0 < self.window <= self.duration:
            raise EdgeError(f"--window ({self.window:g} s) must be above 0 and at most --duration")

    def settings(self) -> list[Setting]:
        return [Setting(r, t, x) for r in self.runtimes for t in self.threads for x in self.xnnpack]


def input_sets(model: Path, plan: Plan) -> tuple[list[list[np.ndarray]] | None, str]:
    """The invoke benchmark's inputs: the image or the source's first frames through the model's own
    preprocessing, or None (random tensors of each input's dtype)."""
    if plan.image is None and plan.source is None:
        return None, "random tensors of each input's shape and dtype"
    from edge.tasks.loader import load

    with load(model, threads=1, overrides=plan.overrides) as task:  # tensors are the same on any runtime
        if plan.image is not None:
            from edge.sources.images import read_image

            return [[task.prepare(read_image(plan.image))[0]]], f"image {plan.image}, preprocessed"
        from edge.sources import open_source

        with open_source(plan.source, frames=plan.frames) as src:
            tensors = [[task.prepare(f.image)[0]] for f in islice(src, INPUT_FRAMES)]
    if not tensors:
        raise EdgeError(f"source {plan.source!r} gave no frames: nothing to benchmark")
    return tensors, f"{len(tensors)} frames of {plan.source}, preprocessed"


def run_plan(plan: Plan, progress: Progress | None = None) -> dict:
    """Measure every model on every setting; the record. Ctrl-C keeps what was measured so far
    (``interrupted: true``)."""
    plan.check()
    settings = plan.settings()
    progress = progress or Progress(len(plan.models) * len(settings))
    results: list[dict] = []
    versions: dict[str, str] = {}
    description = ""
    interrupted = False
    try:
        for model in plan.models:
            inputs, description = input_sets(model, plan)
            for setting in settings:
                head = progress.start(model, setting)
                record = run_isolated(
                    model,
                    setting,
                    inputs,
                    runs=plan.runs,
                    warmup=plan.warmup,
                    seconds=plan.seconds,
                    duration=plan.duration,
                    window=plan.window,
                    head=head,
                )
                versions[setting.runtime] = record["runtime_version"]
                text = f"p50 {record['p50_ms']:.3f} ms, {record['fps']:.1f} fps ({record['delegate']})"
                if plan.source is not None:
                    record["pipeline"] = bench_pipeline(
                        model,
                        plan.source,
                        threads=setting.threads,
                        runtime=setting.runtime,
                        xnnpack=setting.xnnpack,
                        overrides=plan.overrides,
                        frames=plan.frames,
                        draw=plan.draw,
                    ).record()
                    text += f"; pipeline {record['pipeline']['fps']:.1f} fps"
                results.append(record)
                progress.done(head, text)
    except KeyboardInterrupt:
        interrupted = True
    runtimes = [{"name": n, "version": v} for n, v in versions.items()]
    models = [model_record(m) for m in plan.models]
    device = device_record()
    return {
        "format": FORMAT,
        "name": plan.name or device["hostname"],
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "device": device,
        "runtime": runtimes[0] if len(runtimes) == 1 else runtimes,
        "model": models[0] if len(models) == 1 else models,
        "settings": {
            "runs": plan.runs,
            "warmup": plan.warmup,
            "seconds": plan.seconds,
            "duration_s": plan.duration,
            "window_s": plan.window if plan.duration else None,
            "input": description,
            "source": plan.source,
        },
        "results": results,
        "interrupted": interrupted,
    }


def write_record(record: dict, path: Path) -> None:
    """Write the JSON record; a full disk or an unwritable path is an ``EdgeError``."""
    text = json.dumps(record, indent=1) + "\n"
    make_folder(path.parent)
    write_whole(path, lambda partial: partial.write_text(text))
