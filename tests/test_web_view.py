"""--serve: the live page in real headless Chromium (Debian's, installed by `make test`), the MJPEG
stream, /metrics, /healthz, the token, several viewers and a viewer that never reads."""

from __future__ import annotations

import json
import re
import shutil
import socket
import time

import pytest

from tests.conftest import (
    LIVE_SYNTHETIC,
    SSD_LABELS,
    SSD_MODEL,
    free_port,
    needs_peer,
    run_cli,
    start_cli,
    stop,
    wait_for,
)
from tools.web_abuse import get as web_get

CHROMIUM = shutil.which("chromium")
TOKEN = "s3cret-token"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def get(url: str, token: str | None = TOKEN) -> tuple[int, str]:
    """(status, body) of a GET with the token (tools/web_abuse.py's request)."""
    return web_get(url, token)


@pytest.fixture(scope="module")
def server(assets):
    port = free_port()
    proc = start_cli(
        "run",
        SSD_MODEL,
        *LIVE_SYNTHETIC,
        "--labels",
        SSD_LABELS,
        "--threshold",
        "0.2",
        "--serve",
        f"127.0.0.1:{port}",
        "--token",
        TOKEN,
    )
    base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: get(f"{base}/healthz")[0] == 200, timeout=30), proc.stderr.read()
    yield base
    _, err, _ = stop(proc)
    assert proc.returncode == 130, err


def frames(base: str) -> int:
    return json.loads(get(f"{base}/stats.json")[1])["frames"]


def test_every_request_needs_the_token(server):
    for path in ("/", "/stream.mjpg", "/stats.json", "/metrics", "/healthz"):
        assert get(server + path, token=None)[0] == 401
        assert get(server + path, token="wrong")[0] == 401
    assert get(f"{server}/healthz?token={TOKEN}", token=None)[0] == 200


def test_metrics_and_health(server):
    status, text = get(f"{server}/metrics")
    assert status == 200
    assert int(re.search(r"^edgesight_frames_total (\d+)$", text, re.M).group(1)) > 0
    for stage in ("capture", "preprocess", "invoke", "postprocess", "output"):
        assert re.search(rf'^edgesight_stage_seconds{{stage="{stage}"}} [0-9.]+$', text, re.M), stage
    assert "# TYPE edgesight_frame_age_seconds gauge" in text
    status, body = get(f"{server}/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"


@needs_peer(CHROMIUM is None, reason="chromium not installed: make test installs it")
def test_the_page_shows_the_stream_and_the_stats_update_in_chromium(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{server}/?token={TOKEN}")
            page.wait_for_function("document.querySelector('#stream').naturalWidth === 640", timeout=15000)

            def shown_frames() -> int:
                cell = page.locator("#stats td", has_text="frames").first.locator(
                    "xpath=following-sibling::td"
                )
                return int(cell.inner_text())

            page.wait_for_function("document.querySelectorAll('#stats tr').length > 5", timeout=15000)
            first = shown_frames()
            page.wait_for_timeout(2500)
            assert shown_frames() > first  # the stats refresh by themselves
            assert page.locator("#stats td", has_text="invoke ms").count() == 1
            # The stream keeps delivering: draw it to a canvas twice and compare.
            grab = """() => { const img = document.querySelector('#stream');
                const c = document.createElement('canvas');
                c.width = img.naturalWidth; c.height = img.naturalHeight;
                c.getContext('2d').drawImage(img, 0, 0); return c.toDataURL('image/png'); }"""
            one = page.evaluate(grab)
            page.wait_for_timeout(500)
            assert page.evaluate(grab) != one
        finally:
            browser.close()


def _open_stream(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.sendall(f"GET /stream.mjpg?token={TOKEN} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def test_many_viewers_and_one_that_never_reads_do_not_slow_the_pipeline(server):
    stalled = [_open_stream(server) for _ in range(3)]  # connect, then never read a byte
    for s in stalled:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    readers = [_open_stream(server) for _ in range(2)]
    try:
        received = [0, 0]
        start_frames, start = frames(server), time.monotonic()
        while time.monotonic() - start < 4.0:
            for i, r in enumerate(readers):
                received[i] += len(r.recv(65536))
        rate = (frames(server) - start_frames) / (time.monotonic() - start)
        assert rate > 20, rate  # the source is paced at 30 fps
        assert all(n > 100_000 for n in received), received  # both readers get a moving stream
    finally:
        for s in stalled + readers:
            s.close()


def test_serving_beyond_loopback_needs_a_token_or_insecure(assets):
    proc = run_cli(
        "run", SSD_MODEL, "--source", "synthetic", "--frames", "2", "--serve", f"0.0.0.0:{free_port()}"
    )
    assert proc.returncode == 2 and "--token" in proc.stderr and "--insecure" in proc.stderr
    proc = run_cli("run", SSD_MODEL, "--source", "synthetic", "--frames", "2", "--serve", "nonsense")
    assert proc.returncode == 2 and "HOST:PORT" in proc.stderr


def test_the_web_view_counts_people_seen_by_a_pose_model(assets, tmp_path):
    import cv2

    clip = tmp_path / "pose_x3.avi"  # the 4-second clip three times: the run outlasts the requests
    capture = cv2.VideoCapture(str(assets / "video/pose_1.mp4"))
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, frames[0].shape[1::-1])
    for frame in frames * 3:
        writer.write(frame)
    writer.release()
    port = free_port()
    model = assets / "models/pose/movenet_single_pose_lightning_ptq.tflite"
    serve = ("--serve", f"127.0.0.1:{port}", "--token", TOKEN)
    proc = start_cli("run", model, "--source", clip, "--realtime", *serve)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: get(f"{base}/stats.json")[0] == 200, timeout=30), proc.stderr.read()
        assert wait_for(lambda: json.loads(get(f"{base}/stats.json")[1])["frames"] >= 10, timeout=30)
        stats = json.loads(get(f"{base}/stats.json")[1])
        assert set(stats["labels"]) == {"person"} and stats["labels"]["person"] >= 10, stats
        status, metrics = get(f"{base}/metrics")
        assert status == 200 and 'edgesight_detections_total{label="person"}' in metrics
    finally:
        stop(proc)
