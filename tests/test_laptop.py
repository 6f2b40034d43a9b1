"""The README's laptop quickstart, command by command, from a copy of the checkout: train on a folder
of photos, export, run with --show in a real window (Xvfb) and with --serve, then bench. A video file
stands in for camera 0 (paced like a camera where the command serves or shows)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

from tests.conftest import ROOT, free_port, needs_peer, needs_tensorflow
from tests.xvfb import XDOTOOL, XVFB, start_xvfb

pytestmark = [
    needs_tensorflow,
    needs_peer(XVFB is None or XDOTOOL is None, reason="needs Xvfb and xdotool: make test installs them"),
]


def quickstart() -> list[list[str]]:
    """The ``edgesight`` lines of the README's laptop block, split like a shell would."""
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- laptop-quickstart.*?-->\n```sh\n(.*?)```\n<!-- /laptop-quickstart -->", text, re.S
    )
    assert block, "the README has no laptop-quickstart block"
    return [shlex.split(line) for line in block.group(1).splitlines() if line.startswith("edgesight ")]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory, assets) -> Path:
    """A copy of the checkout (sources only) with a photos/ folder and a clip for the camera."""
    from edge.sources import SyntheticSource
    from train.data.shapes import generate_shapes

    copy = tmp_path_factory.mktemp("laptop") / "edgesight"
    ignore = shutil.ignore_patterns(".venv*", "runs", ".git", "__pycache__", "*.egg-info", ".pytest_cache")
    shutil.copytree(ROOT, copy, ignore=ignore)
    shapes = generate_shapes(copy / "shapes", per_class=20, val_per_class=10, seed=9)  # 100 photos
    shutil.copytree(shapes / "train", copy / "photos")
    writer = cv2.VideoWriter(str(copy / "camera.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (640, 480))
    for frame in SyntheticSource(frames=150, seed=2):
        writer.write(frame.image)
    writer.release()
    return copy


def _edgesight(copy: Path, argv: list[str], env: dict | None = None, **kw):
    """``edgesight ARGS`` with the copy's own code: python -m edge.cli from the copy's folder."""
    command = [sys.executable, "-m", "edge.cli", *argv[1:]]
    return subprocess.Popen(
        command, cwd=copy, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw
    )


def _camera(argv: list[str], paced: bool) -> list[str]:
    i = argv.index("--source")
    return [*argv[: i + 1], "camera.avi", *(["--realtime"] if paced else []), *argv[i + 2 :]]


def test_the_readme_laptop_quickstart_runs_as_written(checkout):
    import os

    commands = quickstart()
    verbs = [c[1] for c in commands]
    assert verbs == ["train", "export", "run", "run", "bench"], verbs
    train, export, show, serve, bench = commands
    for argv in (train, export):
        proc = _edgesight(checkout, argv)
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
    model = checkout / show[2]
    assert model.is_file()
    screen = start_xvfb()
    try:
        proc = _edgesight(checkout, _camera(show, paced=True), env={**os.environ, "DISPLAY": screen.name})
        window = screen.wait_window(model.name, proc)
        time.sleep(1.0)
        screen.key(window, "q")
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "frames in" in out and "[stats]" in err, err
    finally:
        screen.stop()
    port = free_port()
    argv = [a.replace("127.0.0.1:8080", f"127.0.0.1:{port}") for a in _camera(serve, paced=True)]
    proc = _edgesight(checkout, argv)
    try:
        seen = 0
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats.json", timeout=2) as answer:
                    seen = json.loads(answer.read())["frames"]
            except OSError:
                pass
            if seen > 10:
                break
            time.sleep(0.2)
        assert seen > 10
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    proc = _edgesight(checkout, _camera(bench, paced=False))
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    record = json.loads((checkout / "laptop.json").read_text())
    assert record["results"][0]["pipeline"]["frames"] == 100 and record["results"][0]["p50_ms"] > 0
