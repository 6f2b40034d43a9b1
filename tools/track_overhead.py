"""What tracking and counting cost per frame, as a share of the frame's time.

The built-in tracking scene (``synthetic:tracks``) with ``--objects`` objects (default 28: about 21
in view and detected a frame, since objects leave the frame and hide each other), its truth turned
into detections (``edge.sources.paths.truth_detections``), two lines and a zone. Per frame it
times the tracker's update plus the events of lines and zones, and, in the same run, the frame's
inference on ``--model`` (default the SSD MobileNet asset) for the share. Target (issue 19): under 1 ms
per frame at 20 objects.

    python tools/track_overhead.py [--model M.tflite] [--objects 28] [--frames 600] [--threads 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.sources.paths import PathsSource, truth_detections
from edge.track.bytetrack import ByteTracker
from edge.track.events import Watcher
from edge.track.regions import parse_regions

SSD = Path(__file__).resolve().parents[2] / "shared/assets/models/detection"
SSD = SSD / "coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite"
TARGET_MS = 1.0


def measure(objects: int, frames: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """Milliseconds per frame of tracking and counting, and the mean detections per frame."""
    regions = parse_regions(["mid=0.5,0,0.5,1", "upper=0,0.3,1,0.3"], ["left=0,0,0.5,0,0.5,1,0,1"])
    source = PathsSource(frames=frames, seed=seed, objects=objects)
    rng = np.random.default_rng(seed)
    inputs = [(f.index, truth_detections(f.truth["objects"], rng)) for f in source]
    tracker, watcher = ByteTracker(), Watcher(regions)
    times = []
    for index, detections in inputs:
        t0 = time.perf_counter()
        update = tracker.update(detections)
        watcher.observe(update.result, update.ended, index, index / 30.0, (640, 480))
        times.append(time.perf_counter() - t0)
    return np.array(times) * 1000, float(np.mean([len(d) for _, d in inputs]))


def invoke_ms(model: Path, threads: int, runs: int = 50) -> float:
    from edge.tasks.loader import load

    with load(model, threads=threads) as task:
        frame = np.zeros((480, 640, 3), np.uint8)
        tensor, _ = task.prepare(frame)
        for _ in range(5):
            task.runtime.invoke(tensor)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            task.runtime.invoke(tensor)
            times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=SSD)
    parser.add_argument("--objects", type=int, default=28)
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    ms, mean_objects = measure(args.objects, args.frames)
    invoke = invoke_ms(args.model, args.threads)
    p50, p90 = np.percentile(ms, 50), np.percentile(ms, 90)
    print(f"tracking + 2 lines + 1 zone: {args.objects} objects, {mean_objects:.1f} detections a frame")
    print(f"  per frame: median {p50:.3f} ms, p90 {p90:.3f} ms, mean {ms.mean():.3f} ms")
    print(f"  {args.model.name} invoke ({args.threads} threads): median {invoke:.2f} ms")
    print(f"  share of invoke + tracking: {p50 / (invoke + p50):.1%}")
    verdict = "met" if p50 < TARGET_MS and mean_objects >= 20 else "MISSED"
    at = f"{p50:.3f} ms at {mean_objects:.1f} detections"
    print(f"target: under {TARGET_MS:.0f} ms a frame at 20 objects: {verdict} ({at})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
