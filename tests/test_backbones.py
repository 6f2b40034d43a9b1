"""Pretrained backbones: ImageNet weights built from a real ImageNet TFLite model, loaded from Keras'
cache with no network, fine-tuned in two phases with batch norm in inference mode; from scratch, every
layer in one phase; the error without them; a weights file; tf.distribute across two worker processes;
float32 again after mixed precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import NO_NETWORK, PHOTOS, ROOT, needs_tensorflow, run_cli

pytestmark = needs_tensorflow
V1_NO_TOP = "mobilenet_2_5_224_tf_no_top.h5"
EPOCHS = "4"


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    from train.data.shapes import generate_shapes

    return generate_shapes(tmp_path_factory.mktemp("shapes") / "data", per_class=20, val_per_class=20, seed=4)


def test_the_keras_model_gives_the_tflite_files_top5_on_the_asset_photos(keras_home):
    home, out = keras_home
    assert (home / ".keras/models/mobilenet_2_5_224_tf.h5").is_file() and (
        home / ".keras/models" / V1_NO_TOP
    ).is_file()
    lines = [line for line in out.splitlines() if ": keras [" in line]
    assert len(lines) == len(PHOTOS) and all(line.endswith(": same") for line in lines), out
    assert any(line.startswith("burger.jpg: keras [933") for line in lines)  # 933: cheeseburger


def _train(home, data, out, *flags):
    env = {"HOME": str(home), **NO_NETWORK}
    return run_cli("train", data, "--out", out, "--model", "mobilenet_v1", "--alpha", "0.25", "--size", "96",
                   "--batch-size", "16", *flags, env=env, timeout=900)  # fmt: skip


def test_imagenet_weights_load_from_the_cache_offline_and_fine_tune_in_two_phases(
    keras_home, small_data, tmp_path
):
    import keras

    home, _ = keras_home
    run = tmp_path / "run"
    done = _train(home, small_data, run, "--epochs", "2", "--head-epochs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "epochs 1-1: head, backbone frozen" in done.stdout
        and "epochs 2-2: head and the top 30%" in done.stdout
    )
    info = json.loads((run / "run.json").read_text())
    assert info["weights"] == "imagenet" and info["head_epochs"] == 1 and info["mean"] == [127.5]
    imagenet = keras.applications.MobileNet(
        input_shape=(96, 96, 3), alpha=0.25, include_top=False, weights=None
    )
    imagenet.load_weights(home / ".keras/models" / V1_NO_TOP)
    tuned = next(
        layer
        for layer in keras.models.load_model(run / "model.keras").layers
        if isinstance(layer, keras.Model)
    )
    first, last = (
        imagenet.get_layer("conv1").get_weights()[0],
        imagenet.get_layer("conv_pw_13").get_weights()[0],
    )
    assert np.array_equal(tuned.get_layer("conv1").get_weights()[0], first)  # below the top 30%: frozen
    assert not np.array_equal(tuned.get_layer("conv_pw_13").get_weights()[0], last)  # the top was tuned
    for layer in imagenet.layers:  # batch norm in inference mode throughout: its statistics never move
        if isinstance(layer, keras.layers.BatchNormalization):
            for kept, tuned_weight in zip(layer.get_weights(), tuned.get_layer(layer.name).get_weights()):
                assert np.array_equal(kept, tuned_weight), layer.name


def test_without_the_weights_or_a_network_the_error_says_how_to_pass_a_file(small_data, tmp_path):
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    done = _train(empty_home, small_data, tmp_path / "run", "--epochs", "1")
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    line = done.stderr.strip()
    assert len(line.splitlines()) == 1 and V1_NO_TOP in line and "--weights FILE" in line, line


def test_from_scratch_every_layer_of_the_backbone_trains_batch_norm_included(small_data, tmp_path, capsys):
    """--weights none: one phase over every layer. (Planned as fine-tuning, the random backbone stayed
    frozen for the head's epochs, then only its top 30% trained with batch norm at its initial
    statistics: 20.0% on five classes, chance.)"""
    import keras

    from train.fit import train

    train(small_data, tmp_path / "run", model="mobilenet_v1", alpha=0.25, weights="none", size=32,
          epochs=1, batch_size=16)  # fmt: skip
    assert "epochs 1-1: all layers" in capsys.readouterr().out
    assert json.loads((tmp_path / "run/run.json").read_text())["weights"] == "none"
    model = keras.models.load_model(tmp_path / "run/checkpoints/last.keras")
    backbone = next(layer for layer in model.layers if isinstance(layer, keras.Model))
    norms = [layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(layer.trainable for layer in backbone.layers)
    for layer in (norms[0], norms[-1]):  # the first and the last: gamma learned, statistics moved
        gamma, _, moving_mean, _ = layer.get_weights()
        assert not np.allclose(gamma, 1.0) and not np.allclose(moving_mean, 0.0), layer.name


def test_a_weights_file_and_bad_choices(keras_home, small_data, tmp_path, without_tensorflow):
    home, _ = keras_home
    empty_home = tmp_path / "home"
    empty_home.mkdir()
    weights = home / ".keras/models" / V1_NO_TOP
    done = _train(empty_home, small_data, tmp_path / "run", "--epochs", "1", "--weights", weights)
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run/run.json").read_text())["weights"] == V1_NO_TOP
    # Bad choices are one line before TensorFlow loads (so in under a second, not after its import).
    detect = ("shapes", "--task", "detect", "--images", "8")
    bad = {
        (small_data, "--model", "mobilenet_v2", "--alpha", "0.3"): "ImageNet weights for --alpha 0.35, 0.5",
        (small_data, "--weights", "imagenet"): "small_cnn has no pretrained weights",
        (small_data, "--distribute", "multiworker"): "TF_CONFIG, which is not set",
        (*detect, "--model", "small_cnn"): "unknown backbone 'small_cnn'",
        (*detect, "--weights", tmp_path): "weights file not found",
        (*detect, "--tower", "0"): "--tower 1 or more: 128, 0",
        (*detect, "--neck", "4"): "--neck must be 8 or more",
    }
    for flags, message in bad.items():
        done = run_cli("train", *flags, "--out", tmp_path / "bad", env=without_tensorflow)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], (flags, done.stderr)


@pytest.fixture(scope="module")
def two_classes(tmp_path_factory):
    """Two classes of the built-in set, 150 training and 100 validation images each."""
    from train.data.shapes import CLASSES, generate_shapes

    folder = tmp_path_factory.mktemp("two") / "data"
    return generate_shapes(folder, per_class=150, val_per_class=100, seed=3, classes=CLASSES[:2])


def _history(run) -> list[dict]:
    import csv

    with (run / "history.csv").open() as f:
        return list(csv.DictReader(f))


def _two_legs(
    command: list, cluster: dict | None = None, workers: int = 1, temp: Path | None = None
) -> list[str]:
    """``command`` run to epoch 2, then again to epoch 4 (resuming), by ``workers`` processes at once,
    each with its own ``TF_CONFIG`` for ``cluster`` when given (and ``TMPDIR`` when ``temp`` is);
    each process's output of both legs."""
    outputs = ["" for _ in range(workers)]
    for epochs in ("2", EPOCHS):
        procs = []
        for index in range(workers):
            task_env = {**os.environ, **({"TMPDIR": str(temp)} if temp else {})}
            if cluster is not None:
                config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
                task_env["TF_CONFIG"] = json.dumps(config)
            argv = [sys.executable, "-m", "edge.cli", *map(str, command), "--epochs", epochs]
            pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            procs.append(subprocess.Popen(argv, cwd=ROOT, env=task_env, text=True, **pipes))
        done = [p.communicate(timeout=900) for p in procs]
        assert [p.returncode for p in procs] == [0] * workers, done
        outputs = [before + out for before, (out, _) in zip(outputs, done)]
    return outputs


def _in_this_process(command: list, capsys) -> str:
    """``command`` run to epoch 2, then again to epoch 4 (resuming), through the CLI's own handler in this
    process (no TensorFlow import to pay twice); what both legs printed."""
    from edge.cli import build_parser

    out = ""
    for epochs in ("2", EPOCHS):
        args = build_parser().parse_args([*map(str, command), "--epochs", epochs])
        assert args.func(args) == 0
        out += capsys.readouterr().out
    return out


def test_two_worker_processes_train_the_same_run_as_one_process(two_classes, free_ports, tmp_path, capsys):
    """MultiWorkerMirroredStrategy on 127.0.0.1 against one process running the same training loop
    (``--distribute mirrored`` on one CPU, run by the CLI's handler inside the test's process, which has
    TensorFlow loaded already): the same data, seed, epochs and global batch, each run
    stopped after 2 epochs and resumed to 4 from its checkpoint. Each worker takes half of every global
    batch, batch norm uses the global batch's statistics and the loss is the mean over the global
    batch, so every epoch's loss agrees within 1% (only the order of float sums differs). Without
    ``--dropout 0`` the two draw different dropout masks (two replicas of half a batch against one of a
    whole batch) and drift apart by several points. The validation accuracy is held to a point, as
    issue 17 asks: on 200 images at 32 px both came out at 60.0% (without the stop and resume, 65.0%
    against 64.5%; at 48 px, 1.5 points apart). Only the chief writes the run folder; both workers
    resume from it, and the other worker writes nothing of its own."""
    flags = ["--size", "32", "--batch-size", "32", "--seed", "3", "--dropout", "0"]
    alone, run = tmp_path / "alone", tmp_path / "run"
    out = _in_this_process(["train", two_classes, "--out", alone, *flags, "--distribute", "mirrored"], capsys)
    assert "resuming from" in out and "after epoch 2" in out, out
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    command = ["train", two_classes, "--out", run, *flags, "--distribute", "multiworker"]
    temp = tmp_path / "tmp"
    temp.mkdir()
    chief, other = _two_legs(command, cluster=cluster, workers=2, temp=temp)
    assert "worker 1 of 2 done" in other and "2 replicas" in chief
    assert not list(temp.glob("edgesight-*"))  # no folder of ours left (autograph leaves a __pycache__)
    assert all(o.count("after epoch 2") == 1 for o in (chief, other)), (chief, other)  # both resumed
    info = json.loads((run / "run.json").read_text())
    assert info["distribute"] == "multiworker" and info["replicas"] == 2
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in alone.iterdir())
    one = json.loads((alone / "run.json").read_text())
    assert one["replicas"] == 1
    assert [r["epoch"] for r in _history(run)] == ["0", "1", "2", "3"]
    for two_rows, one_row in zip(_history(run), _history(alone), strict=True):
        assert abs(float(two_rows["loss"]) / float(one_row["loss"]) - 1) <= 0.01, (two_rows, one_row)
    print(f"validation accuracy: two workers {info['val_accuracy']:.4f}, one {one['val_accuracy']:.4f}")
    assert abs(info["val_accuracy"] - one["val_accuracy"]) <= 0.01, (
        info["val_accuracy"],
        one["val_accuracy"],
    )


def test_a_mixed_precision_model_is_float32_again_for_export():
    import keras

    from train.distribute import float32_copy

    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inputs = keras.Input((16, 16, 3))
        x = keras.layers.Conv2D(4, 3)(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        outputs = keras.layers.Dense(3, dtype="float32")(x)
        mixed = keras.Model(inputs, outputs)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    copy = float32_copy(mixed)
    assert mixed.layers[1].compute_dtype == "float16"
    assert all(layer.compute_dtype == "float32" for layer in copy.layers)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    assert np.allclose(copy.predict(x, verbose=0), mixed.predict(x, verbose=0), atol=1e-2)
