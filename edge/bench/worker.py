"""Each benchmark setting in a fresh Python process, so that no setting inherits another's memory,
allocator state or thread pools: the RSS a model adds and its peak RSS are then its own, and every
setting pays the same one-time costs.

    python -m edge.bench.worker REQUEST.json RESULT.json   (written and read by ``run_isolated``)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from edge.bench.invoke import Setting, bench_invoke
from edge.bench.progress import Progress
from edge.errors import EdgeError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding ``edge``


def _save_inputs(inputs: Sequence[Sequence[np.ndarray]], path: Path) -> None:
    arrays = {f"{i}_{j}": a for i, tensors in enumerate(inputs) for j, a in enumerate(tensors)}
    np.savez(path, **arrays)


def _load_inputs(path: Path) -> list[list[np.ndarray]]:
    with np.load(path) as data:
        sets: dict[int, dict[int, np.ndarray]] = {}
        for key in data.files:
            i, j = (int(v) for v in key.split("_"))
            sets.setdefault(i, {})[j] = data[key]
    return [[tensors[j] for j in sorted(tensors)] for _, tensors in sorted(sets.items())]


def run_isolated(
    model: Path,
    setting: Setting,
    inputs: Sequence[Sequence[np.ndarray]] | None,
    *,
    runs: int,
    warmup: int,
    seconds: float | None,
    duration: float | None,
    window: float,
    head: str,
) -> dict:
    """``bench_invoke`` in a child process; its progress goes to our stderr; returns the result record.
    Raises ``EdgeError`` with the child's message, ``KeyboardInterrupt`` when it was interrupted."""
    with tempfile.TemporaryDirectory(prefix="edgesight-bench-") as tmp:
        folder = Path(tmp)
        request = {
            "model": str(model),
            "runtime": setting.runtime,
            "threads": setting.threads,
            "xnnpack": setting.xnnpack,
            "runs": runs,
            "warmup": warmup,
            "seconds": seconds,
            "duration": duration,
            "window": window,
            "head": head,
            "inputs": None,
        }
        try:
            if inputs is not None:
                request["inputs"] = str(folder / "inputs.npz")
                _save_inputs(inputs, folder / "inputs.npz")
            (folder / "request.json").write_text(json.dumps(request))
        except OSError as exc:
            raise EdgeError(
                f"cannot write the benchmark's inputs to {folder}: {exc.strerror or exc}"
            ) from None
        path = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))
        command = [
            sys.executable,
            "-m",
            "edge.bench.worker",
            str(folder / "request.json"),
            str(folder / "out.json"),
        ]
        # stderr is ours: the child's live progress reaches the terminal. Its own session keeps a
        # terminal's Ctrl-C to us: we stop it (subprocess.run kills it) and keep what finished.
        code = subprocess.run(
            command, env={**os.environ, "PYTHONPATH": path}, stdout=subprocess.DEVNULL, start_new_session=True
        ).returncode
        if code == 130:
            raise KeyboardInterrupt
        out = folder / "out.json"
        answer = json.loads(out.read_text()) if out.is_file() else {}
        if "error" in answer:
            raise EdgeError(answer["error"])
        if code != 0 or "result" not in answer:
            raise EdgeError(f"the benchmark of {model.name} ({setting.label}) stopped with exit {code}")
        return answer["result"]


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    setting = Setting(request["runtime"], request["threads"], request["xnnpack"])
    progress = Progress(1)
    head = request["head"]
    try:
        inputs = _load_inputs(Path(request["inputs"])) if request["inputs"] else None
        result = bench_invoke(
            Path(request["model"]),
            setting,
            inputs,
            runs=request["runs"],
            warmup=request["warmup"],
            seconds=request["seconds"],
            progress=progress.runs(head),
            duration=request["duration"],
            window=request["window"],
            on_window=progress.window(head) if request["duration"] else None,
        )
    except EdgeError as exc:
        Path(argv[1]).write_text(json.dumps({"error": str(exc)}))
        return 2
    except KeyboardInterrupt:
        return 130
    Path(argv[1]).write_text(json.dumps({"result": result.record()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
