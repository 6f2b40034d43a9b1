"""Detection and model inspection on the published models in ../shared/assets, through the real CLI
and the Python API; frames of every odd layout through every task."""

import json
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest

import edge
from edge.sources.images import read_image
from tests.conftest import ASSETS, ROOT, SSD_LABELS, SSD_MODEL, run_cli

SSD = SSD_MODEL.relative_to(ASSETS)
LABELMAP = SSD_LABELS.relative_to(ASSETS)

# ../shared/assets/README.md, SSD at score >= 0.5: (label, box x0, y0, x1, y1) in original pixels.
EXPECTED = {
    "pets.jpg": [("dog", [120, 48, 250, 294]), ("dog", [343, 161, 495, 368])],
    "dog.jpg": [
        ("bicycle", [135, 117, 572, 434]),
        ("car", [465, 78, 690, 170]),
        ("dog", [130, 205, 327, 540]),
    ],
    "traffic_0001.bmp": [("car", [50, 150, 125, 201]), ("car", [212, 144, 255, 190])],
}


def _matches(found: list[dict], label: str, box: list[int], tolerance: float = 10.0) -> bool:
    return any(d["label"] == label and np.abs(np.subtract(d["box"], box)).max() <= tolerance for d in found)


@pytest.mark.parametrize("image", sorted(EXPECTED))
def test_ssd_finds_the_listed_objects_within_10_px(assets, image):
    proc = run_cli(
        "predict",
        assets / SSD,
        assets / "images" / image,
        "--labels",
        assets / LABELMAP,
        "--json",
        "--threshold",
        "0.5",
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)["detections"]
    for label, box in EXPECTED[image]:
        assert _matches(found, label, box), f"{label} {box} not in {found}"
    assert all(d["score"] >= 0.5 for d in found)


def test_predict_run_and_the_api_give_the_same_detections(assets, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name in EXPECTED:
        shutil.copy(assets / "images" / name, images / name)
    flags = ("--labels", assets / LABELMAP, "--threshold", "0.4")
    predicted = run_cli("predict", assets / SSD, *sorted(images.iterdir()), "--json", *flags)
    assert predicted.returncode == 0, predicted.stderr
    jsonl = tmp_path / "run.jsonl"
    ran = run_cli("run", assets / SSD, "--source", images, "--jsonl", jsonl, *flags)
    assert ran.returncode == 0, ran.stderr
    by_predict = {
        json.loads(line)["image"]: json.loads(line)["detections"] for line in predicted.stdout.splitlines()
    }
    by_run = {
        json.loads(line)["image"]: json.loads(line)["detections"] for line in jsonl.read_text().splitlines()
    }
    assert by_predict == by_run and len(by_run) == 3
    overrides = edge.Overrides(labels=assets / LABELMAP)
    with edge.load(assets / SSD, threads=2, overrides=overrides, threshold=0.4) as model:
        for path, detections in by_run.items():
            assert model(read_image(path)).to_dict()["detections"] == detections


def test_info_describes_the_ssd_model(assets):
    proc = run_cli("info", assets / SSD, "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    assert (info["task"], info["layout"], info["layout_from"]) == ("detect", "ssd", "signature")
    assert info["outputs_by_role"]["scores"] == "TFLite_Detection_PostProcess:2"
    assert info["inputs"][0]["quantization"] == {"scale": 0.0078125, "zero_point": 128}
    assert info["ops"]["CONV_2D"] == 34 and info["custom_ops"] == ["TFLite_Detection_PostProcess"]
    assert (
        info["labels"] == 0 and info["metadata"] is None and info["runtime"].startswith(("litert", "tflite"))
    )
    text = run_cli("info", assets / SSD, "--labels", assets / LABELMAP)
    assert "task: detect, layout ssd" in text.stdout and "labels: 90" in text.stdout


def test_info_of_a_classifier_with_metadata(assets):
    proc = run_cli("info", assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite", "--json")
    info = json.loads(proc.stdout)
    assert (info["task"], info["classes"], info["labels"], info["labels_from"]) == (
        "classify",
        1001,
        1001,
        "metadata",
    )
    assert info["scores"] == "probabilities" and info["metadata"]["files"] == ["labels.txt"]
    assert info["preprocessing"]["mean"] == [127.5] and info["ops"]["SOFTMAX"] == 1


def test_info_of_a_model_edge_cannot_run_as_asked_still_shows_the_file_and_exits_2(assets):
    movenet = assets / "models/pose/movenet_single_pose_lightning_ptq.tflite"
    proc = run_cli("info", movenet, "--task", "detect")
    assert proc.returncode == 2
    assert "outputs:" in proc.stdout and "GATHER_ND x4" in proc.stdout
    assert "cannot run: outputs [[1, 1, 17, 3]] fit none of the detect layouts" in proc.stdout


def test_the_wrong_layout_flag_and_a_detector_on_class_folders_are_one_line_errors(assets, tmp_path):
    proc = run_cli("predict", assets / SSD, assets / "images/dog.jpg", "--layout", "yolov8")
    assert proc.returncode == 2 and "do not fit layout yolov8" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "dog").mkdir()
    shutil.copy(assets / "images/dog.jpg", tmp_path / "dog")
    proc = run_cli("eval", assets / SSD, tmp_path)
    assert proc.returncode == 2 and "not a detection dataset" in proc.stderr and "COCO:" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def _odd_frames(image: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "grayscale": cv2.cvtColor(image, cv2.COLOR_BGR2GRAY),
        "grayscale HxWx1": cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[:, :, None],
        "BGRA": cv2.cvtColor(image, cv2.COLOR_BGR2BGRA),
        "16-bit": image.astype(np.uint16) * 257,
        "1x1": np.ascontiguousarray(image[:1, :1]),
        "8K": cv2.resize(image, (7680, 4320)),
        "flipped view": image[::-1, ::-1],
        "strided view": image[::2, ::3],
        "Fortran order": np.asfortranarray(image),
        "float 0..1": image.astype(np.float32) / 255,
        "float64 0..255": image.astype(np.float64),
        "int32": image.astype(np.int32),
        "bool": image > 128,
    }


@pytest.mark.parametrize(
    "model",
    [SSD, "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite"],
    ids=["ssd", "classifier"],
)
def test_odd_frames_are_converted_and_unusable_ones_rejected(assets, model):
    image = cv2.imread(str(assets / "images/pets.jpg"))
    with edge.load(assets / model, threads=2) as task:
        reference = task(image)
        for name, frame in _odd_frames(image).items():
            result = task(frame)
            assert type(result) is type(reference), name
        # Same pixels in another memory layout give the same result.
        assert task(np.asfortranarray(image)).to_dict() == reference.to_dict()
        assert task(image.astype(np.uint16) * 257).to_dict() == reference.to_dict()
        for frame, expected in [
            (image.astype(object), "numeric dtype, got object"),
            (image.astype(np.complex64), "numeric dtype, got complex64"),
            (image[:0], "non-empty image"),
            (image[:, :, :2], r"\(H, W, 3\) or \(H, W, 4\), got \(430, 512, 2\)"),
            (image[None], "got \\(1, 430, 512, 3\\)"),
            (image.tolist(), "numpy array, got list"),
        ]:
            with pytest.raises(edge.EdgeError, match=expected):
                task(frame)


@pytest.mark.one_runtime  # decoding and timing around invoke: the same code on either interpreter
def test_overhead_script_measures_ssd_against_a_bare_loop(assets, tmp_path):
    out = tmp_path / "overhead.json"
    proc = subprocess.run(
        [sys.executable, ROOT / "tools/task_overhead.py", assets / SSD, "--runs", "5", "--json", out],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(out.read_text())
    assert row["layout"] == "ssd" and row["results"] > 0
    assert row["bare_ms"] > 0 and row["edge_ms"] > 0 and row["prepare_ms"] > 0
    assert row["share"] == pytest.approx(row["extra_ms"] / row["bare_ms"])
    assert "extra/invoke" in proc.stdout and "ssd" in proc.stdout
    bad = subprocess.run(
        [sys.executable, ROOT / "tools/task_overhead.py", assets / SSD, "--runs", "0"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "--runs must be 1 or more" in bad.stderr


def test_run_detects_cars_in_every_frame_of_the_traffic_clip(assets, tmp_path):
    jsonl, video = tmp_path / "cars.jsonl", tmp_path / "cars.avi"
    proc = run_cli(
        "run",
        assets / SSD,
        "--source",
        assets / "video/traffic_frames.mp4",
        "--labels",
        assets / LABELMAP,
        "--threshold",
        "0.5",
        "--jsonl",
        jsonl,
        "--save",
        video,
    )
    assert proc.returncode == 0, proc.stderr
    frames = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(frames) == 20
    for frame in frames:
        cars = [d for d in frame["detections"] if d["label"] == "car"]
        assert 1 <= len(cars) <= 4, frame
        assert all(
            0 <= d["box"][0] < d["box"][2] <= 960 and 0 <= d["box"][1] < d["box"][3] <= 540 for d in cars
        )
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 20 and cap.read()[0]
    cap.release()
