"""Ultralytics YOLO layouts on real converted models: small Keras heads with planted candidates
(tools/yolo_heads.py), converted float32, float16, int8 with float I/O and full-integer int8, then
decoded, letterbox-inverted and NMS-filtered by edge and checked against boxes worked out by hand."""

import importlib.util
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import edge
from tests.conftest import ROOT, needs_tensorflow, run_cli

pytestmark = needs_tensorflow

SIZE, CLASSES = 64, 3
NAMES = ["cat", "dog", "bird"]
MODES = ("float32", "float16", "int8-floatio", "int8-int8io")

# The planted candidates (tools/yolo_heads.default_planted at 64 px) seen through a letterbox.
# 640x480 frame -> 64x64: scale 0.1, 8 px of padding above and below; frame = (input - pad) / 0.1.
#   class 0, 0.90: input (12, 14, 28, 34) -> (120, 60, 280, 260)
#   class 0, 0.80: IoU 0.8 with the first, same class: suppressed
#   class 1, 0.70: input (13, 15, 29, 35) -> (130, 70, 290, 270), same place, another class: kept
#   class 2, 0.60: input (43, 25, 53, 55) -> (430, 170, 530, 470)
#   class 2, 0.50: input (43, 47, 53, 57) -> (430, 390, 530, 490), clipped to the frame: y1 = 480
#   class 1, 0.20: below the default threshold of 0.25
LANDSCAPE = (
    [[120, 60, 280, 260], [130, 70, 290, 270], [430, 170, 530, 470], [430, 390, 530, 480]],
    [0.9, 0.7, 0.6, 0.5],
    [0, 1, 2, 2],
)
# 480x640 frame: 8 px of padding left and right instead: x = (input - 8) / 0.1, y = input / 0.1.
PORTRAIT_FIRST = [40, 140, 200, 340]


def _heads_module():
    spec = importlib.util.spec_from_file_location("yolo_heads", ROOT / "tools" / "yolo_heads.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def heads(tmp_path_factory) -> dict:
    """(layout, mode) -> model path; v8 carries Ultralytics metadata, v5 none; plus a v8 in pixels."""
    yh = _heads_module()
    out = tmp_path_factory.mktemp("yolo")
    planted = yh.default_planted(SIZE, CLASSES)
    paths = {}
    for layout in ("yolov8", "yolov5"):
        model = yh.keras_head(yh.head_tensor(layout, SIZE, CLASSES, planted), SIZE)
        meta = yh.ultralytics_metadata(NAMES, SIZE) if layout == "yolov8" else None
        for mode in MODES:
            paths[layout, mode] = yh.write(
                out / f"{layout}_{mode}.tflite", yh.convert(model, mode, SIZE), meta
            )
    pixels = yh.keras_head(yh.head_tensor("yolov8", SIZE, CLASSES, planted, normalized=False), SIZE)
    paths["yolov8", "pixels"] = yh.write(out / "yolov8_pixels.tflite", yh.convert(pixels, "float32", SIZE))
    return paths


def _tolerance(mode: str) -> tuple[float, float]:
    """(box px in the frame, score): an int8 output step is 1/255 of the input (2.5 frame px here)."""
    return (1.5, 0.01) if mode.startswith("int8") else (0.05, 1e-3)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", ["yolov8", "yolov5"])
def test_every_mode_decodes_the_planted_boxes_through_the_letterbox(heads, layout, mode):
    box_tol, score_tol = _tolerance(mode)
    boxes, scores, ids = LANDSCAPE
    with edge.load(heads[layout, mode], threads=2) as model:
        assert (model.spec.layout, model.spec.input.resize) == (layout, "letterbox")
        det = model(np.zeros((480, 640, 3), np.uint8))
        np.testing.assert_allclose(det.xyxy, boxes, atol=box_tol)
        np.testing.assert_allclose(det.scores, scores, atol=score_tol)
        assert det.class_ids.tolist() == ids
        portrait = model(np.zeros((640, 480, 3), np.uint8))
        np.testing.assert_allclose(portrait.xyxy[0], PORTRAIT_FIRST, atol=box_tol)


def test_full_integer_models_take_int8_pixels_and_float_ones_pixels_over_255(heads):
    with edge.load(heads["yolov8", "int8-int8io"]) as model:
        inp = model.spec.input
        assert inp.dtype == np.int8 and (inp.scale, inp.zero_point) == (
            pytest.approx(1 / 255, rel=1e-3),
            -128,
        )
        tensor, _ = model.prepare(np.full((64, 64, 3), 200, np.uint8))
        assert tensor.dtype == np.int8 and int(tensor[0, 0, 0, 0]) == 200 - 128
    with edge.load(heads["yolov5", "float32"]) as model:
        assert model.spec.input.normalization_from == "yolov5 layout"
        tensor, _ = model.prepare(np.full((64, 64, 3), 51, np.uint8))
        assert tensor.dtype == np.float32 and float(tensor[0, 0, 0, 0]) == pytest.approx(0.2)
        # Letterbox padding is 114 grey: a 64x32 frame leaves 16 rows above and below.
        tensor, _ = model.prepare(np.zeros((32, 64, 3), np.uint8))
        assert float(tensor[0, 0, 0, 0]) == pytest.approx(114 / 255) and float(tensor[0, 32, 0, 0]) == 0


def test_boxes_in_input_pixels_decode_like_normalised_ones(heads):
    with edge.load(heads["yolov8", "pixels"]) as model:
        det = model(np.zeros((480, 640, 3), np.uint8))
    np.testing.assert_allclose(det.xyxy, LANDSCAPE[0], atol=0.05)


def test_labels_come_from_ultralytics_metadata_or_the_labels_flag(heads, tmp_path):
    with edge.load(heads["yolov8", "int8-int8io"]) as model:
        assert model.spec.labels_from == "Ultralytics metadata"
        assert model(np.zeros((480, 640, 3), np.uint8)).labels == ("cat", "dog", "bird", "bird")
    with edge.load(heads["yolov5", "float32"]) as model:
        assert model.spec.labels is None
        assert model(np.zeros((480, 640, 3), np.uint8)).labels == (None,) * 4
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    with edge.load(heads["yolov5", "float32"], overrides=edge.Overrides(labels=labels)) as model:
        assert model(np.zeros((480, 640, 3), np.uint8)).labels == ("a", "b", "c", "c")
    labels.write_text("a\nb\n")
    with pytest.raises(edge.EdgeError, match="have 2 entries but the model outputs 3 classes"):
        edge.load(heads["yolov5", "float32"], overrides=edge.Overrides(labels=labels))


def test_threshold_iou_and_top_k_options_of_predict(heads, tmp_path):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((480, 640, 3), np.uint8))

    def predict(*flags: str) -> list[dict]:
        proc = run_cli("predict", heads["yolov8", "float32"], image, "--json", *flags)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)["detections"]

    assert [d["label"] for d in predict()] == ["cat", "dog", "bird", "bird"]
    assert [d["score"] for d in predict("--iou", "0.9")] == [0.9, 0.8, 0.7, 0.6, 0.5]  # IoU 0.8 kept
    assert [d["score"] for d in predict("--threshold", "0.1")][-1] == 0.2
    assert [d["score"] for d in predict("--threshold", "0.65")] == [0.9, 0.7]
    assert len(predict("--top-k", "2")) == 2
    proc = run_cli("predict", heads["yolov8", "float32"], image, "--iou", "1.5")
    assert proc.returncode == 2 and "IoU threshold must be between 0 and 1" in proc.stderr


def test_info_reads_the_ultralytics_metadata(heads):
    proc = run_cli("info", heads["yolov8", "int8-int8io"], "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["task"], info["layout"], info["classes"], info["labels"]) == ("detect", "yolov8", 3, 3)
    assert info["layout_from"] == "signature, task from Ultralytics metadata"
    assert info["ultralytics"]["imgsz"] == [64, 64] and info["ultralytics"]["classes"] == 3
    assert info["inputs"][0]["dtype"] == "int8" and info["outputs"][0]["shape"] == [1, 7, 84]
    assert info["preprocessing"]["resize"] == "letterbox"


def test_tflite_runtime_2_14_gives_the_same_detections(heads, tflrt_python, tmp_path):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((480, 640, 3), np.uint8))
    for key in [("yolov8", "int8-int8io"), ("yolov5", "int8-floatio"), ("yolov8", "float32")]:
        proc = subprocess.run(
            [
                tflrt_python,
                "-m",
                "edge.cli",
                "predict",
                heads[key],
                image,
                "--json",
                "--runtime",
                "tflite-runtime",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        found = json.loads(proc.stdout)["detections"]
        np.testing.assert_allclose([d["box"] for d in found], LANDSCAPE[0], atol=_tolerance(key[1])[0])
        assert [d["id"] for d in found] == LANDSCAPE[2]


def test_odd_frames_through_a_letterboxed_model(heads):
    with edge.load(heads["yolov8", "int8-int8io"]) as model:
        for frame in (
            np.zeros((1, 1, 3), np.uint8),
            np.zeros((4320, 7680), np.uint16),
            np.zeros((480, 640, 4), np.float32)[::-1],
        ):
            det = model(frame)
            h, w = frame.shape[:2]
            assert len(det) == 4 and (det.xyxy[:, 0::2] <= w).all() and (det.xyxy[:, 1::2] <= h).all()
