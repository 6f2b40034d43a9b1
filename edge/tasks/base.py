"""What every task shares: frame -> tensor (prepare), invoke, outputs -> result (decode)."""

from __future__ import annotations

import cv2
import numpy as np

from edge.model.metadata import ModelFile
from edge.model.runtime import Runtime
from edge.model.spec import ModelSpec
from edge.tasks.preprocess import InputConverter, Transform, as_bgr8, resize
from edge.tasks.results import Result

_COLOR_CODES = {"RGB": cv2.COLOR_BGR2RGB, "GRAY": cv2.COLOR_BGR2GRAY}


class Task:
    """A loaded model ready for frames; a context manager. Call it on a BGR frame to get a result.

    The three stages are public so a pipeline can time them: ``load_input`` (frame -> the
    interpreter's input, returning the transform back; ``prepare`` makes the tensor as an array
    instead), ``invoke`` and ``decode`` (raw outputs -> result).
    """

    task = "base"
    reads_in_place = False  # True: decode keeps nothing of the outputs, so they need not be copied

    def __init__(self, model: ModelFile, runtime: Runtime, spec: ModelSpec) -> None:
        self.model = model
        self.runtime = runtime
        self.spec = spec
        inp = spec.input
        self._convert = InputConverter(inp.mean, inp.std, inp.channels, inp.dtype, inp.scale, inp.zero_point)
        self._color = _COLOR_CODES.get(inp.color)

    def input_image(self, frame: np.ndarray) -> tuple[np.ndarray, Transform]:
        """A frame (any layout ``as_bgr8`` accepts, BGR order) -> the model's input image (resized,
        in its colour order, uint8) and the transform back."""
        inp = self.spec.input
        image, transform = resize(as_bgr8(frame), inp.height, inp.width, inp.resize)
        if self._color is not None:
            image = cv2.cvtColor(image, self._color)
        return image, transform

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, Transform]:
        """A frame -> the model's input tensor, an array of its own, and the transform back."""
        image, transform = self.input_image(frame)
        return self._convert(image), transform

    def load_input(self, frame: np.ndarray) -> Transform:
        """``prepare`` written straight into the interpreter's input: no tensor made and copied in.
        ``invoke()`` then runs on it. Returns the transform back."""
        image, transform = self.input_image(frame)
        self.runtime.write_input(lambda buffer: self._convert(image, out=buffer))
        return transform

    def decode(self, outputs: list[np.ndarray], transform: Transform) -> Result:
        raise NotImplementedError

    def invoke(self, tensor: np.ndarray | None = None) -> list[np.ndarray]:
        """The raw outputs for an input tensor, or without one for the input ``load_input`` wrote:
        the interpreter's own buffers for a task that reads them in place (pass them to ``decode``
        and let go of them before the next invoke), else copies."""
        inputs = () if tensor is None else (tensor,)
        return self.runtime.invoke(*inputs, views=self.reads_in_place)

    def __call__(self, frame: np.ndarray) -> Result:
        transform = self.load_input(frame)
        return self.decode(self.invoke(), transform)

    @property
    def graph_note(self) -> str | None:
        """How the interpreter runs the model when not as the file has it (``bench`` says so), else
        None."""
        return None

    def reset(self) -> None:
        """Forget what earlier frames left (a task that follows something between frames); the next
        call starts afresh, as for an unrelated image."""

    def close(self) -> None:
        self.runtime.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
