"""--mqtt against a real mosquitto broker the test starts (Debian's package, installed by `make test`):
events per frame and every Nth frame, and publishing that resumes after the broker restarts."""

import json
import re
import shutil
import socket
import subprocess
import threading
import urllib.request
from pathlib import Path

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

MOSQUITTO = shutil.which("mosquitto") or (
    "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
)
pytestmark = needs_peer(MOSQUITTO is None, reason="mosquitto not installed: make test installs it")


class Broker:
    """A mosquitto on 127.0.0.1:port that can be stopped and started again."""

    def __init__(self, folder: Path, port: int) -> None:
        self.port = port
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", self.conf], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        assert wait_for(self._listening, timeout=10), "mosquitto did not start"

    def _listening(self) -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Subscriber:
    """A paho client that collects every message of one topic, resubscribing after reconnects."""

    def __init__(self, port: int, topic: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[dict] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *a: client.subscribe(topic)
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append(json.loads(message.payload))

    def count(self) -> int:
        with self._lock:
            return len(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture()
def broker(tmp_path):
    b = Broker(tmp_path, free_port())
    b.start()
    yield b
    b.stop()


def test_every_nth_frame_is_published_as_json(assets, broker):
    sub = Subscriber(broker.port, "edgesight/every")
    try:
        assert wait_for(lambda: sub.client.is_connected(), timeout=10)
        url = f"mqtt://127.0.0.1:{broker.port}/edgesight/every"
        proc = run_cli(
            "run",
            SSD_MODEL,
            "--source",
            "synthetic",
            "--frames",
            "60",
            "--labels",
            SSD_LABELS,
            "--mqtt",
            url,
            "--mqtt-every",
            "10",
        )
        assert proc.returncode == 0, proc.stderr
        assert wait_for(lambda: sub.count() >= 6, timeout=10)
        assert [m["index"] for m in sub.messages] == [0, 10, 20, 30, 40, 50]
        first = sub.messages[0]
        assert first["task"] == "detect" and first["source"] == "synthetic:0" and "detections" in first
    finally:
        sub.close()


def _counters(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats.json", timeout=5) as answer:
        outputs = json.loads(answer.read())["outputs"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        metrics = answer.read().decode()
    found = re.search(r"^edgesight_mqtt_dropped_total (\d+)$", metrics, re.M)
    return {**outputs, "metrics_dropped": int(found.group(1)) if found else None}


def test_publishing_resumes_after_the_broker_restarts_and_drops_are_counted(assets, broker, tmp_path):
    sub = Subscriber(broker.port, "edgesight/live")
    url = f"mqtt://127.0.0.1:{broker.port}/edgesight/live"
    web = free_port()
    proc = start_cli("run", SSD_MODEL, *LIVE_SYNTHETIC, "--mqtt", url, "--serve", f"127.0.0.1:{web}")
    try:
        assert wait_for(lambda: sub.count() >= 10, timeout=30), proc.stderr
        broker.stop()
        assert wait_for(lambda: not sub.client.is_connected(), timeout=10)
        before = sub.count()
        assert proc.poll() is None  # the run goes on without its broker
        # Events made while the broker is away are dropped and counted, in /stats.json and /metrics.
        dropped = wait_for(lambda: _counters(web).get("mqtt_dropped", 0) >= 10 and _counters(web), timeout=20)
        assert dropped and dropped["metrics_dropped"] >= 10, dropped
        broker.start()
        assert wait_for(lambda: sub.count() >= before + 10, timeout=40), (
            "no events after the broker came back"
        )
        indexes = [m["index"] for m in sub.messages]
        assert indexes == sorted(indexes)
    finally:
        out, err, _ = stop(proc)
        sub.close()
    assert proc.returncode == 130, err
    summary = re.search(r"mqtt: (\d+) events published, (\d+) dropped while the broker was away", out)
    assert summary and int(summary.group(2)) >= dropped["mqtt_dropped"], out


def test_bad_mqtt_options_are_one_line_errors(assets):
    for flags, message in [
        (("--mqtt", "http://127.0.0.1/x"), "expects mqtt://host[:port]/topic"),
        (("--mqtt", "mqtt://127.0.0.1:1883/t", "--mqtt-every", "0"), "--mqtt-every expects"),
    ]:
        proc = run_cli("run", SSD_MODEL, "--source", "synthetic", "--frames", "2", *flags)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr


def test_poses_and_class_maps_are_published_like_detections(assets, broker):
    """MoveNet and DeepLab through --mqtt: a message when what is seen changes (people, the classes
    found), each the result's JSON."""
    sub = Subscriber(broker.port, "edgesight/tasks")
    try:
        assert wait_for(lambda: sub.client.is_connected(), timeout=10)
        url = f"mqtt://127.0.0.1:{broker.port}/edgesight/tasks"
        for model, clip in (
            ("models/pose/movenet_single_pose_lightning_ptq.tflite", "video/pose_1.mp4"),
            ("models/segmentation/deeplabv3.tflite", "video/traffic_frames.mp4"),
        ):
            proc = run_cli("run", assets / model, "--source", assets / clip, "--frames", "20", "--mqtt", url)
            assert proc.returncode == 0, proc.stderr
        assert wait_for(lambda: {m["task"] for m in sub.messages} == {"pose", "segment"}, timeout=10)
        pose = next(m for m in sub.messages if m["task"] == "pose")
        assert pose["index"] == 0 and len(pose["poses"][0]["keypoints"]) == 17
        seg = next(m for m in sub.messages if m["task"] == "segment")
        assert seg["size"] == [960, 540] and "car" in [c["label"] for c in seg["classes"]]
    finally:
        sub.close()


class Recorder:
    """Every message under some topics, with its retain flag, as Home Assistant would see them."""

    def __init__(self, port: int, *topics: str) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda client, *a: [client.subscribe(t, qos=1) for t in topics]
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert wait_for(self.client.is_connected, timeout=10)

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload.decode(), bool(message.retain)))

    def last(self, topic: str) -> tuple[str, bool] | None:
        with self._lock:
            found = [(p, r) for t, p, r in self.messages if t == topic]
        return found[-1] if found else None

    def on(self, topic: str) -> list[str]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_home_assistant_finds_the_counts_occupancy_and_crossings(assets, broker, walk):
    from tests.test_track_run import track_flags

    url = f"mqtt://127.0.0.1:{broker.port}/cam"
    live = Recorder(broker.port, "cam/#")
    try:
        done = run_cli(
            "run", *track_flags(assets), "--source", walk, "--mqtt", url, "--mqtt-every", "1000",
            "--mqtt-discovery", "--name", "porch",
        )  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        assert wait_for(lambda: live.last("cam/availability") == ("offline", False), timeout=10)
        events = [json.loads(p) for p in live.on("cam/events")]
        kinds = [e["type"] for e in events]
        assert kinds.count("new") == 2 and kinds.count("end") == 2 and kinds.count("cross") == 2, kinds
        crossings = sorted(json.loads(p)["event_type"] for p in live.on("cam/lines/door/cross"))
        assert crossings == ["in", "out"]
    finally:
        live.close()
    ha = Recorder(broker.port, "homeassistant/#", "cam/#")  # after the run: what is retained
    try:
        node = "edgesight_porch"
        expected = {
            f"homeassistant/sensor/{node}/door_in/config", f"homeassistant/sensor/{node}/door_out/config",
            f"homeassistant/event/{node}/door/config", f"homeassistant/sensor/{node}/right_occupancy/config",
            f"homeassistant/binary_sensor/{node}/right_occupied/config",
        }  # fmt: skip
        assert wait_for(lambda: all(ha.last(t) for t in expected), timeout=10), ha.messages
        configs = {t: json.loads(ha.last(t)[0]) for t in expected}
        assert all(ha.last(t)[1] for t in expected)  # retained
        assert {c["device"]["identifiers"][0] for c in configs.values()} == {node}
        assert {c["availability_topic"] for c in configs.values()} == {"cam/availability"}
        assert len({c["unique_id"] for c in configs.values()}) == len(expected)
        door_in = configs[f"homeassistant/sensor/{node}/door_in/config"]
        assert door_in["state_topic"] == "cam/lines/door" and door_in["state_class"] == "total_increasing"
        occupied = configs[f"homeassistant/binary_sensor/{node}/right_occupied/config"]
        assert occupied["device_class"] == "occupancy" and occupied["state_topic"] == "cam/zones/right"
        assert configs[f"homeassistant/event/{node}/door/config"]["event_types"] == ["in", "out"]
        # the states, retained: what the templates read
        assert wait_for(lambda: ha.last("cam/lines/door") and ha.last("cam/zones/right"), timeout=10)
        assert json.loads(ha.last("cam/lines/door")[0]) == {"in": 1, "out": 1}
        zone = json.loads(ha.last("cam/zones/right")[0])
        assert zone["entered"] == 2 and zone["exited"] == 2 and zone["occupancy"] == 0
        assert ha.last("cam/availability") == ("offline", True)
    finally:
        ha.close()


def test_the_last_will_says_offline_when_the_run_dies(assets, broker, walk, tmp_path):
    import signal

    from tests.test_track_run import loop_clip, track_flags

    clip = loop_clip(walk, 4, tmp_path / "walk_x4.avi")
    watch = Recorder(broker.port, "cam/availability")
    try:
        url = f"mqtt://127.0.0.1:{broker.port}/cam"
        proc = start_cli("run", *track_flags(assets), "--source", clip, "--realtime", "--mqtt", url)
        assert wait_for(lambda: watch.last("cam/availability") == ("online", False), timeout=30)
        proc.send_signal(signal.SIGKILL)  # no clean end: only the broker can say it
        proc.wait(timeout=10)
        assert wait_for(lambda: watch.last("cam/availability") == ("offline", False), timeout=10)
    finally:
        watch.close()
