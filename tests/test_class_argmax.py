"""The class map through a model's final bilinear upsample: read from the graph, and always
numpy's argmax, on DeepLab's real outputs, on real converted resize heads (float32 and int8, both
runtimes) and on planted near-ties. The interpreter runs such a model without that upsample, and the
map found from the coarse scores is the argmax of the file's output but at near-ties."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import edge
from edge.model.graph import Resize, grid_strides, read_ops, resize_producing, without_final_resize
from edge.model.runtime import Runtime
from edge.tasks.class_argmax import (
    INTEGER_TOLERANCE,
    _keys,
    _planes,
    argmax_of_upsample,
    argmax_upsampled,
    cell_weights,
    weighted_counts,
)
from edge.tasks.sampling import sampled_indices
from edge.tasks.segment import pixel_weights
from tests.conftest import ROOT, needs_tensorflow
from tests.test_pose_segment import DEEPLAB, IMAGES

# a 33 x 33 input to 9 x 9 class scores (pooled, then a 1 x 1 convolution), then resized
HEADS = {  # mode -> (output size, the strides edge must read, or None: no shortcut)
    "align": (33, (4, 4)),  # align_corners: (33 - 1) / (9 - 1)
    "plain": (36, (4, 4)),  # 36 / 9, the last 4 rows and columns past the last source point
    "half": (36, None),  # half-pixel centres: no source point on an output pixel
}
KINDS = ("float32", "int8", "int8-floatio")


def test_grid_strides_from_the_resize_flags_and_sizes():
    assert grid_strides(Resize((33, 33), (257, 257), True, False)) == (8, 8)
    assert grid_strides(Resize((9, 5), (33, 36), True, False)) is None  # 35 / 4 does not divide
    assert grid_strides(Resize((9, 5), (33, 17), True, False)) == (4, 4)
    assert grid_strides(Resize((9, 9), (36, 18), False, False)) == (4, 2)
    assert grid_strides(Resize((9, 9), (35, 36), False, False)) is None
    assert grid_strides(Resize((9, 9), (36, 36), False, True)) is None
    assert grid_strides(Resize((9, 9), (9, 9), False, False)) is None  # a step of 1 saves nothing
    assert grid_strides(None) is None


def test_deeplab_is_decoded_through_its_upsample_exactly(assets):
    """The file's own 257 x 257 output, read through its upsample: numpy's argmax of it."""
    content = (assets / DEEPLAB).read_bytes()
    with Runtime(content, threads=1) as full, edge.load(assets / DEEPLAB, threads=1) as model:
        out = full.outputs[0]
        assert resize_producing(content, out.index) == Resize((33, 33), (257, 257), True, False)
        for path in sorted(IMAGES.glob("*")):
            frame = cv2.resize(cv2.imread(str(path)), (640, 480))
            tensor, transform = model.prepare(frame)
            scores = full.invoke(tensor)[0][0]
            found = argmax_upsampled(scores, (8, 8), np.uint8)
            assert found is not None and found.settled.mean() > 0.7, path.name  # most cells settled
            assert np.array_equal(found.classes, np.argmax(scores, axis=-1)), path.name
            weights = pixel_weights((257, 257), sampled_indices((257, 257), transform, 257, 257))
            counts = weighted_counts(found, cell_weights(weights, (8, 8)), 21)
            assert np.array_equal(counts, np.bincount(found.classes.ravel(), weights.ravel(), minlength=21))


def test_deeplab_runs_without_its_upsample_and_gives_the_files_map(assets):
    """edge runs DeepLab without its last op, a 33 x 33 to 257 x 257 resize, and finds the map from
    the coarse scores: on every asset photo, the argmax of the whole file's output and its shares."""
    content = (assets / DEEPLAB).read_bytes()
    trimmed = without_final_resize(content)
    assert trimmed is not None and trimmed.resize == Resize((33, 33), (257, 257), True, False)
    assert len(read_ops(trimmed.content)) == len(read_ops(content)) - 1
    with edge.load(assets / DEEPLAB, threads=2) as model, Runtime(content, threads=2) as full:
        assert model.trimmed is not None and "33x33 -> 257x257" in model.graph_note
        assert model.runtime.outputs[0].shape == (1, 33, 33, 21)
        for path in sorted(IMAGES.glob("*")):
            frame = cv2.resize(cv2.imread(str(path)), (640, 480))
            tensor, transform = model.prepare(frame)
            found = model.decode(model.invoke(tensor), transform)
            expected = np.argmax(full.invoke(tensor)[0][0], axis=-1)
            assert np.array_equal(found.class_map, expected), path.name
            weights = pixel_weights((257, 257), found.sampling)
            counts = np.bincount(expected.ravel(), weights.ravel(), minlength=21)
            assert found.class_ids.tolist() == [i for i in np.argsort(-counts, kind="stable") if counts[i]]
            assert np.allclose(found.shares, counts[found.class_ids] / (640 * 480)), path.name


def _upsample(coarse: np.ndarray, steps: tuple[int, int], rounding: bool) -> np.ndarray:
    """Bilinear with source points every ``steps`` (rows, columns) output pixels (align_corners),
    in float64; then each score rounded on its own (as an integer kernel does) or cast to float32."""
    out = _blend64(coarse, steps)
    return np.round(out).astype(np.int8) if rounding else out.astype(np.float32)


def _blend64(coarse: np.ndarray, steps: tuple[int, int]) -> np.ndarray:
    """``_upsample`` in float64, neither rounded nor cast."""
    out = coarse.astype(np.float64)
    for axis, step in enumerate(steps):
        n = out.shape[axis]
        pos = np.arange((n - 1) * step + 1) / step
        i0 = np.minimum(pos.astype(int), n - 2)
        f = (pos - i0).reshape((-1, 1, 1) if axis == 0 else (1, -1, 1))
        out = np.take(out, i0, axis) * (1 - f) + np.take(out, i0 + 1, axis) * f
    return out


def _blocky(rng: np.random.Generator, rows: int, cols: int, classes: int, block: int) -> np.ndarray:
    """Coarse scores where blocks of ``block`` x ``block`` points share a leading class (by 10)."""
    coarse = rng.normal(0, 1, (rows, cols, classes))
    regions = (np.arange(rows)[:, None] // block + np.arange(cols)[None] // block) % classes
    np.put_along_axis(coarse, regions[..., None], 10, axis=-1)
    return coarse


def test_integer_near_ties_are_read_in_full():
    """Class 1 leads class 0 by 20 steps, but by one in a patch of source points. Blended and
    rounded each on its own (half to even, as numpy does), the two tie at some pixels of the patch,
    where numpy's argmax says 0. Cells filled from corners that lead by one would say 1."""
    rng = np.random.default_rng(3)
    coarse = rng.integers(-100, -50, (9, 9, 4)).astype(np.float64)
    coarse[..., 0] = rng.integers(0, 50, (9, 9))
    coarse[..., 1] = coarse[..., 0] + 20
    coarse[2:6, 2:6, 1] = coarse[2:6, 2:6, 0] + 1
    scores = _upsample(coarse, (4, 4), rounding=True)
    assert (scores[..., 0] == scores[..., 1]).any()  # the trap is there
    keys = _keys(*_planes(scores[::4, ::4]))  # per source point: its sure class, else negative
    assert (keys[2:6, 2:6] < 0).all() and (keys[:2] == 1).all()  # a one-step lead is not sure
    found = argmax_upsampled(scores, (4, 4), np.uint8)
    assert found is not None and found.settled.mean() > 0.5
    assert np.array_equal(found.classes, np.argmax(scores, axis=-1))
    assert INTEGER_TOLERANCE >= 1  # a lead of one step is within it


def test_a_class_second_at_every_corner_wins_inside_the_cell():
    """Corners that alternate between classes 0 and 1 (10 against 0) blend to 5 and 5 mid-cell,
    where class 2, second everywhere at 6, wins: a cell's candidates are the classes whose best
    corner reaches the others' worst, not only the corners' winners."""
    coarse = np.zeros((9, 9, 3))
    coarse[..., 0], coarse[..., 2] = 10, 6
    checks = (np.add.outer(np.arange(3), np.arange(3)) % 2).astype(bool)
    coarse[3:6, 3:6, 0] = np.where(checks, 0, 10)
    coarse[3:6, 3:6, 1] = np.where(checks, 10, 0)
    for rounding in (False, True):
        scores = _upsample(coarse, (4, 4), rounding)
        found = argmax_upsampled(scores, (4, 4), np.uint8)
        assert found is not None and np.array_equal(found.classes, np.argmax(scores, axis=-1))
        assert (found.classes == 2).any() and (found.classes == 1).any()


def test_float_ties_and_noise():
    rng = np.random.default_rng(4)
    coarse = _blocky(rng, 17, 17, 5, 6)
    coarse = np.concatenate([coarse, rng.normal(0, 1, (17, 17, 1))], axis=-1)
    coarse[2::6, 2::6, 5] = 10  # exact ties at some points: class 5 against the block's own
    scores = _upsample(coarse, (8, 8), rounding=False)
    found = argmax_upsampled(scores, (8, 8), np.uint16)
    assert found is not None and np.array_equal(found.classes, np.argmax(scores, axis=-1))
    assert found.classes.dtype == np.uint16 and not found.settled.all()
    noise = rng.normal(0, 1, scores.shape).astype(np.float32)  # not an upsample: no cell settles
    assert argmax_upsampled(noise, (8, 8), np.uint8) is None


@pytest.mark.parametrize("strides, past", [((4, 4), (0, 0)), ((4, 3), (3, 2)), ((2, 5), (1, 4))])
def test_counts_by_cell_are_the_pixels_counts(strides, past):
    """Weighted class counts from settled cells at once equal numpy's per pixel, rows and columns
    past the last source point (``past``: as a plain resize repeats them) included."""
    rng = np.random.default_rng(5)
    coarse = _blocky(rng, 13, 12, 4, 5)
    scores = np.pad(_upsample(coarse, strides, rounding=False), [(0, past[0]), (0, past[1]), (0, 0)], "edge")
    found = argmax_upsampled(scores, strides, np.uint8)
    assert found is not None and found.settled.any() and not found.settled.all()
    assert np.array_equal(found.classes, np.argmax(scores, axis=-1))
    weights = rng.integers(0, 4, scores.shape[:2]).astype(np.float64)
    counts = weighted_counts(found, cell_weights(weights, strides), 4)
    assert np.array_equal(counts, np.bincount(found.classes.ravel(), weights.ravel(), minlength=4))


@pytest.mark.parametrize("dtype", [np.float32, np.int8])
@pytest.mark.parametrize("strides, past", [((8, 8), (0, 0)), ((4, 3), (3, 2)), ((2, 5), (1, 4))])
def test_the_map_from_coarse_scores_is_the_argmax_of_their_upsample(strides, past, dtype):
    """Without the upsample, the map is the argmax of the exact bilinear blend (float64 here), rows
    and columns past the last source point (a plain resize's: ``past``) included, at every pixel
    where no two classes come within rounding. The planted traps are there: a one-step lead at some
    source points, a class second at every corner that wins mid-cell, exact ties."""
    rng = np.random.default_rng(8)
    coarse = _blocky(rng, 13, 12, 4, 5)
    coarse[2:5, 2:5, 1] = coarse[2:5, 2:5, 0] + 0.1  # close at the corners
    checks = (np.add.outer(np.arange(3), np.arange(3)) % 2).astype(bool)  # class 3 wins only mid-cell
    coarse[6:9, 6:9, :3] = np.where(checks[..., None], [0, 10, 0], [10, 0, 0])
    coarse[6:9, 6:9, 3] = 6
    coarse[10, 10, 2] = coarse[10, 10].max()  # an exact tie at a point
    if dtype == np.int8:
        coarse = np.clip(np.round(coarse * 10), -128, 127)
    exact = np.pad(_blend64(coarse, strides), [(0, past[0]), (0, past[1]), (0, 0)], "edge")
    found = argmax_of_upsample(coarse.astype(dtype), exact.shape[:2], strides, np.uint8)
    top = np.sort(exact, axis=-1)
    sure = top[..., -1] - top[..., -2] > 1e-4 * np.abs(exact).max()
    assert sure.mean() > 0.98 and not found.settled.all() and found.settled.mean() > 0.3
    assert np.array_equal(found.classes[sure], np.argmax(exact, axis=-1)[sure])
    assert (found.classes == 3).any()  # the mid-cell winner found
    weights = rng.integers(0, 4, exact.shape[:2]).astype(np.float64)
    counts = weighted_counts(found, cell_weights(weights, strides), 4)
    assert np.array_equal(counts, np.bincount(found.classes.ravel(), weights.ravel(), minlength=4))


def test_coarse_scores_that_do_not_fit_the_size_are_refused():
    with pytest.raises(ValueError, match="do not fit"):
        argmax_of_upsample(np.zeros((9, 9, 3), np.float32), (257, 257), (8, 8), np.uint8)


@pytest.fixture(scope="module")
def resize_heads(tmp_path_factory) -> dict:
    """Real converted models ending in RESIZE_BILINEAR: {(mode, "float32" or "int8"): path}."""
    import keras
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("resize-heads")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(6)
    calibration = [_smooth(rng)[None].astype(np.float32) / 255 for _ in range(16)]  # input in 0..1
    heads = {}
    for mode, (size, _) in HEADS.items():
        inp = keras.Input((33, 33, 3), batch_size=1)
        pooled = keras.layers.AveragePooling2D(4, padding="same")(inp)  # 9 x 9
        coarse = keras.layers.Conv2D(3, 1, kernel_initializer="he_normal")(pooled)
        if mode == "half":
            resize = lambda t, s=size: tf.image.resize(t, (s, s), method="bilinear")  # noqa: E731
        else:
            resize = lambda t, s=size, a=mode == "align": tf.compat.v1.image.resize_bilinear(  # noqa: E731
                t, (s, s), align_corners=a
            )
        model = keras.Model(inp, keras.layers.Lambda(resize)(coarse))
        for kind in KINDS:
            converter = tf.lite.TFLiteConverter.from_keras_model(model)
            if kind != "float32":  # int8 throughout; int8-floatio ends in a DEQUANTIZE of the resize
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: ([c] for c in calibration)
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            if kind == "int8":
                converter.inference_input_type = converter.inference_output_type = tf.int8
            path = folder / f"{mode}-{kind}.tflite"
            path.write_bytes(converter.convert())
            heads[mode, kind] = path
    return heads


def _smooth(rng: np.random.Generator) -> np.ndarray:
    """A 33 x 33 picture of a few soft blobs: class regions with boundaries, as a photo gives."""
    return cv2.resize(rng.uniform(0, 255, (3, 3, 3)), (33, 33), interpolation=cv2.INTER_LINEAR)


CHECK = """
import json, sys
import cv2, numpy as np
import edge
from edge.model.runtime import Runtime
from edge.model.spec import Overrides
from edge.model.graph import read_ops, resize_producing
from edge.tasks.class_argmax import INTEGER_TOLERANCE, argmax_upsampled
rng = np.random.default_rng(7)
path, runtime = sys.argv[1], sys.argv[2]
content = open(path, "rb").read()
settled = []
with (
    edge.load(path, runtime=runtime, overrides=Overrides(task="segment")) as model,
    Runtime(content, runtime=runtime) as full,
):
    strides = model._strides
    direct = resize_producing(content, full.outputs[0].index) is not None  # not through a DEQUANTIZE
    coarse = model.runtime.outputs[0]
    for _ in range(24):
        frame = cv2.resize(rng.uniform(0, 255, (3, 3, 3)), (33, 33), interpolation=cv2.INTER_LINEAR)
        tensor, transform = model.prepare(frame.astype(np.uint8))
        scores = full.invoke(tensor)[0][0]  # the file's own output
        expected = np.argmax(scores, axis=-1)
        found = model.decode(model.invoke(tensor), transform).class_map
        top = np.sort(scores.astype(np.float64), axis=-1)
        if scores.dtype.kind in "iu":
            tolerance = INTEGER_TOLERANCE
        elif coarse.dtype.kind in "iu":  # the file dequantizes an integer resize: its steps
            tolerance = INTEGER_TOLERANCE * coarse.scale
        else:
            tolerance = 1e-4 * np.abs(top).max()
        near = top[..., -1] - top[..., -2] <= tolerance
        assert np.array_equal(found[~near], expected[~near])  # near-ties: the file's rounding
        upsampled = argmax_upsampled(scores, strides, np.uint8) if strides and direct else None
        if upsampled is not None:  # through the file's output: exact (None: too few cells settle)
            assert np.array_equal(upsampled.classes, expected)
            settled.append(float(upsampled.settled.mean()))
    signature = model.runtime.interpreter.get_signature_runner()
    named = signature(**{signature.get_input_details().popitem()[0]: tensor})
print(json.dumps({
    "strides": strides, "frames": len(settled), "trimmed": model.trimmed is not None,
    "dropped": len(read_ops(content)) - len(read_ops(model.trimmed.content)) if model.trimmed else 0,
    "note": model.graph_note,
    "output": list(model.runtime.outputs[0].shape), "signature": [list(v.shape) for v in named.values()],
}))
"""


@needs_tensorflow
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", list(HEADS))
def test_real_resize_heads_read_and_decoded_exactly(resize_heads, tflrt_python, mode, kind):
    """On litert and on tflite-runtime 2.14: a head whose resize has source points on output
    pixels runs without it (its signature's output too), and its map is numpy's argmax of the file's
    output but where two classes tie within the kernel's rounding; through the file's output the
    map is exact. Quantized scores tie within the tolerance more often: there, some frames settle
    too few cells and are read in full. An int8 head with float output drops the DEQUANTIZE after
    its resize too. A half-pixel head runs as it is."""
    expected = HEADS[mode][1]
    for python, runtime in ((sys.executable, "litert"), (tflrt_python, "tflite-runtime")):
        proc = subprocess.run(
            [python, "-c", CHECK, resize_heads[mode, kind], runtime],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        found = json.loads(proc.stdout)
        if expected is None:
            assert found["strides"] is None and found["frames"] == 0 and not found["trimmed"], runtime
            assert found["output"] == found["signature"][0] == [1, 36, 36, 3], runtime
            continue
        assert found["trimmed"] and found["output"] == found["signature"][0] == [1, 9, 9, 3], runtime
        assert tuple(found["strides"]) == expected, runtime
        if kind == "int8-floatio":  # the resize and the DEQUANTIZE after it dropped
            assert found["dropped"] == 2 and found["frames"] == 0, (runtime, found)
            assert found["note"].startswith("run without its final RESIZE_BILINEAR (9x9 -> ")
            assert "and the DEQUANTIZE after it" in found["note"]
        else:  # through the file's output: the shortcut on a third of the frames or more, exact on each
            assert found["dropped"] == 1 and found["frames"] >= 8, (runtime, found)
