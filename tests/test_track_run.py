"""``edgesight run --track`` end to end on the real SSD MobileNet: two people (cut from the person.jpg
asset) walk across a clip in opposite directions, past a door line and into or out of a zone. The
paths are known, so the counts, the ids, the events, the snapshots, the H.264 recording and the clips
are all checked against them. Runs on both device runtimes."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import free_port, needs_peer, run_cli, start_cli, stop, wait_for
from tests.test_web_view import CHROMIUM, CHROMIUM_ARGS
from tests.walk import FRAMES, SIZE, a_box, b_box
from tools.web_abuse import get as web_get


def _ssd(assets: Path) -> list[str]:
    model = assets / "models/detection/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite"
    return [str(model), "--labels", str(assets / "models/detection/labelmap.txt"), "--threshold", "0.4"]


def track_flags(assets: Path) -> list[str]:
    """The SSD with the door line and the right-hand zone (the MQTT tests use them too)."""
    return [*_ssd(assets), "--line", "door=0.5,0,0.5,1:person", "--zone", "right=0.5,0,1,0,1,1,0.5,1:person"]


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _ids(frames: list[dict], where) -> list[int | None]:
    """Per frame, the track id of the person found on the known box (None when not found)."""
    out = []
    for record in frames:
        people = [d for d in record["detections"] if d["label"] == "person"]
        best = max(people, key=lambda d: _iou(d["box"], where(record["index"])), default=None)
        found = best is not None and _iou(best["box"], where(record["index"])) >= 0.5
        out.append(best["track"] if found else None)
    return out


def test_two_people_keep_their_ids_cross_the_door_once_each_and_enter_and_leave_the_zone(
    assets, walk, tmp_path
):
    out, snaps, video = tmp_path / "out.jsonl", tmp_path / "snaps", tmp_path / "out.mp4"
    done = run_cli(
        "run", *_ssd(assets), "--source", walk, "--line", "door=0.5,0,0.5,1:person",
        "--zone", "right=0.5,0,1,0,1,1,0.5,1:person", "--jsonl", out, "--snapshots", snaps, "--save", video,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "line door: in 1, out 1" in done.stdout
    assert "zone right: 2 entered, 2 exited, at most 2 inside at once" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    frames, final = lines[:-1], lines[-1]
    assert len(frames) == FRAMES and set(final) == {"events"}
    a_ids, b_ids = _ids(frames, a_box), _ids(frames, b_box)
    a, b = max(set(a_ids) - {None}, key=a_ids.count), max(set(b_ids) - {None}, key=b_ids.count)
    assert a != b and a_ids.count(a) >= 0.9 * FRAMES and b_ids.count(b) >= 0.9 * FRAMES, (a_ids, b_ids)
    events = [e for record in lines for e in record.get("events", [])]
    crossings = [(e["track"], e["direction"]) for e in events if e["type"] == "cross"]
    assert crossings == [(b, "in"), (a, "out")] or crossings == [(a, "out"), (b, "in")]
    zone = [(e["type"], e["track"], e.get("reason")) for e in events if e["type"] in ("enter", "exit")]
    assert ("enter", a, None) in zone and ("exit", b, None) in zone  # a walks in; b walks out
    assert [e["track"] for e in final["events"] if e["type"] == "end"] == sorted({a, b})
    assert all(e["reason"] == "stopped" for e in final["events"] if e["type"] == "end")
    named = {e["snapshot"] for e in events if e.get("snapshot")}
    assert named and named == {p.name for p in snaps.iterdir()}
    for name in named:
        assert cv2.imread(str(snaps / name)).shape == (SIZE[1], SIZE[0], 3)
    assert f"recording {video}: {FRAMES} frames, H.264 (libx264 via PyAV)" in done.stdout
    import av

    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) == FRAMES


def test_frames_ends_a_tracked_run_as_the_end_of_the_clip_does(assets, walk, tmp_path):
    """--frames stops a file half way: the frames before it go out, then every live track ends
    ("stopped") in the last line, as at the clip's end."""
    out, half = tmp_path / "half.jsonl", FRAMES // 2
    done = run_cli("run", *_ssd(assets), "--source", walk, "--track", "--frames", half, "--jsonl", out)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{half} frames in" in done.stdout
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    frames, final = lines[:-1], lines[-1]
    assert [r["index"] for r in frames] == list(range(half)) and set(final) == {"events"}
    ends = [e for e in final["events"] if e["type"] == "end"]
    assert len(ends) == 2 and all(e["reason"] == "stopped" for e in ends), final


def _expected_clips(frames: list[dict], pre: float, post: float) -> tuple[dict[int, int], dict[int, int]]:
    """From each frame's timestamp and events (the JSONL): the frames each clip must hold, and how many
    of them come before its event, by the frame that opens it. A clip opens at an event with the frames
    of the last ``pre`` seconds before it, and closes at the first frame ``post`` seconds after the
    last event that followed."""
    clips: dict[int, int] = {}
    before: dict[int, int] = {}
    buffered: list[float] = []
    opened = until = None
    for record in frames:
        t = record["timestamp"]
        if record.get("events"):
            if until is None:
                opened, clips[record["index"]] = record["index"], len(buffered)
                before[opened], buffered = len(buffered), []
            until = t + post
        if until is not None:
            clips[opened] += 1
            if t >= until:
                until = None
        else:
            buffered = [b for b in [*buffered, t] if b >= t - pre]
    return clips, before


def test_clips_hold_their_pre_roll_and_post_roll(assets, walk, tmp_path):
    clips, out = tmp_path / "clips", tmp_path / "out.jsonl"
    done = run_cli(
        "run", *track_flags(assets), "--source", walk, "--clips", clips, "--pre-roll", "0.3",
        "--post-roll", "0.2", "--jsonl", out,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    import av

    frames = [json.loads(line) for line in out.read_text().splitlines()][:-1]
    expected, before = _expected_clips(frames, pre=0.3, post=0.2)
    made = {int(p.name.split("-")[1]): p for p in clips.iterdir()}
    assert sorted(made) == sorted(expected) and len(made) >= 2, (made, expected)
    assert made[0].name.startswith("clip-000000-new-track")  # the people appear at frame 0
    for opened, path in made.items():
        with av.open(str(path)) as container:
            assert container.streams.video[0].codec_context.name == "h264"
            assert sum(1 for _ in container.decode(video=0)) == expected[opened], (path.name, expected)
    assert all(before[k] >= 1 for k in made if k > 0)  # later clips start before their event
    assert f"clips: {len(made)} in {clips}, H.264 (libx264 via PyAV)" in done.stdout


def test_track_needs_boxes_and_bad_flags_are_one_line_errors(assets, walk):
    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    done = run_cli("run", model, "--source", walk, "--track")
    assert done.returncode == 2 and "needs a detector or a pose model, not classify" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("run", *_ssd(assets), "--source", walk, "--line", "door=1,2,3")
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "expected 4 numbers (x1,y1,x2,y2), got 3 numbers"
    )


def _get(url: str) -> tuple[int, str]:
    return web_get(url, None)


def loop_clip(walk: Path, times: int, out: Path) -> Path:
    """The walk ``times`` over, written to ``out``."""
    capture = cv2.VideoCapture(str(walk))
    frames = []
    while (frame := capture.read()[1]) is not None:
        frames.append(frame)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    for frame in frames * times:
        writer.write(frame)
    writer.release()
    return out


@pytest.mark.skipif(  # evaluated before needs_peer: a device environment has no browser driver at all
    importlib.util.find_spec("playwright") is None, reason="playwright is in the dev extra (the desktop's)"
)
@needs_peer(CHROMIUM is None, reason="chromium not installed: make test installs it")
def test_the_web_view_shows_the_counts_and_draws_the_line_and_the_zone(assets, walk, tmp_path):
    from playwright.sync_api import sync_playwright

    from edge.sinks.render import REGION_COLOR

    clip = loop_clip(walk, 4, tmp_path / "walk_x4.avi")  # 8.5 s in real time: the run outlasts the requests
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_cli(
        "run", *_ssd(assets), "--source", clip, "--realtime", "--serve", f"127.0.0.1:{port}",
        "--line", "door=0.5,0,0.5,1:person", "--zone", "right=0.5,0,1,0,1,1,0.5,1:person",
    )  # fmt: skip
    try:

        def counted() -> dict | None:
            status, body = _get(f"{base}/stats.json")
            lines = json.loads(body).get("tracking", {}).get("lines", {}) if status == 200 else {}
            door = lines.get("door", {})
            return door if door.get("in", 0) >= 1 and door.get("out", 0) >= 1 else None

        assert wait_for(counted, timeout=30), proc.stderr.read()
        status, metrics = _get(f"{base}/metrics")
        assert status == 200
        assert re.search(
            r'^edgesight_line_crossings_total\{line="door",direction="in"\} [1-9]', metrics, re.M
        )
        assert re.search(r'^edgesight_zone_entered_total\{zone="right"\} [1-9]', metrics, re.M)
        assert "# TYPE edgesight_zone_occupancy gauge" in metrics
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(f"{base}/")
                page.wait_for_function(
                    "document.querySelector('#stream').naturalWidth === 640", timeout=15000
                )
                row = page.locator("#stats tr", has_text="line door")
                row.wait_for(timeout=15000)
                assert re.fullmatch(r"line door\s+in [1-9]\d* / out [1-9]\d*", row.inner_text().strip())
                assert page.locator("#stats tr", has_text="zone right").count() == 1
                # the line is drawn on the stream: the middle column is the regions' colour, top and bottom
                pixels = page.evaluate(
                    """() => { const img = document.querySelector('#stream');
                    const c = document.createElement('canvas'); c.width = img.naturalWidth;
                    c.height = img.naturalHeight; const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                    return [[320, 60], [320, 300], [290, 60]].map(([x, y]) => {
                      const d = g.getImageData(x, y, 1, 1).data; return [d[0], d[1], d[2]]; }); }"""
                )
            finally:
                browser.close()
        on_line = np.array(pixels[:2], dtype=float)
        wall = np.array(pixels[2], dtype=float)  # beside the line: the clip's grey wall
        want = np.array(REGION_COLOR[::-1], dtype=float)  # BGR -> the canvas' RGB
        assert np.abs(on_line - want).max() < 70 and np.abs(wall - want).max() > 100, pixels
    finally:
        stop(proc)


PLAY = """async (src) => {
  const v = document.createElement('video');
  v.muted = true; v.src = src; document.body.appendChild(v);
  await new Promise((ok, fail) => {
    v.onloadeddata = ok; v.onerror = () => fail(new Error('error ' + v.error.code)); });
  await v.play();
  await new Promise((ok) => { v.onended = ok; setTimeout(ok, 10000); });
  return {width: v.videoWidth, height: v.videoHeight, duration: v.duration, ended: v.ended,
          frames: v.getVideoPlaybackQuality().totalVideoFrames};
}"""


@pytest.mark.skipif(
    importlib.util.find_spec("playwright") is None, reason="playwright is in the dev extra (the desktop's)"
)
@needs_peer(CHROMIUM is None, reason="chromium not installed: make test installs it")
def test_the_recording_and_the_clips_play_to_the_end_in_chromium(assets, walk, tmp_path):
    """What the issue asks of recordings: a browser plays them (H.264 in MP4, B-frames and all)."""
    from playwright.sync_api import sync_playwright

    video, clips = tmp_path / "out.mp4", tmp_path / "clips"
    done = run_cli("run", *track_flags(assets), "--source", walk, "--save", video, "--clips", clips)
    assert done.returncode == 0, done.stdout + done.stderr
    files = [video, *sorted(clips.iterdir())]
    assert len(files) >= 2
    (tmp_path / "page.html").write_text("<!doctype html><body></body>")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto((tmp_path / "page.html").as_uri())
            played = [page.evaluate(PLAY, str(path.relative_to(tmp_path))) for path in files]
        finally:
            browser.close()
    for path, got in zip(files, played):
        assert (got["width"], got["height"]) == SIZE and got["ended"], (path.name, got)
        assert got["frames"] >= 1, (path.name, got)
    assert abs(played[0]["duration"] - FRAMES / 30) < 0.1, played[0]


def test_poses_are_tracked_too(assets, pose_clip, tmp_path):
    out = tmp_path / "poses.jsonl"
    model = assets / "models/pose/movenet_single_pose_lightning_ptq.tflite"
    done = run_cli("run", model, "--source", pose_clip, "--track", "--jsonl", out)
    assert done.returncode == 0, done.stdout + done.stderr
    frames = [json.loads(line) for line in out.read_text().splitlines()][:-1]
    tracks = [p["track"] for f in frames for p in f["poses"]]
    assert len(tracks) >= 0.9 * len(frames) and set(tracks) == {1}  # one person, one id, all along
    events = [e["type"] for f in frames for e in f.get("events", [])]
    assert events[0] == "new" and "tracks: 1" in done.stdout
