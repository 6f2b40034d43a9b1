"""``edgesight eval MODEL DATA``: top-1 accuracy of a classifier on an image folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.options import add_model_options, load_task


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("eval", help="top-1 accuracy of a .tflite on an image folder")
    p.add_argument("model", type=Path)
    p.add_argument("data", type=Path, help="image folder, one subfolder per class")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_model_options(p)
    return p


def handle(args: argparse.Namespace) -> int:
    from edge.evaluate.classify import evaluate_classifier
    from edge.sources.images import scan_image_folder

    folder = scan_image_folder(args.data)
    with load_task(args) as task:
        ev = evaluate_classifier(task, folder)
        runtime = task.runtime.label
    if args.json:
        summary = {
            "model": str(args.model),
            "images": ev.count,
            "accuracy": ev.accuracy,
            "per_class": ev.per_class(),
            "runtime": runtime,
        }
        print(json.dumps(summary))
        return 0
    print(f"{args.model}: top-1 accuracy {ev.accuracy:.2%} on {ev.count} images ({runtime})")
    for name, acc in ev.per_class().items():
        print(f"  {name:20s} {acc:.2%}")
    return 0
