"""A minimal, bounds-checked reader for FlatBuffers tables (enough for TFLite files and their metadata).

Reading needs no generated code: each accessor takes the field's slot number from the schema.
Any out-of-range offset raises ``FlatbufferError`` instead of reading garbage.
"""

from __future__ import annotations

import struct


class FlatbufferError(ValueError):
    """The buffer is not a well-formed flatbuffer."""


def _unpack(fmt: str, buf: bytes, pos: int) -> int:
    try:
        return struct.unpack_from(fmt, buf, pos)[0]
    except struct.error as exc:
        raise FlatbufferError(f"offset {pos} outside the buffer of {len(buf)} bytes") from exc


class Table:
    """One table inside a flatbuffer ``buf`` at absolute position ``pos``."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int) -> None:
        if not 0 <= pos < len(buf):
            raise FlatbufferError(f"table offset {pos} outside the buffer of {len(buf)} bytes")
        self.buf = buf
        self.pos = pos

    @classmethod
    def root(cls, buf: bytes) -> Table:
        """The root table of a buffer."""
        return cls(buf, _unpack("<I", buf, 0))

    def field(self, slot: int) -> int:
        """Absolute position of field ``slot``, or 0 when the field is absent."""
        vtable = self.pos - _unpack("<i", self.buf, self.pos)
        vt_len = _unpack("<H", self.buf, vtable)
        entry = 4 + 2 * slot
        if entry >= vt_len:
            return 0
        rel = _unpack("<H", self.buf, vtable + entry)
        return self.pos + rel if rel else 0

    def _indirect(self, pos: int) -> int:
        return pos + _unpack("<I", self.buf, pos)

    def scalar(self, slot: int, fmt: str, default: int | float = 0) -> int | float:
        """A scalar field (``fmt`` is a struct code such as ``"<I"``)."""
        pos = self.field(slot)
        return _unpack(fmt, self.buf, pos) if pos else default

    def string(self, slot: int) -> str | None:
        """A string field, or None when absent."""
        raw = self.bytes(slot)
        return None if raw is None else raw.decode("utf-8", errors="replace")

    def bytes(self, slot: int) -> bytes | None:
        """A ``[ubyte]`` vector (or a string's bytes), or None when absent."""
        start, length = self.vector(slot)
        if start is None:
            return None
        if start + length > len(self.buf):
            raise FlatbufferError(f"vector of {length} bytes at {start} runs past the buffer end")
        return bytes(self.buf[start : start + length])

    def table(self, slot: int) -> Table | None:
        """A sub-table field, or None when absent."""
        pos = self.field(slot)
        return Table(self.buf, self._indirect(pos)) if pos else None

    def tables(self, slot: int) -> list[Table]:
        """A vector of tables (empty when absent)."""
        start, length = self.vector(slot)
        if start is None:
            return []
        return [Table(self.buf, self._indirect(start + 4 * i)) for i in range(length)]

    def scalars(self, slot: int, fmt: str) -> list:
        """A vector of scalars (empty when absent)."""
        start, length = self.vector(slot)
        if start is None:
            return []
        size = struct.calcsize(fmt)
        return [_unpack(fmt, self.buf, start + size * i) for i in range(length)]

    def vector(self, slot: int) -> tuple[int | None, int]:
        """A vector field's first element's absolute position and its length (the length is the
        4 bytes before it); (None, 0) when absent."""
        pos = self.field(slot)
        if not pos:
            return None, 0
        vec = self._indirect(pos)
        return vec + 4, _unpack("<I", self.buf, vec)
