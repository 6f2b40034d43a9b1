"""Where results go: annotated video, JSON Lines, a window, a web view, MQTT, live stats lines.

Every sink has ``annotated`` (does it want the frame with the result drawn on it?), ``write(item,
image)`` called from the pipeline's outputs thread, and ``close``.
"""

from edge.sinks.base import Sink
from edge.sinks.console import StatsPrinter
from edge.sinks.jsonl import JsonlSink
from edge.sinks.video import VideoSink

__all__ = ["JsonlSink", "Sink", "StatsPrinter", "VideoSink"]
