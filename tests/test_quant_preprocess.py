"""Quantization by (scale, zero point) and frame preprocessing."""

import cv2
import numpy as np
import pytest

from edge.errors import EdgeError
from edge.tasks.preprocess import InputConverter, as_bgr8, resize
from edge.tasks.quant import dequantize, quantize


def test_quantize_rounds_and_clips_to_the_dtype():
    q = quantize(np.array([-2.0, -1.2, 0.0, 0.5, 1.0, 3.0]), 1 / 127.5, 128, np.uint8)
    assert q.dtype == np.uint8
    assert q.tolist() == [0, 0, 128, 192, 255, 255]
    assert quantize(np.array([-1.0, 1.0]), 1 / 128, 0, np.int8).tolist() == [-128, 127]


def test_dequantize_inverts_quantize_within_half_a_step():
    x = np.linspace(-1, 1, 101).astype(np.float32)
    for dtype, zp in ((np.uint8, 128), (np.int8, 0)):
        back = dequantize(quantize(x, 2 / 255, zp, dtype), 2 / 255, zp)
        assert np.max(np.abs(back - x)) <= 1 / 255 + 1e-6


def test_float_tensors_pass_through_dequantize():
    x = np.array([0.25, 0.5], np.float32)
    assert dequantize(x, 0.0, 0) is not None and dequantize(x, 0.0, 0).tolist() == [0.25, 0.5]


@pytest.mark.parametrize(
    ("mean", "std", "dtype", "scale", "zp"),
    [
        ((127.5,), (127.5,), np.float32, 0.0, 0),
        ((0.0,), (255.0,), np.float32, 0.0, 0),
        ((127.5,), (127.5,), np.uint8, 1 / 128, 128),
        ((127.5,), (127.5,), np.int8, 2 / 255, 0),
        ((123.7, 116.3, 103.5), (58.4, 57.1, 57.4), np.float32, 0.0, 0),
    ],
)
def test_input_converter_matches_normalise_then_quantize(mean, std, dtype, scale, zp):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    expected = quantize(
        (image.astype(np.float32) - np.array(mean, np.float32)) / np.array(std, np.float32), scale, zp, dtype
    )
    got = InputConverter(mean, std, 3, dtype, scale, zp)(image)
    assert got.shape == (1, 7, 5, 3) and got.dtype == np.dtype(dtype)
    np.testing.assert_allclose(got[0].astype(np.float64), expected.astype(np.float64), atol=1e-5)


@pytest.mark.parametrize(
    ("mean", "std", "channels", "dtype", "scale", "zp"),
    [
        ((127.5,), (127.5,), 3, np.float32, 0.0, 0),
        ((127.5,), (127.5,), 3, np.int8, 2 / 255, 0),
        ((0.0,), (1.0,), 3, np.uint8, 0.0, 0),  # raw pixels: copied in
        ((128.0,), (128.0,), 3, np.int8, 1 / 128, 0),  # raw pixels less 128
        ((127.5,), (127.5,), 1, np.float32, 0.0, 0),  # one channel
    ],
)
def test_a_converter_writes_into_a_given_buffer_what_it_returns_otherwise(
    mean, std, channels, dtype, scale, zp
):
    """``load_input`` fills the interpreter's own input this way: the same values, in place."""
    rng = np.random.default_rng(1)
    shape = (9, 6, 3) if channels == 3 else (9, 6)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    convert = InputConverter(mean, std, channels, dtype, scale, zp)
    buffer = np.full((1, 9, 6, channels), 77, dtype=dtype)
    assert convert(image, out=buffer) is buffer
    np.testing.assert_array_equal(buffer, convert(image))


def test_letterbox_is_the_frame_pasted_on_a_grey_canvas():
    """One pass of ``copyMakeBorder`` (no resize at the same size), equal to filling a canvas with
    114 and pasting the resized frame at the offsets the transform gives."""
    rng = np.random.default_rng(2)
    for fh, fw, h, w in [(480, 640, 640, 640), (100, 200, 64, 64), (37, 23, 50, 71), (64, 64, 64, 64)]:
        for frame in (rng.integers(0, 256, (fh, fw, 3), np.uint8), rng.integers(0, 256, (fh, fw), np.uint8)):
            image, tr = resize(frame, h, w, "letterbox")
            nw, nh = round(fw * tr.scale_x), round(fh * tr.scale_y)
            canvas = np.full((h, w, *frame.shape[2:]), 114, np.uint8)
            x, y = int(tr.pad_x), int(tr.pad_y)
            canvas[y : y + nh, x : x + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
            np.testing.assert_array_equal(image, canvas)


@pytest.mark.parametrize(
    "model",
    [
        "models/segmentation/deeplabv3.tflite",  # float input
        "models/classification/mobilenet_v2_1.0_224_quant.tflite",  # uint8, raw pixels
        "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite",  # float, from metadata
        "models/pose/movenet_single_pose_lightning_ptq.tflite",  # uint8, following a crop
    ],
)
def test_load_input_fills_the_interpreter_as_prepare_and_set_tensor_do(assets, model):
    """On a real interpreter: what ``load_input`` writes in place is ``prepare``'s tensor, and a
    task's call (which goes through it) gives what prepare, invoke and decode give."""
    from edge.tasks.loader import load

    frames = [cv2.imread(str(assets / "images" / name)) for name in ("squat.bmp", "dog.jpg", "squat.bmp")]
    with load(assets / model, threads=1) as task, load(assets / model, threads=1) as twin:
        index = task.runtime.inputs[0].index
        for frame in frames:  # MoveNet: the second and third follow the crop the first left
            tensor, _ = task.prepare(frame)
            task.reset()
            task.load_input(frame)
            np.testing.assert_array_equal(task.runtime.interpreter.get_tensor(index), tensor)
        task.reset()
        for frame in frames:
            tensor, transform = twin.prepare(frame)
            expected = twin.decode(twin.invoke(tensor), transform).to_dict()
            assert task(frame).to_dict() == expected


def test_raw_pixel_models_get_the_pixels_without_a_copy():
    image = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    uint8 = InputConverter((128.0,), (128.0,), 3, np.uint8, 1 / 128, 128)
    assert uint8.passthrough and np.shares_memory(uint8(image), image)
    int8 = InputConverter((128.0,), (128.0,), 3, np.int8, 1 / 128, 0)
    assert int8.passthrough
    assert int8(image)[0, 0, 0].tolist() == [-128] * 3 and int8(image)[0, -1, -1].tolist() == [127] * 3


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((10, 12), np.uint8),
        np.zeros((10, 12, 1), np.uint8),
        np.zeros((10, 12, 4), np.uint8),
        np.full((10, 12, 3), 65535, np.uint16),
        np.ones((10, 12, 3), np.float32),
        np.ones((10, 12), bool),
        np.zeros((1, 1, 3), np.uint8),
        np.zeros((20, 24, 3), np.uint8)[::2, ::2],
    ],
)
def test_frames_of_any_common_layout_become_bgr8(frame):
    out = as_bgr8(frame)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3 and out.flags.c_contiguous


@pytest.mark.parametrize(
    "frame", [np.zeros((4, 4, 2), np.uint8), np.zeros((0, 4, 3), np.uint8), np.zeros(5), "x"]
)
def test_unusable_frames_are_rejected_with_the_expected_layout(frame):
    with pytest.raises(EdgeError, match="expected"):
        as_bgr8(frame)


@pytest.mark.parametrize("mode", ["stretch", "letterbox", "crop"])
def test_resize_transform_maps_model_pixels_back_to_the_frame(mode):
    frame = np.zeros((480, 640, 3), np.uint8)
    image, tr = resize(frame, 96, 96, mode)
    assert image.shape == (96, 96, 3)
    # the frame's centre lands on the model input's centre, and back
    centre = np.array([[320.0, 240.0, 320.0, 240.0]])
    model_xy = centre * [tr.scale_x, tr.scale_y, tr.scale_x, tr.scale_y] + [
        tr.pad_x,
        tr.pad_y,
        tr.pad_x,
        tr.pad_y,
    ]
    np.testing.assert_allclose(model_xy[0, :2], [48, 48], atol=0.6)
    np.testing.assert_allclose(tr.to_frame(model_xy), centre, atol=1e-3)


def test_letterbox_pads_with_114_and_keeps_the_aspect_ratio():
    frame = np.full((100, 200, 3), 7, np.uint8)
    image, tr = resize(frame, 64, 64, "letterbox")
    assert image[0, 0].tolist() == [114, 114, 114] and image[32, 32].tolist() == [7, 7, 7]
    assert tr.scale_x == tr.scale_y == pytest.approx(0.32) and tr.pad_y == 16
