"""What ``--save`` costs the run: fps with and without recording, on the same machine, in one run.

The asset traffic clip resized to 768x432 and looped to ``--frames`` frames, through the pipeline
with the SSD MobileNet asset: runs without ``--save`` and with it (H.264 MP4 through PyAV where
installed, else what ``open_video`` falls back to) alternate ``--rounds`` times; the best fps of each
is compared. Three settings: every frame as fast as it goes with 2 interpreter threads (the default)
and with 1 (which leaves a core of a 2-core machine to capture and encoding), and the clip paced at
its 30 fps like a camera (``--realtime``, latest-frame mode). Target (issue 19): the run keeps at
least 80% of its fps with ``--save``. The size of the last recording is printed too (the encoder's
settings trade it against speed: ``edge/sinks/encode.py``).

    python tools/save_cost.py [--frames 300] [--rounds 3] [--out DIR]
    python tools/save_cost.py --setting 2 --x264 preset=superfast,crf=23   # other encoder settings
    python tools/save_cost.py --setting 2 --nice 0   # the outputs thread at inference's priority
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.pipeline import loop
from edge.pipeline.loop import run
from edge.sinks import encode
from edge.sinks.video import VideoSink
from edge.sources.capture import VideoSource
from edge.tasks.loader import load

ASSETS = Path(__file__).resolve().parents[2] / "shared/assets"
SSD = ASSETS / "models/detection/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite"
SIZE = (768, 432)
TARGET = 0.80
SETTINGS = {"2": (2, False), "1": (1, False), "paced": (2, True)}  # interpreter threads, camera pace


def x264_options(text: str) -> dict[str, str]:
    """``preset=ultrafast,crf=23,x264-params=bframes=3:aq-mode=1`` -> PyAV's stream options."""
    return dict(item.split("=", 1) for item in text.split(",") if item)


def make_clip(out: Path, frames: int) -> Path:
    """The traffic clip at 768x432, looped to ``frames`` frames (MJPG: cheap to decode)."""
    cap = cv2.VideoCapture(str(ASSETS / "video/traffic_frames.mp4"))
    images = []
    while (image := cap.read()[1]) is not None:
        images.append(cv2.resize(image, SIZE))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, SIZE)
    for i in range(frames):
        writer.write(images[i % len(images)])
    writer.release()
    return out


def fps(task, clip: Path, save: Path | None, realtime: bool = False) -> tuple[float, str]:
    """The pipeline's fps on the clip, with a recording to ``save`` or none."""
    sinks = [VideoSink(save, fps=30.0)] if save else []
    try:
        with VideoSource(str(clip), realtime=realtime) as source:
            summary = run(task, source, sinks, mode="latest" if realtime else "every", overlay=False)
    finally:
        for sink in sinks:
            sink.close()
    return summary.fps, sinks[0].codec if sinks else "-"


def compare(clip: Path, folder: Path, threads: int, realtime: bool, rounds: int) -> float:
    """One setting: print the fps with and without --save; returns their ratio."""
    plain, saving, codec = [], [], "-"
    with load(SSD, threads=threads) as task:
        fps(task, clip, None)  # warm-up: the interpreter and the page cache
        for _ in range(rounds):
            plain.append(fps(task, clip, None, realtime)[0])
            value, codec = fps(task, clip, folder / "saved.mp4", realtime)
            saving.append(value)
        label = task.runtime.label
    ratio = max(saving) / max(plain)
    medians = statistics.median(saving) / statistics.median(plain)
    mode = "paced at 30 fps, latest frame" if realtime else "every frame, as fast as it goes"
    print(f"{label}, {mode}:")
    print(f"  without --save: {', '.join(f'{v:.1f}' for v in plain)} fps (best {max(plain):.1f})")
    size = (folder / "saved.mp4").stat().st_size / 1e6
    print(f"  with --save, {codec}: {', '.join(f'{v:.1f}' for v in saving)} fps (best {max(saving):.1f}); "
          f"the recording {size:.2f} MB")  # fmt: skip
    verdict = "met" if ratio >= TARGET else "MISSED"
    print(f"  ratio {ratio:.3f} (of the medians {medians:.3f}): target at least {TARGET:.2f}: {verdict}")
    return ratio


def main() -> int:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, help="keep the clip and recordings here")
    parser.add_argument("--setting", choices=("all", *SETTINGS), default="all", help="default all three")
    parser.add_argument("--x264", type=x264_options, help="libx264 options instead of edge's (see above)")
    parser.add_argument("--nice", type=int, help=f"the outputs thread's niceness (edge: {loop.OUTPUTS_NICE})")
    args = parser.parse_args()
    if args.nice is not None:
        loop.OUTPUTS_NICE = args.nice
        print(f"outputs thread at niceness {args.nice}")
    if args.x264:
        encode.H264_OPTIONS = args.x264
        print(f"libx264 options: {args.x264}")
    folder = args.out or Path(tempfile.mkdtemp(prefix="save_cost-"))
    folder.mkdir(parents=True, exist_ok=True)
    clip = make_clip(folder / "clip_768x432.avi", args.frames)
    print(f"{args.frames} frames of 768x432, SSD MobileNet, {os.cpu_count()} CPUs")
    for name, (threads, realtime) in SETTINGS.items():
        if args.setting in ("all", name):
            compare(clip, folder, threads, realtime, args.rounds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
