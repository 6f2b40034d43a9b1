"""``edgesight train DATA --out RUN``: train a classifier on an image folder, or (``--task detect``) a
detector on a COCO, VOC or YOLO folder; ``shapes`` is the built-in data of either task."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.errors import EdgeError
from train.commands import needs_tensorflow

DEFAULTS = {  # per task: size, epochs, model, batch size
    "classify": (64, 20, "small_cnn", 32),
    "detect": (320, 30, "mobilenet_v1", 8),
}


def add_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("train", help="train a classifier or a detector on your images or the built-in shapes")
    p.add_argument(
        "data",
        help="classify: an image folder (one subfolder per class; train/ and val/ inside are the split); "
        "detect: a COCO, Pascal VOC or YOLO folder; 'shapes' for the built-in data of either",
    )
    p.add_argument("--task", choices=("classify", "detect"), default="classify", help="default classify")
    p.add_argument("--out", type=Path, required=True, help="run folder to write")
    p.add_argument("--epochs", type=int, help="default 20 (classify), 30 (detect)")
    p.add_argument(
        "--size", type=int, help="input size in pixels (default 64; a detector 320, a multiple of 32)"
    )
    p.add_argument(
        "--model",
        help="small_cnn (the classifier default), or a backbone: mobilenet_v1 (the detector default), "
        "mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large (+ _minimalistic: no hard-swish, no SE)",
    )
    p.add_argument("--alpha", type=float, help="the backbone's width multiplier (default: its smallest)")
    p.add_argument(
        "--weights",
        help="imagenet (default for a backbone: Keras' download, cached in ~/.keras/models), none (from "
        "scratch), or a weights FILE of the backbone without its top",
    )
    p.add_argument(
        "--head-epochs",
        type=int,
        help="pretrained backbone: epochs of the head alone (a third; a detector two thirds)",
    )
    p.add_argument(
        "--unfreeze",
        type=float,
        help="pretrained backbone: share of its layers, from the top, trained after the head (0.3; a "
        "detector 0.6)",
    )
    p.add_argument("--lr", type=float, help="learning rate (2e-3; a pretrained head 1e-3; a detector 8e-3)")
    p.add_argument(
        "--fine-tune-lr",
        type=float,
        help="pretrained: learning rate after the head (lr / 10; a detector lr / 8)",
    )
    p.add_argument(
        "--distribute",
        choices=("none", "mirrored", "multiworker"),
        default="none",
        help="classifier: mirrored, every local GPU; multiworker, several machines from TF_CONFIG (README)",
    )
    p.add_argument(
        "--dropout", type=float, default=0.2, help="classifier: dropout before the last layer (default 0.2)"
    )
    p.add_argument("--batch-size", type=int, help="global batch size (default 32; a detector 8)")
    p.add_argument("--val-split", type=float, default=0.2, help="classify: validation share without val/")
    p.add_argument(
        "--images-per-class", type=int, default=800, help="shapes, classify: training images per class"
    )
    p.add_argument(
        "--images", type=int, default=2000, help="shapes, detect: training images (val: a seventh)"
    )
    p.add_argument("--mosaic", type=float, default=0.0, help="detect: share of mosaic samples (default 0)")
    p.add_argument("--neck", type=int, help="detect: channels of the neck and head (default 128)")
    p.add_argument("--tower", type=int, help="detect: separable blocks per head branch (default 3)")
    p.add_argument("--seed", type=int, default=0)
    return p


def _handle(args: argparse.Namespace) -> int:
    defaults = dict(zip(("size", "epochs", "model", "batch_size"), DEFAULTS[args.task]))
    for name, value in defaults.items():  # only what was not given: a 0 given is checked, not replaced
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.task == "detect":
        return _detector(args)
    return _classifier(args)


def _classifier(args: argparse.Namespace) -> int:
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
        unfreeze=0.3 if args.unfreeze is None else args.unfreeze,
        lr=args.lr,
        fine_tune_lr=args.fine_tune_lr,
        distribute=args.distribute,
        dropout=args.dropout,
    )
    config.check()
    data = Path(args.data)
    if args.data == "shapes":
        data = generate_shapes(args.out / "data", per_class=args.images_per_class, seed=args.seed)
    else:
        _not_detection_data(data)
    info = train(data, args.out, config)
    if info is None:  # a worker of a multi-worker run: the chief reports
        return 0
    print(
        f"validation accuracy {info.val_accuracy:.2%}; run folder {args.out}\n"
        f"next: edgesight export {args.out}"
    )
    return 0


def _not_detection_data(data: Path) -> None:
    from edge.datasets.detect import is_detection_data

    if is_detection_data(data):
        raise EdgeError(f"{data} is a detection dataset (boxes): train a detector with --task detect")


def _detector(args: argparse.Namespace) -> int:
    from train.data.detect_shapes import generate_detection_shapes
    from train.detect_fit import DetectConfig, train_detector

    if args.distribute != "none":
        raise EdgeError("--distribute trains classifiers; a detector trains in one process")
    config = DetectConfig(
        epochs=args.epochs,
        size=args.size,
        model=args.model,
        alpha=args.alpha,
        weights=args.weights,
        batch_size=args.batch_size,
        seed=args.seed,
        lr=args.lr or 8e-3,
        mosaic=args.mosaic,
        neck=DetectConfig.neck if args.neck is None else args.neck,
        tower=DetectConfig.tower if args.tower is None else args.tower,
        head_epochs=args.head_epochs,
        unfreeze=0.6 if args.unfreeze is None else args.unfreeze,
        fine_tune_lr=args.fine_tune_lr,
    )
    config.check()
    data = Path(args.data)
    if args.data == "shapes":
        data = generate_detection_shapes(args.out / "data", args.images, max(1, args.images // 7), args.seed)
    else:
        _class_folders_are_not_boxes(data)
    info = train_detector(data, args.out, config)
    print(
        f"validation mAP@[.5:.95] {info.val_map50_95:.3f}, mAP@.5 {info.val_map50:.3f}; "
        f"run folder {args.out}\n"
        f"next: edgesight export {args.out}"
    )
    return 0


def _class_folders_are_not_boxes(data: Path) -> None:
    from edge.datasets.detect import is_detection_data

    if data.is_dir() and not is_detection_data(data) and any(p.is_dir() for p in data.iterdir()):
        from edge.sources.images import scan_image_folder

        try:
            scan_image_folder(data if not (data / "train").is_dir() else data / "train")
        except EdgeError:
            return  # not class folders either: the detection reader says what it looked for
        raise EdgeError(
            f"{data} is an image folder of classes (no boxes): train a classifier without --task detect"
        )


handle = needs_tensorflow("train", _handle)
