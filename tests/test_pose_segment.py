"""Pose and segmentation on the device: MoveNet and DeepLab from ../shared/assets against their reference
outputs, the crop that follows a person between frames, MultiPose through the letterbox on a real
converted model, the results' JSON and drawing, and ``predict`` and ``run`` through the CLI."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace

import cv2
import numpy as np
import pytest

import edge
from edge.sources.images import read_image
from edge.tasks.pose import BODY_EXPANSION, TORSO_EXPANSION, next_crop
from edge.tasks.results import KEYPOINTS, Poses, Segmentation
from edge.tasks.sampling import Sampling
from tests.conftest import IMAGES, POSE_CLIP_FRAMES, needs_tensorflow, run_cli

POSE = "models/pose/movenet_single_pose_lightning_ptq.tflite"
POSE_CSV = "models/pose/movenet_single_pose_lightning_ptq_reference.csv"
DEEPLAB = "models/segmentation/deeplabv3.tflite"
GOLDEN = "models/segmentation/segmentation_golden_rotation0.png"
L_SHOULDER, R_SHOULDER, L_HIP, R_HIP, L_ANKLE = (KEYPOINTS.index(n) for n in (
    "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ankle"))  # fmt: skip


def test_movenet_on_squat_matches_the_reference_keypoints(assets):
    image = read_image(IMAGES / "squat.bmp")
    height, width = image.shape[:2]
    with edge.load(assets / POSE, threads=2) as model:
        assert (model.spec.task, model.spec.layout, model.spec.layout_from) == (
            "pose",
            "movenet",
            "signature",
        )
        assert model.spec.input.dtype == np.uint8 and model.spec.input.resize == "stretch"
        poses = model(image)
    assert isinstance(poses, Poses) and len(poses) == 1 and poses.names == KEYPOINTS
    with (assets / POSE_CSV).open() as f:
        reference = list(csv.DictReader(f))
    assert len(reference) == 17
    for row in reference:
        x, y = poses.keypoints[0, int(row["keypoint_id"])] / (width, height)
        assert abs(x - float(row["keypoint_x"])) <= 0.03 and abs(y - float(row["keypoint_y"])) <= 0.03, row
    x0, y0, x1, y1 = poses.xyxy[0]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert poses.scores[0] == pytest.approx(poses.keypoint_scores[0].mean())


def test_deeplab_mask_matches_the_golden_png(assets):
    with edge.load(assets / DEEPLAB, threads=2) as model:
        assert (model.spec.task, model.spec.layout) == ("segment", "segmentation")
        assert model.spec.labels_from == "metadata" and model.spec.input.mean == (127.5,)
        result = model(read_image(IMAGES / "segmentation_input_rotation0.jpg"))
    golden = cv2.imread(str(assets / GOLDEN), cv2.IMREAD_UNCHANGED)
    assert isinstance(result, Segmentation) and result.frame_map().shape == golden.shape
    assert (result.frame_map().astype(int) * 10 == golden).mean() >= 0.99
    assert sorted(result.labels) == ["background", "horse", "person"]
    shares = dict(zip(result.labels, result.shares))
    assert shares == pytest.approx({"background": 0.379, "person": 0.335, "horse": 0.286}, abs=0.005)
    assert result.to_dict()["classes"][0]["label"] == "background"  # most pixels first
    with edge.load(assets / DEEPLAB, threads=1) as model:  # one band, no pool: the same map
        assert np.array_equal(model(read_image(IMAGES / "segmentation_input_rotation0.jpg")).class_map,
                              result.class_map)  # fmt: skip
        wide = model(cv2.resize(read_image(IMAGES / "segmentation_input_rotation0.jpg"), (640, 480)))
    frame = wide.frame_map()
    counted = np.bincount(frame.ravel())  # shares weighed at 257 px: the 640x480 map's own
    assert wide.class_map.shape == (257, 257) and frame.shape == (480, 640) and wide.frame_size == (640, 480)
    assert np.array_equal(wide.shares, (counted[wide.class_ids] / frame.size).astype(np.float32))
    assert wide.to_dict()["size"] == [640, 480]


def test_the_argmax_in_bands_of_rows_is_numpys_ties_included():
    from concurrent.futures import ThreadPoolExecutor

    from edge.tasks.class_argmax import argmax_bands

    rng = np.random.default_rng(0)
    scores = rng.integers(0, 4, (37, 11, 21)).astype(np.float32)  # many ties: the first index wins
    with ThreadPoolExecutor(3) as pool:
        for bands in (1, 2, 4, 50):  # 50: more bands than rows
            assert np.array_equal(argmax_bands(scores, pool, bands), np.argmax(scores, axis=-1)), bands
    assert np.array_equal(argmax_bands(scores, None, 4), np.argmax(scores, axis=-1))


@pytest.mark.parametrize("mode", ["stretch", "letterbox", "crop"])
def test_the_frame_map_and_its_counts_are_the_warped_maps(mode):
    """The map stays at the output's size with, per frame row and column, the output row and column
    it samples: the frame map made from them (whole, or any part) is OpenCV's warp of the whole map,
    and the weighed counts are its histogram, for every resize mode and odd sizes, up and down."""
    from edge.tasks.preprocess import resize
    from edge.tasks.sampling import _matrix, _warp, sampled_indices
    from edge.tasks.segment import pixel_weights, segmentation

    rng = np.random.default_rng(1)
    for (fh, fw), (ih, iw), (oh, ow) in [
        ((480, 640), (257, 257), (257, 257)),
        ((479, 641), (256, 320), (64, 80)),
        ((100, 90), (257, 257), (129, 129)),
        ((257, 257), (257, 257), (257, 257)),  # the output is the frame
        ((36, 1280), (96, 96), (33, 31)),
    ]:
        _, transform = resize(np.zeros((fh, fw, 3), np.uint8), ih, iw, mode)
        small = rng.integers(0, 6, (oh, ow)).astype(np.uint8)
        small[: oh // 3] = 5  # a few large regions, as a real map has
        warped = _warp(small, _matrix(small.shape, transform, ih, iw), fw, fh)  # the whole map at once
        sampling = sampled_indices(small.shape, transform, ih, iw)
        result = segmentation(small, None, None, sampling)
        assert np.array_equal(result.frame_map(), warped), (fh, fw)
        counted = np.bincount(warped.ravel())
        assert np.array_equal(result.shares, (counted[result.class_ids] / warped.size).astype(np.float32))
        y0, y1, x0, x1 = fh // 5, fh - fh // 3, fw // 7, fw - fw // 4
        assert np.array_equal(result.frame_map(x0, y0, x1, y1), warped[y0:y1, x0:x1])
        narrow = x0 + max(fw // 4, 1)
        assert np.array_equal(result.frame_map(x0, y0, narrow, y1), warped[y0:y1, x0:narrow])
        wide = replace(result, class_map=small.astype(np.uint16) * 300)  # over 256 classes
        assert np.array_equal(wide.frame_map(), warped.astype(np.uint16) * 300)
        weighed = np.bincount(small.ravel(), weights=pixel_weights(small.shape, sampling).ravel())
        assert weighed.sum() == fh * fw
        histogram = np.bincount(warped.ravel(), minlength=len(weighed))
        assert np.array_equal(weighed.astype(int), histogram), (fh, fw)


def _person(width: float = 640, height: float = 480) -> tuple[np.ndarray, np.ndarray]:
    """A standing person's keypoints in a frame: hips at (320, 300), shoulders 100 px above."""
    points = np.tile([320.0, 250.0], (17, 1))
    points[[L_SHOULDER, R_SHOULDER]] = [[300, 200], [340, 200]]
    points[[L_HIP, R_HIP]] = [[305, 300], [335, 300]]
    return points, np.full(17, 0.9)


def test_the_crop_is_centred_on_the_hips_and_sized_from_torso_and_body():
    points, scores = _person()
    crop = next_crop(points, scores, 640, 480)
    half = 100 * TORSO_EXPANSION  # the shoulders are the torso's farthest point from the hips' centre
    assert (crop.x0, crop.y0, crop.side) == pytest.approx((320 - half, 300 - half, 2 * half))
    points[L_ANKLE] = [320, 470]  # a confident ankle 170 px below: the body's spread decides
    crop = next_crop(points, scores, 640, 480)
    assert crop.side == pytest.approx(2 * 170 * BODY_EXPANSION)
    scores[L_ANKLE] = 0.1  # the same ankle, not seen: ignored
    assert next_crop(points, scores, 640, 480).side == pytest.approx(2 * half)


def test_the_crop_falls_back_to_the_whole_frame_and_is_capped_at_it():
    points, scores = _person()
    for unseen in ([L_HIP, R_HIP], [L_SHOULDER, R_SHOULDER]):
        hidden = scores.copy()
        hidden[unseen] = 0.05
        assert next_crop(points, hidden, 640, 480) is None
    one_hip = scores.copy()
    one_hip[L_HIP] = 0.05  # one hip and one shoulder are enough
    assert next_crop(points, one_hip, 640, 480) is not None
    assert next_crop(points * 3, scores, 640, 480) is None  # a crop larger than the frame: whole frame
    near_edge = points - [250, 0]  # hips' centre at x = 70
    crop = next_crop(near_edge, scores, 640, 480)
    assert crop.side / 2 <= max(70, 640 - 70, 300, 480 - 300)


@pytest.mark.one_runtime  # the crop's tracking is numpy on the outputs (predict_and_run covers both)
def test_on_video_the_crop_follows_the_person_and_scores_rise(assets, pose_clip):
    capture = cv2.VideoCapture(str(pose_clip))
    frames = [capture.read()[1] for _ in range(POSE_CLIP_FRAMES)]
    capture.release()
    mean_score, cropped = {}, 0
    for follow in (True, False):
        with edge.load(assets / POSE, threads=2) as model:
            model.follow = follow
            scores = []
            for frame in frames:
                cropped += follow and model._crop is not None
                scores.append(model(frame).scores.max(initial=0.0))
        mean_score[follow] = float(np.mean(scores))
    assert cropped >= POSE_CLIP_FRAMES - 5, cropped  # after the first frame the crop is in use throughout
    assert mean_score[True] > mean_score[False], mean_score


@needs_tensorflow
def test_a_float_input_singlepose_gets_rgb_pixels_0_to_255(tmp_path):
    """Older MoveNet files take float32 pixels: edge reads the dtype from the model and feeds RGB
    0..255, stretched. A real converted model whose nose score is the mean red / 255 and whose
    points are planted shows both: a pure red frame scores 1.0, a pure blue one 0.0."""
    import keras
    import tensorflow as tf

    planted = np.tile([0.25, 0.75, 0.9], (17, 1)).astype(np.float32)  # (y, x, score)
    planted[0, 2] = 0.0
    weights = np.zeros((3, 51), np.float32)
    weights[0, 2] = 1 / 255  # the nose's score: the red channel's mean, from 0..255 to 0..1
    inputs = keras.Input((64, 64, 3), batch_size=1)
    dense = keras.layers.Dense(51)
    outputs = keras.layers.Reshape((1, 17, 3))(dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    model = keras.Model(inputs, outputs)
    dense.set_weights([weights, planted.ravel()])
    path = tmp_path / "singlepose_float.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with edge.load(path) as task:
        assert (task.spec.layout, task.spec.input.dtype, task.spec.input.resize) == (
            "movenet",
            "float32",
            "stretch",
        )
        red, blue = (np.zeros((480, 640, 3), np.uint8) for _ in range(2))
        red[..., 2], blue[..., 0] = 255, 255  # BGR frames
        seen_red, seen_blue = task(red), task(blue)
    assert seen_red.keypoint_scores[0, 0] == pytest.approx(1.0, abs=1e-3)
    assert seen_blue.keypoint_scores[0, 0] == pytest.approx(0.0, abs=1e-3)
    assert seen_red.keypoints[0, 5] == pytest.approx([0.75 * 640, 0.25 * 480], abs=0.5)


@needs_tensorflow
def test_multipose_points_come_back_through_the_letterbox(tmp_path):
    """A real converted model whose [1, 6, 56] output is planted: a 640x480 frame letterboxed into
    64x64 has 8 px of padding above and below, which the points must lose on their way back."""
    import keras
    import tensorflow as tf

    planted = np.zeros((6, 56), np.float32)
    people = planted[0, :51].reshape(17, 3)
    people[:] = [0.5, 0.5, 0.9]  # (y, x, score): the centre
    people[0] = [0.125, 0.25, 0.8]  # the nose at the top of the picture, just below the padding
    people[16] = [0.875, 0.75, 0.7]  # an ankle at its bottom
    planted[0, 51:56] = [0.125, 0.25, 0.875, 0.75, 0.85]
    planted[1, 55] = 0.1  # a second person below the threshold
    inputs = keras.Input((64, 64, 3), batch_size=1)
    dense = keras.layers.Dense(6 * 56)
    outputs = keras.layers.Reshape((6, 56))(dense(keras.layers.GlobalAveragePooling2D()(inputs)))
    model = keras.Model(inputs, outputs)
    dense.set_weights([np.zeros((3, 6 * 56), np.float32), planted.reshape(-1)])
    path = tmp_path / "multipose.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    with edge.load(path) as task:
        assert (task.spec.task, task.spec.layout, task.spec.input.resize) == (
            "pose",
            "movenet_multipose",
            "letterbox",
        )
        poses = task(np.zeros((480, 640, 3), np.uint8))
    assert len(poses) == 1 and poses.scores[0] == pytest.approx(0.85)
    # input (x, y) = (16, 8) -> frame (160, 0); (32, 32) -> (320, 240); (48, 56) -> (480, 480)
    assert poses.keypoints[0, 0] == pytest.approx([160, 0], abs=0.5)
    assert poses.keypoints[0, 5] == pytest.approx([320, 240], abs=0.5)
    assert poses.keypoints[0, 16] == pytest.approx([480, 480], abs=0.5)
    assert poses.xyxy[0] == pytest.approx([160, 0, 480, 480], abs=0.5)


def test_skeletons_are_drawn_where_keypoints_are_seen():
    points = np.tile([10.0, 10.0], (17, 1))
    points[[L_SHOULDER, R_SHOULDER, L_HIP]] = [[100, 100], [200, 100], [100, 180]]
    scores = np.zeros(17)
    scores[[L_SHOULDER, R_SHOULDER]] = [0.9, 0.3]
    poses = Poses([[90, 90, 210, 190]], [0.8], points[None], scores[None])
    image = edge.draw(np.zeros((240, 320, 3), np.uint8), poses)
    assert image[100, 100].any() and image[100, 200].any() and image[100, 150].any()  # two points, a limb
    assert not image[180, 100].any() and not image[140, 100].any()  # an unseen hip: no point, no limb
    assert image[100, 100, 1] > image[100, 200, 1]  # the surer keypoint is greener


def test_masks_tint_the_classes_and_leave_the_background():
    frame = np.full((120, 160, 3), 100, np.uint8)
    class_map = np.zeros((120, 160), np.uint8)
    class_map[:, 80:] = 15
    result = Segmentation(class_map, [0, 15], [0.5, 0.5], ["background", "person"])
    image = edge.draw(frame, result)
    assert np.array_equal(image[60:, :80], frame[60:, :80])  # background, below the legend: untouched
    assert (np.abs(image[60:, 80:].astype(int) - 100).sum(axis=2) > 30).all()  # the person: tinted
    assert not np.array_equal(image[:40, :80], frame[:40, :80])  # the legend
    assert result.to_dict() == {
        "task": "segment",
        "size": [160, 120],
        "classes": [
            {"id": 0, "label": "background", "share": 0.5},
            {"id": 15, "label": "person", "share": 0.5},
        ],
    }


def test_only_the_classes_are_tinted_inside_the_rectangle_that_holds_them():
    frame = np.full((120, 160, 3), 100, np.uint8)
    class_map = np.zeros((60, 80), np.uint8)  # half the frame's size: drawn at the frame's
    class_map[40:50, 10:20] = 15
    class_map[45:55, 60:70] = 12
    result = Segmentation(class_map, [0, 15, 12], [0.96, 0.02, 0.02], ["background", "person", "dog"])
    image = edge.draw(frame, result)
    tinted = np.abs(image.astype(int) - 100).sum(axis=2) > 30
    assert tinted[80:100, 20:40].all() and tinted[90:110, 120:140].all()
    assert not tinted[80:110, 42:118].any() and not tinted[112:, :].any()  # background between and below
    assert (image[85, 30] != image[100, 130]).any()  # a colour per class


def test_sparse_regions_are_tinted_box_by_box_as_the_whole_frame_would_be():
    """A few small regions far apart: each region's box is tinted on its own (boxes that overlap
    merged, so no pixel is blended twice), and the picture is the whole frame's blend, pixel for
    pixel, below the legend."""
    from edge.sinks.render import _class_lut, _disjoint, _tinted_rects

    class_map = np.zeros((60, 80), np.uint8)  # at the output's size, every 8 frame pixels one
    class_map[30:40, 5:8] = class_map[37:40, 5:20] = 15  # an L
    class_map[20:30, 30:32] = class_map[28:30, 30:45] = 12  # another, and inside its box ...
    class_map[22:25, 40:44] = 7  # ... two regions that do not touch it
    class_map[25, 34:38] = 3
    class_map[55, 70] = 15  # one pixel
    rows, columns = np.arange(480) // 8, np.arange(640) // 8
    counts = np.bincount(class_map[rows][:, columns].ravel())
    ids = np.flatnonzero(counts)
    result = Segmentation(
        class_map, ids, counts[ids] / counts.sum(), ("bg", "a", "b", "c", "d"), Sampling(rows, columns)
    )
    rects = _tinted_rects(result, 0)
    assert len(rects) == 3  # the L, the three in one box, the pixel
    assert sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in rects) < 0.1 * 640 * 480
    assert _tinted_rects(replace(result, class_map=np.zeros_like(class_map)), 0) == []  # nothing to tint
    frame = np.random.default_rng(8).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    drawn = edge.draw(frame, replace(result, labels=(None,) * len(ids)))
    full = result.frame_map()
    colored = cv2.applyColorMap(full, _class_lut())
    half = (frame >> 1) + (colored >> 1)  # half and half: each halved, then added
    expected = np.where((full != 0)[..., None], half, frame)
    assert np.array_equal(drawn[150:], expected[150:])
    assert _disjoint([(0, 0, 4, 4), (10, 0, 4, 4), (3, 3, 8, 2), (20, 20, 1, 1)]) == [
        (0, 0, 14, 5),
        (20, 20, 1, 1),
    ]


@pytest.mark.parametrize("labels", ["background", "none"])
def test_a_map_at_the_outputs_size_is_drawn_as_its_frame_map(assets, labels):
    """DeepLab's map stays at 257 x 257 with the transform back; drawn, only the tinted rectangles are
    made at the frame's size (bands of rows, each cut to the box round its tint). The picture is the
    one the whole frame map gives, pixel for pixel, with the background class untinted and, without
    labels, with class 0 as the background."""
    from edge.sinks.render import _class_lut

    frame = cv2.resize(read_image(IMAGES / "segmentation_input_rotation0.jpg"), (640, 480))[:, 40:600]
    with edge.load(assets / DEEPLAB, threads=1) as model:
        result = model(frame)
    if labels == "none":
        result = replace(result, labels=(None,) * len(result.labels))
    assert result.class_map.shape == (257, 257) and result.frame_size == (560, 480)
    whole = replace(result, class_map=result.frame_map(), sampling=None)
    drawn = edge.draw(frame, result)
    assert np.array_equal(drawn, edge.draw(frame, whole))
    half = (frame >> 1) + (cv2.applyColorMap(whole.class_map, _class_lut()) >> 1)
    expected = np.where((whole.class_map != 0)[..., None], half, frame)  # every pixel blended once
    assert np.array_equal(drawn[120:], expected[120:])  # below the legend
    tinted = np.abs(drawn.astype(int) - frame).sum(axis=2) > 0
    assert tinted[whole.class_map != 0].mean() > 0.95  # the classes, all but a few of the same colour
    assert not tinted[200:][whole.class_map[200:] == 0].any()  # below the legend, the background is not


def test_deeplab_reads_its_output_in_place_and_keeps_none_of_it(assets):
    """A segmenter decodes the interpreter's own output buffer (no copy a frame): the result
    is the one a copy gives and shares no memory with the buffer, which the interpreter needs free
    before it runs again (holding it is a clear error, not a crash)."""
    from edge.errors import EdgeError

    frame = cv2.resize(read_image(IMAGES / "segmentation_input_rotation0.jpg"), (640, 480))
    with edge.load(assets / DEEPLAB, threads=1) as model:
        assert model.reads_in_place
        tensor, transform = model.prepare(frame)
        expected = model.decode(model.runtime.invoke(tensor), transform)  # from copies
        views = model.invoke(tensor)
        assert views[0].base is not None  # the interpreter's buffer, not a copy
        result = model.decode(views, transform)
        assert np.array_equal(result.class_map, expected.class_map)
        assert np.array_equal(result.shares, expected.shares)
        assert not any(np.shares_memory(a, views[0]) for a in (result.class_map, result.shares))
        with pytest.raises(EdgeError, match="reference to internal data"):
            model.runtime.invoke(tensor)  # the buffer still held
        del views
        assert np.array_equal(model(frame).class_map, expected.class_map)  # let go: runs again
        assert np.array_equal(model(frame).class_map, expected.class_map)


def test_predict_and_run_through_the_cli(assets, pose_clip, tmp_path):
    done = run_cli("predict", assets / POSE, IMAGES / "squat.bmp", IMAGES / "yoga_pose.jpg", "--json")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["task"] == "pose" and len(first["poses"]) == 1 and second["image"].endswith("yoga_pose.jpg")
    assert [k["name"] for k in first["poses"][0]["keypoints"]] == list(KEYPOINTS)
    done = run_cli("predict", assets / DEEPLAB, IMAGES / "segmentation_input_rotation0.jpg")
    assert done.returncode == 0 and "person  (id 15)" in done.stdout and "horse  (id 13)" in done.stdout
    jsonl, video = tmp_path / "poses.jsonl", tmp_path / "poses.avi"
    done = run_cli("run", assets / POSE, "--source", pose_clip, "--jsonl", jsonl, "--save", video)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(lines) == POSE_CLIP_FRAMES and all(line["task"] == "pose" for line in lines)
    assert sum(len(line["poses"]) == 1 for line in lines) >= 0.9 * POSE_CLIP_FRAMES
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == POSE_CLIP_FRAMES
    capture.release()


def test_predict_saves_each_image_annotated_by_its_name(assets, tmp_path):
    """``predict --save DIR``: each image drawn as ``run`` draws a frame, under its own name (a
    second of the same name gets ``-2``), in its own format; never over an input; a folder it cannot
    make is a one-line error."""
    from edge.sinks.render import draw

    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(IMAGES / "squat.bmp", other / "squat.bmp")
    out = tmp_path / "out"
    done = run_cli("predict", assets / POSE, IMAGES / "squat.bmp", other, "--save", out, "--json")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert (first["saved"], second["saved"]) == (str(out / "squat.bmp"), str(out / "squat-2.bmp"))
    with edge.load(assets / POSE) as model:
        image = read_image(IMAGES / "squat.bmp")
        expected = draw(image, model(image))
    for name in ("squat.bmp", "squat-2.bmp"):  # a lossless format: the picture, pixel for pixel
        assert np.array_equal(read_image(out / name), expected), name
    assert not np.array_equal(expected, read_image(IMAGES / "squat.bmp"))  # the skeleton is on it

    done = run_cli("predict", assets / DEEPLAB, IMAGES / "segmentation_input_rotation0.jpg", "--save", out)
    assert done.returncode == 0 and f"saved: {out / 'segmentation_input_rotation0.jpg'}" in done.stdout
    saved, photo = (
        read_image(out / "segmentation_input_rotation0.jpg"),
        read_image(IMAGES / "segmentation_input_rotation0.jpg"),
    )
    with edge.load(assets / DEEPLAB) as model:
        drawn = draw(photo, model(photo)).astype(np.int16)
    assert (
        np.abs(saved - drawn).mean() < 3 < np.abs(saved - photo.astype(np.int16)).mean()
    )  # JPEG's loss only

    before = (other / "squat.bmp").read_bytes()
    done = run_cli("predict", assets / POSE, other / "squat.bmp", "--save", other)
    assert done.returncode == 2 and "would write over the input image" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and (other / "squat.bmp").read_bytes() == before
    (tmp_path / "file").write_text("")
    done = run_cli("predict", assets / POSE, IMAGES / "squat.bmp", "--save", tmp_path / "file" / "out")
    assert done.returncode == 2 and done.stderr.startswith("edgesight: error: cannot make")


def test_eval_scores_a_segmenter_by_mean_iou_on_voc_and_plain_folders(assets, tmp_path):
    from edge.evaluate.segment import voc_palette

    golden = cv2.imread(str(assets / GOLDEN), cv2.IMREAD_UNCHANGED) // 10
    image = IMAGES / "segmentation_input_rotation0.jpg"
    plain = tmp_path / "plain"
    (plain / "images").mkdir(parents=True)
    (plain / "masks").mkdir()
    shutil.copyfile(image, plain / "images/horse.jpg")
    cv2.imwrite(str(plain / "masks/horse.png"), golden)
    done = run_cli("eval", assets / DEEPLAB, plain, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["mean_iou"] == 1.0 and summary["pixel_accuracy"] == 1.0
    assert set(summary["iou"]) == {"background", "person", "horse"}
    # VOC: a palette mask (read by OpenCV as colours), a void border, and the horse relabelled a cow
    voc = tmp_path / "voc"
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / folder).mkdir(parents=True)
    shutil.copyfile(image, voc / "JPEGImages/2007_000001.jpg")
    truth = np.where(golden == 13, 10, golden).astype(np.uint8)
    truth[:, :5] = 255
    cv2.imwrite(str(voc / "SegmentationClass/2007_000001.png"), voc_palette()[truth][..., ::-1])
    (voc / "ImageSets/Segmentation/val.txt").write_text("2007_000001\n")
    done = run_cli("eval", assets / DEEPLAB, voc, "--json")
    assert done.returncode == 0, done.stderr
    iou = json.loads(done.stdout)["iou"]
    assert iou["person"] == pytest.approx(1.0) and iou["horse"] == 0.0 and iou["cow"] == 0.0
    assert json.loads(done.stdout)["mean_iou"] == pytest.approx((1 + 1 + 0 + 0) / 4, abs=0.01)
    done = run_cli("eval", assets / DEEPLAB, IMAGES)
    assert (
        done.returncode == 2
        and "is not a segmentation folder" in done.stderr
        and "Traceback" not in done.stderr
    )


def _keypoints_folder(root, people: dict) -> None:
    """A COCO keypoints folder: one image per entry, its person's keypoints (17, 3) as ground truth."""
    (root / "annotations").mkdir(parents=True)
    (root / "val").mkdir()
    images, annotations = [], []
    for i, (name, points) in enumerate(people.items(), start=1):
        shutil.copyfile(IMAGES / name, root / "val" / name)
        seen = points[points[:, 2] > 0]
        x0, y0 = (float(v) for v in seen[:, :2].min(axis=0))
        w, h = (float(v) for v in seen[:, :2].max(axis=0) - (x0, y0))
        images.append({"id": i, "file_name": name})
        annotations.append({
            "id": i, "image_id": i, "category_id": 1, "iscrowd": 0, "bbox": [x0, y0, w, h], "area": w * h,
            "num_keypoints": len(seen), "keypoints": points.ravel().tolist(),
        })  # fmt: skip
    category = {"id": 1, "name": "person", "keypoints": list(KEYPOINTS), "skeleton": []}
    gt = {"images": images, "annotations": annotations, "categories": [category]}
    (root / "annotations/person_keypoints_val.json").write_text(json.dumps(gt))


def test_eval_scores_a_pose_model_by_coco_keypoint_ap(assets, tmp_path):
    """Ground truth made from the model's own keypoints scores 1.0; the same people with their
    keypoints moved by a tenth of their size score far less."""
    people = {}
    with edge.load(assets / POSE) as model:
        for name in ("squat.bmp", "yoga_pose.jpg"):
            model.reset()
            poses = model(read_image(IMAGES / name))
            visible = np.where(poses.keypoint_scores[0] >= 0.2, 2.0, 0.0)
            people[name] = np.column_stack([poses.keypoints[0], visible])
    _keypoints_folder(tmp_path / "same", people)
    done = run_cli("eval", assets / POSE, tmp_path / "same", "--json")
    assert done.returncode == 0, done.stderr
    same = json.loads(done.stdout)
    assert same["keypoint_AP"] == pytest.approx(1.0) and (same["images"], same["people"]) == (2, 2)
    moved = {}
    for name, points in people.items():
        size = points[:, :2].max(axis=0) - points[:, :2].min(axis=0)
        moved[name] = points + np.array([*(size * 0.1), 0])
    _keypoints_folder(tmp_path / "moved", moved)
    done = run_cli("eval", assets / POSE, tmp_path / "moved", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["keypoint_AP"] < 0.5, done.stdout
    done = run_cli("eval", assets / POSE, tmp_path / "nowhere")
    assert done.returncode == 2 and "is not a COCO keypoints folder" in done.stderr


def test_malformed_keypoint_ground_truth_is_one_line(assets, tmp_path):
    """What COCO's evaluation would trip on (a person without a bbox, keypoints of the wrong length, a
    category of other keypoints) is one line naming the file and the person, before the model runs."""
    points = np.column_stack([np.linspace(10, 100, 17), np.linspace(20, 200, 17), np.full(17, 2.0)])
    _keypoints_folder(tmp_path / "gt", {"squat.bmp": points})
    path = tmp_path / "gt/annotations/person_keypoints_val.json"
    good = json.loads(path.read_text())
    changes = {
        "needs a bbox": lambda gt: gt["annotations"][0].pop("bbox"),
        "needs keypoints: 51 numbers": lambda gt: gt["annotations"][0].update(keypoints=[1, 2, 2]),
        "is not an object": lambda gt: gt["annotations"].append(5),
        "expected COCO's 17": lambda gt: gt["categories"][0].update(keypoints=["nose"]),
    }
    for message, change in changes.items():
        gt = json.loads(json.dumps(good))
        change(gt)
        path.write_text(json.dumps(gt))
        done = run_cli("eval", assets / POSE, tmp_path / "gt")
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and message in lines[0], done.stderr
    del good["annotations"][0]["iscrowd"], good["annotations"][0]["num_keypoints"]  # COCO's defaults
    path.write_text(json.dumps(good))
    done = run_cli("eval", assets / POSE, tmp_path / "gt", "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["people"] == 1, done.stderr


@pytest.mark.one_runtime  # decoding and timing around invoke: the same code on either interpreter
def test_the_overhead_script_times_decode_and_drawing_of_pose_and_segmentation(assets, tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    out = tmp_path / "overhead.json"
    script = ROOT / "tools/task_overhead.py"
    command = [sys.executable, script, assets / POSE, assets / DEEPLAB, "--runs", "3", "--json", out]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    pose, seg = json.loads(out.read_text())
    assert (pose["task"], seg["task"]) == ("pose", "segment") and pose["draw_ms"] > 0 and seg["draw_ms"] > 0
    assert seg["drawn_share"] == pytest.approx((seg["decode_ms"] + seg["draw_ms"]) / seg["bare_ms"])
    assert "(dec+draw)/inv" in proc.stdout
    assert (pose["graph"], pose["file_ms"]) == ("", 0.0) and "RESIZE_BILINEAR" in seg["graph"]
    assert seg["graph_ms"] > 0 and seg["file_ms"] > 0 and "the file as it is" in proc.stdout
    from tools.task_overhead import busy_rows  # with no model given: DeepLab on a busier frame too

    (busy,) = busy_rows(runs=3, threads=2)
    assert (busy.model, busy.frame, busy.task) == (
        "deeplabv3.tflite",
        "segmentation_input_rotation0.jpg",
        "segment",
    )
    assert busy.draw_ms > 0 and busy.decode_ms > 0


def test_bench_times_the_pipeline_of_a_pose_and_a_segmentation_model(assets, tmp_path):
    out = tmp_path / "bench.json"
    clip = assets / "video/traffic_frames.mp4"
    done = run_cli(
        "bench", assets / POSE, assets / DEEPLAB, "--source", clip, "--draw", "--runs", "5", "--json", out
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())["results"]
    assert len(results) == 2
    for result in results:
        pipe = result["pipeline"]
        assert pipe["frames"] == 20 and pipe["drawn"] and all(v > 0 for v in pipe["stage_p50_ms"].values())
    pose, seg = (result["pipeline"]["graph"] for result in results)
    assert pose is None and "RESIZE_BILINEAR (33x33 -> 257x257)" in seg  # what the pipeline ran
    assert "deeplabv3.tflite in the pipeline: run without its final RESIZE_BILINEAR" in done.stdout


def test_info_shows_deeplabs_own_output_and_how_edge_runs_it(assets):
    done = run_cli("info", assets / DEEPLAB, "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["outputs"][0]["shape"] == [1, 257, 257, 21] and info["task"] == "segment"
    assert info["graph"].startswith("run without its final RESIZE_BILINEAR (33x33 -> 257x257)")
    assert info["graph"] in run_cli("info", assets / DEEPLAB).stdout
    assert json.loads(run_cli("info", assets / POSE, "--json").stdout)["graph"] is None


def test_a_mask_cut_short_is_one_error_of_ours(tmp_path, capfd):
    """A mask PNG cut short is refused by edge's image reader before libpng prints a line of its own."""
    from edge.errors import EdgeError
    from edge.evaluate.segment import read_mask

    png = cv2.imencode(".png", np.random.default_rng(1).integers(0, 21, (480, 640), np.uint8))[1].tobytes()
    (tmp_path / "whole.png").write_bytes(png)
    (tmp_path / "cut.png").write_bytes(png[: len(png) // 2])
    assert read_mask(tmp_path / "whole.png").shape == (480, 640)
    with pytest.raises(EdgeError, match="cannot read mask"):
        read_mask(tmp_path / "cut.png")
    assert capfd.readouterr().err == ""
