"""``--show``: a window with the annotated frames; q or Esc, or closing the window, ends the run.

It needs the GUI OpenCV (``pip install 'edgesight[laptop]'``: opencv-python, Qt on Linux). The window
opens at the frame's size (shrunk to fit a laptop screen) and can be resized.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import cv2
import numpy as np

from edge.errors import EdgeError, StopRun
from edge.sinks.base import Sink
from edge.util.opencv import has_gui

NO_GUI = (
    "--show needs an OpenCV with a GUI, and this one has none (opencv-python-headless): on a laptop "
    "pip install 'edgesight[laptop]' instead of [edge]; on a device watch in a browser with --serve "
    "127.0.0.1:8080"
)
MAX_SIZE = (1280, 720)  # the window's first size at most, for a laptop screen
QT_QUIET = "default.warning=false;qt.qpa.*=false"  # Qt's font and X11 notes, not the user's business
BOTH_WHEELS = (
    "--show needs the GUI OpenCV, but opencv-python and opencv-python-headless are both installed and "
    "the headless one won: pip uninstall -y opencv-python opencv-python-headless && pip install "
    "opencv-python (install edgesight[laptop] alone, not with [edge])"
)
NO_DISPLAY = "--show needs a display, and there is none here (DISPLAY is not set): use --serve 127.0.0.1:8080"
QUIT_KEYS = (ord("q"), ord("Q"), 27)


def both_wheels() -> bool:
    """Are both OpenCV wheels installed (they share the cv2 folder, so one breaks the other)?"""
    from importlib import metadata

    found = 0
    for name in ("opencv-python", "opencv-python-headless"):
        try:
            metadata.version(name)
            found += 1
        except metadata.PackageNotFoundError:
            pass
    return found == 2


class WindowSink(Sink):
    """Shows annotated frames in a resizable window. ``write`` (the outputs thread) hands the newest
    frame over; ``pump`` (the pipeline's own thread, which made the window) shows it and reads the
    keys: Qt, Cocoa and Win32 windows belong to the thread that made them."""

    annotated = True
    main_thread = True
    REFRESH = 0.03  # seconds: the window handles its events at least this often

    def __init__(self, title: str = "edgesight") -> None:
        if not has_gui():
            raise EdgeError(BOTH_WHEELS if both_wheels() else NO_GUI)
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            raise EdgeError(NO_DISPLAY)
        if not os.environ.get("EDGESIGHT_VERBOSE"):
            os.environ.setdefault("QT_LOGGING_RULES", QT_QUIET)
        self.title = title
        self.sized = False
        self.shown = 0
        self._image: np.ndarray | None = None
        self._lock = threading.Lock()
        self._last_events = 0.0
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error as exc:
            raise EdgeError(NO_GUI) from exc

    def write(self, item: object, image: np.ndarray) -> None:
        with self._lock:
            self._image = image

    def pump(self) -> None:
        with self._lock:
            image, self._image = self._image, None
        now = time.monotonic()
        if image is None and now - self._last_events < self.REFRESH:
            return
        if image is not None:
            self._show(image)
        key = cv2.waitKey(1) & 0xFF
        self._last_events = now
        if key in QUIT_KEYS or not self.visible():
            raise StopRun

    def _show(self, image: np.ndarray) -> None:
        if not self.sized:  # the frame's size, shrunk to fit
            h, w = image.shape[:2]
            scale = min(1.0, MAX_SIZE[0] / w, MAX_SIZE[1] / h)
            cv2.resizeWindow(self.title, round(w * scale), round(h * scale))
            self.sized = True
        cv2.imshow(self.title, image)
        self.shown += 1

    def visible(self) -> bool:
        """Is the window still open? (Qt's OpenCV raises once the user has closed it.)"""
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass
