"""Resident memory of this process: now, at its peak, and a reset of the peak between measurements.

Linux gives all three through /proc (the peak is VmHWM, reset by writing 5 to clear_refs); elsewhere
the peak comes from getrusage and the current figure is unknown (None).
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mb(key: str) -> float | None:
    try:
        for line in STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def rss_mb() -> float | None:
    """Resident set size now, in MiB (None where the OS does not say)."""
    return _status_mb("VmRSS")


def peak_rss_mb() -> float | None:
    """The highest resident set size since start (or since ``reset_peak``), in MiB."""
    peak = _status_mb("VmHWM")
    if peak is not None:
        return peak
    try:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    except (OSError, ValueError):
        return None
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024  # bytes / kB


def reset_peak() -> bool:
    """Start the peak over from the current RSS (Linux 4.0+); False where that is not possible."""
    try:
        CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False
