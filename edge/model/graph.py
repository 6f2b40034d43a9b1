"""The main subgraph's operators, read from the ``.tflite`` flatbuffer itself.

The interpreter's own op list is rewritten by delegates (XNNPACK shows one ``DELEGATE`` op), so
questions such as "which op produces this output?" are answered from the file. One edit is made
here too: dropping a final bilinear upsample that decoding does better itself
(``without_final_resize``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from edge.model.flatbuf import Table
from edge.model.opnames import BUILTIN_OPS

CUSTOM_CODE = BUILTIN_OPS.index("CUSTOM")


class _ModelF:
    OPERATOR_CODES = 1
    SUBGRAPHS = 2
    SIGNATURE_DEFS = 7


class _SignatureDefF:
    OUTPUTS = 1
    SUBGRAPH_INDEX = 4


class _TensorMapF:
    TENSOR_INDEX = 1


class _OperatorCodeF:
    DEPRECATED_BUILTIN_CODE = 0
    CUSTOM_CODE = 1
    BUILTIN_CODE = 3


class _SubGraphF:
    TENSORS = 0
    INPUTS = 1
    OUTPUTS = 2
    OPERATORS = 3


class _TensorF:
    SHAPE = 0


class _OperatorF:
    OPCODE_INDEX = 0
    INPUTS = 1
    OUTPUTS = 2
    BUILTIN_OPTIONS = 4


class _ResizeBilinearOptionsF:
    ALIGN_CORNERS = 2
    HALF_PIXEL_CENTERS = 3


@dataclass(frozen=True)
class Op:
    """One operator: its name (builtin name, custom code or ``BUILTIN_<n>``) and tensor indices."""

    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    builtin: bool = True  # False for custom ops (Flex ops included)


@dataclass(frozen=True)
class Resize:
    """A RESIZE_BILINEAR op: its input's and its output's (height, width), and its two flags."""

    source: tuple[int, int]
    size: tuple[int, int]
    align_corners: bool
    half_pixel_centers: bool


def _op_name(code: Table) -> tuple[str, bool]:
    builtin = max(
        int(code.scalar(_OperatorCodeF.DEPRECATED_BUILTIN_CODE, "<b")),
        int(code.scalar(_OperatorCodeF.BUILTIN_CODE, "<i")),
    )
    if builtin == CUSTOM_CODE:
        return code.string(_OperatorCodeF.CUSTOM_CODE) or "CUSTOM", False
    name = BUILTIN_OPS[builtin] if 0 <= builtin < len(BUILTIN_OPS) else f"BUILTIN_{builtin}"
    return name, True


def _main_subgraph(content: bytes) -> Table | None:
    subgraphs = Table.root(content).tables(_ModelF.SUBGRAPHS)
    return subgraphs[0] if subgraphs else None


def read_ops(content: bytes) -> tuple[Op, ...]:
    """Operators of the main subgraph, in execution order."""
    names = [_op_name(code) for code in Table.root(content).tables(_ModelF.OPERATOR_CODES)]
    subgraph = _main_subgraph(content)
    if subgraph is None:
        return ()
    ops = []
    for op in subgraph.tables(_SubGraphF.OPERATORS):
        index = int(op.scalar(_OperatorF.OPCODE_INDEX, "<I"))
        name, builtin = names[index] if index < len(names) else (f"OPCODE_{index}", True)
        ops.append(
            Op(
                name,
                tuple(op.scalars(_OperatorF.INPUTS, "<i")),
                tuple(op.scalars(_OperatorF.OUTPUTS, "<i")),
                builtin,
            )
        )
    return tuple(ops)


def producer(ops: tuple[Op, ...], tensor: int, skip: frozenset[str] = frozenset()) -> Op | None:
    """The op that produces ``tensor``, looking through ops named in ``skip`` (e.g. DEQUANTIZE)."""
    by_output = {t: op for op in ops for t in op.outputs}
    for _ in range(16):
        op = by_output.get(tensor)
        if op is None or op.name not in skip or not op.inputs:
            return op
        tensor = op.inputs[0]
    return None


def _height_width(tensor: Table) -> tuple[int, int] | None:
    shape = tensor.scalars(_TensorF.SHAPE, "<i")
    return (int(shape[1]), int(shape[2])) if len(shape) == 4 else None


def resize_producing(content: bytes, tensor: int) -> Resize | None:
    """The RESIZE_BILINEAR op that produces ``tensor`` (NHWC) in the main subgraph, else None."""
    ops = read_ops(content)
    found = [i for i, op in enumerate(ops) if tensor in op.outputs]
    if not found or ops[found[0]].name != "RESIZE_BILINEAR" or not ops[found[0]].inputs:
        return None
    subgraph = _main_subgraph(content)
    tensors = subgraph.tables(_SubGraphF.TENSORS)
    source_index = ops[found[0]].inputs[0]
    if not (0 <= source_index < len(tensors) and 0 <= tensor < len(tensors)):
        return None
    source, size = _height_width(tensors[source_index]), _height_width(tensors[tensor])
    if source is None or size is None:
        return None
    options = subgraph.tables(_SubGraphF.OPERATORS)[found[0]].table(_OperatorF.BUILTIN_OPTIONS)
    align = _flag(options, _ResizeBilinearOptionsF.ALIGN_CORNERS)
    return Resize(source, size, align, _flag(options, _ResizeBilinearOptionsF.HALF_PIXEL_CENTERS))


def grid_strides(resize: Resize | None) -> tuple[int, int] | None:
    """Every how many output pixels a bilinear resize's source points land exactly on an output pixel
    (rows, columns), when they do at a step of 2 or more; else None (half-pixel centres, sizes that do
    not divide)."""
    if resize is None or resize.half_pixel_centers:
        return None
    strides = []
    for n, size in zip(resize.source, resize.size):
        if resize.align_corners:  # source i sits at output i * (size - 1) / (n - 1)
            step = (size - 1) // (n - 1) if n > 1 and (size - 1) % (n - 1) == 0 else 0
        else:  # at output i * size / n; the rows past the last one repeat it
            step = size // n if size % n == 0 else 0
        if step < 2:
            return None
        strides.append(step)
    return strides[0], strides[1]


def _flag(options: Table | None, slot: int) -> bool:
    return bool(options.scalar(slot, "<B")) if options is not None else False


@dataclass(frozen=True)
class Trimmed:
    """A model without its final RESIZE_BILINEAR: the new file's bytes, and the resize it left out
    (its output, the file's, is ``resize.size``; the graph's now is ``resize.source``)."""

    content: bytes
    resize: Resize
    dequantize: bool = False  # the DEQUANTIZE after it left out too

    @property
    def note(self) -> str:
        """What ``info`` and ``bench`` say of it."""
        (h, w), (oh, ow) = self.resize.source, self.resize.size
        also = " and the DEQUANTIZE after it" if self.dequantize else ""
        return (
            f"run without its final RESIZE_BILINEAR ({h}x{w} -> {oh}x{ow}){also}: decode finds the class "
            f"map from the {h}x{w} scores"
        )


def without_final_resize(content: bytes) -> Trimmed | None:
    """The model without its last operator, when that is a RESIZE_BILINEAR making the main subgraph's
    one output (or without its last two, a RESIZE_BILINEAR and the DEQUANTIZE of its output that
    makes it), whose source points fall on output pixels (``grid_strides``): the graph then outputs
    the resize's input. Else None.

    A segmenter such as DeepLab v3 ends by upsampling its class scores (33 x 33 x 21 to 257 x 257 x
    21): a 5.5 MB output of which decoding needs only the argmax, which it finds from the coarse
    scores. The file is edited in place, with no writer: the output's tensor index is overwritten,
    as is a signature's entry for it, and the operator vector's length is cut (its last entries are
    then no longer read)."""
    subgraph = _main_subgraph(content)
    if subgraph is None:
        return None
    ops = read_ops(content)
    dequantized = len(ops) > 2 and ops[-1].name == "DEQUANTIZE" and ops[-1].inputs == ops[-2].outputs
    tail = 2 if dequantized else 1
    if len(ops) <= tail or ops[-tail].name != "RESIZE_BILINEAR" or not ops[-tail].inputs:
        return None
    outputs, source = subgraph.scalars(_SubGraphF.OUTPUTS, "<i"), ops[-tail].inputs[0]
    if len(outputs) != 1 or ops[-1].outputs != (outputs[0],) or len(ops[-tail].outputs) != 1:
        return None
    if source in subgraph.scalars(_SubGraphF.INPUTS, "<i"):  # nothing would be left to run
        return None
    resize = resize_producing(content, ops[-tail].outputs[0])
    if resize is None or grid_strides(resize) is None:
        return None
    edited = bytearray(content)
    for position in _signature_entries(content, outputs[0]):
        if not position:  # the index left at its default: nowhere to write another
            return None
        struct.pack_into("<I", edited, position, source)
    start, _ = subgraph.vector(_SubGraphF.OUTPUTS)
    struct.pack_into("<i", edited, start, source)
    start, length = subgraph.vector(_SubGraphF.OPERATORS)
    struct.pack_into("<I", edited, start - 4, length - tail)
    return Trimmed(bytes(edited), resize, dequantized)


def _signature_entries(content: bytes, tensor: int) -> list[int]:
    """Where the main subgraph's signatures name ``tensor`` as an output: each entry's tensor index
    field's position (0 when the field is absent, so the index is its default, 0)."""
    found = []
    for signature in Table.root(content).tables(_ModelF.SIGNATURE_DEFS):
        if int(signature.scalar(_SignatureDefF.SUBGRAPH_INDEX, "<I")) != 0:
            continue
        for entry in signature.tables(_SignatureDefF.OUTPUTS):
            if int(entry.scalar(_TensorMapF.TENSOR_INDEX, "<I")) == tensor:
                found.append(entry.field(_TensorMapF.TENSOR_INDEX))
    return found
