"""The one exception type for problems the user can fix (bad paths, files, flags, frames)."""

from __future__ import annotations


class EdgeError(Exception):
    """A user-facing error: its message is one line that says what was wrong and what to do.

    The CLI prints it and exits with status 2; library callers may catch it.
    """


class StopRun(Exception):
    """Raised by an output (the window's q / Esc) to end a run cleanly."""
