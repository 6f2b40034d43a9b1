"""The main subgraph's operators, read from the ``.tflite`` flatbuffer itself.

The interpreter's own op list is rewritten by delegates (XNNPACK shows one ``DELEGATE`` op), so
questions such as "which op produces this output?" are answered from the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.model.flatbuf import Table
from edge.model.opnames import BUILTIN_OPS

CUSTOM_CODE = BUILTIN_OPS.index("CUSTOM")


class _ModelF:
    OPERATOR_CODES = 1
    SUBGRAPHS = 2


class _OperatorCodeF:
    DEPRECATED_BUILTIN_CODE = 0
    CUSTOM_CODE = 1
    BUILTIN_CODE = 3


class _SubGraphF:
    TENSORS = 0
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


def _flag(options: Table | None, slot: int) -> bool:
    return bool(options.scalar(slot, "<B")) if options is not None else False
