"""Golden hybrid-row decoders: bit-exact element lookup and row expansion of a memory image.

The public functions validate their arguments and call private numba kernels that read the
image bits exactly as the hardware decoder does (layout from :mod:`rtnerf.models.image`):

* directory entry ``r`` -> format, ``nnz``, word offset;
* DENSE: value ``j`` at payload bit ``j * b_v``;
* BITMAP: hit = bitmap bit ``j``; index = popcount of bitmap bits ``0 .. j-1`` (RANK);
* COO: binary search of ``j`` among the ``nnz`` sorted coordinates (SEARCH);
* value ``index`` at ``values_start + index * b_v``, sign-extended from ``b_v`` bits.

A miss, or an EMPTY row, reads as 0.
"""

from __future__ import annotations

import numba
import numpy as np

from ...params.encoding import Format
from ..image import MemoryImage, get_bits, values_start
from ..quant import value_dtype

__all__ = ["check_indices", "expand_rows", "locate", "lookup"]


@numba.njit(cache=True)
def _entry(buf, r, entry_width, count_shift, count_width, offset_shift):
    # Entries are 32 or 64 bits on a 32-bit grid: read them whole, as the hardware does.
    i = (r * entry_width) >> 5
    raw = np.uint64(buf[i])
    if entry_width == 64:
        raw |= np.uint64(buf[i + 1]) << np.uint64(32)
    fmt = np.int64(raw & np.uint64(3))
    nnz = np.int64(
        (raw >> np.uint64(count_shift)) & ((np.uint64(1) << np.uint64(count_width)) - np.uint64(1))
    )
    offset = np.int64(raw >> np.uint64(offset_shift))
    return fmt, nnz, offset


@numba.njit(cache=True)
def _sign_extend(raw, width):
    v = np.int64(raw)
    if (v >> (width - 1)) & 1:
        v -= np.int64(1) << width
    return v


@numba.njit(cache=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    # Sum the byte counts with shifts rather than a wrapping multiply, so that the kernel also
    # runs without warnings as plain Python (NUMBA_DISABLE_JIT=1, for coverage).
    x = x + (x >> np.uint64(8))
    x = x + (x >> np.uint64(16))
    x = x + (x >> np.uint64(32))
    return np.int64(x & np.uint64(0x7F))


@numba.njit(cache=True)
def _rank(buf, pos, count):
    # Set bits among the `count` bits from `pos`, 32 at a time.
    total = np.int64(0)
    while count >= 32:
        total += _popcount(get_bits(buf, pos, 32))
        pos += 32
        count -= 32
    if count > 0:
        total += _popcount(get_bits(buf, pos, count))
    return total


@numba.njit(cache=True)
def _find(buf, fmt, nnz, offset, c, coord_width, word_width):
    # (hit, value index) of column c in a row with the given directory entry.
    base = offset * word_width
    if fmt == Format.DENSE:
        return True, np.int64(c)
    if fmt == Format.BITMAP:
        return get_bits(buf, base + c, 1) != 0, _rank(buf, base, c)
    if fmt == Format.COO:
        lo, hi = np.int64(0), nnz
        while lo < hi:  # first coordinate >= c
            mid = (lo + hi) >> 1
            if np.int64(get_bits(buf, base + mid * coord_width, coord_width)) < c:
                lo = mid + 1
            else:
                hi = mid
        hit = lo < nnz and np.int64(get_bits(buf, base + lo * coord_width, coord_width)) == c
        return hit, lo
    return False, np.int64(0)


@numba.njit(cache=True)
def _locate(buf, r, c, lay):
    # Returns (format, nnz, word offset, hit, value index) of element (r, c).
    _, _, word_width, entry_width, coord_width, count_width = lay
    fmt, nnz, offset = _entry(buf, r, entry_width, 2, count_width, 2 + count_width)
    hit, index = _find(buf, fmt, nnz, offset, c, coord_width, word_width)
    return fmt, nnz, offset, hit, index


# Queries per block of the lookup kernel: small enough for the block's entries to stay in L1.
_BLOCK = 1024


@numba.njit(cache=True)
def _lookup(buf, rows, cols, lay, out):
    # Two passes per block: first all directory entries, then the payloads. The entry loads of
    # a block are independent, so the CPU overlaps their cache misses (as numpy's gather does,
    # and as the hardware does with outstanding DRAM requests); one pass per query would
    # serialise entry -> payload misses. 2-3x faster on random queries over big tables.
    columns, value_width, word_width, entry_width, coord_width, count_width = lay
    fmts = np.empty(_BLOCK, np.int64)
    nnzs = np.empty(_BLOCK, np.int64)
    offs = np.empty(_BLOCK, np.int64)
    for start in range(0, rows.shape[0], _BLOCK):
        stop = min(start + _BLOCK, rows.shape[0])
        for q in range(start, stop):
            k = q - start
            fmts[k], nnzs[k], offs[k] = _entry(
                buf, rows[q], entry_width, 2, count_width, 2 + count_width
            )
        # Touch each row's first payload word, again as independent loads, so that the second
        # pass mostly hits the cache. Stored so the compiler keeps the loads; pass 2 overwrites.
        touch = np.uint32(0)
        for k in range(stop - start):
            touch |= buf[(offs[k] * word_width) >> 5]
        out[start] = touch
        for q in range(start, stop):
            k = q - start
            fmt, nnz, offset = fmts[k], nnzs[k], offs[k]
            hit, index = _find(buf, fmt, nnz, offset, cols[q], coord_width, word_width)
            if hit:
                pos = offset * word_width + values_start(fmt, nnz, columns, coord_width)
                raw = get_bits(buf, pos + index * value_width, value_width)
                out[q] = _sign_extend(raw, value_width)
            else:
                out[q] = 0


@numba.njit(cache=True)
def _locate_all(buf, rows, cols, lay, fmt_out, nnz_out, offset_out, hit_out, index_out):
    for q in range(rows.shape[0]):
        f, n, o, h, i = _locate(buf, rows[q], cols[q], lay)
        fmt_out[q], nnz_out[q], offset_out[q], hit_out[q], index_out[q] = f, n, o, h, i


@numba.njit(cache=True)
def _expand(buf, rows, lay, out):
    columns, value_width, word_width, entry_width, coord_width, count_width = lay
    for q in range(rows.shape[0]):
        fmt, nnz, offset = _entry(buf, rows[q], entry_width, 2, count_width, 2 + count_width)
        base = offset * word_width
        vbase = base + values_start(fmt, nnz, columns, coord_width)
        if fmt == Format.DENSE:
            for c in range(columns):
                out[q, c] = _sign_extend(
                    get_bits(buf, base + c * value_width, value_width), value_width
                )
        elif fmt == Format.BITMAP:
            k = 0
            for c in range(columns):
                if get_bits(buf, base + c, 1):
                    raw = get_bits(buf, vbase + k * value_width, value_width)
                    out[q, c] = _sign_extend(raw, value_width)
                    k += 1
        elif fmt == Format.COO:
            for k in range(nnz):
                c = get_bits(buf, base + k * coord_width, coord_width)
                raw = get_bits(buf, vbase + k * value_width, value_width)
                out[q, c] = _sign_extend(raw, value_width)


def _kernel_layout(image: MemoryImage) -> tuple[int, ...]:
    lay = image.layout
    return (
        lay.columns,
        lay.value_width,
        lay.word_width,
        lay.entry_width,
        lay.coord_width,
        lay.count_width,
    )


def check_indices(name: str, values: object, bound: int) -> np.ndarray:
    """Return ``values`` as an ``int64`` array after checking every entry is in ``[0, bound)``.

    Raises
    ------
    TypeError
        If ``values`` is not an integer scalar, sequence or array.
    ValueError
        If an entry is negative or not below ``bound``.
    """
    arr = np.asarray(values)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iu":
        raise TypeError(f"`{name}` must be integers, not {arr.dtype}")
    if arr.size:
        bad = (arr < 0) | (arr >= bound)
        if bad.any():
            value = arr.reshape(-1)[int(np.argmax(bad.reshape(-1)))]
            raise ValueError(f"`{name}` must be from 0 to {bound - 1}, not {int(value)!r}")
    return arr.astype(np.int64)


def _check_image(image: object) -> MemoryImage:
    if not isinstance(image, MemoryImage):
        raise TypeError(f"`image` must be a MemoryImage, not {type(image).__name__}")
    return image


def lookup(image: MemoryImage, rows: object, cols: object) -> np.ndarray:
    """Return the stored integer at each ``(rows[i], cols[i])``; zeros where nothing is stored.

    Parameters
    ----------
    image : MemoryImage
        The encoded table.
    rows, cols : array_like of int
        Row and column of each query; broadcast against each other.

    Returns
    -------
    numpy.ndarray
        ``int64`` values of the broadcast shape, equal to the quantised table at those places.

    Raises
    ------
    TypeError
        If ``image`` is not a :class:`MemoryImage` or the indices are not integers.
    ValueError
        If an index is out of range.
    """
    image = _check_image(image)
    r = check_indices("rows", rows, image.shape[0])
    c = check_indices("cols", cols, image.shape[1])
    r, c = np.broadcast_arrays(r, c)
    out = np.empty(r.size, np.int64)
    _lookup(image.u32, r.ravel(), c.ravel(), _kernel_layout(image), out)
    return out.reshape(r.shape)


def locate(image: MemoryImage, rows: object, cols: object) -> dict[str, np.ndarray]:
    """Return where each element query lands in the image, without reading values.

    Parameters
    ----------
    image : MemoryImage
        The encoded table.
    rows, cols : array_like of int
        1-D row and column of each query, of equal length.

    Returns
    -------
    dict of numpy.ndarray
        ``format`` (``uint8``), ``nnz`` and ``offset`` (the row's directory entry), ``hit``
        (bool: a value is stored there) and ``index`` (the value's position in the row's value
        array; for a miss, the number of stored values before column ``cols[i]``).

    Raises
    ------
    TypeError, ValueError
        As for :func:`lookup`, and if ``rows`` and ``cols`` are not 1-D of equal length.
    """
    image = _check_image(image)
    r = check_indices("rows", rows, image.shape[0])
    c = check_indices("cols", cols, image.shape[1])
    if r.ndim != 1 or r.shape != c.shape:
        raise ValueError(f"`rows` and `cols` must be 1-D of equal length, not {r.shape}, {c.shape}")
    n = r.size
    out = {
        "format": np.empty(n, np.uint8),
        "nnz": np.empty(n, np.int64),
        "offset": np.empty(n, np.int64),
        "hit": np.empty(n, np.bool_),
        "index": np.empty(n, np.int64),
    }
    _locate_all(image.u32, r, c, _kernel_layout(image), *out.values())
    return out


def expand_rows(image: MemoryImage, rows: object) -> np.ndarray:
    """Return whole rows of the stored table as dense integer vectors.

    Parameters
    ----------
    image : MemoryImage
        The encoded table.
    rows : array_like of int
        Row indices, 1-D (a scalar gives one row).

    Returns
    -------
    numpy.ndarray
        Shape ``(len(rows), columns)`` (or ``(columns,)`` for a scalar), dtype the narrowest
        signed integer holding ``value_width`` bits.

    Raises
    ------
    TypeError, ValueError
        As for :func:`lookup`.
    """
    image = _check_image(image)
    r = check_indices("rows", rows, image.shape[0])
    flat = r.reshape(-1)
    out = np.zeros((flat.size, image.shape[1]), value_dtype(image.layout.value_width))
    _expand(image.u32, flat, _kernel_layout(image), out)
    return out.reshape((*r.shape, image.shape[1]))
