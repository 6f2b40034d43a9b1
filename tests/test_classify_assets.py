"""Third-party classifiers from ../shared/assets give the published answers through edge."""

import cv2
import pytest

import edge
from edge.errors import EdgeError
from edge.model.spec import Overrides

MODELS = {
    "v1_quant": ("mobilenet_v1_0.25_224_quant.tflite", False),
    "v1_float": ("mobilenet_v1_0.25_224_1_metadata_1.tflite", False),
    "v2_quant": ("mobilenet_v2_1.0_224_quant.tflite", True),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_burger_is_a_cheeseburger_and_the_cat_an_egyptian_cat(assets, name):
    file, needs_labels = MODELS[name]
    folder = assets / "models" / "classification"
    overrides = Overrides(labels=folder / "labels.txt") if needs_labels else None
    with edge.load(folder / file, overrides=overrides, top_k=3) as model:
        burger = model(cv2.imread(str(assets / "images" / "burger.jpg")))
        cat = model(cv2.imread(str(assets / "images" / "cat_720p.jpg")))
        assert model.spec.scores == "probabilities" or name == "v2_quant"
    assert burger.labels[0] == "cheeseburger" and burger.ids[0] == 934
    assert burger.scores[0] > 0.9
    assert cat.labels[0] == "Egyptian cat"
    assert set(cat.labels) <= {"Egyptian cat", "tabby", "tiger cat", "lynx"}


def test_logits_model_is_softmaxed_from_its_graph(assets):
    folder = assets / "models" / "classification"
    with edge.load(folder / "mobilenet_v2_1.0_224_quant.tflite", top_k=1) as model:
        assert model.spec.scores == "logits" and model.spec.labels is None
        result = model(cv2.imread(str(assets / "images" / "burger.jpg")))
    assert result.ids[0] == 934 and result.labels[0] is None
    assert result.scores[0] == pytest.approx(0.965, abs=0.02)


def test_wrong_label_count_names_both_numbers(assets, tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    folder = assets / "models" / "classification"
    with pytest.raises(EdgeError, match="3 entries but the model outputs 1001 classes"):
        edge.load(folder / "mobilenet_v2_1.0_224_quant.tflite", overrides=Overrides(labels=labels))


def test_top_k_and_threshold_filter_the_classes_best_first(assets):
    folder = assets / "models" / "classification"
    image = cv2.imread(str(assets / "images" / "cat_720p.jpg"))
    with edge.load(folder / "mobilenet_v1_0.25_224_quant.tflite", top_k=10) as model:
        ten = model(image)
    with edge.load(folder / "mobilenet_v1_0.25_224_quant.tflite", top_k=10, threshold=0.1) as model:
        confident = model(image)
    assert len(ten) == 10 and list(ten.scores) == sorted(ten.scores, reverse=True)
    assert 0 < len(confident) < 10 and all(s >= 0.1 for s in confident.scores)
    assert list(confident.ids) == list(ten.ids[: len(confident)])
