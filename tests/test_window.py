"""``--show`` in a real window on a real X server (Xvfb), with the GUI OpenCV of the laptop extra:
the window opens, a screenshot of it shows the annotated frame, and q, Esc or closing the window end
the run with exit 0."""

from __future__ import annotations

import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

import edge
from tests.conftest import ROOT, needs_peer
from tests.xvfb import XDOTOOL, XVFB, start_xvfb

MODEL = "models/classification/mobilenet_v1_0.25_224_quant.tflite"
TITLE = "mobilenet_v1_0.25_224_quant"

pytestmark = needs_peer(
    XVFB is None or XDOTOOL is None, reason="needs Xvfb and xdotool: make test installs them"
)


@pytest.fixture(scope="module")
def display():
    screen = start_xvfb()
    yield screen
    screen.stop()


@pytest.fixture(scope="module")
def still(assets, tmp_path_factory):
    """A 10-second clip of one photo: every frame the same, so the annotated frame is known."""
    image = cv2.resize(cv2.imread(str(assets / "images/burger.jpg")), (640, 480))
    path = tmp_path_factory.mktemp("still") / "burger.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for _ in range(300):
        writer.write(image)
    writer.release()
    return path, cv2.imdecode(cv2.imencode(".jpg", image)[1], cv2.IMREAD_COLOR)


def show(display, assets, still_path) -> subprocess.Popen:
    command = [sys.executable, "-m", "edge.cli", "run", str(assets / MODEL), "--source", str(still_path),
               "--realtime", "--show"]  # fmt: skip
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    return subprocess.Popen(command, cwd=ROOT, env=display.env(), text=True, **pipes)


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=20)
    return proc.returncode, out, err


def best_match(screen: np.ndarray, frame: np.ndarray) -> tuple[float, int, int, float]:
    """Where ``frame`` (its top 80%: the footer's fps changes) shows on the screen: (score, x, y, scale)."""
    gray = cv2.cvtColor(screen, cv2.COLOR_BGR2GRAY)
    best = (-1.0, 0, 0, 1.0)
    for scale in np.arange(0.5, 1.01, 0.025):
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        template = cv2.cvtColor(small[: int(small.shape[0] * 0.8)], cv2.COLOR_BGR2GRAY)
        if template.shape[0] > gray.shape[0] or template.shape[1] > gray.shape[1]:
            continue
        _, score, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(gray, template, cv2.TM_CCOEFF_NORMED))
        best = max(best, (score, x, y, float(scale)))
    return best


def watch(display, assets, path, annotated: np.ndarray) -> tuple[np.ndarray, int, str, str]:
    """Run ``--show`` on the clip, look at the screen until the annotated frame shows (up to 15 s:
    the window can map before its first frame is drawn, the model still loading on a slow machine),
    then press q. The last screenshot, and the run's exit code, stdout and stderr."""
    proc = show(display, assets, path)
    try:
        window = display.wait_window(TITLE, proc)
        deadline = time.monotonic() + 15.0
        while True:
            time.sleep(0.5)
            screen = display.screenshot()
            if best_match(screen, annotated)[0] > 0.9 or time.monotonic() > deadline:
                break
        display.key(window, "q")
        code, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    return screen, code, out, err


def test_show_opens_a_window_with_the_annotated_frame_and_q_closes_it(display, assets, still):
    path, frame = still
    with edge.load(assets / MODEL, threads=2) as model:
        result = model(frame)
    assert result.labels[0] == "cheeseburger"
    annotated = edge.draw(frame, result)
    first = None
    for _ in range(2):
        screen, code, out, err = watch(display, assets, path, annotated)
        assert code == 0 and "Traceback" not in err, err  # every run ends cleanly
        assert "frames in" in out and len(err.strip()) == 0, err  # Qt's notes are kept off the terminal
        if best_match(screen, annotated)[0] > 0.9:
            break
        # Once in some forty runs of the suite the screen stayed one colour for the whole 15 s
        # (a score of 0.0) while the run went on and ended cleanly; alone it never did. Kept as
        # evidence, and the run made once more: a window that never shows its frame fails twice.
        first = (best_match(screen, annotated)[0], int(screen.min()), int(screen.max()), out.strip())
    score, x, y, scale = best_match(screen, annotated)
    assert score > 0.9, (score, first)  # the window shows the frame
    # ... annotated: where the labels are drawn, the screen is the annotated frame, not the photo
    shown = cv2.resize(screen[y : y + int(480 * scale), x : x + int(640 * scale)], (640, 480))
    box = (slice(5, 150), slice(5, 180))  # the five labels, top left
    to_annotated = np.abs(shown[box].astype(int) - annotated[box]).mean()
    to_photo = np.abs(shown[box].astype(int) - frame[box]).mean()
    assert to_annotated < 20 and to_annotated < to_photo / 2, (to_annotated, to_photo)


@pytest.mark.parametrize("action", ["Escape", "close"])
def test_escape_or_closing_the_window_ends_the_run(display, assets, still, action):
    proc = show(display, assets, still[0])
    try:
        window = display.wait_window(TITLE, proc)
        time.sleep(1.0)  # the window opens before its first frame: let it show some (the run counts them)
        if action == "close":
            display.close(window)
        else:
            display.key(window, action)
        code, out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert code == 0 and "Traceback" not in err, err
    frames = int(out.split(" frames in ")[0].split()[-1])
    assert 0 < frames < 290  # ended by the user, well before the clip's end
