"""``edgesight demo``: the whole job on the built-in data, into one run folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from train.commands import needs_tensorflow


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "demo", help="the whole job on built-in data: data, train, export, eval, live run, report"
    )
    p.add_argument("--out", type=Path, default=Path("runs/demo"), help="run folder (default runs/demo)")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--size", type=int, default=64, help="model input size in pixels (default 64)")
    p.add_argument("--images-per-class", type=int, default=800, help="training images per class")
    p.add_argument("--frames", type=int, default=300, help="frames of the live synthetic run")
    p.add_argument("--seed", type=int, default=0)
    return p


def _handle(args: argparse.Namespace) -> int:
    from train.demo import run_demo

    summary = run_demo(
        args.out,
        epochs=args.epochs,
        size=args.size,
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
