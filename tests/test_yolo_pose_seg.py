"""Ultralytics YOLO pose and seg layouts on real converted models: small Keras heads with planted people
and objects (tools/yolo_heads.py), converted float32 and full-integer int8, decoded by edge through the
letterbox and checked against keypoints, boxes and masks worked out by hand, on both runtimes.

At 64 px a 640x480 frame is letterboxed with scale 0.1 and 8 px of padding above and below, so a
point at input (x, y) is at frame (10 x, 10 (y - 8))."""

from __future__ import annotations

import json
import subprocess

import cv2
import numpy as np
import pytest

import edge
from tests.conftest import ROOT, needs_tensorflow, run_cli
from tests.test_yolo import _heads_module, _tolerance

pytestmark = needs_tensorflow

SIZE = 64
MODES = ("float32", "int8-int8io")
NAMES = ["cat", "dog", "bird"]
K = np.arange(17)
PERSON = np.stack([22.0 + K, 14.0 + 2 * K, np.where(K % 2 == 0, 0.9, 0.3)], axis=1)  # x, y, visibility


def _frame(points: np.ndarray) -> np.ndarray:
    return np.stack([10 * points[:, 0], 10 * (points[:, 1] - 8)], axis=1)


def _protos(channels_first: bool) -> np.ndarray:
    """16 x 16 x 32 prototypes: 0 is +4 on the input's left half, 1 is +4 on its top half."""
    protos = np.zeros((16, 16, 32), np.float32)
    protos[:, :, 0] = np.where(np.arange(16)[None, :] < 8, 4.0, -4.0)
    protos[:, :, 1] = np.where(np.arange(16)[:, None] < 8, 4.0, -4.0)
    return protos.transpose(2, 0, 1) if channels_first else protos


@pytest.fixture(scope="module")
def heads(tmp_path_factory) -> dict:
    yh = _heads_module()
    out = tmp_path_factory.mktemp("yolo-pose-seg")
    people = [
        yh.Planted(32, 32, 20, 40, 0, 0.9),
        yh.Planted(33, 33, 20, 40, 0, 0.8),  # IoU about 0.9 with the first: suppressed
        yh.Planted(10, 50, 8, 8, 0, 0.6),
        yh.Planted(50, 20, 8, 8, 0, 0.1),  # below the threshold
    ]
    keypoints = [PERSON, PERSON + np.array([1, 1, 0]), np.tile([10.0, 50.0, 0.8], (17, 1)), PERSON]
    pose = yh.keras_head(yh.pose_head_tensor(SIZE, people, keypoints), SIZE)
    objects = [yh.Planted(32, 32, 40, 40, 0, 0.9), yh.Planted(16, 48, 16, 16, 1, 0.7)]
    left, bottom = np.eye(32)[0], -np.eye(32)[1]
    paths = {}
    for mode in MODES:
        content = yh.convert(pose, mode, SIZE)
        paths["pose", mode] = yh.write(
            out / f"pose_{mode}.tflite", content, yh.ultralytics_metadata(["person"], SIZE, "pose")
        )
        if mode == "float32":  # no metadata: [1, 56, N] is a pose head or a 52-class detector
            paths["pose", "bare"] = yh.write(out / "pose_bare.tflite", content)
        for order, first in (("nhwc", False), ("nchw", True)):
            pred, protos = yh.seg_head_tensors(SIZE, 3, objects, [left, bottom], _protos(first))
            outputs = (protos, pred) if first else (pred, protos)  # the two orders, too
            model = yh.keras_head(outputs, SIZE)
            meta = yh.ultralytics_metadata(NAMES, SIZE, "segment")
            paths["seg", mode, order] = yh.write(
                out / f"seg_{order}_{mode}.tflite", yh.convert(model, mode, SIZE), meta
            )
    return paths


@pytest.mark.parametrize("mode", MODES)
def test_pose_heads_give_people_with_keypoints_through_the_letterbox(heads, mode):
    box_tol, score_tol = _tolerance(mode)
    with edge.load(heads["pose", mode], threads=2) as model:
        assert (model.spec.task, model.spec.layout) == ("pose", "yolov8_pose")
        assert model.spec.layout_from == "signature, task from Ultralytics metadata"
        poses = model(np.zeros((480, 640, 3), np.uint8))
    assert len(poses) == 2 and poses.labels == ("person", "person")
    np.testing.assert_allclose(poses.scores, [0.9, 0.6], atol=score_tol)
    np.testing.assert_allclose(poses.xyxy[0], [220, 40, 420, 440], atol=box_tol)
    np.testing.assert_allclose(poses.keypoints[0], _frame(PERSON), atol=box_tol)
    np.testing.assert_allclose(poses.keypoint_scores[0], PERSON[:, 2], atol=score_tol)
    np.testing.assert_allclose(poses.keypoints[1], np.tile([100.0, 420.0], (17, 1)), atol=box_tol)


@pytest.mark.parametrize("order", ["nhwc", "nchw"])
@pytest.mark.parametrize("mode", MODES)
def test_seg_heads_give_boxes_with_masks_in_frame_pixels(heads, mode, order):
    box_tol, score_tol = _tolerance(mode)
    if mode.startswith("int8"):  # the coefficients (+-1) share the tensor: a step is 2/255 of the input
        box_tol = 3.0
    with edge.load(heads["seg", mode, order], threads=2) as model:
        assert (model.spec.task, model.spec.layout, model.spec.num_classes) == ("detect", "yolov8_seg", 3)
        det = model(np.zeros((480, 640, 3), np.uint8))
    assert det.labels == ("cat", "dog") and det.masks.shape == (2, 480, 640)
    np.testing.assert_allclose(det.scores, [0.9, 0.7], atol=score_tol)
    np.testing.assert_allclose(det.xyxy, [[120, 40, 520, 440], [80, 320, 240, 480]], atol=box_tol)
    cat, dog = det.masks
    assert cat[45:435, 125:315].all() and not cat[45:435, 325:515].any()  # the input's left half only
    assert not cat[:35].any() and not cat[:, :115].any() and not cat[:, 525:].any()  # nothing past its box
    assert dog[325:480, 85:235].all() and dog.sum() <= 160 * 160 * 1.02  # its whole box
    items = det.to_dict()["detections"]
    assert items[0]["mask_area"] == pytest.approx(200 * 400, rel=0.03) and items[1]["mask_area"] == dog.sum()


def test_a_head_without_metadata_is_told_by_the_flags_the_error_names(heads, tmp_path):
    """[1, 56, N] with no metadata fits a pose head and a 52-class detector: the command says to pass
    --layout, and --layout yolov8_pose (or --task pose) is taken and gives the person."""
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((480, 640, 3), np.uint8))
    bare = heads["pose", "bare"]
    refused = run_cli("predict", bare, image)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "yolov8_pose" in refused.stderr and "pass --layout" in refused.stderr, refused.stderr
    for flags in (("--layout", "yolov8_pose"), ("--task", "pose")):
        proc = run_cli("predict", bare, image, "--json", *flags)
        assert proc.returncode == 0, proc.stderr
        poses = json.loads(proc.stdout)["poses"]
        assert [p["label"] for p in poses] == ["person", "person"] and len(poses[0]["keypoints"]) == 17


def test_masks_are_drawn_inside_their_boxes(heads):
    with edge.load(heads["seg", "float32", "nhwc"]) as model:
        frame = np.full((480, 640, 3), 90, np.uint8)
        det = model(frame)
    image = edge.draw(frame, det)
    assert (image[200:400, 150:300] != 90).any(axis=2).all()  # the cat's mask: tinted
    assert (image[200:400, 350:500] == 90).all()  # the cat's box outside its mask: as it was


def test_tflite_runtime_2_14_gives_the_same_poses_and_masks(heads, tflrt_python, tmp_path):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((480, 640, 3), np.uint8))

    def predict(model) -> dict:
        command = [
            tflrt_python,
            "-m",
            "edge.cli",
            "predict",
            model,
            image,
            "--json",
            "--runtime",
            "tflite-runtime",
        ]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    poses = predict(heads["pose", "int8-int8io"])["poses"]
    assert len(poses) == 2
    found = [[k["x"], k["y"]] for k in poses[0]["keypoints"]]
    np.testing.assert_allclose(found, _frame(PERSON), atol=1.5)
    detections = predict(heads["seg", "int8-int8io", "nchw"])["detections"]
    assert [d["label"] for d in detections] == ["cat", "dog"]
    assert detections[0]["mask_area"] == pytest.approx(200 * 400, rel=0.03)
