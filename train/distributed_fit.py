"""The training loop under a tf.distribute strategy (``--distribute mirrored|multiworker``).

Keras 3's ``model.fit`` does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585), so
distributed training has its own small loop: per-replica steps with ``strategy.run``, the loss
averaged over the global batch, accuracy summed across replicas, and after each epoch the chief
writes what ``fit``'s callbacks write in one process: ``model.keras`` (best validation accuracy),
``checkpoints/last.keras`` and ``state.json`` (for resuming), and ``history.csv``.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

from train.checkpoints import epoch_end


def _reduce(strategy, values):
    import tensorflow as tf

    return [strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for v in values]


def _steps(model, optimizer, strategy):
    """tf.functions for one distributed training step and one evaluation step."""
    import keras
    import tensorflow as tf

    loss_fn = keras.losses.SparseCategoricalCrossentropy(reduction=None)

    def counts(y, probs):
        right = tf.reduce_sum(
            tf.cast(tf.argmax(probs, -1, output_type=tf.int32) == tf.cast(y, tf.int32), tf.float32)
        )
        return right, tf.cast(tf.shape(y)[0], tf.float32)

    def train_replica(x, y):
        # The mean over this step's global batch, however many images it has (the last one of an epoch
        # is short): the same loss and gradient as one process on the same batch.
        context = tf.distribute.get_replica_context()
        images = context.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(y)[0], tf.float32))
        with tf.GradientTape() as tape:
            probs = model(x, training=True)
            loss = tf.reduce_sum(loss_fn(y, probs)) / images
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return (loss, *counts(y, probs))

    def eval_replica(x, y):
        probs = model(x, training=False)
        return (tf.reduce_sum(loss_fn(y, probs)), *counts(y, probs))

    @tf.function
    def train_step(x, y):
        return _reduce(strategy, strategy.run(train_replica, args=(x, y)))

    @tf.function
    def eval_step(x, y):
        return _reduce(strategy, strategy.run(eval_replica, args=(x, y)))

    return train_step, eval_step


def _epoch(step, dataset) -> tuple[float, float]:
    """(mean loss per image, accuracy) of one pass, as ``fit`` reports them."""
    total = right = count = 0.0
    for x, y in dataset:
        loss, r, n = (float(v) for v in step(x, y))
        total, right, count = total + loss * n, right + r, count + n
    return total / max(count, 1), right / max(count, 1)


def fit_distributed(
    model, phase, start: int, data: tuple, cluster, folder: Path, state: dict, steps: int
) -> None:
    """Epochs ``max(start, phase.start)`` to ``phase.end`` of one phase (its trainable layers set).
    The chief writes the checkpoints and history to ``folder`` (the run folder); the others write
    nothing."""
    import keras

    strategy, (train_ds, val_ds) = cluster.strategy, data
    with strategy.scope():
        schedule = keras.optimizers.schedules.CosineDecay(
            phase.lr, decay_steps=max(1, steps * (phase.end - phase.start)), alpha=0.05
        )
        optimizer = keras.optimizers.Adam(schedule)
        optimizer.build(model.trainable_variables)
        if start > phase.start:  # resumed inside the phase: its learning rate goes on from there
            optimizer.iterations.assign(steps * (start - phase.start))
    train_step, eval_step = _steps(model, optimizer, strategy)
    dist_train = strategy.experimental_distribute_dataset(train_ds)
    dist_val = strategy.experimental_distribute_dataset(val_ds)
    best = _best_so_far(folder) if cluster.chief else -1.0  # only the chief keeps the best (and writes it)
    for epoch in range(max(start, phase.start), phase.end):
        began = time.perf_counter()
        loss, accuracy = _epoch(train_step, dist_train)
        _, val_accuracy = _epoch(eval_step, dist_val)
        print(
            f"Epoch {epoch + 1}/{phase.end} - {time.perf_counter() - began:.0f}s - "
            f"accuracy: {accuracy:.4f} - loss: {loss:.4f} - val_accuracy: {val_accuracy:.4f}",
            flush=True,
        )
        if not cluster.chief:
            continue
        better = val_accuracy > best
        best = val_accuracy if better else best
        epoch_end(folder, model, better, {**state["resume"], "epoch": epoch + 1})
        _history(folder, epoch, accuracy, loss, val_accuracy, best)
    sys.stdout.flush()


def _best_so_far(folder: Path) -> float:
    path = folder / "history.csv"
    if not path.is_file():
        return -1.0
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return max((float(r["val_accuracy"]) for r in rows), default=-1.0)


def _history(
    folder: Path, epoch: int, accuracy: float, loss: float, val_accuracy: float, best: float
) -> None:
    path = folder / "history.csv"
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(["epoch", "accuracy", "loss", "val_accuracy", "best_val_accuracy"])
        writer.writerow([epoch, f"{accuracy:.6f}", f"{loss:.6f}", f"{val_accuracy:.6f}", f"{best:.6f}"])
