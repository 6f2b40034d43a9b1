"""Keep TensorFlow's native chatter (absl start-up lines, converter dumps) off the user's terminal.

Python and native output is sent to a temporary log for the duration; the log is kept when something
fails and the error names it, so nothing is lost. Otherwise (success, Ctrl-C) it is deleted.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edge.errors import EdgeError

PACKAGES = ("tensorflow", "keras")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads; a user's setting wins


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
    fd, name = tempfile.mkstemp(prefix="edgesight-tf-", suffix=".log")
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


def import_tensorflow() -> None:
    """Import TensorFlow and Keras with their start-up lines captured. Either one not installed is
    the ``ModuleNotFoundError``, for the caller to explain; any other failure (a broken install, a
    module of theirs missing) is an ``EdgeError`` that names the log, which is then kept. Ctrl-C
    keeps nothing."""
    if "keras" in sys.modules and "tensorflow" in sys.modules:
        return
    with captured_output() as log:
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401

            return
        except Exception as exc:
            if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in PACKAGES:
                raise  # not installed: the caller says how to install it
            log.keep()  # installed but broken, a dependency of theirs missing included
            error = exc
    first = (str(error).strip().splitlines() or [""])[0]
    raise EdgeError(
        f"TensorFlow is installed but failed to load ({type(error).__name__}: {first}); its output is in "
        f"{log.path}"
    ) from error
