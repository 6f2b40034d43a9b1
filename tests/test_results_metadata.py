"""Result types, their JSON shape, and metadata read from third-party and our own models."""

import numpy as np
import pytest

from edge.commands.predict import print_result
from edge.errors import EdgeError
from edge.model.metadata import read_model_file
from edge.tasks.results import Classes, Detections, Segmentation, percent, record


def test_classes_json_shape():
    c = Classes(ids=[934, 932], scores=[0.96, 0.03], labels=("cheeseburger", None))
    assert record(c, image="a.jpg") == {
        "image": "a.jpg",
        "task": "classify",
        "classes": [
            {"id": 934, "label": "cheeseburger", "score": 0.96},
            {"id": 932, "label": None, "score": 0.03},
        ],
    }


def test_detections_json_shape_and_validation_messages():
    d = Detections(xyxy=[[1, 2, 3, 4]], scores=[0.5], class_ids=[17], labels=("dog",))
    assert d.to_dict()["detections"] == [
        {"id": 17, "label": "dog", "score": 0.5, "box": [1.0, 2.0, 3.0, 4.0]}
    ]
    assert len(Detections(xyxy=[], scores=[], class_ids=[], labels=())) == 0
    with pytest.raises(ValueError, match=r"xyxy: expected shape \(N, 4\), got \(3,\)"):
        Detections(xyxy=[1, 2, 3], scores=[0.5], class_ids=[1], labels=("a",))
    with pytest.raises(ValueError, match=r"scores: expected shape \(2,\)"):
        Classes(ids=[1, 2], scores=[0.5], labels=("a", "b"))


def test_a_share_is_never_rounded_to_an_end_it_is_not_at(capsys):
    shares = (0.0, 0.0003, 0.005, 0.0051, 0.85, 0.9949, 0.9951, 1.0)
    assert [percent(s) for s in shares] == ["0%", "<1%", "<1%", "1%", "85%", "99%", ">99%", "100%"]
    assert [percent(s, 1) for s in (0.0, 0.0003, 0.0006, 0.9997, 1.0)] == [
        "0.0%",
        "<0.1%",
        "0.1%",
        ">99.9%",
        "100.0%",
    ]
    class_map = np.zeros((100, 100), np.uint8)
    class_map[0, :3] = 12  # 3 pixels in 10,000: a dog at the edge
    seg = Segmentation(class_map, [0, 12], [0.9997, 0.0003], ("background", "dog"))
    print_result("a.jpg", seg)
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:] == ["  >99.9%  background  (id 0)", "   <0.1%  dog  (id 12)"]


def test_a_sampling_is_checked_once_and_gives_the_frame_pixels_of_a_map_box():
    from edge.tasks.results import Segmentation
    from edge.tasks.sampling import Sampling

    sampling = Sampling([0, 0, 1, 1, 1, 3], [0, 1, 1, 2])  # row 2 and beyond column 2: not sampled
    assert sampling.frame_size == (4, 6) and sampling.extent == (3, 4)
    assert not sampling.rows.flags.writeable  # shared by every frame's result: read-only
    assert sampling.spans(1, 1, 1, 1) == (1, 2, 3, 5)  # map pixel (1, 1): frame columns 1-2, rows 2-4
    assert sampling.spans(0, 2, 3, 1) == (0, 5, 4, 5)  # map row 2: no frame row samples it
    assert sampling.spans(5, 3, 2, 2) == (4, 5, 4, 6)  # past the last sampled column: empty
    assert sampling.spans(0, 0, 0, 0) == (0, 0, 0, 0)  # an empty box: an empty rectangle
    with pytest.raises(ValueError, match="rows: indices must be 0 or more and never decrease"):
        Sampling([0, 2, 1], [0])
    with pytest.raises(ValueError, match="columns: indices must be 0 or more"):
        Sampling([0], [-1, 0])
    with pytest.raises(ValueError, match=r"sampling: reads a 3 x 4 map, the class map is 3 x 3"):
        Segmentation(np.zeros((3, 3), np.uint8), [0], [1.0], ["bg"], sampling)
    result = Segmentation(np.arange(12, dtype=np.uint8).reshape(4, 3), [0], [1.0], ["bg"], sampling)
    assert result.frame_size == (4, 6) and result.frame_map().shape == (6, 4)
    assert result.frame_map(1, 2, 3, 5).tolist() == [[4, 4], [4, 4], [4, 4]]


def test_third_party_metadata_is_read(assets):
    m = read_model_file(assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite")
    assert m.metadata.inputs[0].mean == (127.5,) and m.metadata.inputs[0].std == (127.5,)
    assert m.metadata.inputs[0].color_space == "RGB"
    labels = m.metadata.outputs[0].axis_labels
    assert len(labels) == 1001 and labels[0] == "background" and labels[934] == "cheeseburger"
    assert (
        read_model_file(assets / "models/classification/mobilenet_v2_1.0_224_quant.tflite").metadata is None
    )
    float_v1 = read_model_file(assets / "models/classification/mobilenet_v1_0.25_224_1_metadata_1.tflite")
    assert float_v1.metadata.inputs[0].mean == (127.5,) and float_v1.metadata.inputs[0].std == (127.5,)
    assert float_v1.metadata.outputs[0].axis_labels == labels


def test_deeplab_metadata_gives_its_normalisation_and_pascal_voc_labels(assets):
    md = read_model_file(assets / "models/segmentation/deeplabv3.tflite").metadata
    assert md.name == "DeepLabV3" and md.inputs[0].mean == (127.5,) and md.inputs[0].std == (127.5,)
    labels = md.outputs[0].axis_labels
    expected = (assets / "models/segmentation/labelmap.txt").read_text().splitlines()
    assert len(labels) == 21 and labels[0] == "background" and labels[15] == "person"
    assert list(labels) == expected


def test_our_export_describes_itself(trained):
    m = read_model_file(trained["models"]["int8"])
    md = m.metadata
    assert md.outputs[0].axis_labels == trained["info"].class_names
    assert (
        md.inputs[0].mean == (127.5,) and md.inputs[0].std == (127.5,) and md.inputs[0].color_space == "RGB"
    )
    assert md.custom["task"] == "classify" and md.custom["resize"] == "stretch"
    assert md.custom["scores"] == "probabilities" and md.custom["quantization"] == "int8"
    assert md.min_parser_version == "1.5.0" and "labels.txt" in md.files


def test_not_a_model_and_truncated_models_are_clear_errors(tmp_path, assets):
    text = tmp_path / "notes.tflite"
    text.write_text("hello, this is not a model")
    with pytest.raises(EdgeError, match="not a TFLite model"):
        read_model_file(text)
    good = (assets / "models/classification/mobilenet_v1_0.25_224_quant.tflite").read_bytes()
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(good[:4096])
    with pytest.raises(EdgeError, match=r"corrupt|cannot load"):
        import edge

        edge.load(cut)


def test_quantized_outputs_are_dequantized(trained):
    import edge

    with edge.load(trained["models"]["int8"], top_k=5) as model:
        assert model.runtime.outputs[0].dtype == np.uint8
        result = model(np.zeros((40, 40, 3), np.uint8))
    assert np.all((result.scores >= 0) & (result.scores <= 1)) and abs(float(result.scores.sum()) - 1) < 0.05


def test_draw_renders_boxes_and_classes_on_a_copy():
    from edge.sinks.render import draw

    frame = np.zeros((240, 320, 3), np.uint8)
    det = Detections(xyxy=[[40, 60, 200, 180]], scores=[0.9], class_ids=[3], labels=["car"])
    boxed = draw(frame, det)
    assert not frame.any()  # the caller's frame is left alone
    assert boxed[120, 40].any() and boxed[120, 200].any() and boxed[180, 120].any()  # the box's edges
    assert not boxed[120, 120].any() and not boxed[20, 300].any()  # inside and far outside: untouched
    texted = draw(frame, Classes(ids=[1, 2], scores=[0.7, 0.2], labels=["cat", None]), fps=12.5)
    assert texted[:40, :120].any() and texted[-20:, :100].any()  # top-k at the top left, fps below
    assert not draw(frame, Detections(xyxy=np.zeros((0, 4)), scores=[], class_ids=[], labels=[])).any()


def test_text_is_a_kept_box_clipped_to_the_frame():
    from edge.sinks.render import _text_patch, put_text

    frame = np.full((60, 160, 3), 100, np.uint8)  # room for the box whatever OpenCV's font metrics
    put_text(frame, "cat 50%", (10, 30), 0.5)
    patch, baseline = _text_patch("cat 50%", 0.5, (255, 255, 255))
    h, w = patch.shape[:2]
    assert np.array_equal(frame[30 - baseline : 30 - baseline + h, 8 : 8 + w], patch)  # the box, whole
    assert (frame[: 30 - baseline] == 100).all() and (frame[:, 8 + w :] == 100).all()  # nothing outside
    assert patch[baseline - 3, 3:].any() and not patch[:2].any() and not patch[:, :2].any()  # ink, margins
    hits = _text_patch.cache_info().hits
    corner = np.full((60, 80, 3), 100, np.uint8)
    put_text(corner, "cat 50%", (70, 5), 0.5)  # past the right and top edges: the part inside
    assert _text_patch.cache_info().hits == hits + 1  # drawn once, copied since
    assert np.array_equal(corner[: 5 - baseline + h, 68:], patch[baseline - 5 :, :12])
    assert (corner[5 - baseline + h :] == 100).all() and (corner[:, :68] == 100).all()
    put_text(corner, "cat 50%", (-500, 500), 0.5)  # wholly outside: nothing, no error
