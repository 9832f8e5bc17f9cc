"""Per-row hybrid format choice: the exact bit cost of every format and the rule that picks one.

This module is the one place where the cost formulas live (see the encoding section of
DESIGN.md). For a row of ``N`` columns with ``nnz`` non-zeros, value width ``b_v`` and
coordinate width ``b_i`` (``max(1, ceil(log2 N))`` unless fixed by the params):

======  ======================  ==========================================
format  payload bits            stored
======  ======================  ==========================================
EMPTY   0                       nothing (only when ``nnz == 0``)
DENSE   ``N * b_v``             all ``N`` values
BITMAP  ``N + nnz * b_v``       an ``N``-bit presence map, then the values
COO     ``nnz * (b_i + b_v)``   ``nnz`` sorted coordinates, then the values
======  ======================  ==========================================

The count ``nnz`` lives in the row directory, so COO needs no length field. The cheapest format
wins; ties go to the one that decodes faster, in the order EMPTY > DENSE > BITMAP > COO, which
is also the order of the :class:`Format` codes. The memory image (:mod:`rtnerf.models.image`)
stores each row in exactly :func:`format_bits` bits before word padding.
"""

from __future__ import annotations

import numpy as np

from ..params.encoding import FORMAT_WIDTH, Format

__all__ = [
    "FORMAT_WIDTH",
    "choose_formats",
    "format_bits",
    "index_width",
    "row_nnz",
]


def index_width(columns: int) -> int:
    """Bits of a coordinate for ``columns`` columns: ``max(1, ceil(log2 columns))``.

    One column would need zero bits; one bit keeps the hardware free of zero-width fields.
    """
    return max(1, (int(columns) - 1).bit_length())


def format_bits(nnz: np.ndarray, columns: int, value_width: int, coord_width: int) -> np.ndarray:
    """Return the exact payload bits of every row in every format.

    Parameters
    ----------
    nnz : numpy.ndarray
        Non-zeros per row, 1-D integers from 0 to ``columns``.
    columns : int
        Columns per row, ``N``.
    value_width : int
        Bits per value, ``b_v``.
    coord_width : int
        Bits per COO coordinate, ``b_i``.

    Returns
    -------
    numpy.ndarray
        ``int64`` array of shape ``(len(nnz), 4)`` indexed by :class:`Format`. The EMPTY column
        is 0 for all-zero rows and -1 (not allowed) for the others.
    """
    nnz = np.asarray(nnz, dtype=np.int64)
    bits = np.empty((nnz.shape[0], len(Format)), np.int64)
    bits[:, Format.EMPTY] = np.where(nnz == 0, 0, -1)
    bits[:, Format.DENSE] = columns * value_width
    bits[:, Format.BITMAP] = columns + nnz * value_width
    bits[:, Format.COO] = nnz * (coord_width + value_width)
    return bits


def choose_formats(
    nnz: np.ndarray,
    columns: int,
    value_width: int,
    coord_width: int,
    force: Format | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Pick each row's format and return it with the row's payload bits.

    Parameters
    ----------
    nnz, columns, value_width, coord_width
        As for :func:`format_bits`.
    force : Format or None
        Store every row, all-zero rows included, in this format instead of choosing.
        ``Format.EMPTY`` cannot be forced.

    Returns
    -------
    formats : numpy.ndarray
        ``uint8`` :class:`Format` code per row.
    bits : numpy.ndarray
        ``int64`` payload bits per row, ``format_bits`` of the chosen format.
    """
    bits = format_bits(nnz, columns, value_width, coord_width)
    if force is not None:
        if force == Format.EMPTY or not isinstance(force, Format):
            raise ValueError(f"`force` must be DENSE, BITMAP or COO, not {force!r}")
        formats = np.full(bits.shape[0], int(force), np.uint8)
    else:
        masked = np.where(bits < 0, np.iinfo(np.int64).max, bits)
        formats = np.argmin(masked, axis=1).astype(np.uint8)  # first minimum = fastest decode
    return formats, np.take_along_axis(bits, formats[:, None].astype(np.intp), axis=1)[:, 0]


def row_nnz(values: np.ndarray) -> np.ndarray:
    """Return the number of non-zeros of each row of a 2-D array, as ``int64``."""
    return np.count_nonzero(values, axis=1).astype(np.int64)
