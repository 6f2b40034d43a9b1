"""``edgesight train DATA --out RUN``: train a classifier on an image folder or the built-in shapes."""

from __future__ import annotations

import argparse
from pathlib import Path

from train.commands import needs_tensorflow


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a classifier on an image folder or the built-in shapes")
    p.add_argument(
        "data",
        help="image folder (one subfolder per class; train/ and val/ inside are used as the "
        "split) or 'shapes' for the built-in dataset",
    )
    p.add_argument("--out", type=Path, required=True, help="run folder to write")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--size", type=int, default=64, help="model input size in pixels (default 64)")
    p.add_argument("--model", default="small_cnn", help="small_cnn (default) or mobilenet_v2")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument(
        "--val-split", type=float, default=0.2, help="validation share when the folder has no val/"
    )
    p.add_argument(
        "--images-per-class", type=int, default=800, help="with 'shapes': training images per class"
    )
    p.add_argument("--seed", type=int, default=0)
    return p


def _handle(args: argparse.Namespace) -> int:
    from train.data.shapes import generate_shapes
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


handle = needs_tensorflow("train", _handle)
