"""``--mqtt mqtt://[user:pass@]host[:port]/topic``: one JSON event per frame, every Nth frame, or
when the labels seen change. paho-mqtt's network thread reconnects with backoff when the broker goes
away; events produced while it is away are dropped and counted, never queued without bound.
"""

from __future__ import annotations

import json
import os
import threading
from urllib.parse import unquote, urlsplit

from edge.errors import EdgeError
from edge.pipeline.stats import LiveStats
from edge.sinks.base import Sink
from edge.tasks.results import record

RECONNECT = (1, 16)  # first and longest wait between reconnection attempts, seconds
CONNECT_WAIT = 3.0  # seconds the run waits for the first connection before it starts anyway


def parse_mqtt_url(url: str) -> tuple[str, int, str, str | None, str | None]:
    """``mqtt://user:pass@host:port/topic`` -> (host, port, topic, user, password)."""
    parts = urlsplit(url)
    topic = unquote(parts.path.lstrip("/"))
    if parts.scheme != "mqtt" or not parts.hostname or not topic:
        raise EdgeError(f"--mqtt expects mqtt://host[:port]/topic, got {url!r}")
    try:
        port = parts.port or 1883
    except ValueError:
        raise EdgeError(f"--mqtt has a bad port in {url!r}") from None
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, port, topic, user, password


def parse_every(text: str) -> int | None:
    """``--mqtt-every``: a frame count (1 = every frame) or ``change``; returns None for change."""
    if text == "change":
        return None
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise EdgeError(f"--mqtt-every expects a number of frames (1 or more) or 'change', got {text!r}")


class MqttSink(Sink):
    """Publishes results as JSON to one topic."""

    annotated = False

    def __init__(self, url: str, every: int | None = 1, qos: int = 0, stats: LiveStats | None = None) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError as exc:
            raise EdgeError("--mqtt needs paho-mqtt: pip install 'edgesight[edge]' (or paho-mqtt)") from exc
        self.host, self.port, self.topic, user, password = parse_mqtt_url(url)
        self.every = every
        self.qos = qos
        self.published = self.dropped = 0
        self.stats = stats
        self._last_labels: tuple | None = None
        self._mqtt = mqtt
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"edgesight-{os.getpid()}")
        if user:  # a password kept out of the command line comes from the environment
            self.client.username_pw_set(user, password or os.environ.get("EDGESIGHT_MQTT_PASSWORD"))
        self.client.reconnect_delay_set(*RECONNECT)
        connected = threading.Event()
        self.client.on_connect = lambda *args: connected.set()
        self.client.connect_async(self.host, self.port, keepalive=30)
        self.client.loop_start()  # connects, and reconnects, in paho's own thread
        # A broker that is up gets the first frames too; one that is down does not hold the run up.
        connected.wait(CONNECT_WAIT)

    def _due(self, index: int, labels: tuple) -> bool:
        if self.every is None:
            changed = labels != self._last_labels
            self._last_labels = labels
            return changed
        return index % self.every == 0

    def write(self, item, image: object = None) -> None:
        frame, result = item.frame, item.result
        labels = tuple(sorted(str(lb) for lb in result.labels))
        if not self._due(frame.index, labels):
            return
        event = record(result, source=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
        sent = self.client.is_connected()
        if sent:
            info = self.client.publish(self.topic, json.dumps(event), qos=self.qos)
            sent = info.rc == self._mqtt.MQTT_ERR_SUCCESS
        self._count("mqtt_published" if sent else "mqtt_dropped")

    def _count(self, name: str) -> None:
        if name == "mqtt_published":
            self.published += 1
        else:
            self.dropped += 1
        if self.stats is not None:
            self.stats.count_output(name)

    def close(self) -> None:
        client, self.client = getattr(self, "client", None), None
        if client is not None:
            client.disconnect()
            client.loop_stop()
