"""MOTA, IDF1 and line counts of the tracker on the built-in tracking scene, beside Roboflow's ByteTrack
(``trackers``) on the same detections: the README's tracking table.

The scene's truth (``synthetic:tracks``) becomes detections of known quality
(``edge.sources.paths.truth_detections``); motmetrics scores both trackers against the truth's visits
(IoU 0.5), and the middle line's count is compared with the crossings of the true paths. With
``--model``, a detector trained on the built-in shapes (``make demo-detect``) finds the objects in the
scene's frames instead.

    python tools/track_check.py [--seeds 0,1,2] [--frames 600] [--objects 6] [--model DETECTOR.tflite]
                                [--threshold T (default: the model's own, else 0.25)]
                                [--no-direction] [--no-same-object]   # the tracker without one addition
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.model.metadata import read_model_file
from edge.sources.paths import PathsSource, truth_detections
from edge.tasks.detect import DEFAULT_THRESHOLD
from edge.tasks.loader import default_threshold
from edge.track.bytetrack import ByteTracker, TrackerConfig, iou_matrix
from edge.track.events import Watcher
from edge.track.regions import parse_regions


def accumulate(acc, objects: list[dict], boxes, ids) -> None:
    """One frame into a motmetrics accumulator: truth visits against tracks, matched at IoU 0.5."""
    truth = np.array([o["box"] for o in objects], dtype=np.float64).reshape(-1, 4)
    distance = 1.0 - iou_matrix(truth, np.asarray(boxes, dtype=np.float64).reshape(-1, 4))
    distance[distance > 0.5] = np.nan
    acc.update([o["visit"] for o in objects], [int(i) for i in ids], distance)


def true_crossings(truths: list[list[dict]], x: float) -> dict[str, int]:
    """Crossings of the vertical line at ``x`` by the true bottom centres, per visit."""
    last: dict[int, float] = {}
    counts = {"in": 0, "out": 0}
    for objects in truths:
        for o in objects:
            cx = (o["box"][0] + o["box"][2]) / 2
            if o["visit"] in last and (last[o["visit"]] - x) * (cx - x) < 0:
                counts["in" if cx < x else "out"] += 1
            last[o["visit"]] = cx
    return counts


def scene(seed: int, frames: int, objects: int, model: Path | None, low: float) -> tuple[list, list]:
    """Each frame's truth and detections: the truth with known noise, or ``model`` run on the frames
    (through edge, its score threshold at the tracker's ``low`` one as in run --track, so that weak
    boxes reach it)."""
    source = PathsSource(frames=frames, seed=seed, objects=objects)
    if model is None:
        truths = list(source.truths())
        rng = np.random.default_rng(seed + 100)
        return truths, [truth_detections(o, rng) for o in truths]
    import edge

    truths, found = [], []
    with edge.load(model, threshold=low) as detector:
        for frame in source:
            truths.append(frame.truth["objects"])
            found.append(detector(frame.image))
    return truths, found


def check(
    seed: int, frames: int, objects: int, model: Path | None = None, threshold: float = 0.25, **changes
) -> dict:
    """One seed's figures; ``changes``: TrackerConfig fields set otherwise (e.g. ``direction=0``)."""
    import motmetrics as mm
    import supervision as sv
    from trackers import ByteTrackTracker

    config = replace(TrackerConfig.for_threshold(threshold), **changes)  # as run --track sets it
    truths, found = scene(seed, frames, objects, model, config.low)
    ours, watcher = ByteTracker(config), Watcher(parse_regions(["mid=0.5,0,0.5,1"], None))
    theirs = ByteTrackTracker(lost_track_buffer=30, frame_rate=30, track_activation_threshold=config.new,
                              high_conf_det_threshold=config.high, minimum_iou_threshold=0.2)  # fmt: skip
    acc_ours, acc_theirs = mm.MOTAccumulator(auto_id=True), mm.MOTAccumulator(auto_id=True)
    for index, (truth, dets) in enumerate(zip(truths, found)):
        update = ours.update(dets)
        watcher.observe(update.result, update.ended, index, index / 30, (640, 480))
        accumulate(acc_ours, truth, update.result.xyxy, update.result.track_ids)
        out = theirs.update(sv.Detections(xyxy=dets.xyxy.reshape(-1, 4), confidence=dets.scores,
                                          class_id=dets.class_ids))  # fmt: skip
        kept = out.tracker_id >= 0 if out.tracker_id is not None else np.zeros(0, bool)
        accumulate(acc_theirs, truth, out.xyxy[kept], out.tracker_id[kept])
    names = ["mota", "idf1", "num_switches"]
    summary = mm.metrics.create().compute_many(
        [acc_ours, acc_theirs], metrics=names, names=["ours", "theirs"]
    )
    return {
        "ours": summary.loc["ours"].to_dict(),
        "theirs": summary.loc["theirs"].to_dict(),
        "counted": watcher.tally.lines["mid"],
        "true": true_crossings(truths, 320.0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--frames", type=int, default=600)
    parser.add_argument("--objects", type=int, default=6)
    parser.add_argument("--model", type=Path, help="a detector trained on the built-in shapes (e.g. "
                        "make demo-detect's): its detections instead of the truth with noise")  # fmt: skip
    parser.add_argument("--threshold", type=float, help="run --track's --threshold: matched first at or "
                        "above it, new tracks from it + 0.1 (default: the model's own, or 0.25)")  # fmt: skip
    parser.add_argument("--no-direction", action="store_true", help="the tracker without its direction term")
    parser.add_argument("--no-same-object", action="store_true", help="the tracker keeping every box of an "
                        "object whose class the detector doubts")  # fmt: skip
    args = parser.parse_args()
    changes: dict[str, float] = {}
    if args.no_direction:
        changes["direction"] = 0.0
    if args.no_same_object:
        changes["same_object"] = 1.0
    if args.threshold is None:
        args.threshold = default_threshold(read_model_file(args.model)) if args.model else DEFAULT_THRESHOLD
    print("| seed | MOTA | IDF1 | ID switches | trackers' ByteTrack: MOTA, IDF1, switches |", end="")
    print(" middle line: counted / true |")
    print("|---|---|---|---|---|---|")
    exact = True
    for seed in (int(s) for s in args.seeds.split(",")):
        r = check(seed, args.frames, args.objects, args.model, args.threshold, **changes)
        o, t = r["ours"], r["theirs"]
        exact &= r["counted"] == r["true"]
        print(
            f"| {seed} | {o['mota']:.3f} | {o['idf1']:.3f} | {int(o['num_switches'])} | "
            f"{t['mota']:.3f}, {t['idf1']:.3f}, {int(t['num_switches'])} | "
            f"in {r['counted']['in']} out {r['counted']['out']} / "
            f"in {r['true']['in']} out {r['true']['out']} |"
        )
    print(f"line counts exact on every seed: {exact}")
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(main())
