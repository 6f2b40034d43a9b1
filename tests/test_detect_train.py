"""Training a detector end to end through the CLI, small enough for the suite: the built-in shapes in
COCO format, two phases on ImageNet MobileNet v1 weights (the head on the frozen backbone, then its
top unfrozen with batch norm kept), export to float32 and full-integer int8 with separate int8 boxes
and scores, and the int8 model on the device runtime against float32 on the same images.

The accuracy a full run reaches is measured by ``make demo-detect`` (README); this test checks the
path and the int8 fidelity, which do not depend on how long the detector trained."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

from tests.conftest import NO_NETWORK, ROOT, needs_tensorflow, run_cli

pytestmark = needs_tensorflow
V1_224 = "mobilenet_2_5_224_tf_no_top.h5"  # below 128 px Keras loads the 224 file


@pytest.fixture(scope="module")
def detector_run(keras_home, tmp_path_factory):
    home, _ = keras_home
    run = tmp_path_factory.mktemp("detect") / "run"
    env = {"HOME": str(home), **NO_NETWORK}
    flags = ("--images", "32", "--size", "64", "--epochs", "2", "--head-epochs", "1", "--batch-size", "8")
    done = run_cli("train", "shapes", "--task", "detect", "--out", run, *flags, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    exported = run_cli("export", run, "--quant", "float32,int8", "--max-drop", "100", env=env)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    return {"run": run, "train": done.stdout, "export": exported.stdout, "home": home}


def test_two_phases_on_imagenet_weights_with_batch_norm_kept(detector_run):
    import keras

    import train.models.detector  # noqa: F401 (registers the detector's layers for loading)

    run, out = detector_run["run"], detector_run["train"]
    assert "epochs 1-1: head, backbone frozen, lr 0.008" in out, out
    assert "epochs 2-2: head and the top 60% of the backbone, lr 0.001" in out, out
    info = json.loads((run / "run.json").read_text())
    assert info["task"] == "detect" and info["weights"] == "imagenet" and info["model"] == "mobilenet_v1"
    with (run / "history.csv").open() as f:
        assert [row["epoch"] for row in csv.DictReader(f)] == ["0", "1"]
    imagenet = keras.applications.MobileNet(
        input_shape=(64, 64, 3),
        alpha=0.25,
        include_top=False,
        weights=str(detector_run["home"] / ".keras/models" / V1_224),
    )
    tuned = keras.models.load_model(run / "checkpoints/last.keras")

    def kept(name: str) -> bool:
        ours = tuned.get_layer("features").get_layer(name).get_weights()
        return all(np.array_equal(a, b) for a, b in zip(ours, imagenet.get_layer(name).get_weights()))

    assert kept("conv1") and kept("conv_dw_3")  # below the top 60%: frozen in both phases
    assert not kept("conv_pw_13")  # the top was tuned in phase 2
    assert kept("conv_pw_13_bn") and kept("conv_dw_12_bn")  # batch norm in inference mode throughout


def _dequantized(runtime, image: np.ndarray) -> dict:
    """The raw outputs of a detector on one 64 px image, as float, by kind (distances: 4 per point)."""
    from edge.tasks.quant import dequantize

    info = runtime.inputs[0]
    x = image[None] if info.dtype == np.uint8 else ((image[None] - 127.5) / 127.5).astype(np.float32)
    out = {}
    for tensor, raw in zip(runtime.outputs, runtime.invoke(x)):
        out["distances" if tensor.shape[-1] == 4 else "scores"] = dequantize(
            raw, tensor.scale, tensor.zero_point
        )[0]
    return out


def test_int8_export_has_separate_8_bit_distances_and_scores_and_follows_float32(detector_run):
    import cv2

    import edge
    from edge.model.runtime import Runtime

    models = detector_run["run"] / "models"
    int8_path = models / "model_int8.tflite"
    int8, float32 = (Runtime(p.read_bytes()) for p in (int8_path, models / "model_float32.tflite"))
    assert len(int8.outputs) == 2 and all(o.quantized and o.dtype.itemsize == 1 for o in int8.outputs)
    assert int8.inputs[0].dtype == np.uint8
    spec = edge.load(int8_path).spec
    assert spec.task == "detect" and spec.labels == ("circle", "cross", "square", "star", "triangle")
    corrected = json.loads((models / "export.json").read_text())["calibration"]["bias_corrected_layers"]
    assert corrected >= 27  # MobileNet v1's 27 convolutions with batch norm, then the neck's
    assert f"bias correction: {corrected} layers" in detector_run["export"]
    images = sorted((detector_run["run"] / "data").rglob("*.jpg"))[:4]
    assert images
    for path in images:
        image = cv2.resize(cv2.imread(str(path))[..., ::-1], (64, 64)).astype(np.uint8)
        a, b = _dequantized(float32, image), _dequantized(int8, image)
        assert b["distances"].min() >= 0.0 and b["distances"].max() <= 1.0
        assert np.abs(a["distances"] - b["distances"]).max() <= 0.05  # within 5% of a level's reach
        assert np.abs(a["scores"] - b["scores"]).max() <= 0.05


def test_edge_decodes_the_distances_to_the_boxes_the_keras_graph_makes(detector_run):
    """The .tflite carries distances and the grid in its metadata; edge's decoding from the anchor
    points gives, for every point, the boxes the trained model's own graph decodes."""
    import keras

    import edge
    import train.models.detector  # noqa: F401 (registers the detector's layers for loading)
    from edge.model.spec import DistanceGrid
    from edge.tasks.anchor_free import anchor_points

    run = detector_run["run"]
    task = edge.load(run / "models/model_float32.tflite")
    assert task.spec.layout == "anchor_free" and set(task.spec.outputs) == {"distances", "scores"}
    assert task.spec.distances == DistanceGrid((8, 16, 32), (64.0, 128.0, 384.0))
    image = np.random.default_rng(1).uniform(-1, 1, (1, 64, 64, 3)).astype(np.float32)
    distances = task.runtime.invoke(image)[task.spec.outputs["distances"]][0]
    points = anchor_points(task.spec.distances, 64, 64)
    ours = points.boxes(distances, np.arange(len(distances))) / 64
    graph = keras.models.load_model(run / "model.keras", compile=False).predict_on_batch(image)["boxes"][0]
    assert ours.shape == graph.shape == (84, 4)  # 8x8 + 4x4 + 2x2 points
    assert np.abs(ours - graph).max() < 1e-4
    assert ours.min() >= 0 and ours.max() <= 1


def test_boxes_in_graph_give_the_same_detections_as_the_distances_edge_decodes(detector_run, tmp_path):
    import cv2

    import edge

    run, out = detector_run["run"], tmp_path / "boxes"
    env = {"HOME": str(detector_run["home"]), **NO_NETWORK}
    flags = ("--quant", "float32", "--max-drop", "100", "--boxes-in-graph", "--out", out)
    done = run_cli("export", run, *flags, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    graph = edge.load(out / "model_float32.tflite", threshold=0.001)
    ours = edge.load(run / "models/model_float32.tflite", threshold=0.001)
    assert set(graph.spec.outputs) == {"boxes", "scores"} and graph.spec.distances is None
    assert set(ours.spec.outputs) == {"distances", "scores"}
    compared = 0
    for path in sorted((run / "data").rglob("*.jpg"))[:4]:
        image = cv2.imread(str(path))
        a, b = graph(image), ours(image)
        assert len(a) == len(b) and np.array_equal(a.class_ids, b.class_ids)
        assert np.allclose(a.xyxy, b.xyxy, atol=0.01) and np.allclose(a.scores, b.scores, atol=1e-5)
        compared += len(a)
    assert compared > 0


def test_a_distances_output_without_its_grid_is_a_one_line_error(detector_run, tmp_path):
    import contextlib
    import shutil

    import cv2

    from edge.errors import EdgeError
    from edge.model.runtime import Runtime
    from train.export.convert import Exported, restamp
    from train.export.job import metadata_for
    from train.export.modes import parse_modes
    from train.export.source import open_export_source

    (mode,) = parse_modes("float32")
    path = tmp_path / "model.tflite"
    shutil.copy(detector_run["run"] / "models/model_float32.tflite", path)
    written = metadata_for(open_export_source(detector_run["run"]), mode)
    with Runtime(path.read_bytes()) as rt:  # the roles as the file orders them
        order = ["distances" if o.shape[-1] == 4 else "scores" for o in rt.outputs]
    exported = Exported(mode.name, path, 0, replace(written, outputs=tuple(order)))
    image = tmp_path / "frame.jpg"
    cv2.imwrite(str(image), np.full((48, 64, 3), 128, np.uint8))
    for grid, message in (
        (None, "the model's metadata has a distances output but its grid is None"),
        ({"strides": [8, 16], "reach": [64.0]}, "its grid is {'reach': [64.0], 'strides': [8, 16]}"),
        ({"strides": [8, 16], "reach": [64.0, 128.0]}, "has 84 points, but its metadata's grid"),
    ):
        with contextlib.suppress(EdgeError):  # written, then read back: the first two fail there
            restamp(exported, replace(exported.metadata, distances=grid))
        done = run_cli("predict", path, image)
        assert done.returncode == 2 and message in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_eval_scores_the_exported_detector_by_coco_map(detector_run):
    run = detector_run["run"]
    done = run_cli("eval", run / "models/model_int8.tflite", run / "data", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    int8 = json.loads((run / "models/export.json").read_text())["variants"]["int8"]
    assert result["images"] == int8["images"] and result["boxes"] == int8["boxes"] > 0
    assert result["mAP50_95"] == pytest.approx(int8["mAP50_95"], abs=1e-4)
    assert result["detections"] == int8["detections"]


def test_an_accepted_detector_carries_its_best_f1_threshold_and_edge_runs_at_it(detector_run, tmp_path):
    """What export does to each accepted detector (its figures come from pycocotools, see
    tests/test_operating_point.py): the threshold goes into the metadata, the graph and weights stay, and
    predict, run (tracking included) and info use it unless --threshold says otherwise."""
    import shutil

    import edge
    from edge.commands.run import run_parser, tracking_for
    from edge.evaluate.operating import OperatingPoint
    from edge.model.runtime import Runtime
    from train.export.convert import Exported, output_roles, restamp
    from train.export.job import _with_threshold, metadata_for
    from train.export.modes import parse_modes
    from train.export.source import open_export_source

    (mode,) = parse_modes("int8")
    path = tmp_path / "model_int8.tflite"
    shutil.copy(detector_run["run"] / "models/model_int8.tflite", path)
    before = path.read_bytes()
    written = metadata_for(open_export_source(detector_run["run"]), mode)
    written = replace(written, outputs=output_roles(before, written.outputs))
    exported = Exported(mode.name, path, len(before), written)
    done = _with_threshold(exported, OperatingPoint(0.37, 0.8, 0.9, 0.7))
    assert done.metadata.score_threshold == 0.37 and done.size_bytes == path.stat().st_size
    again = restamp(done, done.metadata).path.read_bytes()
    assert again == path.read_bytes() and len(again) - len(before) < 64  # replaced, not piled up
    image = np.random.default_rng(0).integers(0, 256, (1, 64, 64, 3), dtype=np.uint8)
    with Runtime(before) as a, Runtime(again) as b:
        assert all(np.array_equal(x, y) for x, y in zip(a.invoke(image), b.invoke(image)))
    assert edge.load(path).threshold == 0.37 and edge.load(path, threshold=0.5).threshold == 0.5
    info = run_cli("info", path)
    assert info.returncode == 0 and "score threshold: 0.37 (from the model's metadata)" in info.stdout
    args = run_parser().parse_args([str(path), "--source", "synthetic", "--track"])
    assert tracking_for(args).tracker.config.high == 0.37
    args = run_parser().parse_args([str(path), "--source", "synthetic", "--track", "--threshold", "0.6"])
    assert tracking_for(args).tracker.config.high == 0.6


def test_confusion_counts_each_true_object_once_by_its_best_box():
    """tools/detect_confusion.py: the best-scoring box at IoU >= 0.5 names the object; none is a miss;
    boxes under the threshold and ignored objects do not count."""
    from pathlib import Path

    from edge.datasets.boxes import ImageRecord
    from edge.tasks.detect import detections
    from tools.detect_confusion import confusion

    boxes = np.float32([[0, 0, 20, 20], [100, 100, 300, 300], [50, 50, 60, 60], [400, 0, 420, 20]])
    record = ImageRecord(Path("x.jpg"), 640, 480, boxes, np.int64([0, 1, 1, 0]), np.bool_([0, 0, 0, 1]))
    found = detections(
        np.float32([[1, 1, 20, 20], [0, 0, 21, 21], [100, 100, 290, 300], [50, 50, 60, 60]]),
        np.float32([0.6, 0.9, 0.8, 0.1]),  # the small box: a better wrong-class box; the last: too weak
        np.int64([0, 1, 1, 1]),
        None,
    )
    counts = confusion([record], [found], {0: 0, 1: 1}, 2, threshold=0.3)
    assert counts["small"].tolist() == [[0, 1, 0], [0, 0, 1]]  # class 0 named 1; the 10 px one missed
    assert counts["large"].tolist() == [[0, 0, 0], [0, 1, 0]]
    assert counts["medium"].sum() == 0  # the ignored object is nowhere


def test_confusion_tool_scores_class_wise_as_eval_does(detector_run):
    run = detector_run["run"]
    model = run / "models/model_int8.tflite"

    def tool(data):
        command = [sys.executable, ROOT / "tools/detect_confusion.py", model, data]
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    done = tool(run / "data")
    assert done.returncode == 0, done.stderr
    int8 = json.loads((run / "models/export.json").read_text())["variants"]["int8"]
    wise = float(done.stdout.split("class-wise")[1].split()[1])
    assert wise == pytest.approx(int8["mAP50_95"], abs=1e-4)
    assert "class-agnostic mAP@[.5:.95]" in done.stdout
    sizes = [line for line in done.stdout.splitlines() if " objects, " in line]
    assert sum(int(line.split(":")[1].split()[0]) for line in sizes) == int8["boxes"]
    bad = tool(run / "nothing")
    assert bad.returncode == 2 and bad.stderr.startswith("detect_confusion: error: ")
    assert "Traceback" not in bad.stderr
