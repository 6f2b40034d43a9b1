"""The only module that imports a TFLite interpreter.

It tries ai-edge-litert, then tflite-runtime, then TensorFlow Lite, and says which one it got.
Everything else in ``edge`` works on numpy arrays through :class:`Runtime`.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from edge.errors import EdgeError
from edge.util.stderr import quiet_native_stderr

# (name shown to users, module to import, distribution that provides it)
RUNTIMES: tuple[tuple[str, str, str], ...] = (
    ("litert", "ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite-runtime", "tflite_runtime.interpreter", "tflite-runtime"),
    ("tf", "tensorflow.lite.python.interpreter", "tensorflow"),  # tf.lite.Interpreter
)


@dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor: where it is, its shape, dtype and per-tensor quantization."""

    name: str
    index: int
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.scale != 0.0 and np.issubdtype(self.dtype, np.integer)


def _version(module_name: str, distribution: str) -> str:
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:  # pragma: no cover - metadata missing in odd installs
        return getattr(importlib.import_module(module_name.split(".")[0]), "__version__", "unknown")


def import_runtime(name: str | None) -> tuple[str, Any, str]:
    """Import the first available interpreter (or the one asked for)."""
    wanted = [r for r in RUNTIMES if name in (None, r[0])]
    if not wanted:
        known = ", ".join(r[0] for r in RUNTIMES)
        raise EdgeError(f"unknown runtime {name!r}: choose one of {known}")
    for label, module_name, dist in wanted:
        if label == "tf" and not os.environ.get("EDGESIGHT_VERBOSE"):
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's start-up lines on stderr
        try:
            with warnings.catch_warnings(), quiet_native_stderr():
                warnings.simplefilter("ignore")
                module = importlib.import_module(module_name)
        except ImportError:
            continue
        return label, module, _version(module_name, dist)
    if name:
        dist = wanted[0][2]
        raise EdgeError(f"runtime {name!r} is not installed: pip install {dist}")
    raise EdgeError(f"no TFLite interpreter found: {install_hint()}")


def install_hint() -> str:
    """What to install for an interpreter on this platform (ai-edge-litert where it has wheels)."""
    import platform

    machine, system = platform.machine().lower(), platform.system()
    if machine.startswith("armv"):
        return "ai-edge-litert has no 32-bit ARM wheel: pip install 'edgesight[tflite-runtime]'"
    if system == "Darwin" and machine == "x86_64":
        return "ai-edge-litert has no Intel macOS wheel: pip install tensorflow (then --runtime tf)"
    if system == "Windows" and sys.version_info < (3, 10):
        return "ai-edge-litert has Windows wheels for Python 3.10 and newer: use a newer Python"
    return "pip install 'edgesight[edge]' (ai-edge-litert; 'edgesight[laptop]' for a window)"


def installed_runtimes() -> list[str]:
    """The interpreters installed here, in the order they are tried (found, not imported: TensorFlow
    takes seconds and hundreds of MB to import)."""
    return [label for label, module, _ in RUNTIMES if importlib.util.find_spec(module.split(".")[0])]


def _no_default_delegates(module: Any) -> Any:
    """The op resolver that leaves out the default (XNNPACK) delegate, from the interpreter's module."""
    owner = importlib.import_module(module.Interpreter.__module__)
    resolver = getattr(owner, "OpResolverType", None)
    if resolver is None:
        raise EdgeError("this interpreter cannot turn XNNPACK off (no OpResolverType)")
    return resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES


def _tensor_info(detail: dict) -> TensorInfo:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return TensorInfo(
        name=detail["name"],
        index=int(detail["index"]),
        shape=tuple(int(d) for d in detail["shape"]),
        shape_signature=tuple(int(d) for d in detail.get("shape_signature", detail["shape"])),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class Runtime:
    """An allocated interpreter with its tensors described; a context manager.

    ``invoke(*inputs)`` sets the inputs, runs the model and returns the raw outputs (copies).
    """

    def __init__(
        self, content: bytes, threads: int = 1, runtime: str | None = None, xnnpack: bool = True
    ) -> None:
        if threads < 1:
            raise EdgeError(f"threads must be 1 or more, got {threads}")
        self.name, module, self.version = import_runtime(runtime)
        self.threads = threads
        self.xnnpack = xnnpack
        options = {} if xnnpack else {"experimental_op_resolver_type": _no_default_delegates(module)}
        try:
            with warnings.catch_warnings(), quiet_native_stderr():
                warnings.simplefilter("ignore")
                self.interpreter = module.Interpreter(model_content=content, num_threads=threads, **options)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgeError(f"the {self.name} interpreter cannot load this model: {first}") from exc
        self.inputs = tuple(_tensor_info(d) for d in self.interpreter.get_input_details())
        self.outputs = tuple(_tensor_info(d) for d in self.interpreter.get_output_details())
        self._set = self.interpreter.set_tensor
        self._get = self.interpreter.get_tensor

    @property
    def label(self) -> str:
        """E.g. ``litert 2.3.0, 2 threads`` (``, no XNNPACK`` when it was turned off)."""
        plural = "s" if self.threads != 1 else ""
        off = "" if self.xnnpack else ", no XNNPACK"
        return f"{self.name} {self.version}, {self.threads} thread{plural}{off}"

    @property
    def delegate(self) -> str:
        """What runs the graph, as the interpreter's own node list shows it: ``XNNPACK`` when the
        default delegate took over part of the graph (``XNNPACK x2``: in two partitions), ``none``
        when every op runs on the built-in kernels (XNNPACK turned off, or not taking these ops,
        as tflite-runtime 2.14 with int8 on x86)."""
        try:
            ops = self.interpreter._get_ops_details()
        except Exception:  # a runtime without the node list: say so rather than guess
            return "unknown"
        partitions = sum(op.get("op_name") == "DELEGATE" for op in ops)
        if not partitions:
            return "none"
        return "XNNPACK" if partitions == 1 else f"XNNPACK x{partitions}"

    def write_input(self, fill: Callable[[np.ndarray], object], position: int = 0) -> None:
        """Write input ``position`` in place: ``fill`` gets the interpreter's own buffer and writes
        into it, and the buffer is let go of when it returns (the interpreter will not run while it
        is held). No input array is made and copied in (4.9 MB a frame for a 640 x 640 float input);
        ``invoke()`` with no inputs then runs on it."""
        buffer = self.interpreter.tensor(self.inputs[position].index)()
        try:
            fill(buffer)
        finally:
            del buffer

    def invoke(self, *inputs: np.ndarray, views: bool = False) -> list[np.ndarray]:
        """Run the model once on ready-made input tensors (none: on what ``write_input`` wrote);
        returns the raw outputs: copies, or with ``views`` the interpreter's own buffers, good until
        the next invoke. Whoever takes views must let go of them by then (the interpreter refuses to
        run while one is held); they save copying large outputs (DeepLab's 5.5 MB a frame when run as
        the file has it)."""
        try:
            for info, array in zip(self.inputs, inputs):
                self._set(info.index, array)
            self.interpreter.invoke()
        except (RuntimeError, ValueError) as exc:  # a kernel's error, a tensor of the wrong shape or type
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EdgeError(f"the {self.name} interpreter failed to run the model: {first}") from exc
        if views:
            return [self.interpreter.tensor(info.index)() for info in self.outputs]
        return [self._get(info.index) for info in self.outputs]

    def close(self) -> None:
        self.interpreter = None

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
