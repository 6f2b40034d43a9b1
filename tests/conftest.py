"""Shared fixtures: the third-party assets (skipped when absent) and one real trained + exported run."""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.testbed import (  # noqa: F401 (re-exported for the tests)
    ASSETS,
    CLASSIFICATION,
    IMAGES,
    ROOT,
    SSD_LABELS,
    SSD_MODEL,
    free_port,
)

HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None
needs_tensorflow = pytest.mark.skipif(not HAS_TENSORFLOW, reason="device-only environment: no TensorFlow")
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
PHOTOS = ("burger.jpg", "cat_720p.jpg", "grace_hopper.jpg", "dog.jpg", "pets.jpg")
REQUIRED = os.environ.get("EDGESIGHT_REQUIRE_ASSETS") == "1"  # make test and CI: nothing may be missing


def needs_peer(missing: bool, reason: str):
    """A test that talks to a real program (sshd, mosquitto, Chromium, Xvfb): when ``missing``, it
    skips, except under ``make test`` (which installs them), where it fails with ``reason``."""
    return pytest.mark.needs_peer(missing=missing, reason=reason)


# Tests that measure a rate or a time: make test runs them alone, after the two-worker pass.
SERIAL_FILES = frozenset({"test_web_view.py", "test_window.py"})
SERIAL_TESTS = frozenset({
    "test_stop_time_script_times_both_signals_against_its_baseline",
    "test_latest_frame_mode_drops_old_frames_and_keeps_results_current",
    "test_pipeline_bench_script_measures_all_three_targets",
    "test_ctrl_c_keeps_the_settings_that_finished",
    "test_a_sink_that_raises_ends_the_run_within_a_second",
})  # fmt: skip


@pytest.hookimpl(tryfirst=True)  # before pytest's -m reads the marks
def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.path.name in SERIAL_FILES or getattr(item, "originalname", item.name) in SERIAL_TESTS:
            item.add_marker(pytest.mark.serial)


def pytest_runtest_setup(item) -> None:
    for mark in item.iter_markers("needs_peer"):
        if mark.kwargs["missing"]:
            if REQUIRED:
                pytest.fail(mark.kwargs["reason"], pytrace=False)
            pytest.skip(mark.kwargs["reason"])


@pytest.fixture(scope="session")
def assets() -> Path:
    """../shared/assets. Without it a test skips, except under ``make test`` (and CI), which sets
    EDGESIGHT_REQUIRE_ASSETS=1: there a missing folder fails every test that needs it."""
    if not (ASSETS / "README.md").is_file():
        message = f"third-party assets not found at {ASSETS} (CI provides ../shared/assets)"
        if REQUIRED:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return ASSETS


@pytest.fixture(scope="session")
def without_tensorflow(tmp_path_factory) -> dict:
    """An environment in which importing TensorFlow fails: a command that still gives its own one-line
    error under it checked its input before TensorFlow loads."""
    folder = tmp_path_factory.mktemp("no-tensorflow")
    (folder / "tensorflow").mkdir()
    (folder / "tensorflow/__init__.py").write_text('raise ImportError("TensorFlow was imported")\n')
    return {"PYTHONPATH": f"{folder}{os.pathsep}{ROOT}"}


def run_cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real ``edgesight`` command in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=full_env,
        timeout=timeout,
    )


# The trained fixture: 32 px trains in half the time of 48; 20 epochs reach about 87% validation
# accuracy (30 reached about 92%, in 78 s of training instead of 53 s here).
TRAINED_SIZE = 32
TRAINED_EPOCHS = 20


@contextlib.contextmanager
def built_once(tmp_path_factory, name: str):
    """A folder that one process builds and every pytest-xdist worker of the run shares: yields
    (folder, True) to the first, which builds it, and (folder, False) to the others once it is built."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    folder = root / f"shared-{name}"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the others wait here while the first builds
        done = folder / ".built"
        yield folder, not done.is_file()
        done.touch()


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict:
    """A tiny real run: generated shapes, a few epochs of training, every export mode, checked and gated.
    Built once per test run, whatever the number of workers."""
    if not HAS_TENSORFLOW:
        pytest.skip("needs TensorFlow to train; this environment is device-only (see tests/test_runtimes.py)")
    from train.export.modes import QUANT_MODES
    from train.runs import load_run

    with built_once(tmp_path_factory, "trained") as (base, build):
        if build:
            from train.data.shapes import generate_shapes
            from train.export.job import export
            from train.export.modes import parse_modes
            from train.export.source import open_export_source
            from train.fit import train

            data = generate_shapes(base / "data", per_class=200, val_per_class=30, seed=3)
            train(data, base / "run", epochs=TRAINED_EPOCHS, size=TRAINED_SIZE, batch_size=16, seed=3)
            source = open_export_source(base / "run")
            export(source, parse_modes("all"), base / "models", calib_samples=64, latency_runs=20)
    models = {}
    for mode in QUANT_MODES:  # where each model now is (.refused appended when the gate refused it)
        path = base / "models" / mode.filename()
        models[mode.name] = path if path.is_file() else path.with_name(path.name + ".refused")
    info = load_run(base / "run")
    return {
        "data": base / "data",
        "run": base / "run",
        "info": info,
        "models": models,
        "out": base / "models",
    }


@pytest.fixture(scope="module")
def walk(assets, tmp_path_factory) -> Path:
    """Two people walking across a wall in opposite directions (tests/walk.py): the tracking clip."""
    from tests.walk import write_walk

    return write_walk(assets, tmp_path_factory.mktemp("walk") / "walk.avi")


POSE_CLIP_FRAMES = 40


@pytest.fixture(scope="session")
def pose_clip(assets, tmp_path_factory) -> Path:
    """The first 40 frames of the asset pose clip (MJPG): enough for a run's path, and a third of the
    time of the whole clip on tflite-runtime 2.14, whose int8 kernels are slow on x86."""
    import cv2

    path = tmp_path_factory.mktemp("pose-clip") / "pose.avi"
    capture = cv2.VideoCapture(str(assets / "video/pose_1.mp4"))
    frames = [capture.read()[1] for _ in range(POSE_CLIP_FRAMES)]
    capture.release()
    assert all(f is not None for f in frames), "the asset pose clip has fewer than 40 frames"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def keras_home(assets, tmp_path_factory):
    """A HOME whose Keras cache holds the MobileNet v1 0.25 ImageNet weights the tool builds, with the
    tool's output; built once per test run."""
    with built_once(tmp_path_factory, "keras-home") as (home, build):
        if build:
            home.mkdir(parents=True, exist_ok=True)
            tool = ROOT / "tools/imagenet_from_tflite.py"
            done = subprocess.run(
                [sys.executable, tool, "--check", *(IMAGES / p for p in PHOTOS)],
                capture_output=True,
                text=True,
                env={**os.environ, "HOME": str(home), **NO_NETWORK},
                timeout=600,
            )
            assert done.returncode == 0, done.stdout + done.stderr
            (home / "tool-output.txt").write_text(done.stdout)
    return home, (home / "tool-output.txt").read_text()


@pytest.fixture(scope="session")
def tflrt_python() -> Path:
    """The Python of the tflite-runtime 2.14 environment ``make test`` builds (.venv-tflrt)."""
    value = os.environ.get("EDGESIGHT_TFLRT_PYTHON")
    if not value:
        pytest.skip("EDGESIGHT_TFLRT_PYTHON not set: make test builds .venv-tflrt and sets it")
    python = Path(value)
    assert python.is_file(), f"EDGESIGHT_TFLRT_PYTHON={value} does not exist"
    return python


# A camera-like source that runs until the test stops it: the synthetic one, paced at 30 fps.
LIVE_SYNTHETIC = ("--source", "synthetic", "--realtime", "--frames", "100000")


def start_cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    """Start the real ``edgesight`` command in the background (stdout and stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def wait_for(predicate, timeout: float = 30.0, every: float = 0.1):
    """Poll ``predicate`` until it returns something truthy (returned) or ``timeout`` passes (None)."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    return None


def stop(proc: subprocess.Popen, sig: int | None = None, timeout: float = 10.0) -> tuple[str, str, float]:
    """Signal a background command (SIGINT by default) and collect its output and how long it took."""
    import signal
    import time

    proc.send_signal(sig or signal.SIGINT)
    start = time.monotonic()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err, time.monotonic() - start


@pytest.fixture()
def free_ports():
    """``free_ports(n)``: n distinct TCP ports on 127.0.0.1 that nothing listens on right now."""
    import socket

    def ports(n: int) -> list[int]:
        socks = [socket.socket() for _ in range(n)]
        try:
            for s in socks:
                s.bind(("127.0.0.1", 0))
            return [s.getsockname()[1] for s in socks]
        finally:
            for s in socks:
                s.close()

    return ports
