"""Keep running, lose nothing: every way an output can end ends the run promptly with the right status,
and bad input is one line and exit 2, never a traceback or a hang. Full disks are real: a 64 KiB tmpfs
mounted in a private mount namespace (``unshare``); permissions are real: a file of mode 000 read
from a user namespace, where even root gets no override."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import EdgeError
from edge.pipeline.loop import run
from edge.sinks.base import Sink
from edge.sources import VideoSource
from edge.tasks.loader import load
from tests.conftest import ROOT, TRAINED_SIZE, run_cli

MODEL = "models/classification/mobilenet_v1_0.25_224_quant.tflite"


def one_line_error(done: subprocess.CompletedProcess, *fragments: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert len(lines) == 1 and lines[0].startswith("edgesight: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def long_clip(assets, tmp_path_factory) -> Path:
    """The asset traffic clip, 300 frames at 480x270 (MJPG): a fast source."""
    cap = cv2.VideoCapture(str(assets / "video/traffic_frames.mp4"))
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(cv2.resize(image, (480, 270)))
    out = tmp_path_factory.mktemp("clip") / "long.avi"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30, (480, 270))
    for i in range(300):
        writer.write(frames[i % len(frames)])
    writer.release()
    return out


def on_tiny_disk(mount: Path, *args: object, timeout: float = 60) -> subprocess.CompletedProcess:
    """``edgesight ARGS`` with a 64 KiB tmpfs at ``mount``, in a mount namespace of its own; what the
    run left on it is copied to ``mount``-copy afterwards."""
    mount.mkdir(exist_ok=True)
    keep = mount.with_name(mount.name + "-copy")
    keep.mkdir(exist_ok=True)
    command = " ".join([sys.executable, "-m", "edge.cli", *(f"'{a}'" for a in args)])
    script = (
        f"mount -t tmpfs -o size=64k tmpfs '{mount}' && cd '{ROOT}' && {command}; "
        f"rc=$?; cp -r '{mount}/.' '{keep}/'; exit $rc"
    )
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_a_full_disk_on_jsonl_ends_the_run_with_a_slow_output_and_a_fast_source(assets, long_clip, tmp_path):
    """The hang of issue 14: the outputs thread died while the hand-off queue was full."""
    video = tmp_path / "out.avi"
    start = time.monotonic()
    done = on_tiny_disk(
        tmp_path / "tiny", "run", assets / MODEL, "--source", long_clip, "--save", video,
        "--jsonl", tmp_path / "tiny" / "r.jsonl",
    )  # fmt: skip
    one_line_error(done, "r.jsonl", "No space left on device")
    assert time.monotonic() - start < 30
    lines = (tmp_path / "tiny-copy" / "r.jsonl").read_text().splitlines()
    assert len(lines) > 10 and [json.loads(line)["index"] for line in lines] == list(range(len(lines)))
    # The other output was closed cleanly: the video plays, with the frames written before the end.
    cap = cv2.VideoCapture(str(video))
    assert cap.isOpened() and cap.read()[0] and 0 < cap.get(cv2.CAP_PROP_FRAME_COUNT) < 300


def test_a_full_disk_on_save_ends_the_run_instead_of_truncating_the_video(assets, long_clip, tmp_path):
    tiny = tmp_path / "tiny"
    done = on_tiny_disk(tiny, "run", assets / MODEL, "--source", long_clip, "--save", tiny / "out.avi")
    one_line_error(done, "out.avi", "No space left on device")


class Counting(Sink):
    """Counts what it is given; ``fail_at`` raises, ``delay`` makes it a slow output."""

    annotated = True

    def __init__(self, fail_at: int | None = None, delay: float = 0.0) -> None:
        self.fail_at, self.delay, self.seen = fail_at, delay, 0
        self.failed_at: float | None = None

    def write(self, item, image) -> None:
        self.seen += 1
        time.sleep(self.delay)
        if self.fail_at is not None and self.seen >= self.fail_at:
            self.failed_at = time.monotonic()
            raise EdgeError("the sink broke")


def test_a_sink_that_raises_ends_the_run_within_a_second(assets, long_clip):
    slow, broken = Counting(delay=0.02), Counting(fail_at=5)
    with load(assets / MODEL, threads=2) as task, VideoSource(str(long_clip)) as source:
        with pytest.raises(EdgeError, match="the sink broke"):
            run(task, source, [slow, broken])
        ended = time.monotonic()
    assert broken.failed_at is not None and ended - broken.failed_at < 1.0
    assert slow.seen == 5  # nothing is written after the failure


def test_bench_reaching_its_frames_ends(assets, long_clip, tmp_path):
    out = tmp_path / "r.json"
    done = run_cli("bench", assets / MODEL, "--source", long_clip, "--frames", "5", "--runs", "5",
                   "--json", out, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["results"][0]["pipeline"]["frames"] == 5


def test_a_bench_record_that_cannot_be_written_fails_before_the_bench(assets, tmp_path):
    """A record path that cannot be written is found before a long benchmark, not after it: one line,
    and nothing measured."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for record, fragment in ((a_file / "r.json", "a part of that path is a file"), (tmp_path, "is a folder")):
        done = run_cli("bench", assets / MODEL, "--runs", "5", "--json", record, timeout=120)
        one_line_error(done, str(record if record == tmp_path else a_file), fragment)
        assert "p50" not in done.stdout + done.stderr, done.stdout


def test_run_folders_that_cannot_be_made_are_one_line(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for verb in ("train", "demo"):
        args = ("shapes",) if verb == "train" else ()
        done = run_cli(verb, *args, "--out", a_file / "run", "--epochs", "1", timeout=120)
        one_line_error(done, "cannot make", str(a_file), "a part of that path is a file")


def test_training_flags_out_of_range_are_one_line_and_never_replaced(tmp_path):
    """A 0 given is checked, not taken for "not given" and replaced by the default (--size 0 trained
    at 64 px, --batch-size 0 at 32); a validation share outside (0, 1) is refused before any work."""
    cases = {
        ("--size", "0"): "--size must be 32 or more, got 0",
        ("--batch-size", "0"): "--batch-size must be 1 or more, got 0",
        ("--epochs", "0"): "--epochs must be 1 or more, got 0",
        ("--val-split", "1.5"): "--val-split is a share of each class",
        ("--task", "detect", "--size", "0"): "--size must be a multiple of 32",
    }
    for flags, message in cases.items():
        done = run_cli("train", "shapes", "--out", tmp_path / "run", *flags, timeout=120)
        one_line_error(done, message)
    assert not (tmp_path / "run").exists()  # refused before the data was made


def test_a_full_disk_while_making_the_built_in_data_is_one_line_and_leaves_it_unfinished(tmp_path):
    """The built-in dataset on a 64 KiB disk: the image that did not fit is an error (OpenCV's
    imwrite only returns False), and the data is not marked done, so the next run makes it again."""
    tiny = tmp_path / "tiny"
    done = on_tiny_disk(tiny, "train", "shapes", "--out", tiny / "run", "--epochs", "1")
    one_line_error(done, "cannot write", ".png", "No space left on device")
    data = tmp_path / "tiny-copy" / "run" / "data"
    assert list(data.rglob("*.png")) and not list(data.glob(".*"))  # some images, no marker


@pytest.fixture()
def photos(tmp_path) -> Path:
    """A small folder of class folders: enough for ``train`` to check it and go on to TensorFlow."""
    from train.data.shapes import generate_shapes

    return generate_shapes(tmp_path / "shapes", per_class=6, val_per_class=2, seed=3) / "train"


def test_ctrl_c_while_tensorflow_loads_leaves_no_log_behind(photos, tmp_path):
    """TensorFlow's start-up chatter goes to a temporary log while it loads (seconds). Ctrl-C then is
    "interrupted" and exit 130, and the log goes: it used to be kept, empty and named nowhere."""
    import glob
    import signal

    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [sys.executable, "-m", "edge.cli", "train", photos, "--out", tmp_path / "run", "--epochs", "1"]
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while (
        not glob.glob(str(temp / "edgesight-tf-*.log"))
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.005)
    assert glob.glob(str(temp / "edgesight-tf-*.log")), "TensorFlow never started loading"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "edgesight: interrupted\n", err
    assert not list(temp.glob("edgesight-*"))


@pytest.mark.parametrize(
    "failure, message",
    [
        ("raise RuntimeError('libfoo.so: undefined symbol bar')", "RuntimeError: libfoo.so"),
        ("import edgesight_absent_dependency", "ModuleNotFoundError: No module named"),
    ],
    ids=["missing-symbol", "missing-dependency"],
)
def test_a_tensorflow_that_fails_to_load_is_one_line_naming_its_kept_log(photos, tmp_path, failure, message):
    """A broken install (here a ``keras`` on PYTHONPATH that prints a native-looking line and then
    raises as a library with a missing symbol does, or imports a module that is not there) is one
    line that names the log, which holds that line."""
    broken = tmp_path / "broken" / "keras"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        f"import os\nos.write(2, b'E0000 native loader: undefined symbol bar\\n')\n{failure}\n"
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp), "PYTHONPATH": f"{broken.parent}{os.pathsep}{ROOT}"}
    done = run_cli("train", photos, "--out", tmp_path / "run", "--epochs", "1", env=env, timeout=120)
    line = one_line_error(done, "TensorFlow is installed but failed to load", message)
    (log,) = temp.glob("edgesight-tf-*.log")
    assert line.endswith(str(log)) and "undefined symbol bar" in log.read_text()


def test_a_disk_that_fills_while_training_keeps_the_last_whole_checkpoint(trained, tmp_path):
    """Another writer fills the disk once the first epoch's checkpoint is written, leaving half a
    model's room (600 KiB of 1.2 MB): a checkpoint is written whole beside the last one before it
    replaces it, so the second epoch's save fails, as one line; the best and last models stay whole,
    nothing half written stays, and the run resumes from the first epoch. (Keras alone wrote over
    the files in place, which fits on this disk but not a Ctrl-C: the next test.)"""
    disk = tmp_path / "disk"
    disk.mkdir()
    run = disk / "run"
    flags = ("--size", str(TRAINED_SIZE), "--batch-size", "16", "--epochs", "3")
    command = " ".join(
        [sys.executable, "-m", "edge.cli", "train", f"'{trained['data']}'", "--out", f"'{run}'", *flags]
    )
    script = (
        f"mount -t tmpfs -o size=8m tmpfs '{disk}' && cd '{ROOT}' && {{ {command} & }} && pid=$! && "
        f"while [ ! -f '{run}/checkpoints/state.json' ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done; "
        f"free=$(df --output=avail -k '{disk}' | tail -1); "
        f"dd if=/dev/zero of='{disk}/filler' bs=1k count=$((free - 600)) 2>/dev/null; "
        f"wait $pid; rc=$?; rm '{disk}/filler'; cp -r '{run}' '{tmp_path}/kept'; exit $rc"
    )
    done = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    one_line_error(done, "cannot write", ".keras", "No space left on device", "the last whole one is kept")
    kept = tmp_path / "kept"
    assert not list(kept.rglob("*.partial*")), list(kept.rglob("*"))
    for model in (kept / "model.keras", kept / "checkpoints" / "last.keras"):
        with zipfile.ZipFile(model) as whole:
            assert whole.testzip() is None, model
    assert json.loads((kept / "checkpoints" / "state.json").read_text())["epoch"] == 1
    resumed = run_cli("train", trained["data"], "--out", kept, *flags[:-1], "2", timeout=300)
    assert resumed.returncode == 0 and "resuming from" in resumed.stdout, resumed.stderr


def test_a_checkpoint_save_cut_short_leaves_the_last_one_whole(tmp_path):
    """Ctrl-C in the middle of a save (a KeyboardInterrupt once the first layer's weights are
    written): the checkpoint is the last whole one, with no partial file beside it. Keras saving in
    place, cut short the same way, leaves a file without weights, which cannot be resumed from."""
    import keras

    from train.checkpoints import save_model

    class Interrupting(keras.layers.Layer):
        interrupt = False

        def call(self, x):
            return x

        def save_own_variables(self, store):
            super().save_own_variables(store)
            if self.interrupt:
                raise KeyboardInterrupt

    stop = Interrupting()
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(stop(keras.layers.Dense(8)(inputs))))
    path = tmp_path / "last.keras"
    save_model(model, path)
    whole = path.read_bytes()
    stop.interrupt = True
    with pytest.raises(KeyboardInterrupt):
        save_model(model, path)
    assert path.read_bytes() == whole and [p.name for p in tmp_path.iterdir()] == ["last.keras"]
    with pytest.raises(KeyboardInterrupt):
        model.save(path)  # in place, as keras.callbacks.ModelCheckpoint did
    with pytest.raises(ValueError, match="weights"):
        keras.models.load_model(path, custom_objects={"Interrupting": Interrupting})


@pytest.fixture()
def unreadable(tmp_path) -> Path:
    image = tmp_path / "photos" / "b_locked.jpg"
    image.parent.mkdir()
    cv2.imwrite(str(tmp_path / "photos" / "a_fine.jpg"), np.full((32, 32, 3), 90, np.uint8))
    cv2.imwrite(str(image), np.zeros((32, 32, 3), np.uint8))
    image.chmod(0)
    return image


def in_user_namespace(*args: object) -> subprocess.CompletedProcess:
    """``edgesight ARGS`` from a fresh user namespace: file permissions apply, even to root."""
    return subprocess.run(
        ["unshare", "--user", sys.executable, "-m", "edge.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_a_permission_denied_image_is_one_line_in_predict_and_in_a_folder_source(assets, unreadable):
    one_line_error(in_user_namespace("predict", assets / MODEL, unreadable), "cannot read image", "ermission")
    done = in_user_namespace("run", assets / MODEL, "--source", unreadable.parent)
    one_line_error(done, "cannot read image", "b_locked.jpg")


def test_an_interpreter_error_at_invoke_time_is_one_line(tmp_path):
    """A model whose GATHER indexes with the input's pixels: out of range at invoke, not at load."""
    pytest.importorskip("tensorflow", reason="builds the model with TensorFlow")
    import tensorflow as tf

    table = tf.constant(np.arange(10, dtype=np.float32))

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def model(x):
        index = tf.cast(tf.reshape(x, [-1])[:5], tf.int32)
        return tf.reshape(tf.gather(table, index), [1, 5])

    converter = tf.lite.TFLiteConverter.from_concrete_functions([model.get_concrete_function()], model)
    path = tmp_path / "gather.tflite"
    path.write_bytes(converter.convert())
    image = tmp_path / "white.png"
    cv2.imwrite(str(image), np.full((8, 8, 3), 255, np.uint8))
    done = run_cli("predict", path, image, "--task", "classify", "--mean", "0", "--std", "1")
    one_line_error(done, "interpreter failed to run the model")


def test_malformed_compare_records_are_one_line(tmp_path):
    good = {"format": "edgesight.bench/1", "device": {}, "runtime": {}, "model": {"path": "m.tflite"}}
    result = {"model": "m.tflite", "runtime": "litert", "threads": 2, "xnnpack": True, "p50_ms": 1.0,
              "p90_ms": 1.0, "mean_ms": 1.0, "fps": 1.0}  # fmt: skip
    cases = {
        "results_not_a_list": {**good, "results": 5},
        "result_not_an_object": {**good, "results": [5]},
        "number_is_text": {**good, "results": [{**result, "p50_ms": "fast"}]},
        "model_is_a_number": {**good, "model": 3, "results": [result]},
        "windows_without_fields": {**good, "results": [{**result, "windows": [{}]}]},
    }
    for name, record in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(record))
        ok = tmp_path / "ok.json"
        ok.write_text(json.dumps({**good, "results": [result]}))
        one_line_error(run_cli("bench", "--compare", ok, path), str(path))


def test_a_corrupt_training_state_is_one_line_when_resuming(trained, tmp_path):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(trained["run"], run_dir)
    (run_dir / "checkpoints" / "state.json").write_text("{not json")
    done = run_cli("train", trained["data"], "--out", run_dir, "--size", str(TRAINED_SIZE), "--epochs", "31")
    one_line_error(done, "cannot resume", "state.json", "checkpoints")
    (run_dir / "checkpoints" / "state.json").write_text(json.dumps({"epoch": 30, "classes": list(
        trained["info"].class_names), "size": TRAINED_SIZE}))  # fmt: skip
    (run_dir / "checkpoints" / "last.keras").write_bytes(b"PK\x03\x04 truncated")
    done = run_cli("train", trained["data"], "--out", run_dir, "--size", str(TRAINED_SIZE), "--epochs", "31")
    one_line_error(done, "cannot resume from", "last.keras")


def test_mutated_models_never_crash_hang_or_trace(assets):
    """A fixed-seed fuzz: bit flips, truncations and corrupted offsets of real models through
    ``edge.load`` and one call. Each mutant loads and runs, or is an ``EdgeError``; never anything else.
    Each runs in a child process with a time limit, so a crash or a hang is seen as such."""
    code = r"""
import json, sys, numpy as np, edge
from edge.errors import EdgeError
frame = np.full((120, 160, 3), 127, np.uint8)
for line in sys.stdin:
    path = line.strip()
    try:
        with edge.load(path) as m:
            m(frame)
        print(json.dumps({"path": path, "outcome": "ran"}), flush=True)
    except EdgeError:
        print(json.dumps({"path": path, "outcome": "refused"}), flush=True)
"""
    rng = random.Random(14)
    sources = [
        assets / MODEL,
        assets / "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite",
        assets / "models/detection/coco_ssd_mobilenet_v1_1.0_quant_2018_06_29_no_metadata.tflite",
        assets / "models/segmentation/deeplabv3.tflite",
    ]
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"edgesight-fuzz-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    mutants = []
    for i in range(240):
        data = bytearray(sources[i % len(sources)].read_bytes())
        kind = i % 3
        if kind == 0:  # bit flips
            for _ in range(rng.randint(1, 20)):
                pos = rng.randrange(len(data))
                data[pos] ^= 1 << rng.randrange(8)
        elif kind == 1:  # truncation
            data = data[: rng.randrange(8, len(data))]
        else:  # a 32-bit offset near the start pointed somewhere else
            pos = rng.randrange(4, min(len(data) - 4, 4096)) & ~3
            data[pos : pos + 4] = rng.randrange(1 << 32).to_bytes(4, "little")
        path = folder / f"m{i:03d}.tflite"
        path.write_bytes(bytes(data))
        mutants.append(path)
    outcomes: dict[str, str] = {}
    pending = list(mutants)
    try:
        while pending:  # a crash or a hang ends a child: note it and go on with the next one
            pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
            proc = subprocess.Popen([sys.executable, "-c", code], **pipes, text=True, cwd=ROOT)
            timer = threading.Timer(max(60.0, 0.5 * len(pending)), proc.kill)
            timer.start()
            out, err = proc.communicate("\n".join(map(str, pending)) + "\n")
            timer.cancel()
            for line in out.splitlines():
                answer = json.loads(line)
                outcomes[answer["path"]] = answer["outcome"]
            done = [p for p in pending if str(p) in outcomes]
            if len(done) < len(pending):  # the next one crashed the child, hung it, or raised
                failed = pending[len(done)]
                outcomes[str(failed)] = f"crashed or hung (exit {proc.returncode}): {err.strip()[-300:]}"
                pending = pending[len(done) + 1 :]
            else:
                pending = []
    finally:
        for path in mutants:
            path.unlink(missing_ok=True)
        folder.rmdir()
    bad = {p: o for p, o in outcomes.items() if o not in ("ran", "refused")}
    assert not bad, bad
    assert len(outcomes) == len(mutants)
    refused = sum(o == "refused" for o in outcomes.values())
    assert 0 < refused < len(mutants)  # the mutations reach both outcomes


def _spoil(folder: Path) -> list[Path]:
    """Two images of ``folder``'s first class made unreadable: one cut short, one emptied."""
    first = sorted(p for p in folder.iterdir() if p.is_dir())[0]
    cut, empty = sorted(first.glob("*.png"))[:2]
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size // 2])
    empty.write_bytes(b"")
    return [cut, empty]


def test_training_leaves_out_images_that_do_not_decode_and_names_them(trained, tmp_path):
    """A training folder with a file cut short and an empty one: TensorFlow's pipeline stopped with a
    traceback mid-epoch. Now both are left out of a split that is otherwise the same, named in one
    line, and training runs; a class left with no readable image is a one-line error."""
    import shutil

    from train.data.folders import load_split

    data = tmp_path / "data"
    shutil.copytree(trained["data"], data)
    before = load_split(data)
    bad = _spoil(data / "train")
    after = load_split(data)
    assert after.unreadable == tuple(sorted(bad))
    for part in ("train", "val"):
        kept = [p for p in getattr(before, part).paths if p not in bad]
        assert list(getattr(after, part).paths) == kept
    done = run_cli("train", data, "--out", tmp_path / "run", "--size", str(TRAINED_SIZE), "--epochs", "1")
    assert done.returncode == 0 and "Traceback" not in done.stderr and "libpng" not in done.stderr, (
        done.stderr
    )
    assert f"left out 2 images that cannot be read or decoded: {bad[0]}, {bad[1]}" in done.stdout
    assert f"training small_cnn on {len(after.train)} images" in done.stdout
    lonely = tmp_path / "lonely"
    for name in ("a", "b"):
        (lonely / "train" / name).mkdir(parents=True)
        (lonely / "val" / name).mkdir(parents=True)
        for part in ("train", "val"):
            for i in range(2):
                shutil.copy(before.train.paths[-1], lonely / part / name / f"{i}.png")
    for image in (lonely / "train" / "b").iterdir():
        image.write_bytes(b"not an image")
    one_line_error(
        run_cli("train", lonely, "--out", tmp_path / "r2"), "class 'b' has no training image that can be read"
    )


def test_detector_training_leaves_out_images_that_do_not_decode(assets, tmp_path):
    """A truncated JPEG passes a reader's header check: training now counts it as unreadable."""
    from edge.datasets.boxes import image_size
    from tests.test_datasets import write_yolo
    from train.detect_fit import load_splits

    root = write_yolo(tmp_path / "yolo", assets)  # its train and val splits: the same images
    dog = root / "images/val/dog.jpg"
    dog.write_bytes(dog.read_bytes()[: dog.stat().st_size // 2])
    assert image_size(dog) == (768, 576)  # the header is whole: the reader keeps it
    train, val = load_splits(root)
    for split in (train, val):
        assert split.problems == {"unreadable image": 1}, split.problems
        assert sorted(r.path.name for r in split.images) == ["pets.jpg", "traffic_0001.bmp"]
        assert "1 unreadable image" in split.summary()
