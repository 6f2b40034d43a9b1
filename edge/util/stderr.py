"""Native libraries' own lines kept off standard error while they are not ours to show."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Standard error's file descriptor sent to the null device while open, for what C and C++
    libraries print there themselves: an interpreter's INFO lines at load time ("Created TensorFlow
    Lite XNNPACK delegate"), libpng's and libjpeg's line for each file they fail on. What matters
    reaches the user otherwise (an exception, a line of ours). Python's own ``sys.stderr`` is flushed
    first. With ``EDGESIGHT_VERBOSE=1`` nothing is hidden."""
    if os.environ.get("EDGESIGHT_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
