"""A run folder: ``model.keras`` (best validation accuracy), ``labels.txt``, ``run.json`` (classes, input
size, normalisation, data location, how it was trained, history) and ``checkpoints/`` for resuming.

Paths inside run.json are relative to the run folder, so a run exports from any working directory and
survives being moved together with its data.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from edge.errors import EdgeError
from train.checkpoints import write_text


@dataclass(frozen=True)
class RunInfo:
    """What ``run.json`` records about a training run."""

    model: str
    size: int
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    data: str
    val_split: float
    seed: int
    epochs: int
    train_images: int
    val_images: int
    val_accuracy: float
    seconds: float
    alpha: float | None = None
    weights: str = "none"  # imagenet, none, or the weights file's name
    head_epochs: int = 0  # epochs with the pretrained backbone frozen
    distribute: str = "none"
    replicas: int = 1
    task: str = "classify"
    val_map50_95: float | None = None  # a detector's validation mAP@[.5:.95] and mAP@.5
    val_map50: float | None = None

    def save(self, run_dir: Path) -> None:
        write_text(run_dir / "labels.txt", "\n".join(self.class_names) + "\n")
        write_text(run_dir / "run.json", json.dumps(asdict(self), indent=2))  # last: the run is whole


def data_reference(data_dir: Path, run_dir: Path) -> str:
    """The data folder as run.json keeps it: relative to the run folder."""
    return os.path.relpath(Path(data_dir).resolve(), Path(run_dir).resolve())


def resolve_data(info: RunInfo, run_dir: Path) -> Path:
    """The run's data folder: relative to the run folder (or absolute), else as the working directory
    sees it (run folders written before paths were kept relative)."""
    for candidate in (Path(run_dir) / info.data, Path(info.data)):
        if candidate.is_dir():
            return candidate
    return Path(run_dir) / info.data


def load_run(run_dir: Path) -> RunInfo:
    """Read a run folder's ``run.json``; a folder without a trained model is an ``EdgeError``."""
    run_dir = Path(run_dir)
    if not (run_dir / "run.json").is_file() or not (run_dir / "model.keras").is_file():
        raise EdgeError(
            f"{run_dir} is not a trained run: expected run.json and model.keras (edgesight train)"
        )
    try:
        raw = json.loads((run_dir / "run.json").read_text())
    except (OSError, ValueError) as exc:
        raise EdgeError(f"{run_dir / 'run.json'} is not readable JSON: {exc}") from None
    known = {f.name for f in fields(RunInfo)}
    raw = {k: v for k, v in raw.items() if k in known}
    for key in ("class_names", "mean", "std"):
        raw[key] = tuple(raw.get(key, ()))
    try:
        return RunInfo(**raw)
    except TypeError as exc:
        raise EdgeError(f"{run_dir / 'run.json'} lacks a field: {exc}") from None
