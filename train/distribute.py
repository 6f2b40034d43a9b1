"""Training beyond one device: tf.distribute strategies, which worker is the chief, mixed precision.

``mirrored`` trains on every local GPU (or the CPU); ``multiworker`` trains across machines with
MultiWorkerMirroredStrategy, configured from ``TF_CONFIG``. Only the chief writes the run folder; the
other workers keep their checkpoints in a temporary folder. With a GPU, layers compute in float16 where
it helps (``mixed_float16``); the saved model is converted back to float32 for export.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from edge.errors import EdgeError

CHOICES = ("none", "mirrored", "multiworker")


@dataclass(frozen=True)
class Cluster:
    """The strategy and this process's place in it."""

    strategy: object
    name: str
    chief: bool
    worker: str  # e.g. "worker 1 of 2"
    replicas: int


def cluster_spec() -> tuple[str, int, int, bool]:
    """From TF_CONFIG: (task type, index, number of workers, is chief); EdgeError when unusable."""
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        raise EdgeError(
            "--distribute multiworker reads the cluster from TF_CONFIG, which is not set: on each machine "
            'TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, "task": {"type": "worker", '
            '"index": 0}}\' (see the README)'
        )
    try:
        config = json.loads(text)
        cluster, task = config["cluster"], config["task"]
        kind, index = task["type"], int(task["index"])
        workers = len(cluster.get("worker", [])) + len(cluster.get("chief", []))
    except (ValueError, KeyError, TypeError) as exc:
        raise EdgeError(f"TF_CONFIG is not a cluster description: {exc}") from None
    chief = kind == "chief" or (kind == "worker" and index == 0 and not cluster.get("chief"))
    return kind, index, workers, chief


def make_cluster(distribute: str) -> Cluster:
    import tensorflow as tf

    if distribute not in CHOICES:
        raise EdgeError(f"--distribute must be one of {', '.join(CHOICES)}, got {distribute!r}")
    if distribute == "none":
        return Cluster(tf.distribute.get_strategy(), "none", True, "one process", 1)
    if distribute == "mirrored":
        strategy = tf.distribute.MirroredStrategy()
        return Cluster(strategy, "mirrored", True, "one process", strategy.num_replicas_in_sync)
    kind, index, workers, chief = cluster_spec()
    options = tf.distribute.experimental.CommunicationOptions(  # one all-reduce a step, not one a variable
        bytes_per_pack=64 << 20, implementation=tf.distribute.experimental.CommunicationImplementation.RING
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    return Cluster(
        strategy, "multiworker", chief, f"{kind} {index} of {workers}", strategy.num_replicas_in_sync
    )


def use_mixed_precision() -> bool:
    """float16 compute on GPUs (where it is faster); float32 on CPUs."""
    import keras
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return False
    keras.mixed_precision.set_global_policy("mixed_float16")
    return True


def _float32_config(obj):
    if isinstance(obj, dict):
        if obj.get("class_name") == "DTypePolicy":
            return "float32"
        return {k: _float32_config(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_float32_config(v) for v in obj]
    return obj


def float32_copy(model):
    """The same model with every layer in float32 (for export after mixed-precision training)."""
    import keras

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = model.__class__.from_config(_float32_config(model.get_config()))
    finally:
        keras.mixed_precision.set_global_policy(previous)
    copy.set_weights(model.get_weights())
    return copy
