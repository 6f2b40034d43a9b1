"""Training a detector: a COCO, VOC or YOLO folder (or the built-in shapes) in, a run folder out.

Validation mAP after every epoch (pycocotools, through edge's decoding); the best epoch is kept as
``model.keras`` (the export model: boxes and sigmoid scores), the last in ``checkpoints/`` with
``state.json`` for resuming; ``history.csv`` has the loss and mAP of every epoch.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.datasets.boxes import DetectionSet
from edge.datasets.detect import open_detection_data
from edge.errors import EdgeError
from edge.sinks.files import make_folder
from train.checkpoints import epoch_end
from train.data.readable import readable_set
from train.phases import Phase, compile_phase, from_scratch, set_backbone_trainable, two_phases
from train.quiet import import_tensorflow
from train.runs import RunInfo, data_reference


@dataclass(frozen=True)
class DetectConfig:
    """How to train a detector (the ``edgesight train --task detect`` flags)."""

    epochs: int = 30
    size: int = 320
    model: str = "mobilenet_v1"
    alpha: float | None = None  # None: the backbone's smallest (mobilenet_v1: 0.25)
    weights: str | None = None  # None: imagenet where the backbone has it
    batch_size: int = 8
    seed: int = 0
    lr: float = 8e-3
    neck: int = 128  # channels of the neck and the head
    tower: int = 3  # separable blocks in each head branch
    mosaic: float = 0.0
    head_epochs: int | None = None  # pretrained: epochs with the backbone frozen (default two thirds)
    unfreeze: float = 0.6  # pretrained: the top share trained after (mobilenet_v1: from conv_dw_6)
    fine_tune_lr: float | None = None  # default lr / 8

    def check(self) -> None:
        if self.epochs < 1 or self.batch_size < 1:
            raise EdgeError(f"--epochs and --batch-size must be 1 or more: {self.epochs}, {self.batch_size}")
        if self.head_epochs is not None and not 0 <= self.head_epochs <= self.epochs:
            raise EdgeError(f"--head-epochs must be between 0 and --epochs, got {self.head_epochs}")
        if self.neck < 8 or self.tower < 1:
            raise EdgeError(f"--neck must be 8 or more and --tower 1 or more: {self.neck}, {self.tower}")
        if not 0.0 <= self.unfreeze <= 1.0:
            raise EdgeError(f"--unfreeze is a share of the backbone's layers, 0 to 1, got {self.unfreeze}")
        if self.size % 32 or self.size < 64:
            raise EdgeError(
                f"--size must be a multiple of 32 (the detector's largest stride), 64 or more: {self.size}"
            )


def load_splits(data_dir: Path) -> tuple[DetectionSet, DetectionSet]:
    """Training and validation splits, checked: not empty, with boxes, the same classes; images that
    do not decode left out and counted (``readable_set``)."""
    train, val = (readable_set(open_detection_data(data_dir, split)) for split in ("train", "val"))
    for split in (train, val):
        if not len(split):
            raise EdgeError(
                f"{data_dir} has no readable images in its {split.split} split ({split.summary()})"
            )
    if train.class_names != val.class_names:
        raise EdgeError(f"{data_dir}: the train and val splits name different classes")
    if train.boxes == 0:
        raise EdgeError(
            f"{data_dir} has no boxes at all in its train split: nothing to learn where things are"
        )
    return train, val


def plan_detect_phases(cfg: DetectConfig, pretrained: bool) -> list[Phase]:
    """From scratch one phase; pretrained, the head (and neck) on the frozen backbone for two thirds of
    the epochs, then the top ``unfreeze`` share too, at ``fine_tune_lr``. Measured here (1000 built-in
    images, 6 epochs, 256 px): frozen, mAP@[.5:.95] 0.405; unfrozen from the start, 0.304. On 2000
    images, 6 epochs (the head of one block at 64 channels): 4 frozen then 2 tuned, 0.425; frozen
    throughout, 0.461, in less time; so ``edgesight demo --task detect`` keeps it frozen."""
    if not pretrained:
        return from_scratch(cfg.epochs, cfg.lr)
    head = cfg.head_epochs if cfg.head_epochs is not None else max(1, round(cfg.epochs * 2 / 3))
    return two_phases(cfg.epochs, head, cfg.unfreeze, cfg.lr, cfg.fine_tune_lr or cfg.lr / 8)


def _lr(phase: Phase, epoch: int) -> float:
    """Within a phase: cosine decay to 5% from the phase's learning rate."""
    progress = (epoch - phase.start) / max(1, phase.end - phase.start - 1)
    return phase.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def _schedule(phase: Phase, steps: int):
    """The learning rate of every step: ``_lr`` per epoch, and in the first epoch of a phase of 4
    epochs or more a linear warm-up from 10% over its steps (each phase starts a fresh Adam, whose
    first steps move every weight by about the learning rate whatever its gradient).

    One run each on the demo's data (2000 images, 256 px, 12 epochs): the first epoch of the second
    phase still loses validation mAP@[.5:.95] (0.481 to 0.408) as the backbone's top starts to move at
    lr / 8, and the run ends at 0.506; at lr / 80 nothing is lost there, and it ends at 0.489. At 20
    epochs (13 frozen): lr / 8 drops from 0.516 to 0.331 and ends at 0.543; lr / 40 drops to 0.477
    and ends at 0.535. (The demo keeps 12: at 20, its int8 export lost 1.59 points and was refused.)"""
    import keras

    class Schedule(keras.callbacks.Callback):
        epoch = phase.start

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_begin(self, batch, logs=None):
            lr = _lr(phase, self.epoch)
            if self.epoch == phase.start and phase.end - phase.start > 3:
                lr *= 0.1 + 0.9 * min(1.0, batch / max(1, steps - 1))
            self.model.optimizer.learning_rate.assign(lr)

    return Schedule()


def _backbone_choice(cfg: DetectConfig) -> tuple[float, str | None]:
    """The backbone's alpha and weights (``imagenet``, a file or None), checked before TensorFlow loads."""
    from train.models.backbones import BACKBONES, choose

    if cfg.model not in BACKBONES:
        raise EdgeError(
            f"unknown backbone {cfg.model!r} for a detector: choose one of {', '.join(BACKBONES)}"
        )
    row = BACKBONES[cfg.model]
    return choose(row, cfg.alpha, row.default_weights if cfg.weights is None else cfg.weights)


def _build(cfg: DetectConfig, num_classes: int, alpha: float, weights: str | None):
    from train.models.backbones import BACKBONES, build_backbone
    from train.models.detector import build_detector

    backbone = build_backbone(BACKBONES[cfg.model], cfg.size, alpha, weights)
    return build_detector(cfg.size, num_classes, backbone, cfg.neck, cfg.tower)


def _fit_phases(models, phases: list[Phase], start: int, train_ds, steps: int, progress_callback) -> None:
    """Each phase from where the run is: its layers trainable, a fresh Adam, its learning rates."""
    import keras

    from train.detect_loss import detection_loss

    for phase in phases:
        if phase.end <= start:
            continue
        set_backbone_trainable(models.backbone, phase)
        compile_phase(models.train, keras.optimizers.Adam(phase.lr), loss=detection_loss)
        print(f"epochs {max(start, phase.start) + 1}-{phase.end}: {phase.name}, lr {phase.lr:g}", flush=True)
        models.train.fit(
            train_ds,
            epochs=phase.end,
            initial_epoch=max(start, phase.start),
            callbacks=[_schedule(phase, steps), progress_callback],
            shuffle=False,  # tf.data shuffles (train.data); Keras would only warn that it ignores it
            verbose=1 if sys.stdout.isatty() else 2,
        )


class _Progress:
    """The epoch-end work ``fit`` callbacks would do: validation mAP, best and last checkpoints."""

    def __init__(self, export, val: DetectionSet, cfg: DetectConfig, run_dir: Path) -> None:
        self.export, self.val, self.cfg, self.run_dir = export, val, cfg, run_dir
        self.best = _best_so_far(run_dir)

    def callback(self, names: tuple[str, ...]):
        import keras

        from train.detect_eval import evaluate_keras_detector

        outer = self

        class EpochEnd(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                ev = evaluate_keras_detector(outer.export, outer.val, outer.cfg.size)
                better = ev.mAP50_95 > outer.best
                if better:
                    outer.best = ev.mAP50_95
                state = {"epoch": epoch + 1, "classes": list(names), "size": outer.cfg.size, "task": "detect"}
                epoch_end(outer.run_dir, outer.export, better, state)
                loss = float((logs or {}).get("loss", float("nan")))
                _history(outer.run_dir, epoch, loss, ev.mAP50_95, ev.mAP50)
                mark = " (best)" if better else ""
                print(
                    f"epoch {epoch + 1}: val mAP@[.5:.95] {ev.mAP50_95:.3f}, mAP@.5 {ev.mAP50:.3f}{mark}",
                    flush=True,
                )

        return EpochEnd()


def _best_so_far(run_dir: Path) -> float:
    path = run_dir / "history.csv"
    if not path.is_file():
        return -1.0
    with path.open() as f:
        return max((float(r["val_mAP50_95"]) for r in csv.DictReader(f)), default=-1.0)


def _history(run_dir: Path, epoch: int, loss: float, map50_95: float, map50: float) -> None:
    path = run_dir / "history.csv"
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["epoch", "loss", "val_mAP50_95", "val_mAP50"])
        writer.writerow([epoch, f"{loss:.6f}", f"{map50_95:.6f}", f"{map50:.6f}"])


def _resume(run_dir: Path, export, names: tuple[str, ...], size: int) -> int:
    """Load checkpoints/last.keras's weights when they belong to this data and size; the epoch."""
    import keras

    last, state_file = run_dir / "checkpoints" / "last.keras", run_dir / "checkpoints" / "state.json"
    if not (last.is_file() and state_file.is_file()):
        return 0
    fix = f"delete {run_dir / 'checkpoints'} to start over"
    try:
        state = json.loads(state_file.read_text())
        epoch = int(state["epoch"])
        if state.get("classes") != list(names) or state.get("size") != size:
            return 0
        export.set_weights(keras.models.load_model(last).get_weights())
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EdgeError(f"cannot resume from {last}: {type(exc).__name__}: {str(exc)[:150]}: {fix}") from None
    print(f"resuming from {last} after epoch {epoch}", flush=True)
    return epoch


def train_detector(data_dir: Path, run_dir: Path, cfg: DetectConfig) -> RunInfo:
    """Train a detector and write the run folder; resumes from ``checkpoints/last.keras``."""
    cfg.check()
    train_set, val_set = load_splits(data_dir)
    for line in (train_set.summary(), val_set.summary()):
        print(line, flush=True)
    alpha, weights = _backbone_choice(cfg)
    import_tensorflow()
    import keras

    from train.data.detect_augment import Augment
    from train.data.detect_pipeline import Sampler, make_detect_dataset

    make_folder(run_dir / "checkpoints")
    keras.utils.set_random_seed(cfg.seed)
    models = _build(cfg, len(train_set.class_names), alpha, weights)
    start = _resume(run_dir, models.export, train_set.class_names, cfg.size)
    augment = Augment(mosaic=cfg.mosaic)
    train_ds = make_detect_dataset(Sampler(train_set, cfg.size, True, augment), cfg.batch_size, cfg.seed)
    progress = _Progress(models.export, val_set, cfg, run_dir)
    print(f"training a detector on {cfg.model} (alpha {alpha:g}, weights {weights or 'none'}), "
          f"{cfg.size}px, batch {cfg.batch_size}, epochs {start + 1}-{cfg.epochs}", flush=True)  # fmt: skip
    began = time.perf_counter()
    phases = plan_detect_phases(cfg, weights is not None)
    steps = math.ceil(len(train_set) / cfg.batch_size)
    _fit_phases(models, phases, start, train_ds, steps, progress.callback(train_set.class_names))
    seconds = time.perf_counter() - began
    return _finish(data_dir, run_dir, cfg, (train_set, val_set), (weights, alpha), seconds)


def _finish(data_dir, run_dir, cfg, splits, chosen, seconds) -> RunInfo:
    import keras

    from train.detect_eval import evaluate_keras_detector

    train_set, val_set = splits
    weights, alpha = chosen
    best = keras.models.load_model(run_dir / "model.keras")
    ev = evaluate_keras_detector(best, val_set, cfg.size)
    info = RunInfo(
        model=cfg.model,
        size=cfg.size,
        class_names=train_set.class_names,
        mean=(127.5,),
        std=(127.5,),
        data=data_reference(data_dir, run_dir),
        val_split=0.0,
        seed=cfg.seed,
        epochs=cfg.epochs,
        train_images=len(train_set),
        val_images=len(val_set),
        val_accuracy=ev.mAP50_95,  # the run's main validation figure: mAP@[.5:.95] for a detector
        seconds=seconds,
        alpha=alpha,
        weights="none" if weights is None else weights if weights == "imagenet" else Path(weights).name,
        task="detect",
        val_map50_95=ev.mAP50_95,
        val_map50=ev.mAP50,
    )
    info.save(run_dir)
    return info
