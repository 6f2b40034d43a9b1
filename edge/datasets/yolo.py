"""YOLO folders as Ultralytics and Roboflow export them: ``data.yaml`` naming the ``train`` and ``val``
images (folders or lists) and the class names; one ``.txt`` per image in a ``labels`` folder beside
``images`` (``images/train`` + ``labels/train``, or ``train/images`` + ``train/labels``), each line
``class cx cy w h`` normalised to the image."""

from __future__ import annotations

from pathlib import Path

from edge.datasets.boxes import Collector, DetectionSet, image_size
from edge.errors import EdgeError
from edge.sources.images import IMAGE_EXTENSIONS


def _yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise EdgeError("reading a YOLO data.yaml needs PyYAML: pip install pyyaml") from None
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise EdgeError(f"{path} is not readable YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise EdgeError(f"{path} is not a YOLO data.yaml: expected keys train, val and names")
    return data


def class_names(data: dict, path: Path) -> tuple[str, ...]:
    names = data.get("names")
    if isinstance(names, dict) and all(isinstance(k, int) for k in names):
        names = [names[k] for k in sorted(names)]
    if not isinstance(names, list) or not names:
        raise EdgeError(f"{path} names no classes (expected names: [a, b, ...] or names: {{0: a, ...}})")
    if "nc" in data and (not isinstance(data["nc"], int) or data["nc"] != len(names)):
        raise EdgeError(f"{path} says nc: {data['nc']} but names lists {len(names)} classes")
    return tuple(str(n) for n in names)


def _images(entry, base: Path) -> list[Path]:
    """The images of a ``train``/``val`` entry: a folder, a .txt list, or a list of either."""
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    for item in entries:
        if not isinstance(item, str):
            raise EdgeError(f"the images of {item!r} in data.yaml: expected a folder or a .txt list")
        path = Path(item) if Path(item).is_absolute() else base / item
        if not path.exists() and str(item).startswith("../"):  # Roboflow: relative to a folder below
            path = base / str(item)[3:]
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.suffix == ".txt" and path.is_file():
            lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
            out += [p if p.is_absolute() else base / p for p in map(Path, lines)]
        else:
            raise EdgeError(f"the images of {item!r} (from data.yaml) are not at {path}")
    return out


def label_path(image: Path) -> Path:
    """images/.../x.jpg -> labels/.../x.txt (the last ``images`` folder of the path)."""
    parts = list(image.parts)
    i = len(parts) - 1 - parts[::-1].index("images") if "images" in parts else None
    if i is None:
        return image.with_suffix(".txt")
    return Path(*parts[:i], "labels", *parts[i + 1 :]).with_suffix(".txt")


def _check_classes_file(images: list[Path], names: tuple[str, ...], yaml_path: Path) -> None:
    """A classes.txt beside the labels (LabelImg, Roboflow) must name the same classes as data.yaml."""
    if not images:
        return
    listed = label_path(images[0]).parent / "classes.txt"
    if listed.is_file():
        found = tuple(ln.strip() for ln in listed.read_text().splitlines() if ln.strip())
        if found != names:
            raise EdgeError(f"{listed} names {', '.join(found)}, but {yaml_path} names {', '.join(names)}")


def read_yolo(yaml_path: Path, split: str) -> DetectionSet:
    data = _yaml(yaml_path)
    names = class_names(data, yaml_path)
    base = yaml_path.parent / str(data.get("path", "") or "")
    if split not in data:
        raise EdgeError(f"{yaml_path} has no {split!r} entry")
    images = _images(data[split], base)
    _check_classes_file(images, names, yaml_path)
    collector = Collector(len(names))
    for image in images:
        size = image_size(image)
        if size is None:
            collector.broken("unreadable image")
            continue
        width, height = size
        boxes, classes = [], []
        labels = label_path(image)
        lines = labels.read_text().splitlines() if labels.is_file() else []  # no file: no objects
        for line in lines:
            values = line.split()
            if not values:
                continue
            try:
                cls, cx, cy, w, h = int(float(values[0])), *map(float, values[1:5])
            except (ValueError, TypeError):
                collector.broken("unreadable label line")
                continue
            boxes.append(
                [(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]
            )
            classes.append(cls)
        collector.add(image, width, height, boxes, classes)
    return collector.done(yaml_path.parent, "yolo", split, names)
