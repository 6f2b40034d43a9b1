"""The quantization table: one row per mode with its converter settings, file name, I/O types and what
it needs. The CLI's ``--quant`` choices, the file names, the reports and the benchmarks read it."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from edge.errors import EdgeError


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
