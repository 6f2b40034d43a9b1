"""The ``edgesight`` command: happy paths on real models and every error path (one line, exit 2)."""

import json
import os
import subprocess
import sys

import cv2
import pytest

from tests.conftest import ROOT, needs_tensorflow, run_cli


def assert_one_line_error(proc, *fragments):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("edgesight: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_every_verb_has_help():
    from edge.cli import EDGE_VERBS, TRAIN_VERBS

    for verb in (*TRAIN_VERBS, *EDGE_VERBS):
        proc = run_cli(verb, "--help")
        assert proc.returncode == 0 and "usage: edgesight " + verb in proc.stdout, proc.stderr


def test_missing_model_file(tmp_path):
    assert_one_line_error(
        run_cli("predict", tmp_path / "none.tflite", tmp_path / "a.jpg"), "model file not found"
    )


def test_a_file_that_is_not_a_model(tmp_path):
    bogus = tmp_path / "model.tflite"
    bogus.write_bytes(b"\x00" * 100)
    assert_one_line_error(run_cli("predict", bogus, tmp_path / "a.jpg"), "not a TFLite model")


def test_unreadable_image(trained, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    assert_one_line_error(run_cli("predict", trained["models"]["int8"], broken), "cannot decode image")
    assert_one_line_error(
        run_cli("predict", trained["models"]["int8"], tmp_path / "gone.png"), "image not found"
    )


def test_predict_takes_folders_of_images(assets, tmp_path):
    """A folder stands for its images (by name; not its subfolders, nor other files), beside files."""
    import shutil

    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    photos = tmp_path / "photos"
    (photos / "deeper").mkdir(parents=True)
    for name in ("dog.jpg", "burger.jpg"):
        shutil.copy(assets / "images" / name, photos / name)
    shutil.copy(assets / "images/pets.jpg", photos / "deeper/pets.jpg")
    (photos / "notes.txt").write_text("not an image")
    proc = run_cli("predict", model, photos, assets / "images/cat_720p.jpg", "--json", "--top-k", "1")
    assert proc.returncode == 0, proc.stderr
    seen = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [os.path.basename(o["image"]) for o in seen] == ["burger.jpg", "dog.jpg", "cat_720p.jpg"]
    assert seen[0]["classes"][0]["label"] == "cheeseburger"
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("predict", model, tmp_path / "empty"), "no images in folder")
    assert_one_line_error(run_cli("predict", model, tmp_path / "gone"), "image not found")


def test_predict_goes_on_past_an_image_it_cannot_decode(assets, tmp_path):
    """One corrupt file in a folder costs its own result only: a line for it, the others done and
    saved, then a count and exit 2."""
    import shutil

    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("burger.jpg", "dog.jpg"):
        shutil.copy(assets / "images" / name, photos / name)
    (photos / "cut.jpg").write_bytes((assets / "images/dog.jpg").read_bytes()[:4000])  # cut short
    png = cv2.imencode(".png", cv2.imread(str(assets / "images/dog.jpg")))[1].tobytes()
    (photos / "cut.png").write_bytes(png[: len(png) // 2])  # libpng would add a line of its own
    proc = run_cli("predict", model, photos, "--json", "--top-k", "1", "--save", tmp_path / "out")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    seen = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [os.path.basename(o["image"]) for o in seen] == ["burger.jpg", "dog.jpg"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["burger.jpg", "dog.jpg"]
    assert proc.stderr.splitlines() == [
        f"edgesight: error: cannot decode image {photos / 'cut.jpg'}: not a readable image file",
        f"edgesight: error: cannot decode image {photos / 'cut.png'}: not a readable image file",
        "edgesight: error: 2 of 4 images could not be read, 2 done",
    ]


def test_missing_and_empty_data_folders(trained, tmp_path):
    model = trained["models"]["int8"]
    assert_one_line_error(run_cli("eval", model, tmp_path / "nowhere"), "data folder not found")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("eval", model, tmp_path / "empty"), "no class subfolders")
    (tmp_path / "flat" / "circle").mkdir(parents=True)
    assert_one_line_error(run_cli("eval", model, tmp_path / "flat"), "no images")
    assert_one_line_error(
        run_cli("train", tmp_path / "empty", "--out", tmp_path / "r"), "no class subfolders"
    )


def test_unknown_source(trained):
    assert_one_line_error(
        run_cli("run", trained["models"]["int8"], "--source", "no-such-thing"), "unknown source"
    )


def test_unknown_quant_mode_suggests_the_closest(trained):
    assert_one_line_error(run_cli("export", trained["run"], "--quant", "int9"), "did you mean int8")


@needs_tensorflow
def test_export_of_a_folder_without_a_model(tmp_path):
    assert_one_line_error(run_cli("export", tmp_path), "neither a run folder", "nor a SavedModel")


def test_training_verbs_without_tensorflow_say_how_to_install(tmp_path):
    # -S: no site-packages, so neither TensorFlow nor anything else pip installed is importable
    for verb in (["train", "shapes", "--out", str(tmp_path / "r")], ["export", str(tmp_path)], ["demo"]):
        proc = subprocess.run(
            [sys.executable, "-S", "-m", "edge.cli", *verb],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
        assert_one_line_error(proc, "needs TensorFlow", "pip install 'edgesight[train]'")


def test_a_broken_tensorflow_install_gets_the_same_message(tmp_path):
    blocker = tmp_path / "blocker" / "tensorflow"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text(
        "raise ModuleNotFoundError('No module named tensorflow', name='tensorflow')"
    )
    env = {"PYTHONPATH": os.pathsep.join([str(tmp_path / "blocker"), str(ROOT)])}
    proc = run_cli("train", "shapes", "--out", tmp_path / "r", "--images-per-class", "2", env=env)
    assert_one_line_error(proc, "needs TensorFlow")


def test_an_empty_labels_file_is_one_line(assets, tmp_path):
    """An SSD's outputs do not say how many classes it has, so an empty file is caught as such."""
    empty = tmp_path / "labels.txt"
    empty.write_text("\n")
    model = assets / "models/detection/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite"
    proc = run_cli("predict", model, assets / "images/dog.jpg", "--labels", empty)
    assert_one_line_error(proc, "labels file", "is empty")


def test_a_missing_ssh_key_or_config_is_one_line_before_ssh_runs(assets, tmp_path):
    """ssh itself only warns about a key it cannot read, and goes on with others."""
    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    for flag in ("--identity", "--ssh-config"):
        proc = run_cli("deploy", "pi@127.0.0.1", "--port", "1", flag, tmp_path / "none", "--model", model,
                       "--source", "0")  # fmt: skip
        assert_one_line_error(proc, f"{flag} file not found")
        proc = run_cli("bench", model, "--on", "pi@127.0.0.1", "--port", "1", flag, tmp_path / "none",
                       "--json", tmp_path / "record.json")  # fmt: skip
        assert_one_line_error(proc, f"{flag} file not found")


def test_a_full_disk_under_standard_output_is_one_line(assets):
    """Standard output redirected to a full disk (/dev/full): one line and exit 2, not a traceback
    from the first print or an "Exception ignored" from the flush at exit."""
    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    image = assets / "images/dog.jpg"
    for args in (("info", model), ("predict", model, image), ("predict", model, image, "--json")):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [sys.executable, "-m", "edge.cli", *map(str, args)],
                stdout=full, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120,
            )  # fmt: skip
        assert "Exception ignored" not in proc.stderr, proc.stderr
        assert_one_line_error(proc, "cannot write the output", "No space left on device")


def test_predict_json_one_object_per_image(assets):
    folder = assets / "models" / "classification"
    proc = run_cli(
        "predict",
        folder / "mobilenet_v2_1.0_224_quant.tflite",
        assets / "images/burger.jpg",
        assets / "images/cat_720p.jpg",
        "--labels",
        folder / "labels.txt",
        "--top-k",
        "3",
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    objs = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["image"].split("/")[-1] for o in objs] == ["burger.jpg", "cat_720p.jpg"]
    assert objs[0]["task"] == "classify" and len(objs[0]["classes"]) == 3
    assert objs[0]["classes"][0] == {
        "id": 934,
        "label": "cheeseburger",
        "score": pytest.approx(0.965, abs=0.02),
    }


def test_predict_without_flags_on_the_metadata_float_model(assets):
    proc = run_cli(
        "predict",
        assets / "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite",
        assets / "images/burger.jpg",
        "--top-k",
        "1",
    )
    assert proc.returncode == 0 and "cheeseburger" in proc.stdout


def test_eval_of_our_int8_export(trained):
    proc = run_cli("eval", trained["models"]["int8"], trained["data"] / "val", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["images"] == 150 and set(out["per_class"]) == set(trained["info"].class_names)
    assert out["accuracy"] > 0.8  # 20 short epochs at 32 px: far above the 20% of chance
    assert out["runtime"].startswith("litert")


def test_run_on_synthetic_writes_a_playable_video_and_complete_jsonl(trained, tmp_path):
    video, jsonl = tmp_path / "out.mp4", tmp_path / "out.jsonl"
    proc = run_cli(
        "run",
        trained["models"]["int8"],
        "--source",
        "synthetic",
        "--frames",
        "40",
        "--save",
        video,
        "--jsonl",
        jsonl,
    )
    assert proc.returncode == 0, proc.stderr
    assert "40 frames" in proc.stdout and "agreement with ground truth" in proc.stdout
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40 and cap.read()[0]
    cap.release()
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [o["index"] for o in lines] == list(range(40))
    assert all(o["task"] == "classify" and o["classes"] and "timestamp" in o for o in lines)


def test_run_on_a_video_file(assets, tmp_path):
    jsonl = tmp_path / "v.jsonl"
    proc = run_cli(
        "run",
        assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite",
        "--source",
        assets / "video/traffic_frames.mp4",
        "--jsonl",
        jsonl,
        "--top-k",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(jsonl.read_text().splitlines()) == 20


def test_frames_stops_a_video_file_too(assets, tmp_path):
    """--frames ends a run on any source, not only the synthetic one: 7 of the clip's 120 frames
    recorded and written, every output closed whole; 0 is refused."""
    model = assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite"
    clip = assets / "video/pose_1.mp4"
    jsonl, video = tmp_path / "v.jsonl", tmp_path / "v.mp4"
    proc = run_cli("run", model, "--source", clip, "--frames", "7", "--jsonl", jsonl, "--save", video)
    assert proc.returncode == 0, proc.stderr
    assert "7 frames in" in proc.stdout
    assert [json.loads(line)["index"] for line in jsonl.read_text().splitlines()] == list(range(7))
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 7 and cap.read()[0]
    cap.release()
    refused = run_cli("run", model, "--source", clip, "--frames", "0")
    assert_one_line_error(refused, "--frames must be 1 or more")


def test_sigterm_mid_run_leaves_a_playable_video_and_whole_jsonl_lines(trained, tmp_path):
    import signal
    import time

    video, jsonl = tmp_path / "t.mp4", tmp_path / "t.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "edge.cli",
        "run",
        str(trained["models"]["int8"]),
        "--source",
        "synthetic",
        "--frames",
        "1000000",
        "--save",
        str(video),
        "--jsonl",
        str(jsonl),
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not jsonl.exists() or jsonl.stat().st_size < 2000):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    lines = jsonl.read_text().splitlines()
    assert len(lines) > 3 and all(json.loads(line)["task"] == "classify" for line in lines)
    cap = cv2.VideoCapture(str(video))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    assert cap.read()[0] and frames >= len(lines) - 1
    cap.release()


def test_show_with_the_headless_opencv_says_which_install_gives_a_window():
    """The device extras carry the headless OpenCV (.venv-tflrt in make test): --show says what to do."""
    from edge.util.opencv import has_gui

    if has_gui():
        pytest.skip("this environment has the GUI OpenCV: tests/test_window.py opens the window")
    proc = run_cli("run", "nothing.tflite", "--source", "synthetic", "--frames", "2", "--show")
    assert_one_line_error(proc, "edgesight[laptop]", "--serve")
