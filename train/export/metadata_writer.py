"""Write the standard TFLite metadata (``TFLITE_METADATA``, identifier ``M001``) into a converted model.

The metadata flatbuffer is built with the ``flatbuffers`` Builder, using the slot numbers that
``edge.model.metadata`` reads with; it is attached as a model buffer through TensorFlow's own TFLite schema
module, and the associated files (``labels.txt``) are appended as a zip archive, as the TFLite Support
tooling does. MediaPipe Tasks and the TFLite Task Library read the same fields.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass

import flatbuffers
import numpy as np

from edge.model.metadata import (
    CONTENT_FEATURE,
    CONTENT_IMAGE,
    CUSTOM_NAME,
    FILE_TENSOR_AXIS_LABELS,
    METADATA_IDENTIFIER,
    METADATA_NAME,
    MIN_PARSER_VERSION,
    PROCESS_NORMALIZATION,
    AssociatedFileF,
    ContentF,
    CustomMetadataF,
    ImagePropertiesF,
    ModelMetadataF,
    NormalizationF,
    ProcessUnitF,
    SubGraphMetadataF,
    TensorMetadataF,
)

LABELS_FILE = "labels.txt"
COLOR_SPACE_CODES = {"RGB": 1, "GRAYSCALE": 2}


ROLE_DESCRIPTIONS = {
    "probability": "Class {scores}, one per label.",
    "boxes": "Boxes [1, N, 4]: xmin, ymin, xmax, ymax normalised to the input image.",
    "distances": "Distances [1, N, 4]: left, top, right, bottom from each anchor point to its box's "
    "edges, 0..1 of the point's level's reach; the custom metadata's 'distances' holds the grid.",
    "scores": "Scores [1, N, C]: the probability (sigmoid) of each class at each box, one per label.",
}


@dataclass(frozen=True)
class ClassifierMetadata:
    """What an image model's ``.tflite`` says about itself (a classifier by default; a detector sets
    ``task``, ``layout`` and ``outputs``: the role of each output tensor, in the file's order)."""

    name: str
    description: str
    labels: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    width: int
    height: int
    color: str = "RGB"
    resize: str = "stretch"
    scores: str = "probabilities"
    version: str = "1"
    author: str = "edgesight"
    license: str = ""
    quantization: str = "float32"
    task: str = "classify"
    layout: str = "class_scores"
    outputs: tuple[str, ...] = ("probability",)  # the role of each output tensor, in the file's order
    labels_on: str = "probability"  # the output whose last axis the labels name
    score_threshold: float | None = None  # a detector's cut: best F1 on the validation split
    distances: dict | None = None  # a distances output's grid: {"strides": [...], "reach": [...]}

    def custom(self) -> dict:
        """edgesight's own entry: what the standard schema has no field for."""
        entry = {
            "schema": 1,
            "task": self.task,
            "layout": self.layout,
            "scores": self.scores,
            "resize": self.resize,
            "color": self.color,
            "quantization": self.quantization,
        }
        if self.task == "detect":  # which output is which, by position in the file
            entry["outputs"] = {role: i for i, role in enumerate(self.outputs)}
            if "boxes" in self.outputs:
                entry["boxes"] = "normalized"  # xmin, ymin, xmax, ymax in 0..1 of the input
            if self.distances is not None:  # the anchor points and reaches edge decodes them with
                entry["distances"] = self.distances
            if self.score_threshold is not None:  # edge's default threshold for this model
                entry["score_threshold"] = round(self.score_threshold, 2)
        return entry


def _strings(b: flatbuffers.Builder, values: list[int]) -> int:
    b.StartVector(4, len(values), 4)
    for off in reversed(values):
        b.PrependUOffsetTRelative(off)
    return b.EndVector()


def _floats(b: flatbuffers.Builder, values: tuple[float, ...]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependFloat32(float(v))
    return b.EndVector()


def _associated_file(b: flatbuffers.Builder, name: str, description: str, kind: int) -> int:
    name_off, desc_off = b.CreateString(name), b.CreateString(description)
    b.StartObject(AssociatedFileF.NUM)
    b.PrependUOffsetTRelativeSlot(AssociatedFileF.NAME, name_off, 0)
    b.PrependUOffsetTRelativeSlot(AssociatedFileF.DESCRIPTION, desc_off, 0)
    b.PrependInt8Slot(AssociatedFileF.TYPE, kind, 0)
    return b.EndObject()


def _input_tensor(b: flatbuffers.Builder, md: ClassifierMetadata) -> int:
    name, desc = (
        b.CreateString("image"),
        b.CreateString(
            f"Input image {md.width}x{md.height} {md.color}, resized by {md.resize}; "
            "normalised as (x - mean) / std."
        ),
    )
    b.StartObject(2)  # ImageSize {width, height}
    b.PrependUint32Slot(0, md.width, 0)
    b.PrependUint32Slot(1, md.height, 0)
    size = b.EndObject()
    b.StartObject(ImagePropertiesF.NUM)
    b.PrependInt8Slot(ImagePropertiesF.COLOR_SPACE, COLOR_SPACE_CODES.get(md.color, 1), 0)
    b.PrependUOffsetTRelativeSlot(ImagePropertiesF.DEFAULT_SIZE, size, 0)
    props = b.EndObject()
    b.StartObject(ContentF.NUM)
    b.PrependUint8Slot(ContentF.PROPERTIES_TYPE, CONTENT_IMAGE, 0)
    b.PrependUOffsetTRelativeSlot(ContentF.PROPERTIES, props, 0)
    content = b.EndObject()
    mean, std = _floats(b, md.mean), _floats(b, md.std)
    b.StartObject(NormalizationF.NUM)
    b.PrependUOffsetTRelativeSlot(NormalizationF.MEAN, mean, 0)
    b.PrependUOffsetTRelativeSlot(NormalizationF.STD, std, 0)
    norm = b.EndObject()
    b.StartObject(ProcessUnitF.NUM)
    b.PrependUint8Slot(ProcessUnitF.OPTIONS_TYPE, PROCESS_NORMALIZATION, 0)
    b.PrependUOffsetTRelativeSlot(ProcessUnitF.OPTIONS, norm, 0)
    unit = b.EndObject()
    units = _strings(b, [unit])
    b.StartObject(TensorMetadataF.NUM)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.DESCRIPTION, desc, 0)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.CONTENT, content, 0)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.PROCESS_UNITS, units, 0)
    return b.EndObject()


def _output_tensor(b: flatbuffers.Builder, md: ClassifierMetadata, role: str) -> int:
    name = b.CreateString(role)
    desc = b.CreateString(ROLE_DESCRIPTIONS.get(role, role).format(scores=md.scores))
    labels = None
    if role == md.labels_on:
        kind = FILE_TENSOR_AXIS_LABELS
        labels = _strings(b, [_associated_file(b, LABELS_FILE, "Class labels, one per line.", kind)])
    b.StartObject(0)  # FeatureProperties {}
    feature = b.EndObject()
    b.StartObject(ContentF.NUM)
    b.PrependUint8Slot(ContentF.PROPERTIES_TYPE, CONTENT_FEATURE, 0)
    b.PrependUOffsetTRelativeSlot(ContentF.PROPERTIES, feature, 0)
    content = b.EndObject()
    b.StartObject(TensorMetadataF.NUM)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.NAME, name, 0)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.DESCRIPTION, desc, 0)
    b.PrependUOffsetTRelativeSlot(TensorMetadataF.CONTENT, content, 0)
    if labels is not None:
        b.PrependUOffsetTRelativeSlot(TensorMetadataF.ASSOCIATED_FILES, labels, 0)
    return b.EndObject()


def build_metadata(md: ClassifierMetadata) -> bytes:
    """The ``ModelMetadata`` flatbuffer for an image classifier."""
    b = flatbuffers.Builder(1024)
    inputs = _strings(b, [_input_tensor(b, md)])
    outputs = _strings(b, [_output_tensor(b, md, role) for role in md.outputs])
    custom_name = b.CreateString(CUSTOM_NAME)
    custom_data = b.CreateByteVector(json.dumps(md.custom(), sort_keys=True).encode("utf-8"))
    b.StartObject(CustomMetadataF.NUM)
    b.PrependUOffsetTRelativeSlot(CustomMetadataF.NAME, custom_name, 0)
    b.PrependUOffsetTRelativeSlot(CustomMetadataF.DATA, custom_data, 0)
    custom = _strings(b, [b.EndObject()])
    sub_name = b.CreateString("image_classifier" if md.task == "classify" else "object_detector")
    b.StartObject(SubGraphMetadataF.NUM)
    b.PrependUOffsetTRelativeSlot(SubGraphMetadataF.NAME, sub_name, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphMetadataF.INPUT_TENSOR_METADATA, inputs, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphMetadataF.OUTPUT_TENSOR_METADATA, outputs, 0)
    b.PrependUOffsetTRelativeSlot(SubGraphMetadataF.CUSTOM_METADATA, custom, 0)
    subgraphs = _strings(b, [b.EndObject()])
    strings = {
        ModelMetadataF.NAME: md.name,
        ModelMetadataF.DESCRIPTION: md.description,
        ModelMetadataF.VERSION: md.version,
        ModelMetadataF.AUTHOR: md.author,
        ModelMetadataF.LICENSE: md.license,
        ModelMetadataF.MIN_PARSER_VERSION: MIN_PARSER_VERSION,
    }
    offsets = {slot: b.CreateString(text) for slot, text in strings.items() if text}
    b.StartObject(ModelMetadataF.NUM)
    for slot, off in offsets.items():
        b.PrependUOffsetTRelativeSlot(slot, off, 0)
    b.PrependUOffsetTRelativeSlot(ModelMetadataF.SUBGRAPH_METADATA, subgraphs, 0)
    b.Finish(b.EndObject(), file_identifier=METADATA_IDENTIFIER)
    return bytes(b.Output())


def embed(tflite: bytes, md: ClassifierMetadata) -> bytes:
    """A copy of a converted model carrying ``md`` as metadata and ``labels.txt`` as an associated file
    (a model that carries them already has them replaced)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite))
    data = np.frombuffer(build_metadata(md), dtype=np.uint8)
    entry = next((m for m in model.metadata or [] if _name(m) == METADATA_NAME), None)
    if entry is not None:  # a model embedded before: its metadata buffer is replaced, not orphaned
        model.buffers[entry.buffer].data = data
    else:
        buffer = schema.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    packed = bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(LABELS_FILE, "\n".join(md.labels) + "\n")
    return packed + archive.getvalue()


def _name(entry: object) -> str:
    name = getattr(entry, "name", b"")
    return name.decode() if isinstance(name, bytes) else str(name)
