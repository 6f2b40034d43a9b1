"""What to export: a run folder from ``edgesight train``, a ``.keras`` file or a SavedModel directory.

Each becomes one ``ExportSource``: the Keras model, its input size, labels, normalisation, the labelled
validation images every variant is checked on, and the images int8 modes calibrate with. Paths and
flags are checked before TensorFlow loads, so a bad argument fails fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edge.errors import EdgeError
from edge.model.metadata import read_labels_file
from edge.sources.images import ImageFolder, scan_image_folder
from train.data.folders import check_decodable, list_images, load_split
from train.quiet import import_tensorflow


@dataclass(frozen=True)
class ExportSource:
    """A model ready to convert, with the data around it."""

    model: object  # a Keras model (any batch size)
    kind: str  # "run", "keras" or "savedmodel"
    path: Path
    name: str
    height: int
    width: int
    channels: int
    labels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    val: ImageFolder
    calib: tuple[Path, ...]
    calib_from: str
    size_bytes: int
    seed: int = 0
    task: str = "classify"  # or "detect": val is then a DetectionSet and inputs are letterboxed
    resize: str = "stretch"


def _calibration(calib: Path | None, fallback: tuple[Path, ...], fallback_from: str):
    if calib is None:
        return fallback, fallback_from
    paths = tuple(list_images(calib))
    check_decodable(paths, str(calib))  # an empty or unreadable folder fails before TensorFlow loads
    return paths, str(calib)


def _size_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _load_keras(path: Path):
    import_tensorflow()
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for unreadable files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise EdgeError(f"cannot load Keras model {path}: {first}") from exc


def _load_savedmodel(path: Path):
    import_tensorflow()
    import keras
    import tensorflow as tf

    try:
        loaded = tf.saved_model.load(str(path))
        signature = loaded.signatures["serving_default"]
    except (KeyError, OSError, ValueError, tf.errors.OpError) as exc:
        raise EdgeError(f"cannot load SavedModel {path}: expected a 'serving_default' signature") from exc
    specs = list(signature.structured_input_signature[1].values())
    if len(specs) != 1:
        raise EdgeError(f"SavedModel {path} has {len(specs)} inputs: export handles one image input")
    shape = tuple(specs[0].shape)
    if len(shape) != 4:
        raise EdgeError(f"SavedModel {path} input has shape {list(shape)}: expected [batch, H, W, C]")
    layer = keras.layers.TFSMLayer(str(path), call_endpoint="serving_default")
    inputs = keras.Input(shape[1:], name="image")
    outputs = layer(inputs)
    if isinstance(outputs, dict):
        if len(outputs) != 1:
            raise EdgeError(f"SavedModel {path} has outputs {sorted(outputs)}: export handles one output")
        outputs = next(iter(outputs.values()))
    return keras.Model(inputs, outputs, name=path.name)


def _check_shapes(model, path: Path) -> tuple[int, int, int, int]:
    """(height, width, channels, classes) of a one-input, one-output image classifier."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise EdgeError(
            f"{path} has {len(model.inputs)} inputs and {len(model.outputs)} outputs: "
            "export handles image classifiers with one input and one output"
        )
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 4 or shape[3] not in (1, 3):
        raise EdgeError(
            f"{path} input has shape {list(shape)}: expected [batch, H, W, 3] or [batch, H, W, 1]"
        )
    if shape[1] is None or shape[2] is None:
        raise EdgeError(
            f"{path} input has dynamic dimensions {list(shape)} (only the batch may be dynamic): "
            "rebuild the model with a fixed input size, e.g. keras.Input((224, 224, 3))"
        )
    out = tuple(model.outputs[0].shape)
    if len(out) != 2 or out[1] is None:
        raise EdgeError(f"{path} output has shape {list(out)}: expected [batch, classes] scores")
    return int(shape[1]), int(shape[2]), int(shape[3]), int(out[1])


def open_export_source(
    path: Path,
    labels: Path | None = None,
    mean: tuple[float, ...] | None = None,
    std: tuple[float, ...] | None = None,
    val: Path | None = None,
    calib: Path | None = None,
) -> ExportSource:
    """Read a run folder, ``.keras`` file or SavedModel directory; ``EdgeError`` names what is missing."""
    path = Path(path)
    if not path.exists():
        raise EdgeError(f"model not found: {path}")
    if path.is_dir() and (path / "run.json").is_file():
        return _from_run(path, val, calib)
    if path.is_dir() and not (path / "saved_model.pb").is_file():
        raise EdgeError(
            f"{path} is neither a run folder (run.json and model.keras, from 'edgesight train') "
            "nor a SavedModel (saved_model.pb)"
        )
    if path.is_file() and path.suffix != ".keras":
        raise EdgeError(f"{path}: expected a run folder, a .keras file or a SavedModel directory")
    if mean is None or std is None:
        raise EdgeError(
            f"{path.name} does not say how it expects pixels: pass --mean and --std "
            "(e.g. 127.5 and 127.5 for inputs in [-1, 1]; 0 and 1 when the model rescales itself)"
        )
    if any(s == 0 for s in std):
        raise EdgeError("--std must not be 0")
    if val is None:
        raise EdgeError(
            f"exporting {path.name} needs --val DIR: labelled images (one subfolder per class) to check "
            "every variant against the Keras model"
        )
    val_folder = scan_image_folder(val)
    calib_paths, calib_from = _calibration(calib, val_folder.paths, f"{val} (validation images)")
    kind = "savedmodel" if path.is_dir() else "keras"
    model = _load_savedmodel(path) if kind == "savedmodel" else _load_keras(path)
    height, width, channels, classes = _check_shapes(model, path)
    names = read_labels_file(labels) if labels is not None else val_folder.class_names
    if len(names) != classes:
        source = str(labels) if labels is not None else f"the class folders of {val}"
        raise EdgeError(
            f"{len(names)} labels from {source} but the model outputs {classes} classes: pass --labels FILE"
        )
    return ExportSource(
        model=model,
        kind=kind,
        path=path,
        name=path.stem if kind == "keras" else path.name,
        height=height,
        width=width,
        channels=channels,
        labels=tuple(names),
        mean=tuple(mean),
        std=tuple(std),
        val=val_folder,
        calib=calib_paths,
        calib_from=calib_from,
        size_bytes=_size_bytes(path),
    )


def _from_run(path: Path, val: Path | None, calib: Path | None) -> ExportSource:
    from train.runs import load_run, resolve_data

    info = load_run(path)
    data = resolve_data(info, path)
    if info.task == "detect":
        return _from_detector_run(path, info, data, val, calib)
    if val is None or calib is None:
        try:
            split = load_split(data, info.val_split, info.seed)
        except EdgeError as exc:
            raise EdgeError(f"{exc} (the run's data; pass --val DIR and --calib DIR)") from exc
    val_folder = scan_image_folder(val) if val is not None else split.val
    fallback = () if calib is not None else split.train.paths
    calib_paths, calib_from = _calibration(calib, fallback, f"{data} (training split)")
    model = _load_keras(path / "model.keras")
    height, width, channels, classes = _check_shapes(model, path / "model.keras")
    if classes != len(info.class_names):
        raise EdgeError(
            f"{path}: run.json names {len(info.class_names)} classes, the model outputs {classes}"
        )
    return ExportSource(
        model=model,
        kind="run",
        path=path,
        name=info.model,
        height=height,
        width=width,
        channels=channels,
        labels=info.class_names,
        mean=info.mean,
        std=info.std,
        val=val_folder,
        calib=calib_paths,
        calib_from=calib_from,
        size_bytes=(path / "model.keras").stat().st_size,
        seed=info.seed,
    )


def _from_detector_run(path: Path, info, data: Path, val: Path | None, calib: Path | None) -> ExportSource:
    """A detector's run: validation from the run's data (or ``--val``, a COCO/VOC/YOLO folder),
    calibration from its training images (or ``--calib``), letterboxed as the device feeds them."""
    from edge.datasets.detect import open_detection_data
    from train.data.readable import readable_set

    try:
        # the images that do not decode left out, as training does
        val_set = readable_set(open_detection_data(val if val is not None else data, "val"))
        train_paths = (
            () if calib is not None else tuple(r.path for r in open_detection_data(data, "train").images)
        )
    except EdgeError as exc:
        raise EdgeError(f"{exc} (the run's data; pass --val DIR and --calib DIR)") from exc
    if val_set.class_names != info.class_names:
        raise EdgeError(
            f"{val or data}: its classes {val_set.class_names} are not the run's {info.class_names}"
        )
    calib_paths, calib_from = _calibration(calib, train_paths, f"{data} (training split)")
    import_tensorflow()
    import train.models.detector  # noqa: F401 (registers the layer the saved model uses)

    model = _load_keras(path / "model.keras")
    return ExportSource(
        model=model,
        kind="run",
        path=path,
        name=f"{info.model} detector",
        height=info.size,
        width=info.size,
        channels=3,
        labels=info.class_names,
        mean=info.mean,
        std=info.std,
        val=val_set,
        calib=calib_paths,
        calib_from=calib_from,
        size_bytes=(path / "model.keras").stat().st_size,
        seed=info.seed,
        task="detect",
        resize="letterbox",
    )
