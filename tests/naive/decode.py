"""Obvious, slow reference decoders of the memory image, written from docs/memory-image.md.

The whole image is one Python integer (little-endian bytes, so bit i of the stream is bit i of
the integer); every field is read with a shift and a mask. Only the field widths come from the
image's layout; the field order and the row payload order are re-implemented here on purpose.
"""

from __future__ import annotations

from rtnerf.models.image import MemoryImage
from rtnerf.params import Format


def _bits(stream: int, pos: int, width: int) -> int:
    return (stream >> pos) & ((1 << width) - 1)


def _signed(raw: int, width: int) -> int:
    return raw - (1 << width) if raw >> (width - 1) else raw


def entry(image: MemoryImage, row: int) -> tuple[int, int, int]:
    """(format code, nnz, word offset) of ``row``."""
    lay = image.layout
    stream = int.from_bytes(image.body.tobytes(), "little")
    raw = _bits(stream, row * lay.entry_width, lay.entry_width)
    return raw & 3, _bits(raw, 2, lay.coord_width + 1), raw >> (3 + lay.coord_width)


def expand_row(image: MemoryImage, row: int) -> list[int]:
    """The stored row as a list of Python ints."""
    lay = image.layout
    n, bv, bi = lay.columns, lay.value_width, lay.coord_width
    stream = int.from_bytes(image.body.tobytes(), "little")
    fmt, nnz, offset = entry(image, row)
    base = offset * lay.word_width
    out = [0] * n
    if fmt == Format.DENSE:
        for j in range(n):
            out[j] = _signed(_bits(stream, base + j * bv, bv), bv)
    elif fmt == Format.BITMAP:  # n presence bits, then the values
        present = [j for j in range(n) if _bits(stream, base + j, 1)]
        assert len(present) == nnz
        for k, j in enumerate(present):
            out[j] = _signed(_bits(stream, base + n + k * bv, bv), bv)
    elif fmt == Format.COO:  # nnz coordinates, then nnz values
        for k in range(nnz):
            j = _bits(stream, base + k * bi, bi)
            out[j] = _signed(_bits(stream, base + nnz * bi + k * bv, bv), bv)
    else:
        assert nnz == 0
    return out


def lookup(image: MemoryImage, row: int, col: int) -> int:
    """The stored value at (row, col), by scanning the row."""
    return expand_row(image, row)[col]
