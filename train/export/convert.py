"""Conversion to ``.tflite`` with one row of the quantization table: batch 1, static shape, builtin ops
only, metadata embedded, written atomically and loaded back once through ``edge`` before it counts."""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.errors import EdgeError
from edge.model.metadata import read_model_file
from edge.model.runtime import Runtime
from edge.model.spec import read_spec
from edge.sinks.files import write_whole
from train.export.metadata_writer import ClassifierMetadata, embed
from train.export.modes import QuantMode
from train.quiet import captured_output


@dataclass(frozen=True)
class Exported:
    """A written model: its mode, path, size and the metadata embedded in it."""

    mode: str
    path: Path
    size_bytes: int
    metadata: ClassifierMetadata | None = None


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


@contextmanager
def saved_model(model) -> Iterator[object]:
    """A batch-1 Keras model written once as a SavedModel, for every mode to convert from.

    ``from_keras_model`` writes the same SavedModel (the model's call with ``training=False``) on every
    conversion; writing it once saves that tracing for each further mode, about 10 s a mode for the
    MobileNet detector here, with byte-identical outputs. Yields the folder, or the model itself when
    Keras cannot write it (the converter then takes its own route, as ``from_keras_model`` does)."""
    import keras
    import tensorflow as tf

    with tempfile.TemporaryDirectory(prefix="edgesight-savedmodel-") as folder:
        source = model
        try:
            with captured_output():
                archive = keras.export.ExportArchive()
                archive.track(model)
                signature = [tf.TensorSpec(t.shape, t.dtype, name=t.name) for t in model.inputs]
                archive.add_endpoint("serve", functools.partial(model.__call__, training=False), signature)
                archive.write_out(folder, verbose=False)
            source = Path(folder)
        except Exception:  # as the converter does when it cannot write one: convert the model itself
            pass
        yield source


def convert(model, mode: QuantMode, calibration: np.ndarray | None) -> bytes:
    """Convert a batch-1 Keras model, or the SavedModel folder ``saved_model`` wrote for it, with one
    table row's settings."""
    import tensorflow as tf

    def representative() -> Iterator[list[np.ndarray]]:
        for image in calibration:
            yield [image[None].astype(np.float32)]

    if mode.needs_calibration and (calibration is None or len(calibration) == 0):
        raise EdgeError(f"mode {mode.name} needs calibration images: pass --calib DIR")
    with captured_output() as log:
        try:
            if isinstance(model, Path):
                converter = tf.lite.TFLiteConverter.from_saved_model(str(model))
            else:
                converter = tf.lite.TFLiteConverter.from_keras_model(model)
            mode.configure(converter, representative if mode.needs_calibration else None)
            return converter.convert()
        except Exception as exc:  # the converter raises many types; keep its first line and the log
            error = exc
            if not unsupported_ops(str(exc)):  # else the message says all: the log is not kept
                log.keep()
    raise _conversion_error(mode, error, log.path) from error


def output_roles(content: bytes, roles: tuple[str, ...]) -> tuple[str, ...]:
    """The role of each output of a converted model, in the file's order, from its signature's output
    names (the Keras model's output keys), never from order or shape."""
    from edge.model.runtime import import_runtime

    _, module, _ = import_runtime(None)
    interp = module.Interpreter(model_content=content)
    named = interp.get_signature_runner().get_output_details()
    by_index = {int(d["index"]): name for name, d in named.items()}
    found = tuple(by_index.get(int(d["index"]), "") for d in interp.get_output_details())
    if sorted(found) != sorted(roles):
        raise EdgeError(f"the converted model's outputs are {list(found)}, expected {list(roles)}")
    return found


def write_model(
    model,
    mode: QuantMode,
    out_dir: Path,
    metadata: ClassifierMetadata,
    calibration: np.ndarray | None,
) -> Exported:
    """Convert (from a Keras model or its ``saved_model`` folder), embed metadata, write (atomically), and
    load it back through edge to check the spec."""
    converted = convert(model, mode, calibration)
    if metadata.task == "detect":  # which output is which, as the converted file orders them
        metadata = replace(metadata, outputs=output_roles(converted, metadata.outputs))
    path = out_dir / mode.filename()
    return _write_checked(path, embed(converted, metadata), Exported(mode.name, path, 0, metadata))


def restamp(exported: Exported, metadata: ClassifierMetadata) -> Exported:
    """A written model with new metadata (the same graph and weights), written and checked again."""
    content = embed(exported.path.read_bytes(), metadata)
    return _write_checked(exported.path, content, replace(exported, metadata=metadata))


def _write_checked(path: Path, content: bytes, exported: Exported) -> Exported:
    """Write ``content`` atomically and load it back through edge: its labels must read back."""
    write_whole(path, lambda partial: partial.write_bytes(content))
    model_file = read_model_file(path)
    with Runtime(model_file.content) as rt:
        spec = read_spec(model_file, rt)
        if spec.labels != exported.metadata.labels:
            raise EdgeError(f"{path}: labels read back do not match the labels written")
    return replace(exported, size_bytes=len(content))
