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
    p.add_argument(
        "--model",
        default="small_cnn",
        help="small_cnn (default, for the built-in data), or a backbone for real photos: mobilenet_v1, "
        "mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large (+ _minimalistic: no hard-swish, no SE)",
    )
    p.add_argument("--alpha", type=float, help="the backbone's width multiplier (default: its smallest)")
    p.add_argument(
        "--weights",
        help="imagenet (default for a backbone: Keras' download, cached in ~/.keras/models), none (from "
        "scratch), or a weights FILE of the backbone without its top",
    )
    p.add_argument(
        "--head-epochs", type=int, help="pretrained: epochs that train the head alone (default a third)"
    )
    p.add_argument(
        "--unfreeze",
        type=float,
        default=0.3,
        help="pretrained: share of the backbone's layers, from the top, trained afterwards (default 0.3)",
    )
    p.add_argument("--lr", type=float, help="learning rate (default 2e-3 from scratch, 1e-3 for a head)")
    p.add_argument("--fine-tune-lr", type=float, help="pretrained: learning rate after the head (lr / 10)")
    p.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multiworker"),
        default="none",
        help="mirrored: every local GPU; multiworker: several machines, from TF_CONFIG (see the README)",
    )
    p.add_argument("--batch-size", type=int, default=32, help="global batch size (default 32)")
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
    from train.fit import TrainConfig, train

    config = TrainConfig(
        epochs=args.epochs,
        size=args.size,
        model=args.model,
        alpha=args.alpha,
        weights=args.weights,
        batch_size=args.batch_size,
        val_split=args.val_split,
        seed=args.seed,
        head_epochs=args.head_epochs,
        unfreeze=args.unfreeze,
        lr=args.lr,
        fine_tune_lr=args.fine_tune_lr,
        distribute=args.distribute,
    )
    config.check()
    data = Path(args.data)
    if args.data == "shapes":
        data = generate_shapes(args.out / "data", per_class=args.images_per_class, seed=args.seed)
    info = train(data, args.out, config)
    if info is None:  # a worker of a multi-worker run: the chief reports
        return 0
    print(
        f"validation accuracy {info.val_accuracy:.2%}; run folder {args.out}\n"
        f"next: edgesight export {args.out}"
    )
    return 0


handle = needs_tensorflow("train", _handle)
