"""What every output is: ``write(item, image)`` from the pipeline's outputs thread, then ``close``."""

from __future__ import annotations

import numpy as np


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
