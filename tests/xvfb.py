"""A real X server for window tests: Debian's Xvfb (installed by ``make test``), and what a user does to
a window: look at it (a screenshot), press a key (xdotool), close it (the WM_DELETE_WINDOW message a
window manager sends for the close button, through libX11)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np

XVFB = shutil.which("Xvfb")
XDOTOOL = shutil.which("xdotool")


@dataclass(frozen=True)
class Display:
    name: str  # ":N"
    process: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def xdotool(self, *args: str) -> str:
        done = subprocess.run([XDOTOOL, *args], capture_output=True, text=True, env=self.env(), timeout=10)
        return done.stdout

    def windows(self, name: str) -> list[int]:
        """Visible windows whose title contains ``name``."""
        return [int(w) for w in self.xdotool("search", "--onlyvisible", "--name", name).split()]

    def wait_window(self, name: str, process: subprocess.Popen, timeout: float = 30.0) -> int:
        """The newest visible window named ``name``, waited for while ``process`` (the run that
        opens it) is running. When it ends first, or the wait times out, the assertion says so with
        the run's standard error (it is killed on the timeout)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.windows(name)
            if found:
                return found[-1]
            if process.poll() is not None:
                _, err = process.communicate(timeout=10)
                raise AssertionError(f"the run ended ({process.returncode}) with no window {name!r}: {err}")
            time.sleep(0.2)
        unmapped = self.xdotool("search", "--name", name).split()  # made but never shown?
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(
            f"no window named {name!r} appeared in {timeout:.0f} s ({len(unmapped)} made but not visible); "
            f"the run said: {err}"
        )

    def key(self, window: int, key: str) -> None:
        self.xdotool("key", "--window", str(window), key)

    def screenshot(self) -> np.ndarray:
        """The whole screen, BGR."""
        from PIL import ImageGrab

        return np.asarray(ImageGrab.grab(xdisplay=self.name))[:, :, ::-1].copy()

    def close(self, window: int) -> None:
        """What the close button does: a WM_DELETE_WINDOW client message to the window."""
        x11 = ctypes.cdll.LoadLibrary(ctypes.util.find_library("X11"))
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XInternAtom.restype = ctypes.c_ulong
        x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x11.XSendEvent.argtypes = [
            ctypes.c_void_p,
            ctypes.c_ulong,
            ctypes.c_int,
            ctypes.c_long,
            ctypes.c_void_p,
        ]
        x11.XFlush.argtypes = [ctypes.c_void_p]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        dpy = x11.XOpenDisplay(self.name.encode())
        assert dpy, f"cannot open display {self.name}"
        event = _XEvent()
        event.xclient.type = 33  # ClientMessage
        event.xclient.window = window
        event.xclient.message_type = x11.XInternAtom(dpy, b"WM_PROTOCOLS", 0)
        event.xclient.format = 32
        event.xclient.data[0] = x11.XInternAtom(dpy, b"WM_DELETE_WINDOW", 0)
        x11.XSendEvent(dpy, window, 0, 0, ctypes.byref(event))
        x11.XFlush(dpy)
        x11.XCloseDisplay(dpy)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


class _XClientMessageEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _XClientMessageEvent), ("pad", ctypes.c_long * 24)]


def start_xvfb(width: int = 1280, height: int = 800) -> Display:
    """Xvfb on a display number it picks itself (``-displayfd``)."""
    read, write = os.pipe()
    proc = subprocess.Popen(
        [XVFB, "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        raise RuntimeError("Xvfb did not start")
    return Display(f":{number}", proc)
