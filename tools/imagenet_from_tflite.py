"""The ImageNet weights ``keras.applications.MobileNet(alpha=0.25)`` loads, built from a float TFLite
MobileNet v1 0.25 (224) that has them, for machines that cannot download from Keras' servers.

The TFLite file keeps each convolution with its batch norm folded in (a kernel and a bias). Keras'
MobileNet has bias-free convolutions followed by batch norm, so each one gets the TFLite kernel, and
its batch norm the identity plus the bias (gamma 1, mean 0, variance 1 - epsilon, beta = bias). The
1001-class TFLite head (``background`` first) becomes Keras' 1000-class ``conv_preds``.

Writes, in Keras' cache (``$KERAS_HOME`` or ``~/.keras``, then ``models/``), the two files Keras looks
for: ``mobilenet_2_5_224_tf.h5`` (with the top) and ``mobilenet_2_5_224_tf_no_top.h5``. Then
``keras.applications.MobileNet(alpha=0.25, weights="imagenet")`` and ``edgesight train --model
mobilenet_v1 --alpha 0.25 --weights imagenet`` load them without a network. Keras names the file by
input size (128, 160, 192 or 224; other sizes load the 224 file): the same 224 weights are also written
as the 128, 160 and 192 files without the top, so a detector at 128 to 192 px finds them too (Keras'
own downloads for those sizes were trained at that size; these were not).

    python tools/imagenet_from_tflite.py [--model FLOAT_V1.tflite] [--out DIR] [--check IMAGE ...]

(the model defaults to ../shared/assets/models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite)

``--check`` compares the top-5 of the Keras model (with its ImageNet head) with the TFLite file's on
each image and exits 1 when one differs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testbed import CLASSIFICATION  # noqa: E402

FLOAT_V1 = CLASSIFICATION / "mobilenet_v1_0.25_224_1_metadata_1.tflite"
ALPHA, SIZE = 0.25, 224
BN_EPSILON = 1e-3  # keras.applications.MobileNet's batch norm


def keras_cache() -> Path:
    """Where keras.utils.get_file caches ``models/`` files."""
    return Path(os.environ.get("KERAS_HOME") or Path.home() / ".keras") / "models"


def tflite_layers(path: Path) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op, kernel, bias) of every convolution, in graph order, read with XNNPACK off (so each op shows)."""
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(
        model_path=str(path),
        experimental_op_resolver_type=litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    out = []
    for op in interp._get_ops_details():
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            _, kernel, bias = op["inputs"][:3]
            out.append((op["op_name"], interp.get_tensor(int(kernel)), interp.get_tensor(int(bias))))
    return out


def _identity_bn(bn, bias: np.ndarray) -> None:
    ones = np.ones_like(bias)
    bn.set_weights([ones, bias, np.zeros_like(bias), ones - BN_EPSILON])


def build(path: Path, include_top: bool):
    """keras.applications.MobileNet(alpha=0.25) with the TFLite file's weights."""
    import keras

    model = keras.applications.MobileNet(
        input_shape=(SIZE, SIZE, 3), alpha=ALPHA, include_top=include_top, weights=None
    )
    convs = tflite_layers(path)
    if len(convs) != 28:
        raise SystemExit(f"{path}: expected 28 convolutions of MobileNet v1, found {len(convs)}")
    stem, *blocks, head = convs
    model.get_layer("conv1").set_weights([stem[1].transpose(1, 2, 3, 0)])
    _identity_bn(model.get_layer("conv1_bn"), stem[2])
    for i in range(13):
        (_, dw, dw_bias), (_, pw, pw_bias) = blocks[2 * i], blocks[2 * i + 1]
        block = i + 1
        model.get_layer(f"conv_dw_{block}").set_weights([dw.reshape(dw.shape[1], dw.shape[2], -1, 1)])
        _identity_bn(model.get_layer(f"conv_dw_{block}_bn"), dw_bias)
        model.get_layer(f"conv_pw_{block}").set_weights([pw.transpose(1, 2, 3, 0)])
        _identity_bn(model.get_layer(f"conv_pw_{block}_bn"), pw_bias)
    if include_top:  # 1001 classes, background first -> Keras' 1000
        kernel, bias = head[1].transpose(1, 2, 3, 0)[..., 1:], head[2][1:]
        model.get_layer("conv_preds").set_weights([kernel, bias])
    return model


def write(model, path: Path) -> None:
    """The legacy HDF5 weights file keras.applications loads (``model.load_weights(*.h5)``)."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with h5py.File(partial, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    partial.replace(path)


def top5_tflite(path: Path, image: np.ndarray) -> list[int]:
    from ai_edge_litert import interpreter as litert

    interp = litert.Interpreter(model_path=str(path))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], image[None])
    interp.invoke()
    scores = interp.get_tensor(interp.get_output_details()[0]["index"])[0]
    return [int(i) - 1 for i in np.argsort(-scores)[:5]]  # background first: Keras' class i is TFLite's i + 1


def check(path: Path, images: list[Path]) -> bool:
    """Keras' ImageNet MobileNet (from the cache) against the TFLite file, top-5 on each image."""
    import cv2
    import keras

    model = keras.applications.MobileNet(alpha=ALPHA, weights="imagenet")  # the cached file, no network
    ok = True
    for image_path in images:
        rgb = cv2.cvtColor(cv2.resize(cv2.imread(str(image_path)), (SIZE, SIZE)), cv2.COLOR_BGR2RGB)
        x = ((rgb.astype(np.float32) - 127.5) / 127.5).astype(np.float32)
        keras_top = [int(i) for i in np.argsort(-model.predict(x[None], verbose=0)[0])[:5]]
        lite_top = top5_tflite(path, x)
        same = keras_top == lite_top
        ok &= same
        print(f"{image_path.name}: keras {keras_top}, tflite {lite_top}: {'same' if same else 'DIFFERENT'}")
    return ok


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=FLOAT_V1, help="the float TFLite MobileNet v1 0.25 224")
    parser.add_argument("--out", type=Path, help="folder to write to (default: Keras' cache)")
    parser.add_argument("--check", nargs="*", type=Path, default=[], help="images to compare top-5 on")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"imagenet_from_tflite: error: model not found: {args.model}", file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    out = args.out or keras_cache()
    # the check loads from where the files are written: set before Keras is imported, which otherwise
    # falls back to /tmp/.keras when $HOME does not exist yet
    os.environ["KERAS_HOME"] = str(out.parent)
    for include_top, name in ((True, "mobilenet_2_5_224_tf.h5"), (False, "mobilenet_2_5_224_tf_no_top.h5")):
        write(build(args.model, include_top), out / name)
        print(f"wrote {out / name}")
    for rows in (128, 160, 192):
        copy = out / f"mobilenet_2_5_{rows}_tf_no_top.h5"
        shutil.copyfile(out / "mobilenet_2_5_224_tf_no_top.h5", copy)
        print(f"wrote {copy} (the 224 weights)")
    if args.check:
        return 0 if check(args.model, args.check) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
