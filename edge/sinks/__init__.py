"""Where results go: an annotated video file, a JSON Lines file (or stdout)."""

from edge.sinks.jsonl import JsonlSink
from edge.sinks.video import VideoSink

__all__ = ["JsonlSink", "VideoSink"]
