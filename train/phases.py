"""Fine-tuning in phases: the head with the backbone frozen, then the backbone's top share unfrozen at a
lower learning rate. Batch norm stays in inference mode throughout (its layers are never trainable), so
small batches never disturb the pretrained statistics. From scratch there are no statistics to keep:
one phase trains every layer, batch norm included. Shared by classifiers and detectors."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Phase:
    """Epochs ``start`` to ``end`` with the backbone's top ``unfreeze`` share trainable, at ``lr``."""

    name: str
    start: int
    end: int
    unfreeze: float  # 1.0: every layer (from scratch); 0: the backbone frozen
    lr: float
    batch_norm: bool = False  # batch norm trains too (from scratch); else it stays in inference mode


def from_scratch(epochs: int, lr: float) -> list[Phase]:
    """One phase: every layer, batch norm included (frozen at its initial statistics, a deep backbone
    never leaves chance: measured 20.0% on five classes)."""
    return [Phase("all layers", 0, epochs, 1.0, lr, batch_norm=True)]


def two_phases(epochs: int, head: int, unfreeze: float, lr: float, fine_tune_lr: float) -> list[Phase]:
    """``head`` epochs of the head alone, then the top ``unfreeze`` share of the backbone as well."""
    phases = [Phase("head, backbone frozen", 0, head, 0.0, lr)] if head > 0 else []
    if head < epochs:
        tune = f"head and the top {unfreeze:.0%} of the backbone"
        phases.append(Phase(tune, head, epochs, unfreeze, fine_tune_lr))
    return phases


def set_backbone_trainable(backbone, phase: Phase) -> None:
    """The backbone's top ``phase.unfreeze`` share of layers trainable; batch norm only when the phase
    trains it (from scratch)."""
    import keras

    backbone.trainable = phase.unfreeze > 0
    first = len(backbone.layers) - math.ceil(len(backbone.layers) * phase.unfreeze)
    for i, layer in enumerate(backbone.layers):
        bn = isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = i >= first and (phase.batch_norm or not bn)


def compile_phase(model, optimizer, **compile_args) -> None:
    """``model.compile`` for a phase, with the optimizer's variables made now: when the first training
    step makes them, TensorFlow traces that step twice. Measured here: a 2-epoch, 64 px detector
    training took 59.5 s, and 38.8 s with the optimizer built first (the same losses)."""
    model.compile(optimizer=optimizer, **compile_args)
    model.optimizer.build(model.trainable_variables)
