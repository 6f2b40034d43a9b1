"""Home Assistant MQTT discovery for one edgesight camera: retained configs, one device block.

Topics (``TOPIC`` is the path of ``--mqtt``, ``PREFIX`` the discovery prefix, ``NODE`` the camera):
- ``TOPIC/availability``: ``online``, retained; ``offline`` at the end and as the last will;
- ``TOPIC/lines/LINE``: ``{"in": n, "out": n}``, retained;
- ``TOPIC/lines/LINE/cross``: ``{"event_type": "in"|"out", "track", "label"}`` per crossing;
- ``TOPIC/zones/ZONE``: ``{"occupancy", "peak", "entered", "exited"}``, retained;
- ``PREFIX/sensor/NODE/LINE_in/config`` and ``..._out``: counts (total_increasing);
- ``PREFIX/sensor/NODE/ZONE_occupancy/config``: objects in the zone now;
- ``PREFIX/binary_sensor/NODE/ZONE_occupied/config``: occupancy (device class ``occupancy``);
- ``PREFIX/event/NODE/LINE/config``: an event entity that fires ``in`` or ``out`` on each crossing.
"""

from __future__ import annotations

import re
import socket


def node_id(name: str | None) -> str:
    """A discovery node id from the camera's name (default the host name): letters, digits, _ and -."""
    raw = name or socket.gethostname() or "edgesight"
    return "edgesight_" + (re.sub(r"[^A-Za-z0-9_-]+", "_", raw).strip("_") or "camera")


def configs(prefix: str, topic: str, node: str, name: str, lines: list[str], zones: list[str],
            version: str) -> dict[str, dict]:  # fmt: skip
    """Every discovery config, by the topic it is published (retained) to."""
    device = {"identifiers": [node], "name": name, "manufacturer": "edgesight", "model": "edgesight run",
              "sw_version": version}  # fmt: skip
    base = {"availability_topic": f"{topic}/availability", "device": device}
    out: dict[str, dict] = {}
    for line in lines:
        for direction in ("in", "out"):
            out[f"{prefix}/sensor/{node}/{line}_{direction}/config"] = {
                **base, "name": f"{line} {direction}", "unique_id": f"{node}_{line}_{direction}",
                "state_topic": f"{topic}/lines/{line}", "value_template": f"{{{{ value_json.{direction} }}}}",
                "state_class": "total_increasing", "unit_of_measurement": "objects", "icon": "mdi:counter",
            }  # fmt: skip
        out[f"{prefix}/event/{node}/{line}/config"] = {
            **base, "name": f"{line} crossing", "unique_id": f"{node}_{line}_cross",
            "state_topic": f"{topic}/lines/{line}/cross", "event_types": ["in", "out"],
        }  # fmt: skip
    for zone in zones:
        out[f"{prefix}/sensor/{node}/{zone}_occupancy/config"] = {
            **base, "name": f"{zone} occupancy", "unique_id": f"{node}_{zone}_occupancy",
            "state_topic": f"{topic}/zones/{zone}", "value_template": "{{ value_json.occupancy }}",
            "state_class": "measurement", "unit_of_measurement": "objects",
        }  # fmt: skip
        out[f"{prefix}/binary_sensor/{node}/{zone}_occupied/config"] = {
            **base, "name": f"{zone} occupied", "unique_id": f"{node}_{zone}_occupied",
            "state_topic": f"{topic}/zones/{zone}", "device_class": "occupancy",
            "value_template": "{{ 'ON' if value_json.occupancy > 0 else 'OFF' }}",
        }  # fmt: skip
    return out
