"""What every output is: ``write(item, image)`` from the pipeline's outputs thread, then ``close``."""

from __future__ import annotations

import numpy as np


class Sink:
    """Base of the outputs. ``annotated`` sinks get the frame with the result drawn on it as ``image``;
    the others get None. A context manager that closes itself."""

    annotated = False

    def write(self, item, image: np.ndarray | None) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
