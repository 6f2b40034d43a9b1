"""What the tests and the tools share: where the third-party assets are, and a free loopback port.

Tools import it as ``testbed`` (their folder is on ``sys.path``), tests as ``tools.testbed``.
"""

from __future__ import annotations

import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT.parent / "shared" / "assets"
CLASSIFICATION = ASSETS / "models" / "classification"
DETECTION = ASSETS / "models" / "detection"
IMAGES = ASSETS / "images"
VIDEO = ASSETS / "video"
SSD_MODEL = DETECTION / "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite"
SSD_LABELS = DETECTION / "labelmap.txt"
TRAFFIC_CLIP = VIDEO / "traffic_frames.mp4"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]
