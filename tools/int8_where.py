"""Where a detector loses mAP in int8: its run converted to full-integer int8 (float input and output)
with parts of the network kept float by TensorFlow's quantization debugger (``denylisted_nodes``), each
scored by COCO mAP on the run's validation images with edge's decoding, beside the float32 model.

    python tools/int8_where.py runs/demo-detect/run [--no-bias-correction]
    python tools/int8_where.py runs/demo-detect/run --spread   # only the early kernels' tap spread

The model converted is the one export converts (``device_model``: distances and scores out, the boxes
decoded by edge). A part whose float copy wins back most of the loss is where int8 hurts. The row
"float32, distances on 1/256" is the float model with only its distances rounded as the int8 sigmoid
output rounds them: the part of the loss no int8 model with that output can avoid; "float32, boxes on
1/255" the same for boxes decoded in the graph as an int8 [0, 1] output, what exports before
distances lost there. The converter settings are the
export's int8 mode except the float I/O the debugger needs; the calibration set is the export's. The
float32 row is the model as trained. With bias correction, the corrected biases stay in the parts kept
float too (they offset int8 rounding those parts then do not have), so the parts are cleanest read
with ``--no-bias-correction``.
"""

from __future__ import annotations

import argparse
import re
import sys
from contextlib import nullcontext
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge.errors import EdgeError  # noqa: E402


def _block(name: str) -> int | None:
    """MobileNet's block number of a tensor name (conv1 is 1, conv_dw_7 and conv_pw_7 are 7)."""
    m = re.search(r"features\w*/conv(?:_dw|_pw)?_?(\d+)", name)
    return int(m.group(1)) if m else None


def _box_decoding(name: str) -> bool:
    """The distances output after its convolution: the sigmoid and the join of the levels."""
    return re.search(r"distance_sigmoid|distances\d|/distances", name) is not None


PARTS = {
    "the backbone": lambda n: "features" in n,
    "the neck and head": lambda n: "features" not in n,
    "the neck": lambda n: re.search(r"fpn|lateral|pan\d|down\d|up\d", n) is not None,
    "the class branch": lambda n: re.search(r"cls_tower|cls_logits|scores", n) is not None,
    "the box branch": lambda n: _box_decoding(n) or re.search(r"box_tower|box_distances", n) is not None,
    "the distances' sigmoid and join": _box_decoding,
    "backbone blocks 1-3": lambda n: _block(n) is not None and _block(n) <= 3,
    "backbone blocks 4-7": lambda n: _block(n) is not None and 4 <= _block(n) <= 7,
    "backbone blocks 8-13": lambda n: _block(n) is not None and _block(n) >= 8,
}


def _spread(model) -> list[str]:
    """For MobileNet's first depthwise kernels, batch norm folded in as the converter folds it: how
    far a channel's largest tap is above its median one, and the share of taps within 10 int8 steps of
    zero (their rounding error is 5% or more)."""
    from train.export.bias_correction import folded_kernel

    features = model.get_layer("features")
    lines = []
    for name in ("conv_dw_1", "conv_dw_2", "conv_dw_3"):
        taps = np.abs(folded_kernel(features.get_layer(name), features.get_layer(f"{name}_bn")))
        taps = taps.reshape(-1, taps.shape[-1])
        ratio = taps.max(axis=0) / np.maximum(np.median(taps, axis=0), 1e-12)
        near_zero = (taps < 10 * taps.max(axis=0) / 127).mean()
        lines.append(
            f"{name}: a channel's largest tap up to {ratio.max():.1f}x its median one (median channel "
            f"{np.median(ratio):.1f}x); {near_zero:.0%} of taps within 10 int8 steps of 0"
        )
    return lines


def _score(content: bytes, data, size: int, box_steps: int = 0, decoded: bool = False) -> tuple[float, float]:
    """mAP of a converted device model through edge's decoding; ``box_steps``: its distances first
    rounded to that many steps over [0, 1] (256: the int8 sigmoid's), or with ``decoded`` its boxes
    (255: what an int8 [0, 1] boxes output holds)."""
    from edge.evaluate.detect import coco_results, ground_truth, score_coco
    from edge.model.runtime import Runtime
    from edge.sources.images import read_image
    from edge.tasks.anchor_free import anchor_points, decode_anchor_free
    from edge.tasks.preprocess import resize
    from train.models.detector import GRID

    points = anchor_points(GRID, size, size)
    runtime = Runtime(content, threads=2)
    found = []
    for record in data.images:
        image, transform = resize(read_image(record.path), size, size, "letterbox")
        x = ((image[..., ::-1].astype(np.float32) - 127.5) / 127.5)[None]
        out = runtime.invoke(x)
        distances = next(o for o in out if o.shape[-1] == 4).astype(np.float32)
        if box_steps and not decoded:
            distances = np.round(distances * box_steps) / box_steps
        scores = next(o for o in out if o.shape[-1] != 4).astype(np.float32)
        quant = ((0.0, 0), (0.0, 0))
        if decoded:  # the boxes as the graph decoded them, rounded as an int8 [0, 1] output
            every = np.arange(distances.shape[1])
            boxes = points.boxes(distances[0], every)[None] / size
            boxes = np.round(boxes * box_steps) / box_steps
            found.append(decode_anchor_free(boxes, scores, quant, size, size, transform, 0.001, 0.5, 100))
        else:
            found.append(
                decode_anchor_free(
                    distances, scores, quant, size, size, transform, 0.001, 0.5, 100, None, points
                )
            )
    runtime.close()
    mapping = {i: i for i in range(len(data.class_names))}
    e = score_coco(ground_truth(data), coco_results(found, mapping), data.class_names)
    return e.mAP50_95, e.mAP50


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a detector's run folder (edgesight train --task detect)")
    parser.add_argument("--no-bias-correction", action="store_true")
    parser.add_argument("--spread", action="store_true", help="only the early kernels' tap spread")
    args = parser.parse_args(argv)
    try:
        from train.quiet import captured_output, import_tensorflow

        import_tensorflow()
        import tensorflow as tf

        from train.export.bias_correction import corrected_biases
        from train.export.convert import batch_one
        from train.export.job import calibration_for
        from train.export.source import open_export_source
        from train.models.detector import device_model

        source = open_export_source(args.run)
        if source.task != "detect":
            raise EdgeError(f"{args.run} is not a detector's run")
        calib = calibration_for(source, 200)
        data, size = source.val, source.height
        if args.spread:
            print("\n".join(_spread(source.model)))
            return 0

        def representative():
            for x in calib:
                yield [x[None]]

        def converter():
            c = tf.lite.TFLiteConverter.from_keras_model(batch_one(device_model(source.model)))
            c.optimizations = [tf.lite.Optimize.DEFAULT]
            c.representative_dataset = representative
            return c

        correct = nullcontext() if args.no_bias_correction else corrected_biases(source.model, calib)
        rows = []
        with captured_output():  # the float model as trained: bias correction is for int8 kernels only
            plain = tf.lite.TFLiteConverter.from_keras_model(batch_one(device_model(source.model)))
            float32 = plain.convert()
            rows.append(("float32", _score(float32, data, size)))
            rows.append(("float32, distances on 1/256", _score(float32, data, size, box_steps=256)))
            rows.append(("float32, boxes on 1/255", _score(float32, data, size, 255, decoded=True)))
        with correct, captured_output():
            full = converter()
            full.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            content = full.convert()
            rows.append(("int8, all of it", _score(content, data, size)))
            names = [t["name"] for t in tf.lite.Interpreter(model_content=content).get_tensor_details()]
            for part, pick in PARTS.items():
                options = tf.lite.experimental.QuantizationDebugOptions(
                    denylisted_nodes=[n for n in names if pick(n)]
                )
                debugger = tf.lite.experimental.QuantizationDebugger(
                    converter=converter(), debug_dataset=representative, debug_options=options
                )
                mixed = debugger.get_nondebug_quantized_model()
                rows.append((f"int8, {part} float", _score(mixed, data, size)))
    except EdgeError as exc:
        print(f"int8_where: error: {exc}", file=sys.stderr)
        return 2
    corrected = "without" if args.no_bias_correction else "with"
    print(f"{args.run}: {len(data)} validation images, {corrected} bias correction")
    print(f"{'':44s} mAP@[.5:.95]  mAP@.5")
    for name, (m, m50) in rows:
        print(f"{name:44s} {m:12.4f}  {m50:6.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
