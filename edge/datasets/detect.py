"""Which detection format a folder holds, told from its layout; a folder that matches none is one line
that lists what was looked for."""

from __future__ import annotations

from pathlib import Path

from edge.datasets.boxes import DetectionSet
from edge.errors import EdgeError

LOOKED_FOR = (
    "COCO: annotations/instances_*.json; "
    "Pascal VOC: Annotations/*.xml with JPEGImages/; "
    "YOLO: data.yaml (or a .yaml file) naming train, val and names"
)


def detection_format(path: Path) -> tuple[str, Path]:
    """(format, where): ``coco`` / ``voc`` with the folder, ``yolo`` with its yaml file."""
    from edge.datasets.coco import annotation_files

    path = Path(path)
    if not path.exists():
        raise EdgeError(f"data not found: {path}")
    if path.is_file() and path.suffix in (".yaml", ".yml"):
        return "yolo", path
    if path.is_dir():
        if annotation_files(path):
            return "coco", path
        if (path / "Annotations").is_dir() and (path / "JPEGImages").is_dir():
            return "voc", path
        for name in ("data.yaml", "data.yml", "dataset.yaml"):
            if (path / name).is_file():
                return "yolo", path / name
    raise EdgeError(f"{path} is not a detection dataset I can read; looked for {LOOKED_FOR}")


def is_detection_data(path: Path) -> bool:
    try:
        detection_format(path)
        return True
    except EdgeError:
        return False


def open_detection_data(path: Path, split: str = "val") -> DetectionSet:
    """One split (``train`` or ``val``) of a COCO, VOC or YOLO folder."""
    fmt, where = detection_format(path)
    if fmt == "coco":
        from edge.datasets.coco import read_coco

        data = read_coco(where, split)
    elif fmt == "voc":
        from edge.datasets.voc import read_voc

        data = read_voc(where, split)
    else:
        from edge.datasets.yolo import read_yolo

        data = read_yolo(where, split)
    if not data.class_names:
        raise EdgeError(f"{path} ({fmt}) names no classes")
    return data
