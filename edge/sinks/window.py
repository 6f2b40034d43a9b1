"""``--show``: a window with the annotated frames; q or Esc (or closing the window) ends the run."""

from __future__ import annotations

import os
import sys

import cv2
import numpy as np

from edge.errors import EdgeError, StopRun
from edge.sinks.base import Sink

NO_GUI = (
    "--show needs an OpenCV with a GUI, and this one has none (opencv-python-headless): watch in a "
    "browser with --serve 127.0.0.1:8080 instead, or pip install opencv-python on a desktop"
)
NO_DISPLAY = "--show needs a display, and there is none here (DISPLAY is not set): use --serve 127.0.0.1:8080"
QUIT_KEYS = (ord("q"), ord("Q"), 27)


def has_gui() -> bool:
    """Was this OpenCV built with a GUI backend?"""
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("GUI:"):
            return "NONE" not in line
    return False


class WindowSink(Sink):
    """Shows annotated frames in a resizable window."""

    annotated = True

    def __init__(self, title: str = "edgesight") -> None:
        if not has_gui():
            raise EdgeError(NO_GUI)
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise EdgeError(NO_DISPLAY)
        self.title = title
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise EdgeError(NO_GUI) from exc

    def write(self, item: object, image: np.ndarray) -> None:
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in QUIT_KEYS or cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) < 1:
            raise StopRun

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
