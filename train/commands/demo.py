"""``edgesight demo``: the whole job on the built-in data, into one run folder; ``--task detect`` does
it for a detector (COCO data, mAP, a live run on moving objects with known boxes)."""

from __future__ import annotations

import argparse
from pathlib import Path

from train.commands import needs_tensorflow

DETECT = {"size": 320, "epochs": 8, "model": "mobilenet_v1", "images": 2000, "batch": 8}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo", help="the whole job on built-in data: data, train, export, eval, live run, report"
    )
    p.add_argument("--task", choices=("classify", "detect"), default="classify", help="default classify")
    p.add_argument("--out", type=Path, help="run folder (default runs/demo, runs/demo-detect)")
    p.add_argument("--epochs", type=int, help=f"default 20 (classify), {DETECT['epochs']} (detect)")
    p.add_argument("--size", type=int, help=f"input size in pixels (default 64; detect {DETECT['size']})")
    p.add_argument("--images-per-class", type=int, default=800, help="classify: training images per class")
    p.add_argument("--images", type=int, default=DETECT["images"], help="detect: training images")
    p.add_argument(
        "--model", default=DETECT["model"], help=f"detect: the backbone (default {DETECT['model']})"
    )
    p.add_argument("--frames", type=int, default=300, help="frames of the live synthetic run")
    p.add_argument("--seed", type=int, default=0)
    return p


def _handle(args: argparse.Namespace) -> int:
    if args.task == "detect":
        from train.demo_detect import run_detect_demo
        from train.detect_fit import DetectConfig

        config = DetectConfig(
            epochs=args.epochs or DETECT["epochs"],
            size=args.size or DETECT["size"],
            model=args.model,
            batch_size=DETECT["batch"],
            seed=args.seed,
            head_epochs=args.epochs or DETECT["epochs"],  # the backbone frozen throughout (README)
        )
        config.check()
        summary = run_detect_demo(args.out or Path("runs/demo-detect"), config, args.images, args.frames)
    else:
        from train.demo import run_demo

        summary = run_demo(
            args.out or Path("runs/demo"),
            epochs=args.epochs or 20,
            size=args.size or 64,
            images_per_class=args.images_per_class,
            frames=args.frames,
            seed=args.seed,
        )
    missed = [k for k, ok in summary["targets"].items() if not ok]
    if missed:
        print(f"targets missed: {', '.join(missed)}")
        return 1
    return 0


handle = needs_tensorflow("demo", _handle)
