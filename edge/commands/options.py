"""Option groups several verbs share, defined once: the interpreter, the model's contract, the result
options. Nothing here imports numpy: ``--help`` stays light."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.errors import EdgeError

RUNTIME_NAMES = ("litert", "tflite-runtime", "tf")  # edge.model.runtime.RUNTIMES, without numpy
# edge.model.layouts.TASKS and BY_NAME, without numpy (tests/test_layouts.py keeps them equal)
TASK_NAMES = ("classify", "detect", "pose", "segment")
LAYOUT_NAMES = (
    "class_scores", "ssd", "yolov8", "yolov5", "anchor_free", "yolov8_pose", "yolov8_seg", "movenet",
    "movenet_multipose", "segmentation",
)  # fmt: skip


def floats(text: str) -> tuple[float, ...]:
    """``127.5`` or ``123.7,116.3,103.5`` -> a tuple of floats (an argparse type)."""
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}") from None


def add_runtime_options(p: argparse.ArgumentParser) -> None:
    """The interpreter: threads and which one."""
    p.add_argument("--threads", type=int, default=2, help="interpreter threads (default 2)")
    p.add_argument("--runtime", choices=RUNTIME_NAMES, help="force one interpreter")


def add_contract_options(p: argparse.ArgumentParser) -> None:
    """Flags that supply or replace what a model says about itself."""
    p.add_argument("--labels", type=Path, help="labels file, one per line (for models without metadata)")
    p.add_argument("--mean", type=floats, help="input normalisation mean, e.g. 127.5 or 123.7,116.3,103.5")
    p.add_argument("--std", type=floats, help="input normalisation std, e.g. 127.5")
    p.add_argument("--task", choices=TASK_NAMES, help="the model's task, when it cannot be told")
    p.add_argument(
        "--layout",
        choices=LAYOUT_NAMES,
        help="the model's output layout, when it cannot be told (yolov8 also covers YOLO11)",
    )
    p.add_argument("--resize", choices=("stretch", "letterbox", "crop"), help="override the resize mode")
    p.add_argument("--color", choices=("RGB", "BGR"), help="override the input colour order")


def add_model_options(p: argparse.ArgumentParser) -> None:
    """Interpreter, contract and result options: what loading a model for results takes."""
    add_runtime_options(p)
    add_contract_options(p)
    p.add_argument(
        "--top-k", type=int, help="classes to report (default 5), or most detections (default 100)"
    )
    p.add_argument(
        "--threshold",
        type=float,
        help="lowest score to report (default 0 for classes; for detections the model's own threshold "
        "when its metadata has one (edgesight exports: best F1 on the validation split), else 0.25)",
    )
    p.add_argument("--iou", type=float, default=0.45, help="NMS IoU threshold of YOLO models (default 0.45)")


def add_ssh_options(p: argparse.ArgumentParser) -> None:
    """How to reach a device over ssh: shared by deploy and ``bench --on``."""
    p.add_argument("--port", type=int, help="ssh port")
    p.add_argument("--identity", help="ssh private key file")
    p.add_argument("--ssh-config", help="ssh config file")
    p.add_argument("--ssh-option", action="append", metavar="KEY=VALUE", help="an extra ssh -o option")
    p.add_argument("--wheelhouse", type=Path, help="install from these wheels (devices without internet)")
    p.add_argument(
        "--interpreter",
        choices=("auto", "litert", "tflite-runtime"),
        default="auto",
        help="the device's interpreter package (default: what fits its architecture and Python)",
    )
    p.add_argument("--remote-dir", help="edgesight's folder on the device (default ~/edgesight)")


def ssh_target(args: argparse.Namespace, destination: str | None = None):
    """The ssh destination and options as ``edge.deploy.ssh.Target``."""
    from edge.deploy.ssh import Target

    for flag, path in (("--identity", args.identity), ("--ssh-config", args.ssh_config)):
        if path is not None and not Path(path).expanduser().is_file():  # ssh would warn and go on
            raise EdgeError(f"{flag} file not found: {path}")
    return Target(
        destination or args.destination,
        port=args.port,
        identity=args.identity,
        config=args.ssh_config,
        options=tuple(args.ssh_option or ()),
    )


def overrides(args: argparse.Namespace):
    """The contract flags as ``edge.model.spec.Overrides``."""
    from edge.model.spec import Overrides

    return Overrides(
        task=args.task,
        layout=args.layout,
        labels=args.labels,
        mean=args.mean,
        std=args.std,
        resize=args.resize,
        color=args.color,
    )


def load_task(args: argparse.Namespace, threshold: float | None = None):
    """The model of ``args.model`` loaded with the model options (``threshold`` replaces
    ``--threshold`` as the least score decoded: tracking wants the weak detections too)."""
    from edge.tasks.loader import load

    return load(
        args.model,
        threads=args.threads,
        runtime=args.runtime,
        overrides=overrides(args),
        top_k=args.top_k,
        threshold=args.threshold if threshold is None else threshold,
        iou=args.iou,
    )
