"""What every output is: ``write(item, image)`` from the pipeline's outputs thread, then ``close``."""

from __future__ import annotations

import numpy as np

from edge.errors import StopRun


class Sink:
    """Base of the outputs. ``annotated`` sinks get the frame with the result drawn on it as ``image``;
    the others get None. A context manager that closes itself."""

    annotated = False
    main_thread = False  # a GUI: the pipeline calls ``pump`` from the thread that started it

    def write(self, item, image: np.ndarray | None) -> None:
        raise NotImplementedError

    def pump(self) -> None:
        """For ``main_thread`` sinks: show what ``write`` handed over and take the user's input; may
        raise ``StopRun``. Called often from the pipeline's own (the caller's) thread."""

    def finish(self, events: tuple) -> None:
        """With tracking: the run's last events (every live track ends), after the last frame."""

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FrameLimit(Sink):
    """Ends the run once ``frames`` frames have gone out (``StopRun``: every output still gets the
    last one; None: never); with ``annotated`` each is drawn first, as a window, video or web view
    would have it."""

    def __init__(self, frames: int | None, annotated: bool = False) -> None:
        self.frames = frames
        self.annotated = annotated
        self.seen = 0

    def write(self, item, image) -> None:
        self.seen += 1
        if self.frames is not None and self.seen >= self.frames:
            raise StopRun
