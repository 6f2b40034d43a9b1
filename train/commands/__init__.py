"""The training verbs of ``edgesight`` (train, export, demo), one module each with its arguments and
its handler. Importing them loads neither TensorFlow nor numpy: a handler imports what it needs when
its verb runs, and says how to install TensorFlow when it is missing."""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable

from edge.errors import EdgeError

Handler = Callable[[argparse.Namespace], int]


def needs_tensorflow(verb: str, handler: Handler) -> Handler:
    """``handler`` behind a check that TensorFlow is installed and importable."""
    missing = EdgeError(
        f"'edgesight {verb}' needs TensorFlow, which is not installed here: "
        "pip install 'edgesight[train]' (on the desktop; devices only need 'edgesight[edge]')"
    )

    def checked(args: argparse.Namespace) -> int:
        if importlib.util.find_spec("tensorflow") is None:
            raise missing
        try:
            return handler(args)
        except ImportError as exc:  # found but unusable (a broken or partial install)
            if (exc.name or "").split(".")[0] in ("tensorflow", "keras"):
                raise missing from exc
            raise

    return checked
