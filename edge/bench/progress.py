"""Progress of a benchmark on stderr: a line per finished step, and on a terminal a live counter."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from edge.bench.invoke import Setting


class Progress:
    """One line per step on stderr; on a terminal, a live run counter too."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total = total
        self.step = 0
        self.stream = stream
        self.live = stream.isatty()

    def start(self, model: Path, setting: Setting) -> str:
        self.step += 1
        return f"[{self.step}/{self.total}] {model.name}, {setting.label}"

    def runs(self, head: str) -> Callable[[int, int | None, float], None]:
        def show(done: int, planned: int | None, seconds: float) -> None:
            if self.live:
                of = f"/{planned}" if planned else ""
                print(f"\r{head}: {done}{of} runs, {seconds:.0f} s", end="", file=self.stream, flush=True)

        return show

    def window(self, head: str) -> Callable:
        def show(w) -> None:
            temp = w.state["temperature_c"]
            temp = f", {temp:.1f} C" if isinstance(temp, float) else ""
            self.done(head, f"window at {w.start_s:.0f} s: {w.fps:.1f} fps, p50 {w.p50_ms:.3f} ms{temp}")

        return show

    def done(self, head: str, text: str) -> None:
        clear = "\r\x1b[K" if self.live else ""
        print(f"{clear}{head}: {text}", file=self.stream, flush=True)
