"""Training a classifier: tf.data in, checkpoints every epoch, resume from the last one, a run folder out.

From scratch, every layer trains in one phase. From pretrained weights, in two: the head alone with
the backbone frozen (``head_epochs``), then the top ``unfreeze`` share of the backbone's layers too, at
a tenth of the learning rate, with batch norm kept in inference mode throughout.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.sinks.files import make_folder
from train.checkpoints import epoch_end, save_model
from train.data.folders import load_split
from train.data.pipeline import make_dataset
from train.data.readable import left_out_note
from train.distribute import Cluster, cluster_spec, float32_copy, make_cluster, use_mixed_precision
from train.distributed_fit import fit_distributed
from train.models.classifier import SMALL_CNN, build_model, check_model_choice
from train.phases import Phase, compile_phase, from_scratch, set_backbone_trainable, two_phases
from train.quiet import import_tensorflow
from train.runs import RunInfo, data_reference

MIN_SIZE = 32  # the smallest input keras.applications' MobileNets take


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the ``edgesight train`` flags)."""

    epochs: int = 20
    size: int = 64
    model: str = SMALL_CNN
    alpha: float | None = None
    weights: str | None = None  # None: imagenet for a backbone, none for small_cnn
    batch_size: int = 32
    val_split: float = 0.2
    seed: int = 0
    head_epochs: int | None = None  # pretrained: epochs with the backbone frozen (default a third)
    unfreeze: float = 0.3  # pretrained: share of the backbone's layers (from the top) trained after
    lr: float | None = None  # default 2e-3 from scratch, 1e-3 for the head of a pretrained model
    fine_tune_lr: float | None = None  # default lr / 10
    distribute: str = "none"
    dropout: float = 0.2  # before the last layer

    def check(self) -> None:
        if self.epochs < 1:
            raise EdgeError(f"--epochs must be 1 or more, got {self.epochs}")
        if self.batch_size < 1:
            raise EdgeError(f"--batch-size must be 1 or more, got {self.batch_size}")
        if self.size < MIN_SIZE:
            raise EdgeError(f"--size must be {MIN_SIZE} or more, got {self.size}")
        if not 0.0 < self.val_split < 1.0:
            raise EdgeError(
                f"--val-split is a share of each class, above 0 and below 1, got {self.val_split}"
            )
        if self.head_epochs is not None and not 0 <= self.head_epochs <= self.epochs:
            raise EdgeError(f"--head-epochs must be between 0 and --epochs, got {self.head_epochs}")
        if not 0.0 <= self.unfreeze <= 1.0:
            raise EdgeError(f"--unfreeze is a share of the backbone's layers, 0 to 1, got {self.unfreeze}")
        if not 0.0 <= self.dropout < 1.0:
            raise EdgeError(f"--dropout is a rate, 0 to below 1, got {self.dropout}")
        for name, value in (("--lr", self.lr), ("--fine-tune-lr", self.fine_tune_lr)):
            if value is not None and value <= 0:
                raise EdgeError(f"{name} must be above 0, got {value}")

    def weights_or_default(self) -> str | None:
        """The weights asked for, else ImageNet where the backbone has them, else none."""
        if self.weights is None:
            from train.models.backbones import BACKBONES

            return BACKBONES[self.model].default_weights if self.model in BACKBONES else None
        return None if self.weights == "none" else self.weights


def plan_phases(cfg: TrainConfig, pretrained: bool) -> list[Phase]:
    if not pretrained:
        return from_scratch(cfg.epochs, cfg.lr or 2e-3)
    head = cfg.head_epochs if cfg.head_epochs is not None else max(1, cfg.epochs // 3)
    lr = cfg.lr or 1e-3
    return two_phases(cfg.epochs, head, cfg.unfreeze, lr, cfg.fine_tune_lr or lr / 10)


def _backbone_of(model):
    """The nested backbone model of a classifier (pretrained or from scratch), or None (small_cnn)."""
    import keras

    return next((layer for layer in model.layers if isinstance(layer, keras.Model)), None)


def _set_trainable(model, phase: Phase) -> None:
    """The phase's share of the backbone trainable (``set_backbone_trainable``)."""
    backbone = _backbone_of(model)
    if backbone is not None:
        set_backbone_trainable(backbone, phase)


# Training steps per call into TensorFlow: the same steps in the same order (the same losses to the last
# digit), with Keras's per-step work done once per 16. The suite's trained classifier (20 epochs of 63
# steps at 32 px, one thread) trained in 62.2 s one step a call and in 55.0 s at 16.
STEPS_PER_EXECUTION = 16


def _compile(model, phase: Phase, steps: int) -> None:
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(phase.lr, decay_steps=max(1, steps), alpha=0.05)
    optimizer = keras.optimizers.Adam(schedule)
    compile_phase(
        model,
        optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        steps_per_execution=STEPS_PER_EXECUTION,
    )


def _resume_epoch(run_dir: Path, class_names: tuple[str, ...], size: int) -> int | None:
    """The epoch ``checkpoints/`` stopped after when it belongs to this data and size, else None. Read
    before TensorFlow loads; a corrupt state file is an ``EdgeError`` that says how to start over."""
    last, state_file = run_dir / "checkpoints" / "last.keras", run_dir / "checkpoints" / "state.json"
    if not (last.is_file() and state_file.is_file()):
        return None
    try:
        state = json.loads(state_file.read_text())
        epoch = int(state["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        fix = f"delete {run_dir / 'checkpoints'} to start over"
        raise EdgeError(f"cannot resume: {state_file} is corrupt ({type(exc).__name__}): {fix}") from None
    if state.get("classes") != list(class_names) or state.get("size") != size:
        return None
    return epoch


def _resume(run_dir: Path, epoch: int | None):
    """The model of ``checkpoints/last.keras`` and its epoch, or (None, 0) when there is nothing to
    resume. A damaged checkpoint is an ``EdgeError`` that says how to start over."""
    import keras

    if epoch is None:
        return None, 0
    last = run_dir / "checkpoints" / "last.keras"
    try:
        model = keras.models.load_model(last)
    except Exception as exc:  # Keras raises many types for a damaged file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        fix = f"delete {last.parent} to start over"
        raise EdgeError(f"cannot resume from {last}: {first[:200]}: {fix}") from None
    print(f"resuming from {last} after epoch {epoch}")
    return model, epoch


def _callbacks(folder: Path, class_names: tuple[str, ...], size: int, resumed: bool) -> list:
    import keras

    class Checkpoints(keras.callbacks.Callback):
        """The best model by validation accuracy, the last one and the state, each written whole."""

        best = float("-inf")

        def on_epoch_end(self, epoch, logs=None):
            accuracy = (logs or {}).get("val_accuracy")
            better = accuracy is not None and accuracy > self.best
            self.best = accuracy if better else self.best
            state = {"epoch": epoch + 1, "classes": list(class_names), "size": size}
            epoch_end(folder, self.model, better, state)

    return [Checkpoints(), keras.callbacks.CSVLogger(folder / "history.csv", append=resumed)]


def _fit_phases(model, phases: list[Phase], start: int, data: tuple, callbacks: list, steps: int) -> None:
    train_ds, val_ds = data
    for phase in phases:
        if phase.end <= start:
            continue
        if not (start > 0 and phase.start < start):  # entering the phase (not resuming inside it)
            _set_trainable(model, phase)
            _compile(model, phase, steps * (phase.end - phase.start))
        print(f"epochs {max(start, phase.start) + 1}-{phase.end}: {phase.name}, lr {phase.lr:g}", flush=True)
        model.fit(
            train_ds,
            validation_data=val_ds,
            epochs=phase.end,
            initial_epoch=max(start, phase.start),
            callbacks=callbacks,
            shuffle=False,  # tf.data shuffles (train.data); Keras would only warn that it ignores it
            verbose=1 if sys.stdout.isatty() else 2,
        )


def _checked_inputs(cfg: TrainConfig, data_dir: Path, run_dir: Path):
    """Everything checkable before TensorFlow loads, so bad input is one line in well under a second:
    the flags, the data (its split), the resume state, the model's choices and the cluster."""
    cfg.check()
    split = load_split(data_dir, cfg.val_split, cfg.seed)
    if split.unreadable:
        print(left_out_note(split.unreadable), flush=True)
    if len(split.class_names) < 2:
        raise EdgeError(f"{data_dir} has one class: a classifier needs at least two class subfolders")
    resume_epoch = _resume_epoch(run_dir, split.class_names, cfg.size)
    if resume_epoch is None:  # a fresh model (a resumed one comes from its checkpoint)
        check_model_choice(cfg.model, cfg.size, cfg.alpha, cfg.weights_or_default())
    if cfg.distribute == "multiworker":
        cluster_spec()
    return split, resume_epoch


def train(data_dir: Path, run_dir: Path, config: TrainConfig | None = None, **options) -> RunInfo:
    """Train on an image folder and write the run folder; resumes when ``checkpoints/last.keras`` exists.
    ``options`` are ``TrainConfig`` fields, for short calls."""
    cfg = config or TrainConfig(**options)
    split, resume_epoch = _checked_inputs(cfg, data_dir, run_dir)
    import_tensorflow()  # after the inputs are checked: a bad folder fails fast, before TensorFlow loads
    import keras
    import tensorflow as tf

    cluster = make_cluster(cfg.distribute)
    mixed = use_mixed_precision()
    if cluster.chief:  # another worker writes nothing: it keeps no folder of its own
        make_folder(run_dir / "checkpoints")
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()  # the same data and seed give the same model
    train_ds = make_dataset(split.train, cfg.size, cfg.batch_size, training=True, seed=cfg.seed)
    val_ds = make_dataset(split.val, cfg.size, cfg.batch_size, training=False)
    with cluster.strategy.scope():
        model, start = _resume(run_dir, resume_epoch)
        weights = None
        if model is None:
            built = build_model(
                cfg.model, cfg.size, len(split.class_names), cfg.alpha, cfg.weights_or_default(), cfg.dropout
            )
            model, weights = built.model, built.weights
        weights = weights if start == 0 else cfg.weights_or_default()
        pretrained = _backbone_of(model) is not None and weights is not None
    phases = plan_phases(cfg, pretrained)
    _say_plan(model, split, cfg, cluster, mixed, start)
    steps = max(1, -(-len(split.train) // cfg.batch_size))
    began = time.perf_counter()
    if cluster.name == "none":
        callbacks = _callbacks(run_dir, split.class_names, cfg.size, resumed=start > 0)
        _fit_phases(model, phases, start, (train_ds, val_ds), callbacks, steps)
    else:  # Keras 3's fit does not run under MultiWorkerMirroredStrategy: a loop of our own
        state = {"resume": {"classes": list(split.class_names), "size": cfg.size}}
        for phase in (p for p in phases if p.end > start):
            _set_trainable(model, phase)
            print(
                f"epochs {max(start, phase.start) + 1}-{phase.end}: {phase.name}, lr {phase.lr:g}", flush=True
            )
            fit_distributed(model, phase, start, (train_ds, val_ds), cluster, run_dir, state, steps)
    if not cluster.chief:
        print(f"{cluster.worker} done; the chief writes {run_dir}")
        return None
    best = keras.models.load_model(run_dir / "model.keras")
    if mixed:
        best = float32_copy(best)
        save_model(best, run_dir / "model.keras")
    best.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    _, val_acc = best.evaluate(val_ds, verbose=0)
    info = RunInfo(
        model=cfg.model,
        size=cfg.size,
        class_names=split.class_names,
        mean=(127.5,),
        std=(127.5,),
        data=data_reference(data_dir, run_dir),
        val_split=cfg.val_split,
        seed=cfg.seed,
        epochs=cfg.epochs,
        train_images=len(split.train),
        val_images=len(split.val),
        val_accuracy=float(val_acc),
        seconds=time.perf_counter() - began,
        alpha=None if cfg.model == SMALL_CNN else (cfg.alpha or _default_alpha(cfg.model)),
        weights=_weights_name(weights),
        head_epochs=phases[0].end if pretrained else 0,
        distribute=cluster.name,
        replicas=cluster.replicas,
    )
    info.save(run_dir)
    return info


def _default_alpha(model: str) -> float:
    from train.models.backbones import BACKBONES

    return BACKBONES[model].default_alpha


def _weights_name(weights: str | None) -> str:
    return "none" if weights is None else weights if weights == "imagenet" else Path(weights).name


def _say_plan(model, split, cfg: TrainConfig, cluster: Cluster, mixed: bool, start: int) -> None:
    where = (
        f", {cluster.name}: {cluster.worker}, {cluster.replicas} replicas" if cluster.name != "none" else ""
    )
    extra = where + (", mixed float16" if mixed else "")
    classes = len(split.class_names)
    print(
        f"training {model.name} on {len(split.train)} images, validating on {len(split.val)} "
        f"({classes} classes, {cfg.size}px, epochs {start + 1}-{cfg.epochs}{extra})",
        flush=True,
    )
