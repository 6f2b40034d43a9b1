"""Telling layouts apart from tensor signatures, NMS and YOLO / SSD decoding, on hand-made arrays."""

import numpy as np
import pytest

from edge.errors import EdgeError
from edge.model.graph import Op
from edge.model.layouts import Signature, anchor_counts, choose_layout
from edge.model.runtime import TensorInfo
from edge.tasks.nms import nms
from edge.tasks.preprocess import Transform, resize
from edge.tasks.quant import quantize
from edge.tasks.ssd import decode_ssd
from edge.tasks.yolo import decode_yolo


def tensor(shape, name="out", index=0, dtype=np.float32, scale=0.0, zero_point=0) -> TensorInfo:
    shape = tuple(shape)
    return TensorInfo(name, index, shape, shape, np.dtype(dtype), scale, zero_point)


def sig(*shapes, size=640, ops=(), num_labels=None, names=None) -> Signature:
    names = names or [f"out{i}" for i in range(len(shapes))]
    outputs = tuple(tensor(s, n, 100 + i) for i, (s, n) in enumerate(zip(shapes, names)))
    return Signature(size, size, outputs, tuple(ops), num_labels)


def test_anchor_counts_of_the_published_heads():
    assert 8400 in anchor_counts(640, 640, 1)  # YOLOv8n / YOLO11n at 640
    assert 25200 in anchor_counts(640, 640, 3)  # YOLOv5s at 640
    assert 2100 in anchor_counts(320, 320, 1)


@pytest.mark.parametrize(
    ("shapes", "size", "layout", "classes"),
    [
        ([(1, 1001)], 224, "class_scores", 1001),
        ([(1, 84, 8400)], 640, "yolov8", 80),
        ([(1, 25200, 85)], 640, "yolov5", 80),
        ([(1, 6, 2100)], 320, "yolov8", 2),
    ],
)
def test_layout_is_told_from_the_signature(shapes, size, layout, classes):
    chosen, fit, source = choose_layout(sig(*shapes, size=size))
    assert (chosen.name, fit.num_classes, source) == (layout, classes, "signature")


def test_ssd_outputs_are_told_apart_by_the_post_processing_op_not_by_order():
    # EfficientDet-Lite style: the interpreter lists scores first; the op lists boxes, classes, scores, count.
    shapes = [(1, 25), (1, 25, 4), (1,), (1, 25)]
    s = sig(*shapes, size=320)
    op = Op("TFLite_Detection_PostProcess", (1, 2, 3), (101, 103, 100, 102), builtin=False)
    layout, fit, _ = choose_layout(Signature(320, 320, s.outputs, (op,)))
    assert layout.name == "ssd"
    assert fit.outputs == {"boxes": 1, "classes": 3, "scores": 0, "count": 2}


def test_ssd_without_the_op_is_told_by_shape_and_name():
    shapes = [(1, 10), (1, 10, 4), (1, 10), (1,)]
    s = sig(*shapes, names=["detection_scores", "detection_boxes", "detection_classes", "num_detections"])
    _, fit, _ = choose_layout(s)
    assert fit.outputs == {"scores": 0, "boxes": 1, "classes": 2, "count": 3}
    with pytest.raises(EdgeError, match="do not say which is classes, scores"):
        choose_layout(sig(*shapes), task="detect")


def test_an_ambiguous_signature_lists_the_candidates_and_the_flag_settles_it():
    # At 64 px a v8 head has 84 candidates and a v5 head 252: [1, 252, 84] fits both.
    s = sig((1, 252, 84), size=64)
    with pytest.raises(EdgeError) as err:
        choose_layout(s)
    message = str(err.value)
    assert "yolov8" in message and "yolov5" in message and "--layout" in message
    assert choose_layout(s, layout="yolov5")[0].name == "yolov5"
    assert choose_layout(s, layout="yolov8")[1].num_classes == 248


def test_an_unknown_head_names_the_shapes_it_could_be():
    with pytest.raises(EdgeError, match=r"shape of yolov8 or yolov5: pass --layout"):
        choose_layout(sig((1, 84, 1000)))
    # The labels' count settles a head whose candidate count is not a standard one.
    assert choose_layout(sig((1, 84, 1000), num_labels=80))[0].name == "yolov8"


def test_unusable_outputs_and_contradicting_flags_are_clear_errors():
    with pytest.raises(EdgeError, match="fit none of the layouts"):
        choose_layout(sig((1, 2, 3, 4, 5), size=192))
    with pytest.raises(EdgeError, match="layout ssd is a detect layout, but the task is classify"):
        choose_layout(sig((1, 10)), task="classify", layout="ssd")
    with pytest.raises(EdgeError, match="do not fit layout yolov8"):
        choose_layout(sig((1, 1001)), layout="yolov8")
    with pytest.raises(EdgeError, match="fit none of the detect layouts"):
        choose_layout(sig((1, 1001)), task="detect")
    with pytest.raises(EdgeError, match="says task 'obb'"):
        choose_layout(sig((1, 20, 8400)), hints={"task": "obb", "task_from": "Ultralytics metadata"})


def test_nms_is_class_wise_and_keeps_the_best_first():
    boxes = np.array(
        [[0, 0, 10, 10], [1, 1, 11, 11], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 10]], dtype=np.float32
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95])
    classes = np.array([0, 0, 1, 0, 2])
    # [1] overlaps [0] (IoU 81/119 = 0.68) in class 0; [2] is class 1; [4] is class 2.
    assert nms(boxes, scores, classes, 0.45, 100).tolist() == [4, 0, 2, 3]
    assert nms(boxes, scores, classes, 0.7, 100).tolist() == [4, 0, 1, 2, 3]
    assert nms(boxes, scores, classes, 0.45, 2).tolist() == [4, 0]
    assert nms(boxes[:0], scores[:0], classes[:0], 0.45, 10).tolist() == []


def _v8_head(rows: list[tuple], n: int = 84, classes: int = 3) -> np.ndarray:
    """[1, 4+C, N] with the given (cx, cy, w, h, class, score) rows first, zeros elsewhere."""
    out = np.zeros((4 + classes, n), dtype=np.float32)
    out[:2] = 0.5
    for i, (cx, cy, w, h, c, s) in enumerate(rows):
        out[:4, i] = (cx, cy, w, h)
        out[4 + c, i] = s
    return out[None]


def test_yolo_v8_decoding_through_the_letterbox_by_hand():
    # A 640x480 frame letterboxed to 64x64: scale 0.1, 8 px of padding above and below.
    frame = np.zeros((480, 640, 3), np.uint8)
    _, transform = resize(frame, 64, 64, "letterbox")
    assert (transform.scale_x, transform.scale_y, transform.pad_x, transform.pad_y) == (0.1, 0.1, 0, 8)
    rows = [(20 / 64, 24 / 64, 16 / 64, 20 / 64, 0, 0.9), (21 / 64, 25 / 64, 16 / 64, 20 / 64, 0, 0.8)]
    rows += [(48 / 64, 40 / 64, 10 / 64, 30 / 64, 2, 0.6), (0.1, 0.1, 0.1, 0.1, 1, 0.2)]
    det = decode_yolo(_v8_head(rows), True, False, 0.0, 0, 64, 64, transform, 0.25, 0.45, 100)
    # Input box (12, 14, 28, 34) -> frame ((12-0)/0.1, (14-8)/0.1, ...) = (120, 60, 280, 260).
    np.testing.assert_allclose(det.xyxy, [[120, 60, 280, 260], [430, 170, 530, 470]], atol=1e-3)
    np.testing.assert_allclose(det.scores, [0.9, 0.6], atol=1e-6)
    assert det.class_ids.tolist() == [0, 2] and det.labels == (None, None)


def test_yolo_quantized_outputs_decode_like_float():
    rows = [(20 / 64, 24 / 64, 16 / 64, 20 / 64, 1, 0.9), (48 / 64, 40 / 64, 10 / 64, 30 / 64, 2, 0.3)]
    head = _v8_head(rows)
    scale, zero_point = 1 / 255, -128
    q = quantize(head, scale, zero_point, np.int8)
    identity = Transform(1.0, 1.0, 0.0, 0.0, 64, 64)
    exact = decode_yolo(head, True, False, 0.0, 0, 64, 64, identity, 0.25, 0.45, 100, ("a", "b", "c"))
    quant = decode_yolo(q, True, False, scale, zero_point, 64, 64, identity, 0.25, 0.45, 100, ("a", "b", "c"))
    assert quant.labels == exact.labels == ("b", "c")
    np.testing.assert_allclose(quant.xyxy, exact.xyxy, atol=64 / 255)
    np.testing.assert_allclose(quant.scores, exact.scores, atol=1 / 255)


def test_yolo_v5_scores_are_objectness_times_class_and_pixel_boxes_are_kept():
    head = np.zeros((252, 8), dtype=np.float32)
    head[:, :2] = np.linspace(4, 60, 252)[:, None]  # pixel centres spanning the input
    head[0] = (20, 24, 16, 20, 0.9, 0.1, 1.0, 0.0)  # score 0.9 for class 1
    head[1] = (40, 40, 8, 8, 0.5, 1.0, 0.0, 0.0)  # 0.5 x 1.0 = 0.5 for class 0
    head[2] = (40, 40, 8, 8, 0.2, 0.0, 0.0, 1.0)  # 0.2: below the threshold
    identity = Transform(1.0, 1.0, 0.0, 0.0, 64, 64)
    det = decode_yolo(head[None], False, True, 0.0, 0, 64, 64, identity, 0.25, 0.45, 100)
    np.testing.assert_allclose(det.xyxy, [[12, 14, 28, 34], [36, 36, 44, 44]])
    np.testing.assert_allclose(det.scores, [0.9, 0.5])
    assert det.class_ids.tolist() == [1, 0]


def test_ssd_decoding_stops_at_count_and_maps_normalised_yxyx_to_the_frame():
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.3, 0.3]]], np.float32)
    classes = np.array([[17.0, 2.0, 0.0]], np.float32)
    scores = np.array([[0.8, 0.6, 0.9]], np.float32)  # the third row is past count
    frame = np.zeros((200, 400, 3), np.uint8)
    _, transform = resize(frame, 300, 300, "stretch")
    labels = tuple(f"l{i}" for i in range(20))
    det = decode_ssd(boxes, classes, scores, np.array([2.0]), 300, 300, transform, 0.5, 10, labels)
    np.testing.assert_allclose(det.xyxy, [[80, 20, 240, 100], [0, 0, 400, 200]], atol=1e-3)
    assert det.labels == ("l17", "l2")
    assert len(decode_ssd(boxes, classes, scores, np.array([2.0]), 300, 300, transform, 0.7, 10)) == 1


def test_ultralytics_metadata_is_read_from_json_and_from_older_python_literals():
    from edge.model.metadata import read_ultralytics

    new = read_ultralytics({"metadata.json": b'{"task": "detect", "names": {"0": "person", "1": "bicycle"}}'})
    old = read_ultralytics({"temp_meta.txt": b"{'task': 'classify', 'names': {0: 'cat', 2: 'dog'}}"})
    assert new["names"] == ("person", "bicycle") and new["task"] == "detect"
    assert old["names"] == ("cat", "1", "dog")  # a gap keeps ids aligned with their names
    assert read_ultralytics({"metadata.json": b"not json"}) == {}
    assert read_ultralytics({"labels.txt": b"a\nb\n"}) == {}
    assert read_ultralytics({"temp_meta.txt": b"__import__('os').system('true')"}) == {}  # never evaluated
    hints = {"task": "classify", "task_from": "Ultralytics metadata"}
    layout, _, source = choose_layout(sig((1, 2), size=224), hints=hints)
    assert layout.name == "class_scores" and source == "signature, task from Ultralytics metadata"


def test_anchor_free_outputs_are_distances_or_boxes_named_by_the_metadata():
    from edge.model.layouts import BY_NAME

    fit = BY_NAME["anchor_free"].fit
    shapes = [(1, 2100, 5), (1, 2100, 4)]
    named = sig(*shapes, size=320)
    for roles in ({"distances": 1, "scores": 0}, {"boxes": 1, "scores": 0}):
        found = fit(Signature(320, 320, named.outputs, (), None, roles), True)
        assert found.outputs == roles and found.num_classes == 5
    for roles in (None, {"distances": 1, "boxes": 0}, {"distances": 0, "scores": 1}):
        assert isinstance(fit(Signature(320, 320, named.outputs, (), None, roles), True), str)


def test_distances_decode_from_each_strides_cell_centres_capped_at_the_edges():
    from edge.model.spec import DistanceGrid
    from edge.tasks.anchor_free import anchor_points

    points = anchor_points(DistanceGrid((8, 16), (64.0, 128.0)), 32, 48)  # 48 wide, 32 high
    assert len(points.centers) == 6 * 4 + 3 * 2
    assert points.centers[:7].tolist() == [[4, 4], [12, 4], [20, 4], [28, 4], [36, 4], [44, 4], [4, 12]]
    assert points.centers[24].tolist() == [8, 8] and points.centers[-1].tolist() == [40, 24]
    assert points.reach[23, 0] == 64.0 and points.reach[24, 0] == 128.0
    d = np.float32([[0.25, 0.0, 0.5, 0.125], [1.0, 1.0, 1.0, 1.0]])
    boxes = points.boxes(d, np.array([7, 29]))  # (12, 12) at stride 8; (40, 24) at stride 16
    assert boxes.tolist() == [[0.0, 12.0, 44.0, 20.0], [0.0, 0.0, 48.0, 32.0]]  # 16 px left: capped at 0
    with pytest.raises(EdgeError, match="not a multiple of the model's strides"):
        anchor_points(DistanceGrid((8, 32), (64.0, 384.0)), 32, 48)


def test_the_command_line_offers_every_task_layout_and_runtime():
    """The flags' choices are written out where numpy is not imported (``--help`` stays light): they
    must name every task and layout edge reads, and every interpreter, or a flag an error asks for is
    refused."""
    from edge.commands.options import LAYOUT_NAMES, RUNTIME_NAMES, TASK_NAMES
    from edge.model.layouts import BY_NAME, TASKS
    from edge.model.runtime import RUNTIMES

    assert TASK_NAMES == TASKS and tuple(BY_NAME) == LAYOUT_NAMES
    assert tuple(name for name, _, _ in RUNTIMES) == RUNTIME_NAMES
