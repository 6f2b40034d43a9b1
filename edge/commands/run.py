"""``edgesight run MODEL --source SRC [outputs]``: the live pipeline, with every output it can feed."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from edge.commands.options import add_model_options, load_task
from edge.errors import EdgeError


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Everything ``run`` takes after the model: source, modes, outputs, model options."""
    p.add_argument(
        "--source",
        required=True,
        help="synthetic, picamera, a camera index (0), a video file, an image folder or glob, an "
        "RTSP/HTTP/MJPEG URL, or a GStreamer pipeline",
    )
    p.add_argument(
        "--frames",
        type=int,
        help="stop after this many frames, from any source (default: a file's or folder's end, never "
        "for a camera or stream; the synthetic sources make this many: 300, synthetic:tracks 600)",
    )
    p.add_argument(
        "--mode",
        choices=("latest", "every"),
        help="latest: keep only the newest frame (default for cameras and streams); every: process "
        "every frame (default for files and folders)",
    )
    p.add_argument("--max-fps", type=float, help="cap the inference rate")
    p.add_argument("--width", type=int, help="capture width, where the source supports it")
    p.add_argument("--height", type=int, help="capture height, where the source supports it")
    p.add_argument("--fps", type=float, help="capture rate, where the source supports it")
    p.add_argument("--realtime", action="store_true", help="pace a video file or the synthetic source")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic source")
    p.add_argument("--save", type=Path, help="annotated video to write (.mp4 or .avi)")
    p.add_argument("--jsonl", help="JSON Lines file of per-frame results ('-' for stdout)")
    p.add_argument("--show", action="store_true", help="a window with the annotated frames (q or Esc quits)")
    p.add_argument(
        "--serve", metavar="HOST:PORT", help="web page with the live stream and stats, /metrics, /healthz"
    )
    p.add_argument(
        "--token",
        help="with --serve: a token every request must carry (?token= or Bearer); --token-file or "
        "EDGESIGHT_TOKEN in the environment keep it out of the process list",
    )
    p.add_argument("--token-file", type=Path, help="with --serve: read the token from this file")
    p.add_argument(
        "--insecure", action="store_true", help="with --serve: allow a non-loopback address without a token"
    )
    p.add_argument(
        "--mqtt",
        metavar="URL",
        help="publish JSON events to mqtt://[user[:password]@]host[:port]/topic (the password may come "
        "from EDGESIGHT_MQTT_PASSWORD instead)",
    )
    p.add_argument(
        "--mqtt-every", default="1", help="publish every N frames (default 1) or on 'change' of labels"
    )
    p.add_argument(
        "--stats", action="store_true", help="print live fps, stage times and frame age once a second"
    )
    add_tracking_options(p)
    add_model_options(p)


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    """Tracking, lines, zones and what events bring: snapshots, clips, Home Assistant discovery."""
    g = p.add_argument_group("tracking (--line, --zone, --snapshots and --clips turn it on)")
    g.add_argument(
        "--track", action="store_true", help="follow objects across frames (ByteTrack): ids and events"
    )
    g.add_argument(
        "--line",
        action="append",
        metavar="NAME=x1,y1,x2,y2[:label,...]",
        help="count crossings in and out (in: to the left of the line seen from its first point); "
        "pixels, or fractions of the frame when every value is within 0..1",
    )
    g.add_argument(
        "--zone",
        action="append",
        metavar="NAME=x,y,x,y,x,y,...[:label,...]",
        help="occupancy, enter and exit, and dwell time inside a polygon (an object's position is the "
        "bottom centre of its box)",
    )
    g.add_argument("--snapshots", type=Path, help="folder for a JPEG of each track's best frame")
    g.add_argument("--clips", type=Path, help="folder for a video around each event (H.264 MP4 with PyAV)")
    g.add_argument("--pre-roll", type=float, default=3.0, help="seconds of a clip before its event (3)")
    g.add_argument("--post-roll", type=float, default=3.0, help="seconds of a clip after its last event (3)")
    g.add_argument(
        "--mqtt-discovery",
        nargs="?",
        const="homeassistant",
        metavar="PREFIX",
        help="with --mqtt: publish Home Assistant discovery configs under PREFIX (homeassistant)",
    )
    g.add_argument("--name", help="this camera's name in MQTT discovery (default: the host name)")


def tracking_for(args: argparse.Namespace):
    """The run's ``Tracking`` when the flags ask for it, else None; the threshold given (or the model's
    own, or the detectors' 0.25) becomes ByteTrack's first-matching score."""
    from edge.track.regions import parse_regions

    regions = parse_regions(args.line, args.zone)
    if not (args.track or regions or args.snapshots or args.clips):
        return None
    from edge.model.metadata import read_model_file
    from edge.tasks.loader import default_threshold
    from edge.track.bytetrack import TrackerConfig
    from edge.track.session import Tracking

    threshold = args.threshold
    if threshold is None:
        threshold = default_threshold(read_model_file(args.model))
    config = TrackerConfig.for_threshold(threshold)
    return Tracking(regions, snapshots=args.snapshots is not None, config=config)


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("run", help="run a .tflite on a camera, video, stream, folder or the synthetic source")
    p.add_argument("model", type=Path)
    add_arguments(p)
    return p


def run_parser() -> argparse.ArgumentParser:
    """``run`` on its own (deploy checks the options a device will run with it)."""
    parser = argparse.ArgumentParser(prog="edgesight run")
    parser.add_argument("model", type=Path)
    add_arguments(parser)
    return parser


def secret(value: str | None, file: Path | None, env: str) -> str | None:
    """A secret from its flag, else its file, else the environment variable ``env``."""
    if value:
        return value
    if file is not None:
        try:
            text = file.read_text().strip()
        except OSError as exc:
            raise EdgeError(f"cannot read {file}: {exc.strerror or exc}") from None
        if not text:
            raise EdgeError(f"{file} is empty: it should hold the token")
        return text
    return os.environ.get(env) or None


def open_sinks(
    args: argparse.Namespace, stack: contextlib.ExitStack, stats, title: str, tracking=None
) -> list:
    """The outputs the flags ask for, each closed by ``stack`` whatever ends the run."""
    from edge.sinks import JsonlSink, StatsPrinter, VideoSink

    sinks = []
    if args.save:
        sinks.append(stack.enter_context(VideoSink(args.save, fps=args.fps or 30.0)))
    if args.snapshots:
        from edge.sinks.snapshots import SnapshotSink

        sinks.append(stack.enter_context(SnapshotSink(args.snapshots, stats=stats)))
    if args.clips:
        from edge.sinks.clips import ClipSink

        clips = ClipSink(args.clips, pre=args.pre_roll, post=args.post_roll, stats=stats)
        sinks.append(stack.enter_context(clips))
    if args.jsonl:
        sinks.append(stack.enter_context(JsonlSink(args.jsonl)))
    if args.show:
        from edge.sinks.window import WindowSink

        sinks.append(stack.enter_context(WindowSink(title)))
    if args.serve:
        from edge.sinks.web import WebSink

        token = secret(args.token, args.token_file, "EDGESIGHT_TOKEN")
        web = WebSink(args.serve, stats, token=token, insecure=args.insecure, title=title)
        stack.enter_context(web)
        print(f"edgesight: serving {web.url} (stream, /metrics, /healthz)", file=sys.stderr, flush=True)
        sinks.append(web)
    if args.mqtt:
        from edge.sinks.mqtt import MqttSink, parse_every

        mqtt = MqttSink(
            args.mqtt, every=parse_every(args.mqtt_every), stats=stats, discovery=args.mqtt_discovery,
            name=args.name, tracking=tracking,
        )  # fmt: skip
        sinks.append(stack.enter_context(mqtt))
    if args.stats:
        sinks.append(StatsPrinter(stats))
    return sinks


def handle(args: argparse.Namespace) -> int:
    from edge.pipeline.loop import check_options, run
    from edge.pipeline.stats import LiveStats
    from edge.sources import open_source

    check_options(args.mode, args.max_fps, args.frames)  # before any output is opened
    stats = LiveStats()
    tracking = tracking_for(args)
    if args.mqtt_discovery and not args.mqtt:
        raise EdgeError("--mqtt-discovery needs --mqtt URL (the broker Home Assistant uses)")
    if tracking is not None:
        stats.tracking = tracking.counts
    with contextlib.ExitStack() as stack:  # every output is closed, whatever ends the run
        sinks = open_sinks(args, stack, stats, title=args.model.name, tracking=tracking)
        task = stack.enter_context(load_task(args, threshold=tracking.low if tracking else None))
        if tracking is not None and task.spec.task not in ("detect", "pose"):
            raise EdgeError(
                f"--track follows boxes: it needs a detector or a pose model, not {task.spec.task}"
            )
        source = stack.enter_context(
            open_source(
                args.source,
                frames=args.frames,
                seed=args.seed,
                realtime=args.realtime,
                width=args.width,
                height=args.height,
                fps=args.fps,
            )
        )
        summary = run(
            task, source, sinks, mode=args.mode, max_fps=args.max_fps, stats=stats, tracking=tracking,
            frames=args.frames,  # a camera or a file stops there too, not only the synthetic sources
        )  # fmt: skip
        label = task.runtime.label
    out = sys.stderr if args.jsonl == "-" else sys.stdout
    print(f"{args.model} on {args.source} ({label})", file=out)
    for line in summary.lines():
        print(line, file=out)
    for sink in sinks:  # what the files got: the codec a video was written with, snapshots, clips
        if hasattr(sink, "report"):
            print(sink.report(), file=out)
    if summary.interrupted:
        print("edgesight: interrupted", file=sys.stderr)
        return 130
    return 0
