"""``--mqtt mqtt://[user:pass@]host[:port]/topic``: one JSON message per frame, every Nth frame, or
when the labels seen change. paho-mqtt's network thread reconnects with backoff when the broker goes
away; messages produced while it is away are dropped and counted, never queued without bound.

With tracking, every event also goes to ``TOPIC/events``, and the counts to retained topics; with
``--mqtt-discovery``, Home Assistant finds them (``edge.sinks.discovery`` lists the topics).
``TOPIC/availability`` is ``online`` while the run lives and ``offline`` after it, also as the last
will when the connection dies.
"""

from __future__ import annotations

import contextlib
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

    def __init__(self, url: str, every: int | None = 1, qos: int = 0, stats: LiveStats | None = None,
                 discovery: str | None = None, name: str | None = None, tracking=None) -> None:  # fmt: skip
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
        self.availability = f"{self.topic}/availability"
        self.client.will_set(self.availability, "offline", qos=1, retain=True)
        self.tracking, self.discovery, self.name = tracking, discovery, name
        self._counts: dict[str, dict] = {}  # what the retained count topics hold
        connected = threading.Event()

        def on_connect(*args: object) -> None:  # also after every reconnection: retained state again
            self._announce()
            connected.set()

        self.client.on_connect = on_connect
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

    def _announce(self) -> None:
        """Availability, discovery configs and the counts, all retained: sent on every connection."""
        self.client.publish(self.availability, "online", qos=1, retain=True)
        if self.discovery and self.tracking is not None:
            from edge import __version__
            from edge.sinks.discovery import configs, node_id

            node = node_id(self.name)
            regions = self.tracking.regions
            lines = [r.name for r in regions if r.kind == "line"]
            zones = [r.name for r in regions if r.kind == "zone"]
            for topic, config in configs(self.discovery, self.topic, node, self.name or node, lines, zones,
                                         __version__).items():  # fmt: skip
                self.client.publish(topic, json.dumps(config), qos=1, retain=True)
        self._counts = {}
        self._publish_counts()

    def _publish(self, topic: str, payload: object, retain: bool = False, qos: int | None = None) -> None:
        sent = self.client.is_connected()
        if sent:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            info = self.client.publish(topic, text, qos=self.qos if qos is None else qos, retain=retain)
            sent = info.rc == self._mqtt.MQTT_ERR_SUCCESS
        self._count("mqtt_published" if sent else "mqtt_dropped")

    def _publish_counts(self) -> None:
        """The line and zone counts that changed, to their retained topics."""
        if self.tracking is None:
            return
        counts = self.tracking.counts()
        for kind in ("lines", "zones"):
            for name, value in counts[kind].items():
                topic = f"{self.topic}/{kind}/{name}"
                if self._counts.get(topic) != value:
                    self._counts[topic] = value
                    self._publish(topic, value, retain=True, qos=1)

    def _events(self, events: tuple) -> None:
        for event in events:
            data = event.to_dict()
            self._publish(f"{self.topic}/events", data)
            if event.type == "cross":
                crossing = {"event_type": event.direction, "track": event.track, "label": event.label}
                self._publish(f"{self.topic}/lines/{event.line}/cross", crossing)
        if events:
            self._publish_counts()

    def write(self, item, image: object = None) -> None:
        frame, result = item.frame, item.result
        self._events(item.events)
        labels = tuple(sorted(str(lb) for lb in result.labels))
        if not self._due(frame.index, labels):
            return
        message = record(result, source=frame.name, index=frame.index, timestamp=round(frame.timestamp, 6))
        self._publish(self.topic, message)

    def finish(self, events: tuple) -> None:
        self._events(events)

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
            if client.is_connected():  # a clean end: offline now, not when the broker notices
                info = client.publish(self.availability, "offline", qos=1, retain=True)
                with contextlib.suppress(Exception):
                    info.wait_for_publish(timeout=2.0)
            client.disconnect()
            client.loop_stop()
