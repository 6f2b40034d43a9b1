"""Read the standard TFLite metadata (and edgesight's own entry) embedded in a ``.tflite`` file.

The slot numbers below are the field order of TensorFlow Lite's ``schema.fbs`` and of the metadata
schema ``metadata_schema.fbs`` (file identifier ``M001``); ``train.metadata_writer`` writes with the
same numbers, so reader and writer cannot drift apart. Associated files (``labels.txt``) live in a
zip archive appended to the model, as the TFLite Support tooling does.
"""

from __future__ import annotations

import ast
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from edge.errors import EdgeError
from edge.model.flatbuf import FlatbufferError, Table

TFLITE_IDENTIFIER = b"TFL3"
METADATA_IDENTIFIER = b"M001"
METADATA_NAME = "TFLITE_METADATA"
CUSTOM_NAME = "edgesight"
MIN_PARSER_VERSION = "1.5.0"  # custom_metadata in SubGraphMetadata


class ModelF:
    """tflite.Model"""

    BUFFERS = 4
    METADATA = 6


class MetadataF:
    """tflite.Metadata: one named entry pointing at a buffer."""

    NAME = 0
    BUFFER = 1


class BufferF:
    """tflite.Buffer"""

    DATA = 0
    OFFSET = 1
    SIZE = 2


class ModelMetadataF:
    NAME = 0
    DESCRIPTION = 1
    VERSION = 2
    SUBGRAPH_METADATA = 3
    AUTHOR = 4
    LICENSE = 5
    ASSOCIATED_FILES = 6
    MIN_PARSER_VERSION = 7
    NUM = 8


class SubGraphMetadataF:
    NAME = 0
    DESCRIPTION = 1
    INPUT_TENSOR_METADATA = 2
    OUTPUT_TENSOR_METADATA = 3
    ASSOCIATED_FILES = 4
    INPUT_PROCESS_UNITS = 5
    OUTPUT_PROCESS_UNITS = 6
    INPUT_TENSOR_GROUPS = 7
    OUTPUT_TENSOR_GROUPS = 8
    CUSTOM_METADATA = 9
    NUM = 10


class TensorMetadataF:
    NAME = 0
    DESCRIPTION = 1
    DIMENSION_NAMES = 2
    CONTENT = 3
    PROCESS_UNITS = 4
    STATS = 5
    ASSOCIATED_FILES = 6
    NUM = 7


class ContentF:
    PROPERTIES_TYPE = 0  # union type of content_properties
    PROPERTIES = 1
    RANGE = 2
    NUM = 3


class ImagePropertiesF:
    COLOR_SPACE = 0
    DEFAULT_SIZE = 1
    NUM = 2


class ProcessUnitF:
    OPTIONS_TYPE = 0  # union type of options
    OPTIONS = 1
    NUM = 2


class NormalizationF:
    MEAN = 0
    STD = 1
    NUM = 2


class AssociatedFileF:
    NAME = 0
    DESCRIPTION = 1
    TYPE = 2
    LOCALE = 3
    NUM = 4


class CustomMetadataF:
    NAME = 0
    DATA = 1
    NUM = 2


# Enum values of the metadata schema.
CONTENT_FEATURE = 1
CONTENT_IMAGE = 2
PROCESS_NORMALIZATION = 1
FILE_TENSOR_AXIS_LABELS = 2
FILE_TENSOR_VALUE_LABELS = 3
COLOR_SPACES = {0: None, 1: "RGB", 2: "GRAYSCALE"}


@dataclass(frozen=True)
class TensorMeta:
    """What the metadata says about one input or output tensor."""

    name: str | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    color_space: str | None = None
    axis_labels: tuple[str, ...] | None = None
    value_labels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ModelMetadata:
    """The standard metadata of a model, plus edgesight's custom JSON entry (empty when absent)."""

    name: str | None = None
    description: str | None = None
    version: str | None = None
    min_parser_version: str | None = None
    inputs: tuple[TensorMeta, ...] = ()
    outputs: tuple[TensorMeta, ...] = ()
    custom: dict = field(default_factory=dict)
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelFile:
    """A ``.tflite`` file read once: its bytes, its named metadata entries and parsed metadata."""

    path: Path
    content: bytes
    entries: dict[str, bytes]
    metadata: ModelMetadata | None
    ultralytics: dict = field(default_factory=dict)


def parse_labels(raw: bytes) -> tuple[str, ...]:
    """One label a line; trailing blank lines dropped."""
    lines = raw.decode("utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return tuple(line.strip() for line in lines)


def read_labels_file(path: str | Path) -> tuple[str, ...]:
    """A labels file, one label a line; an unreadable file is an ``EdgeError``."""
    try:
        labels = parse_labels(Path(path).read_bytes())
    except OSError as exc:
        raise EdgeError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    if not labels:
        raise EdgeError(f"labels file {path} is empty: expected one label a line")
    return labels


def read_model_file(path: str | Path) -> ModelFile:
    """Read a ``.tflite`` file and its metadata; a missing or malformed file is an ``EdgeError``."""
    path = Path(path)
    if not path.is_file():
        raise EdgeError(f"model file not found: {path}")
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise EdgeError(f"cannot read model file {path}: {exc.strerror}") from exc
    if len(content) < 8 or content[4:8] != TFLITE_IDENTIFIER:
        found = content[4:8] if len(content) >= 8 else b"(file too short)"
        raise EdgeError(
            f"{path} is not a TFLite model: expected file identifier {TFLITE_IDENTIFIER!r} "
            f"at byte 4, found {found!r}"
        )
    try:
        entries = _metadata_entries(content)
        files = _associated_files(content)
        raw = entries.get(METADATA_NAME)
        metadata = _parse_metadata(raw, files) if raw else None
    except (FlatbufferError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EdgeError(f"{path} is a corrupt TFLite model: {exc}") from exc
    return ModelFile(
        path=path, content=content, entries=entries, metadata=metadata, ultralytics=read_ultralytics(files)
    )


def read_ultralytics(files: dict[str, bytes]) -> dict:
    """The metadata Ultralytics appends to its TFLite exports, or ``{}``.

    Recent exports append ``metadata.json`` to the file's zip archive; older ones packed the same dict,
    written as a Python literal, as the associated file ``temp_meta.txt``. ``names`` (a dict of class
    id to name) becomes a tuple in id order.
    """
    for name in ("metadata.json", "temp_meta.txt"):
        raw = files.get(name)
        if raw is None:
            continue
        text = raw.decode("utf-8", errors="replace")
        try:
            meta = json.loads(text) if name.endswith(".json") else ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(meta, dict) and isinstance(meta.get("names"), (dict, list)):
            return {**meta, "names": _names(meta["names"])}
    return {}


def _names(names: dict | list) -> tuple[str, ...]:
    if isinstance(names, list):
        return tuple(str(n) for n in names)
    by_id = {}
    for key, value in names.items():
        try:
            by_id[int(key)] = str(value)
        except (TypeError, ValueError):
            continue
    return tuple(by_id.get(i, str(i)) for i in range(max(by_id) + 1)) if by_id else ()


def _metadata_entries(content: bytes) -> dict[str, bytes]:
    """The Model's ``metadata`` map: entry name -> buffer bytes."""
    model = Table.root(content)
    buffers = model.tables(ModelF.BUFFERS)
    entries: dict[str, bytes] = {}
    for entry in model.tables(ModelF.METADATA):
        name = entry.string(MetadataF.NAME) or ""
        index = int(entry.scalar(MetadataF.BUFFER, "<I"))
        if index >= len(buffers):
            raise FlatbufferError(f"metadata {name!r} points at buffer {index} of {len(buffers)}")
        buf = buffers[index]
        data = buf.bytes(BufferF.DATA)
        if data is None:  # large-model layout: data stored by absolute offset and size
            offset = int(buf.scalar(BufferF.OFFSET, "<Q"))
            size = int(buf.scalar(BufferF.SIZE, "<Q"))
            data = content[offset : offset + size] if offset > 1 else b""
        entries[name] = data
    return entries


def _associated_files(content: bytes) -> dict[str, bytes]:
    """Files in the zip archive appended to the model (empty when there is none)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError, ValueError):
        return {}


def _parse_metadata(raw: bytes, files: dict[str, bytes]) -> ModelMetadata:
    if raw[4:8] != METADATA_IDENTIFIER:
        raise FlatbufferError(f"metadata identifier {raw[4:8]!r}, expected {METADATA_IDENTIFIER!r}")
    root = Table.root(raw)
    subgraphs = root.tables(ModelMetadataF.SUBGRAPH_METADATA)
    inputs: tuple[TensorMeta, ...] = ()
    outputs: tuple[TensorMeta, ...] = ()
    custom: dict = {}
    if subgraphs:
        sub = subgraphs[0]
        inputs = tuple(_tensor_meta(t, files) for t in sub.tables(SubGraphMetadataF.INPUT_TENSOR_METADATA))
        outputs = tuple(_tensor_meta(t, files) for t in sub.tables(SubGraphMetadataF.OUTPUT_TENSOR_METADATA))
        for entry in sub.tables(SubGraphMetadataF.CUSTOM_METADATA):
            if entry.string(CustomMetadataF.NAME) == CUSTOM_NAME:
                custom = json.loads((entry.bytes(CustomMetadataF.DATA) or b"{}").decode("utf-8"))
    return ModelMetadata(
        name=root.string(ModelMetadataF.NAME),
        description=root.string(ModelMetadataF.DESCRIPTION),
        version=root.string(ModelMetadataF.VERSION),
        min_parser_version=root.string(ModelMetadataF.MIN_PARSER_VERSION),
        inputs=inputs,
        outputs=outputs,
        custom=custom,
        files=tuple(sorted(files)),
    )


def _tensor_meta(tensor: Table, files: dict[str, bytes]) -> TensorMeta:
    mean = std = None
    for unit in tensor.tables(TensorMetadataF.PROCESS_UNITS):
        if unit.scalar(ProcessUnitF.OPTIONS_TYPE, "<B") == PROCESS_NORMALIZATION:
            options = unit.table(ProcessUnitF.OPTIONS)
            if options is not None:
                mean = tuple(options.scalars(NormalizationF.MEAN, "<f")) or None
                std = tuple(options.scalars(NormalizationF.STD, "<f")) or None
    color_space = None
    content = tensor.table(TensorMetadataF.CONTENT)
    if content is not None and content.scalar(ContentF.PROPERTIES_TYPE, "<B") == CONTENT_IMAGE:
        props = content.table(ContentF.PROPERTIES)
        if props is not None:
            color_space = COLOR_SPACES.get(int(props.scalar(ImagePropertiesF.COLOR_SPACE, "<b")))
    labels: dict[int, tuple[str, ...]] = {}
    for assoc in tensor.tables(TensorMetadataF.ASSOCIATED_FILES):
        kind = int(assoc.scalar(AssociatedFileF.TYPE, "<b"))
        name = assoc.string(AssociatedFileF.NAME)
        if (
            kind in (FILE_TENSOR_AXIS_LABELS, FILE_TENSOR_VALUE_LABELS)
            and name in files
            and kind not in labels
        ):
            labels[kind] = parse_labels(files[name])
    return TensorMeta(
        name=tensor.string(TensorMetadataF.NAME),
        mean=mean,
        std=std,
        color_space=color_space,
        axis_labels=labels.get(FILE_TENSOR_AXIS_LABELS),
        value_labels=labels.get(FILE_TENSOR_VALUE_LABELS),
    )
