"""Handlers of the training verbs of ``edgesight`` (the parser lives in ``edge.cli``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

from edge.errors import EdgeError


def cmd_train(args: argparse.Namespace) -> int:
    from train.data import generate_shapes
    from train.fit import train

    data = Path(args.data)
    if args.data == "shapes":
        data = generate_shapes(args.out / "data", per_class=args.images_per_class, seed=args.seed)
    info = train(
        data,
        args.out,
        epochs=args.epochs,
        size=args.size,
        model_name=args.model,
        batch_size=args.batch_size,
        val_split=args.val_split,
        seed=args.seed,
    )
    print(
        f"validation accuracy {info.val_accuracy:.2%}; run folder {args.out}\n"
        f"next: edgesight export {args.out}"
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from train.export import export_run, parse_modes

    modes = parse_modes(args.quant)
    if args.calib_samples < 1:
        raise EdgeError(f"--calib-samples must be 1 or more, got {args.calib_samples}")
    for e in export_run(args.run, modes, args.out, args.calib_samples):
        print(f"{e.mode:8s} {e.path}  {e.size_bytes / 1024:.1f} KiB")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
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
