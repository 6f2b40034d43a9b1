"""What this OpenCV was built with, read once from ``cv2.getBuildInformation()``."""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=1)
def build_info() -> dict[str, str]:
    """``key: value`` lines of OpenCV's build information (``GUI``, ``GStreamer``, ``FFMPEG`` ...)."""
    import cv2

    out: dict[str, str] = {}
    for line in cv2.getBuildInformation().splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key and key not in out:
            out[key.strip()] = value.strip()
    return out


def has_gui() -> bool:
    """Was this OpenCV built with a GUI backend (``opencv-python``, not the headless wheel)?"""
    gui = build_info().get("GUI")
    return gui is not None and "NONE" not in gui


def has_gstreamer() -> bool:
    """Was this OpenCV built with GStreamer? (The PyPI wheels are not.)"""
    return "YES" in build_info().get("GStreamer", "")
