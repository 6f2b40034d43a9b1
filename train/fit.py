"""Training: tf.data in, checkpoints every epoch, resume from the last one, a run folder out.

A run folder holds ``model.keras`` (best validation accuracy), ``labels.txt``, ``run.json`` (classes,
input size, normalisation, data location, history) and ``checkpoints/last.keras`` for resuming.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from edge.errors import EdgeError
from train.data.folders import MEAN, STD, load_split
from train.data.pipeline import make_dataset
from train.models.classifier import build_model
from train.quiet import import_tensorflow


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

    def save(self, run_dir: Path) -> None:
        (run_dir / "run.json").write_text(json.dumps(asdict(self), indent=2))
        (run_dir / "labels.txt").write_text("\n".join(self.class_names) + "\n")


def data_reference(data_dir: Path, run_dir: Path) -> str:
    """The data folder as run.json keeps it: relative to the run folder, so that the two can move
    together and the run exports from any working directory."""
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
    raw = json.loads((run_dir / "run.json").read_text())
    raw["class_names"], raw["mean"], raw["std"] = (
        tuple(raw["class_names"]),
        tuple(raw["mean"]),
        tuple(raw["std"]),
    )
    return RunInfo(**raw)


def _resume(run_dir: Path, class_names: tuple[str, ...], size: int):
    """The model and epoch of ``checkpoints/last.keras`` when it belongs to this data and size, else
    (None, 0). A corrupt checkpoint or state file is an ``EdgeError`` that says how to start over."""
    import keras

    last, state_file = run_dir / "checkpoints" / "last.keras", run_dir / "checkpoints" / "state.json"
    if not (last.is_file() and state_file.is_file()):
        return None, 0
    fix = f"delete {run_dir / 'checkpoints'} to start over"
    try:
        state = json.loads(state_file.read_text())
        epoch = int(state["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgeError(f"cannot resume: {state_file} is corrupt ({type(exc).__name__}): {fix}") from None
    if state.get("classes") != list(class_names) or state.get("size") != size:
        return None, 0
    try:
        model = keras.models.load_model(last)
    except Exception as exc:  # Keras raises many types for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EdgeError(f"cannot resume from {last}: {first[:200]}: {fix}") from None
    print(f"resuming from {last} after epoch {epoch}")
    return model, epoch


def _callbacks(run_dir: Path, class_names: tuple[str, ...], size: int, resumed: bool) -> list:
    import keras

    state_file = run_dir / "checkpoints" / "state.json"

    class SaveState(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            state_file.write_text(
                json.dumps({"epoch": epoch + 1, "classes": list(class_names), "size": size})
            )

    return [
        keras.callbacks.ModelCheckpoint(run_dir / "model.keras", monitor="val_accuracy", save_best_only=True),
        keras.callbacks.ModelCheckpoint(run_dir / "checkpoints" / "last.keras"),
        SaveState(),
        keras.callbacks.CSVLogger(run_dir / "history.csv", append=resumed),
    ]


def train(
    data_dir: Path,
    run_dir: Path,
    epochs: int = 20,
    size: int = 64,
    model_name: str = "small_cnn",
    batch_size: int = 32,
    val_split: float = 0.2,
    seed: int = 0,
) -> RunInfo:
    """Train on an image folder and write the run folder; resumes when ``checkpoints/last.keras`` exists."""
    if epochs < 1:
        raise EdgeError(f"--epochs must be 1 or more, got {epochs}")
    if batch_size < 1:
        raise EdgeError(f"--batch-size must be 1 or more, got {batch_size}")
    split = load_split(data_dir, val_split, seed)
    if len(split.class_names) < 2:
        raise EdgeError(f"{data_dir} has one class: a classifier needs at least two class subfolders")
    import_tensorflow()  # after the inputs are checked: a bad folder fails fast, before TensorFlow loads
    import keras
    import tensorflow as tf

    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()  # the same data and seed give the same model
    train_ds = make_dataset(split.train, size, batch_size, training=True, seed=seed)
    val_ds = make_dataset(split.val, size, batch_size, training=False)
    model, initial_epoch = _resume(run_dir, split.class_names, size)
    if model is None:
        model = build_model(model_name, size, len(split.class_names))
        steps = max(1, -(-len(split.train) // batch_size)) * epochs
        schedule = keras.optimizers.schedules.CosineDecay(2e-3, decay_steps=steps, alpha=0.05)
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    print(
        f"training {model.name} on {len(split.train)} images, validating on {len(split.val)} "
        f"({len(split.class_names)} classes, {size}px, epochs {initial_epoch + 1}-{epochs})"
    )
    start = time.perf_counter()
    if initial_epoch < epochs:
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=_callbacks(run_dir, split.class_names, size, resumed=initial_epoch > 0),
            verbose=1 if sys.stdout.isatty() else 2,
        )
    best = keras.models.load_model(run_dir / "model.keras")
    _, val_acc = best.evaluate(val_ds, verbose=0)
    info = RunInfo(
        model=model_name,
        size=size,
        class_names=split.class_names,
        mean=MEAN,
        std=STD,
        data=data_reference(data_dir, run_dir),
        val_split=val_split,
        seed=seed,
        epochs=epochs,
        train_images=len(split.train),
        val_images=len(split.val),
        val_accuracy=float(val_acc),
        seconds=time.perf_counter() - start,
    )
    info.save(run_dir)
    return info
