"""Detection datasets: COCO, Pascal VOC and YOLO folders (both YOLO layouts) read into one form, told
apart by layout, broken labels counted; and ``edgesight eval`` of a third-party detector on each,
scored by pycocotools: the same data in three formats gives the same mAP."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.datasets.detect import open_detection_data
from edge.errors import EdgeError
from tests.conftest import SSD_LABELS, SSD_MODEL, run_cli

# ../shared/assets/README.md's SSD boxes (score >= 0.5), as ground truth: (label, x0, y0, x1, y1).
TRUTH = {
    "dog.jpg": [("bicycle", 135, 117, 572, 434), ("car", 465, 78, 690, 170), ("dog", 130, 205, 327, 540)],
    "pets.jpg": [("dog", 120, 48, 250, 294), ("dog", 343, 161, 495, 368)],
    "traffic_0001.bmp": [("car", 50, 150, 125, 201), ("car", 212, 144, 255, 190)],
}
CLASSES = ("bicycle", "car", "dog")


def _image_sizes(assets: Path) -> dict[str, tuple[int, int]]:
    return {name: cv2.imread(str(assets / "images" / name)).shape[1::-1] for name in TRUTH}


def write_coco(root: Path, assets: Path, ids=(1, 3, 18)) -> Path:
    """COCO with non-contiguous category ids, and one crowd region on top."""
    (root / "val").mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    for i, (name, objects) in enumerate(TRUTH.items(), start=1):
        shutil.copy(assets / "images" / name, root / "val" / name)
        w, h = _image_sizes(assets)[name]
        images.append({"id": i, "file_name": name, "width": w, "height": h})
        for label, x0, y0, x1, y1 in objects:
            cid = ids[CLASSES.index(label)]
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": i,
                    "category_id": cid,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                    "iscrowd": 0,
                }
            )
    anns.append(
        {
            "id": len(anns) + 1,
            "image_id": 3,
            "category_id": ids[1],
            "bbox": [0, 0, 30, 30],
            "area": 900,
            "iscrowd": 1,
        }
    )
    cats = [{"id": cid, "name": name} for cid, name in zip(ids, CLASSES)]
    data = {"images": images, "annotations": anns, "categories": cats}
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root


def write_voc(root: Path, assets: Path) -> Path:
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    (root / "ImageSets" / "Main").mkdir(parents=True)
    for name, objects in TRUTH.items():
        shutil.copy(assets / "images" / name, root / "JPEGImages" / name)
        w, h = _image_sizes(assets)[name]
        objs = "".join(
            f"<object><name>{lb}</name><difficult>0</difficult><bndbox><xmin>{x0 + 1}</xmin>"
            f"<ymin>{y0 + 1}</ymin><xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>"
            for lb, x0, y0, x1, y1 in objects
        )
        size = f"<size><width>{w}</width><height>{h}</height></size>"
        xml = f"<annotation><filename>{name}</filename>{size}{objs}"
        (root / "Annotations" / f"{Path(name).stem}.xml").write_text(xml + "</annotation>")
    (root / "ImageSets" / "Main" / "val.txt").write_text("\n".join(Path(n).stem for n in TRUTH) + "\n")
    return root


def write_yolo(root: Path, assets: Path, layout: str = "ultralytics", names=CLASSES) -> Path:
    """images/val + labels/val (Ultralytics), or val/images + val/labels (Roboflow)."""
    images = root / ("images/val" if layout == "ultralytics" else "val/images")
    labels = root / ("labels/val" if layout == "ultralytics" else "val/labels")
    images.mkdir(parents=True)
    labels.mkdir(parents=True)
    for name, objects in TRUTH.items():
        shutil.copy(assets / "images" / name, images / name)
        w, h = _image_sizes(assets)[name]
        lines = [
            f"{CLASSES.index(lb)} {(x0 + x1) / 2 / w} {(y0 + y1) / 2 / h} {(x1 - x0) / w} {(y1 - y0) / h}"
            for lb, x0, y0, x1, y1 in objects
        ]
        (labels / f"{Path(name).stem}.txt").write_text("\n".join(lines) + "\n")
    rel = "images/val" if layout == "ultralytics" else "val/images"
    (root / "data.yaml").write_text(f"path: .\ntrain: {rel}\nval: {rel}\nnames: {list(names)}\n")
    return root


def test_three_formats_read_the_same_boxes(assets, tmp_path):
    coco = open_detection_data(write_coco(tmp_path / "coco", assets), "val")
    voc = open_detection_data(write_voc(tmp_path / "voc", assets), "val")
    yolo = open_detection_data(write_yolo(tmp_path / "yolo", assets), "val")
    roboflow = open_detection_data(write_yolo(tmp_path / "roboflow", assets, "roboflow"), "val")
    assert [d.format for d in (coco, voc, yolo, roboflow)] == ["coco", "voc", "yolo", "yolo"]
    for data in (coco, voc, yolo, roboflow):
        assert data.class_names == CLASSES and len(data) == 3
        by_name = {r.path.name: r for r in data.images}
        dog = by_name["dog.jpg"]
        assert [data.class_names[c] for c in dog.classes[~dog.ignore]] == ["bicycle", "car", "dog"]
        np.testing.assert_allclose(dog.boxes[~dog.ignore][0], [135, 117, 572, 434], atol=0.5)
    crowd = {r.path.name: r for r in coco.images}["traffic_0001.bmp"]
    assert crowd.ignore.sum() == 1  # iscrowd kept as a region to ignore


def test_a_voc_annotation_without_its_size_is_sized_from_its_image(assets, tmp_path):
    """Some exporters leave out ``<size>`` or write 0 x 0: the image's header says it instead."""
    root = write_voc(tmp_path / "voc", assets)
    whole = {r.path.name: r for r in open_detection_data(root, "val").images}
    dog, traffic = root / "Annotations/dog.xml", root / "Annotations/traffic_0001.xml"
    dog.write_text(re.sub("<size>.*</size>", "", dog.read_text()))
    traffic.write_text(
        re.sub("<size>.*</size>", "<size><width>0</width><height>0</height></size>", traffic.read_text())
    )
    data = open_detection_data(root, "val")
    assert len(data) == 3 and not data.problems
    for record in data.images:
        before = whole[record.path.name]
        assert (
            (record.width, record.height)
            == (before.width, before.height)
            == _image_sizes(assets)[record.path.name]
        )
        np.testing.assert_array_equal(record.boxes, before.boxes)
    (root / "JPEGImages/dog.jpg").write_bytes(b"not an image")  # and no size to fall back on
    assert open_detection_data(root, "val").problems == {"unreadable image": 1}


@pytest.mark.parametrize("fmt", ["coco", "voc", "yolo"])
def test_eval_of_the_ssd_detector_is_the_same_on_every_format(assets, tmp_path, fmt):
    writer = {"coco": write_coco, "voc": write_voc, "yolo": write_yolo}[fmt]
    data = writer(tmp_path / fmt, assets)
    target = data / "data.yaml" if fmt == "yolo" else data
    done = run_cli("eval", SSD_MODEL, target, "--labels", SSD_LABELS, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["format"] == fmt and result["images"] == 3 and result["boxes"] == 7
    assert result["mAP50"] > 0.9 and 0.5 < result["mAP50_95"] <= 1.0, result  # the truth is SSD's own boxes
    assert set(result["per_class_AP50_95"]) == set(CLASSES)
    assert result["threshold"] == 0.001 and result["max_detections"] == 100
    # The truth is SSD's own boxes at 0.5 or more: some cut at or below 0.5 finds them all, and only them.
    best = result["best_f1"]
    assert best["f1"] == 1.0 and best["precision"] == 1.0 and 0.05 <= best["threshold"] <= 0.5, best


def test_broken_labels_are_counted_and_the_rest_is_read(assets, tmp_path):
    root = write_yolo(tmp_path / "yolo", assets)
    labels = root / "labels/val/dog.txt"
    labels.write_text(labels.read_text() + "7 0.5 0.5 0.1 0.1\n0 1.6 0.5 0.2 0.2\nnot a line\n")
    (root / "images/val/broken.jpg").write_bytes(b"not an image")
    data = open_detection_data(root, "val")
    assert data.problems == {
        "unknown class": 1,
        "box outside the image": 1,
        "unreadable label line": 1,
        "unreadable image": 1,
    }
    assert sum(len(r) for r in data.images) == 7  # every good box kept


def test_bad_datasets_are_one_line_errors(assets, tmp_path):
    with pytest.raises(EdgeError, match="looked for COCO: annotations/instances_"):
        open_detection_data(tmp_path, "val")
    root = write_yolo(tmp_path / "yolo", assets)
    (root / "labels/val/classes.txt").write_text("bicycle\ncar\ncat\n")
    with pytest.raises(EdgeError, match="names bicycle, car, cat, but"):
        open_detection_data(root, "val")
    (root / "labels/val/classes.txt").unlink()
    (root / "data.yaml").write_text("train: images/val\nval: images/val\nnames: [a, b]\nnc: 3\n")
    with pytest.raises(EdgeError, match="nc: 3 but names lists 2"):
        open_detection_data(root, "val")
    coco = write_coco(tmp_path / "coco", assets)
    with pytest.raises(EdgeError, match="no instances_train"):
        open_detection_data(coco, "train")
    done = run_cli("eval", SSD_MODEL, tmp_path / "coco", "--json")  # no labels: ids only
    assert done.returncode == 2 and "labels to match" in done.stderr and len(done.stderr.splitlines()) == 1
    mismatch = write_yolo(tmp_path / "other", assets, names=("bicycle", "car", "unicorn"))
    done = run_cli("eval", SSD_MODEL, mismatch, "--labels", SSD_LABELS)
    assert done.returncode == 2 and "unicorn" in done.stderr and "class names must match" in done.stderr


def test_malformed_coco_and_yolo_files_are_one_line_errors(assets, tmp_path):
    """A field missing or of the wrong type, anywhere in the file, is one line naming the file."""
    coco = write_coco(tmp_path / "coco", assets)
    path = coco / "annotations/instances_val.json"
    good = json.loads(path.read_text())
    cases = (({"height": None}, None), ({}, [0, 0, 3]), ({"width": "ten"}, None), ({}, ["a", 0, 3, 3]))
    for image, bbox in cases:
        data = json.loads(json.dumps(good))
        data["images"][0].update(image)
        data["images"][0] = {k: v for k, v in data["images"][0].items() if v is not None}
        if bbox is not None:
            data["annotations"][0]["bbox"] = bbox
        path.write_text(json.dumps(data))
        with pytest.raises(EdgeError, match=r"instances_val\.json is not a COCO annotation file"):
            open_detection_data(coco, "val")
    root = write_yolo(tmp_path / "yolo", assets)
    yaml_cases = {
        "train: images/val\nval: {{{\nnames: [a]\n": "is not readable YAML",
        "train: images/val\nval: 5\nnames: [a]\n": "expected a folder or a .txt list",
        "train: images/val\nval: images/val\nnames: [a]\nnc: many\n": "says nc: many",
        "train: images/val\nval: images/val\nnames: {0: a, x: b}\n": "names no classes",
    }
    for text, message in yaml_cases.items():
        (root / "data.yaml").write_text(text)
        with pytest.raises(EdgeError, match=message) as caught:
            open_detection_data(root, "val")
        assert "\n" not in str(caught.value)
