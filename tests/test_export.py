"""Export: every mode of the table, self-describing models, the accuracy gate and its refusals,
bring-your-own .keras and SavedModel inputs, and bad input."""

import json

import cv2
import numpy as np
import pytest

from edge.errors import EdgeError
from edge.model.graph import read_ops
from edge.model.metadata import read_model_file
from edge.model.runtime import Runtime
from edge.model.spec import read_spec
from tests.conftest import TRAINED_SIZE, run_cli
from tests.test_cli import assert_one_line_error
from train.export.convert import unsupported_ops
from train.export.job import export
from train.export.modes import QUANT_MODES, parse_modes
from train.export.source import open_export_source

IO_DTYPES = {"float32": np.float32, "uint8": np.uint8, "int8": np.int8}


def test_every_mode_is_batch_one_static_builtin_and_describes_itself(trained):
    info = trained["info"]
    assert set(trained["models"]) == {m.name for m in QUANT_MODES}
    for mode in QUANT_MODES:
        path = trained["models"][mode.name]
        assert path.name.startswith(f"model_{mode.name}.tflite"), path
        model = read_model_file(path)
        assert all(op.builtin for op in read_ops(model.content)), mode.name
        with Runtime(model.content) as rt:
            inp, out = rt.inputs[0], rt.outputs[0]
            batch_one = [1, TRAINED_SIZE, TRAINED_SIZE, 3]
            assert list(inp.shape) == batch_one and list(inp.shape_signature) == batch_one
            assert inp.dtype == IO_DTYPES[mode.io] and out.dtype == IO_DTYPES[mode.io], mode.name
            spec = read_spec(model, rt)
        assert spec.labels == info.class_names and spec.labels_from == "metadata"
        assert spec.input.mean == (127.5,) and spec.input.std == (127.5,)
        assert spec.input.normalization_from == "metadata" and spec.input.color == "RGB"
        custom = model.metadata.custom
        assert custom["task"] == "classify" and custom["layout"] == "class_scores"
        assert custom["quantization"] == mode.name and custom["resize"] == "stretch"
    sizes = {m: p.stat().st_size for m, p in trained["models"].items()}
    assert sizes["float16"] < 0.6 * sizes["float32"] and sizes["int8"] < 0.35 * sizes["float32"]


def test_all_means_every_row_of_the_table_in_order():
    assert [m.name for m in parse_modes("all")] == [m.name for m in QUANT_MODES]
    assert [m.name for m in parse_modes("int8, float16")] == ["int8", "float16"]


def test_report_beside_the_models_covers_every_variant(trained):
    out = trained["out"]
    summary = json.loads((out / "export.json").read_text())
    assert set(summary["variants"]) == {m.name for m in QUANT_MODES}
    classes = set(trained["info"].class_names)
    for name, row in summary["variants"].items():
        assert 0.0 <= row["accuracy"] <= 1.0 and row["images"] == 150
        assert row["runtime"].startswith(("litert", "tflite-runtime", "tf")) and row["threads"] == 2
        assert row["latency_p50_ms"] > 0 and row["size_bytes"] == (out / row["file"]).stat().st_size
        assert set(row["per_class_change_points"]) == classes
        assert row["accepted"] == (name not in summary["refused"])
    assert summary["keras"]["accuracy"] > 0.5 and summary["calibration"]["images"] == 64
    md = (out / "report.md").read_text()
    assert all(m.name in md for m in QUANT_MODES) and "Per-class" in md
    assert "data:image/png;base64," in (out / "report.html").read_text()


def _folder_of_black_images(root, count=4):
    root.mkdir(parents=True)
    for i in range(count):
        cv2.imwrite(str(root / f"black_{i}.png"), np.zeros((TRAINED_SIZE, TRAINED_SIZE, 3), np.uint8))
    return root


def test_a_variant_losing_more_than_max_drop_is_refused_by_name(trained, tmp_path):
    # Calibrating on black images only: int8 ranges miss every real activation, and accuracy falls.
    calib = _folder_of_black_images(tmp_path / "black")
    out = tmp_path / "out"
    proc = run_cli("export", trained["run"], "--quant", "float32,int8", "--calib", calib, "--out", out)
    assert proc.returncode == 1, proc.stderr
    assert "edgesight: refused int8: top-1" in proc.stderr and "points below float" in proc.stderr
    assert "refused float32" not in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "model_float32.tflite").is_file() and not (out / "model_int8.tflite").exists()
    assert (out / "model_int8.tflite.refused").is_file()
    summary = json.loads((out / "export.json").read_text())
    assert summary["refused"] == ["int8"] and summary["variants"]["int8"]["drop_points"] > 1.0


def _save(model, path):
    model.save(path)
    return path


def _dense_head(classes, kernel=None, bias=None):
    """A tiny classifier: average pool then one dense softmax layer with given weights."""
    import keras

    x = keras.Input((TRAINED_SIZE, TRAINED_SIZE, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(x)
    dense = keras.layers.Dense(classes, activation="softmax")
    model = keras.Model(x, dense(pooled))
    if kernel is not None:
        dense.set_weights([kernel.astype(np.float32), bias.astype(np.float32)])
    return model


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("nan", "NaN"),
        ("constant", "constant"),
        ("collapsed", "collapsed to one class"),
    ],
)
def test_broken_outputs_are_always_refused(trained, tmp_path, case, reason):
    import keras

    classes = len(trained["info"].class_names)
    rng = np.random.default_rng(0)
    if case == "nan":
        x = keras.Input((TRAINED_SIZE, TRAINED_SIZE, 3))
        y = keras.layers.Dense(classes)(keras.layers.GlobalAveragePooling2D()(x))
        y = keras.layers.Activation("softmax")(keras.layers.Rescaling(np.nan)(y))
        model = keras.Model(x, y)
    elif case == "constant":
        model = _dense_head(classes, np.zeros((3, classes)), np.zeros(classes))
    else:  # scores vary with the image but class 0 always wins
        bias = np.zeros(classes)
        bias[0] = 4.0
        model = _dense_head(classes, rng.normal(0, 0.2, (3, classes)), bias)
    path = _save(model, tmp_path / f"{case}.keras")
    source = open_export_source(path, mean=(127.5,), std=(127.5,), val=trained["data"] / "val")
    outcome = export(source, parse_modes("float32"), tmp_path / "out", max_drop=100.0, latency_runs=5)
    assert [v.variant for v in outcome.refused] == ["float32"]
    assert reason in outcome.refused[0].reason


def test_a_keras_file_and_a_savedmodel_export_like_a_run(trained, tmp_path):
    import keras

    keras_file = trained["run"] / "model.keras"
    saved = tmp_path / "saved"
    keras.models.load_model(keras_file).export(str(saved), format="tf_saved_model", verbose=False)
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(trained["info"].class_names) + "\n")
    val = trained["data"] / "val"
    for model, quant in ((keras_file, "dynamic"), (saved, "int8-floatio")):
        out = tmp_path / f"out_{quant}"
        args = ["export", model, "--val", val, "--mean", "127.5", "--std", "127.5", "--quant", quant]
        proc = run_cli(*args, "--labels", labels, "--out", out, "--max-drop", "100")
        assert proc.returncode == 0, proc.stderr
        summary = json.loads((out / "export.json").read_text())
        assert summary["source"]["kind"] == ("keras" if model == keras_file else "savedmodel")
        assert summary["variants"][quant]["agreement_with_keras"] >= 0.95
        assert read_model_file(out / f"model_{quant}.tflite").metadata.outputs[0].axis_labels == tuple(
            trained["info"].class_names
        )


def test_converter_errors_name_the_missing_builtin_op():
    message = (
        '<unknown>:0: error: loc(callsite(fused["MatrixDeterminant:", "functional_1/my_det/MatrixDeterminant'
        "@__inference_function_83\"] at x)): 'tf.MatrixDeterminant' op is neither a custom op nor a flex op"
    )
    assert unsupported_ops(message) == {"MatrixDeterminant": "my_det"}
    assert unsupported_ops("some other failure") == {}


def test_an_op_outside_the_builtin_set_is_named_with_the_fix(trained, tmp_path):
    import keras
    import tensorflow as tf

    x = keras.Input((16, 16, 3))
    y = keras.layers.Lambda(lambda t: tf.linalg.det(t[..., :3, :3]), name="determinant")(x)
    y = keras.layers.Dense(len(trained["info"].class_names), activation="softmax")(keras.layers.Flatten()(y))
    saved = tmp_path / "det"
    keras.Model(x, y).export(str(saved), format="tf_saved_model", verbose=False)
    temp = tmp_path / "tmp"
    temp.mkdir()
    proc = run_cli(
        "export", saved, "--val", trained["data"] / "val", "--mean", "0", "--std", "1", "--quant", "float32",
        env={"TMPDIR": str(temp)},
    )  # fmt: skip
    assert_one_line_error(proc, "builtin op set lacks MatrixDeterminant", "Flex delegate")
    assert not list(temp.glob("edgesight-tf-*")), "a converter log kept that the message does not name"


def test_dynamic_spatial_dimensions_are_refused(trained, tmp_path):
    import keras

    x = keras.Input((None, None, 3))
    y = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(x))
    path = _save(keras.Model(x, keras.layers.Dense(5, activation="softmax")(y)), tmp_path / "dyn.keras")
    with pytest.raises(EdgeError, match=r"dynamic dimensions \[None, None, None, 3\]"):
        open_export_source(path, mean=(0.0,), std=(1.0,), val=trained["data"] / "val")


def test_bad_export_input_is_one_line_and_exit_2(trained, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(
        run_cli("export", trained["run"], "--calib", empty, "--quant", "int8"), "no images in"
    )
    junk = tmp_path / "junk"
    junk.mkdir()
    for i in range(3):
        (junk / f"{i}.jpg").write_bytes(b"not a jpeg")
    assert_one_line_error(
        run_cli("export", trained["run"], "--calib", junk, "--quant", "int8"), "none of the 3 image files"
    )
    assert_one_line_error(run_cli("export", trained["run"], "--max-drop", "-1"), "--max-drop")
    keras_file = trained["run"] / "model.keras"
    assert_one_line_error(run_cli("export", keras_file, "--val", trained["data"] / "val"), "--mean and --std")
    assert_one_line_error(run_cli("export", keras_file, "--mean", "0", "--std", "1"), "needs --val DIR")
    no_model = tmp_path / "half_run"
    no_model.mkdir()
    (no_model / "run.json").write_text("{}")
    assert_one_line_error(run_cli("export", no_model), "not a trained run")


def test_chosen_rounding_is_on_the_grid_and_beats_rounding_to_nearest():
    """Each tap goes to the step below or above it; with independent taps (identity covariance) that
    is rounding to nearest, and with correlated ones the error's variance is never above nearest's."""
    from train.export.bias_correction import STEPS, chosen_rounding

    rng = np.random.default_rng(1)
    kernel = rng.uniform(-0.3, 0.3, (3, 3, 6))
    kernel[1, 1] = 5.0
    kernel[0, 2, 3] = -7.0  # a channel whose largest tap is negative: it must stay at -127 steps
    taps = kernel.reshape(9, -1).T
    scale = np.abs(taps).max(axis=1, keepdims=True) / STEPS
    identity = np.broadcast_to(np.eye(9), (6, 9, 9))
    assert np.allclose(
        chosen_rounding(kernel, identity), np.round(kernel / scale.T.reshape(1, 1, 6)) * scale.T
    )
    mix = rng.normal(size=(6, 9, 9))
    covariance = mix @ mix.transpose(0, 2, 1) + np.ones((9, 9)) * 5  # taps that move together
    chosen = chosen_rounding(kernel, covariance).reshape(9, -1).T
    steps = chosen / scale
    assert np.allclose(steps, np.round(steps)) and np.allclose(np.abs(steps).max(axis=1), STEPS)
    assert np.all((np.floor(taps / scale) <= np.round(steps)) & (np.round(steps) <= np.ceil(taps / scale)))

    def cost(grid):
        error = grid - taps
        return np.einsum("ct,ctu,cu->c", error, covariance, error)

    nearest = np.round(taps / scale) * scale
    assert np.all(cost(chosen) <= cost(nearest) + 1e-12) and np.any(cost(chosen) < cost(nearest) - 1e-12)


@pytest.mark.parametrize(("size", "stride"), [((9, 12), 1), ((9, 12), 2), ((8, 7), 2)])
def test_patches_are_the_windows_a_depthwise_convolution_reads(size, stride):
    """The windows times the kernel's taps give Keras' own depthwise output, padding included."""
    import keras

    from train.export.bias_correction import patches

    rng = np.random.default_rng(2)
    conv = keras.layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)
    x = rng.normal(size=(2, *size, 4)).astype(np.float32)
    out = np.asarray(conv(x))
    taps = conv.get_weights()[0][:, :, :, 0].reshape(9, 4)
    mine = np.einsum("nct,tc->nc", patches(x.astype(np.float64), conv), taps)
    assert np.allclose(mine, out.reshape(-1, 4), atol=1e-5)


def _int8_errors(model, calibration: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``model`` converted to int8 (float I/O) by the real converter, plainly and inside
    ``corrected_biases`` (one layer corrected, weights restored after): each one's output minus float32
    on the calibration images, run on the edge runtime."""
    from train.export.bias_correction import corrected_biases
    from train.export.convert import convert
    from train.export.modes import MODES_BY_NAME

    before = [w.copy() for w in model.get_weights()]
    float_out = model.predict(calibration, verbose=0)
    int8 = MODES_BY_NAME["int8-floatio"]
    plain = convert(model, int8, calibration)
    with corrected_biases(model, calibration) as corrected:
        fixed = convert(model, int8, calibration)
    assert corrected == 1
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))

    def errors(content: bytes) -> np.ndarray:
        runtime = Runtime(content)
        return np.concatenate([runtime.invoke(image[None])[0] for image in calibration]) - float_out

    return errors(plain), errors(fixed)


def test_chosen_depthwise_rounding_lowers_the_int8_error_through_the_converter():
    """A depthwise convolution with one large tap a channel on smooth images (neighbouring pixels move
    together), converted to int8 by the real converter: with the rounding chosen and the biases
    corrected, each output channel's error against float32 varies less than with plain rounding (bias
    correction moves only its mean), and the model's weights are as before afterwards."""
    import keras

    rng = np.random.default_rng(3)
    x = keras.Input((16, 16, 4), batch_size=1)
    conv = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization()
    model = keras.Model(x, bn(conv(x)))
    kernel = rng.uniform(-0.4, 0.4, (3, 3, 4, 1)).astype(np.float32)
    kernel[0, 0] = 12.0
    conv.set_weights([kernel])
    bn.set_weights([np.full(4, 1.5), rng.normal(size=4), np.zeros(4), rng.uniform(0.5, 2.0, 4)])
    coarse = rng.uniform(0.0, 1.0, (96, 4, 4, 4)).astype(np.float32)
    calibration = np.stack([cv2.resize(c, (16, 16), interpolation=cv2.INTER_CUBIC) for c in coarse])
    plain, chosen = (error.std(axis=(0, 1, 2)) for error in _int8_errors(model, calibration))
    # the output's own int8 rounding is a floor both share; the kernel's part of the spread shrinks
    assert np.all(chosen < 0.95 * plain)


def test_bias_correction_takes_the_kernel_rounding_shift_off_the_int8_outputs():
    """A convolution whose folded taps differ a lot in size (one large tap a channel, as MobileNet's
    early layers with ImageNet statistics have), converted to int8 through the real converter with and
    without the correction: the mean error of each output channel against float32 shrinks, and the
    model's own weights are as before afterwards."""
    import keras

    rng = np.random.default_rng(0)
    x = keras.Input((16, 16, 3), batch_size=1)
    conv = keras.layers.Conv2D(8, 3, padding="same", use_bias=False)
    bn = keras.layers.BatchNormalization()
    model = keras.Model(x, bn(conv(x)))
    kernel = rng.uniform(0.02, 0.3, (3, 3, 3, 8)).astype(np.float32)
    kernel[1, 1, 0] = 10.0  # the tap that sets each channel's int8 scale
    conv.set_weights([kernel])
    bn.set_weights([np.full(8, 2.0), rng.normal(size=8), np.full(8, 1.0), rng.uniform(0.5, 2.0, 8)])
    calibration = rng.uniform(0.0, 1.0, (64, 16, 16, 3)).astype(np.float32)
    uncorrected, fixed_bias = (
        np.abs(error.mean(axis=(0, 1, 2))) for error in _int8_errors(model, calibration)
    )
    assert uncorrected.mean() > 0.05  # the shift is there to take off
    assert fixed_bias.mean() < 0.3 * uncorrected.mean(), (uncorrected, fixed_bias)
