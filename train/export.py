"""Conversion to ``.tflite``: one table of quantization modes drives the CLI, file names and reports.

Each output is batch 1 with a static shape, builtin ops only, carries its labels and preprocessing as
standard TFLite metadata, and is loaded once through ``edge`` before it is reported as written.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.metadata import read_model_file
from edge.runtime import Runtime
from edge.spec import read_spec
from train.metadata_writer import ClassifierMetadata, embed
from train.quiet import captured_output


@dataclass(frozen=True)
class QuantMode:
    """One row of the export table: converter settings, file name, I/O types and what it needs."""

    name: str
    description: str
    io: str  # input/output tensor type of the written model
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


def _full_integer(io: str | None) -> Callable[[object, object], None]:
    """Full-integer int8 weights and activations; ``io`` is the I/O type (None keeps float I/O)."""

    def configure(converter, calib) -> None:
        import tensorflow as tf

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = calib
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if io is not None:
            converter.inference_input_type = getattr(tf, io)
            converter.inference_output_type = getattr(tf, io)

    return configure


def _int16x8(converter, calib) -> None:
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = calib
    converter.target_spec.supported_ops = [
        tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
    ]


QUANT_MODES: tuple[QuantMode, ...] = (
    QuantMode("float32", "float32 weights and activations", "float32", False, _float32),
    QuantMode("float16", "float16 weights, float32 compute", "float32", False, _float16),
    QuantMode("dynamic", "int8 weights, float activations (dynamic range)", "float32", False, _dynamic),
    QuantMode("int8", "full integer int8, uint8 input and output", "uint8", True, _full_integer("uint8")),
    QuantMode("int8-int8io", "full integer int8, int8 input and output", "int8", True, _full_integer("int8")),
    QuantMode(
        "int8-floatio", "full integer int8, float input and output", "float32", True, _full_integer(None)
    ),
    QuantMode(
        "int16x8", "int16 activations, int8 weights, float input and output", "float32", True, _int16x8
    ),
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


_UNSUPPORTED_OP = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")
_OP_LOCATION = re.compile(r'fused\["(\w+):", "([^"@]+)@')


def unsupported_ops(message: str) -> dict[str, str | None]:
    """TensorFlow ops the builtin TFLite set lacks, named in a converter error -> the layer using each."""
    layers = {}
    for op, path in _OP_LOCATION.findall(message):
        parts = path.split("/")
        layers.setdefault(op, parts[-2] if len(parts) > 1 else None)
    return {op: layers.get(op) for op in dict.fromkeys(_UNSUPPORTED_OP.findall(message))}


def _conversion_error(mode: QuantMode, error: Exception, log: Path) -> EdgeError:
    text = str(error).strip()
    ops = unsupported_ops(text)
    if ops:
        names = ", ".join(f"{op} (in layer {layer})" if layer else op for op, layer in ops.items())
        return EdgeError(
            f"cannot export {mode.name}: the TFLite builtin op set lacks {names}; rewrite that part of the "
            "model with supported ops (https://ai.google.dev/edge/litert/models/ops_compatibility): "
            "SELECT_TF_OPS would need the Flex delegate, which device runtimes do not ship"
        )
    first = text.splitlines()[0] if text else type(error).__name__
    return EdgeError(f"conversion to {mode.name} failed: {first} (converter log: {log})")


def convert(model, mode: QuantMode, calibration: np.ndarray | None) -> bytes:
    """Convert a batch-1 Keras model with one table row's settings."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    if mode.needs_calibration and (calibration is None or len(calibration) == 0):
        raise EdgeError(f"mode {mode.name} needs calibration images: pass --calib DIR")
    with captured_output() as log:
        try:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            mode.configure(converter, representative if mode.needs_calibration else None)
            return converter.convert()
        except Exception as exc:  # the converter raises many types; keep its first line and the log
            log.keep()
            error = exc
    raise _conversion_error(mode, error, log.path) from error


def write_model(
    keras_model,
    mode: QuantMode,
    out_dir: Path,
    metadata: ClassifierMetadata,
    calibration: np.ndarray | None,
) -> Exported:
    """Convert, embed metadata, write (atomically), and load it back through edge to check the spec."""
    content = embed(convert(keras_model, mode, calibration), metadata)
    path = out_dir / mode.filename()
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_bytes(content)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise EdgeError(f"cannot write {path}: {exc.strerror or exc}") from exc
    model_file = read_model_file(path)
    with Runtime(model_file.content) as rt:
        spec = read_spec(model_file, rt)
        if spec.labels != metadata.labels:
            raise EdgeError(f"{path}: labels read back do not match the labels written")
    return Exported(mode.name, path, len(content))
