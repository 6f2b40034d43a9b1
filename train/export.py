"""Conversion to ``.tflite``: one table of quantization modes drives the CLI, file names and reports.

Each output is batch 1 with a static shape, builtin ops only, carries its labels and preprocessing as
standard TFLite metadata, and is loaded once through ``edge`` before it is reported as written.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.metadata import read_model_file
from edge.runtime import Runtime
from edge.spec import read_spec
from train.metadata_writer import ClassifierMetadata, embed


@dataclass(frozen=True)
class QuantMode:
    """One row of the export table."""

    name: str
    description: str
    needs_calibration: bool
    configure: Callable[[object, Callable[[], Iterator[list[np.ndarray]]] | None], None]

    def filename(self, stem: str = "model") -> str:
        return f"{stem}_{self.name}.tflite"


def _builtins(converter) -> None:
    import tensorflow as tf

    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]


def _float32(converter, _calib) -> None:
    _builtins(converter)


def _float16(converter, _calib) -> None:
    import tensorflow as tf

    _builtins(converter)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]


def _dynamic(converter, _calib) -> None:
    import tensorflow as tf

    _builtins(converter)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    # Keeps FULLY_CONNECTED at a version tflite-runtime 2.14 (many Raspberry Pis) can run.
    converter._experimental_disable_per_channel_quantization_for_dense_layers = True


def _int8(converter, calib) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calib
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.uint8
    converter.inference_output_type = tf.uint8


QUANT_MODES: tuple[QuantMode, ...] = (
    QuantMode("float32", "float32 weights and activations", False, _float32),
    QuantMode("float16", "float16 weights, float32 compute", False, _float16),
    QuantMode("dynamic", "int8 weights, float activations (dynamic range)", False, _dynamic),
    QuantMode("int8", "full integer int8, uint8 input and output", True, _int8),
)
MODES_BY_NAME = {m.name: m for m in QUANT_MODES}


def parse_modes(text: str) -> list[QuantMode]:
    """``"float32,int8"`` -> table rows; an unknown name is an ``EdgeError`` suggesting the closest."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        return list(QUANT_MODES)
    modes = []
    for name in names:
        if name not in MODES_BY_NAME:
            close = difflib.get_close_matches(name, list(MODES_BY_NAME), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise EdgeError(
                f"unknown quantization mode {name!r}{hint}: choose from {', '.join(MODES_BY_NAME)}, all"
            )
        modes.append(MODES_BY_NAME[name])
    if not modes:
        raise EdgeError("--quant names no mode")
    return modes


@dataclass(frozen=True)
class Exported:
    """A written model: its mode, path and size."""

    mode: str
    path: Path
    size_bytes: int


def batch_one(model):
    """The same Keras model with a fixed batch-1 input, so the converter writes static shapes."""
    import keras

    shape = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in shape):
        raise EdgeError(f"the model input has dynamic dimensions {shape}: build it with a fixed image size")
    inputs = keras.Input(shape, batch_size=1, name="image")
    return keras.Model(inputs, model(inputs), name=model.name)


class _Log:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.kept = False

    def keep(self) -> None:
        self.kept = True


@contextlib.contextmanager
def captured_output() -> Iterator[_Log]:
    """Send the converter's stdout/stderr chatter (Python and native) to a temporary log file;
    the file is deleted unless ``keep()`` was called (on failure)."""
    fd, name = tempfile.mkstemp(prefix="edgesight-convert-", suffix=".log")
    log = _Log(Path(name))
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        with contextlib.redirect_stdout(sys.stderr):
            yield log
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        os.close(fd)
        if not log.kept:
            log.path.unlink(missing_ok=True)


def convert(model, mode: QuantMode, calibration: np.ndarray | None) -> bytes:
    """Convert a batch-1 Keras model with one table row's settings."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    if mode.needs_calibration and (calibration is None or len(calibration) == 0):
        raise EdgeError(f"mode {mode.name} needs calibration images")
    with captured_output() as log:
        try:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            mode.configure(converter, representative if mode.needs_calibration else None)
            return converter.convert()
        except Exception as exc:  # the converter raises many types; keep its first line and the log
            log.keep()
            error = exc
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    raise EdgeError(f"conversion to {mode.name} failed: {first} (converter log: {log.path})") from error


def write_model(
    keras_model,
    mode: QuantMode,
    out_dir: Path,
    metadata: ClassifierMetadata,
    calibration: np.ndarray | None,
) -> Exported:
    """Convert, embed metadata, write, and load it back through edge to check the spec."""
    content = embed(convert(keras_model, mode, calibration), metadata)
    path = out_dir / mode.filename()
    path.write_bytes(content)
    model_file = read_model_file(path)
    with Runtime(model_file.content) as rt:
        spec = read_spec(model_file, rt)
        if spec.labels != metadata.labels:
            raise EdgeError(f"{path}: labels read back do not match the labels written")
    return Exported(mode.name, path, len(content))


def export_run(
    run_dir: Path, modes: list[QuantMode], out_dir: Path | None = None, calib_samples: int = 200
) -> list[Exported]:
    """Export a trained run folder in each mode; calibration images come from the run's training split."""
    from train.data import calibration_images, load_split
    from train.fit import load_run

    info = load_run(run_dir)
    import keras  # after the run folder is checked

    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "models"
    out_dir.mkdir(parents=True, exist_ok=True)
    model = batch_one(keras.models.load_model(Path(run_dir) / "model.keras"))
    calibration = None
    if any(m.needs_calibration for m in modes):
        split = load_split(Path(info.data), info.val_split, info.seed)
        calibration = calibration_images(split.train, info.size, calib_samples, info.seed)
    written = []
    for mode in modes:
        metadata = ClassifierMetadata(
            name=f"edgesight {info.model} ({mode.name})",
            description=f"Image classifier over {len(info.class_names)} classes, trained by edgesight; "
            f"{mode.description}.",
            labels=info.class_names,
            mean=info.mean,
            std=info.std,
            width=info.size,
            height=info.size,
            quantization=mode.name,
        )
        written.append(write_model(model, mode, out_dir, metadata, calibration))
    return written
