"""The memory image: the one definition of what a hybrid-encoded table looks like in DRAM.

The golden decoders, the DRAM accounting, the RTL decoder and the performance model all read the
layout from this module; ``docs/memory-image.md`` documents it with worked examples generated
from this code.

Summary (``E`` = ``entry_width``, ``w`` = ``word_width``, all positions little-endian and
LSB-first, so the image is one bit stream in which bit ``i`` is bit ``i % 8`` of byte ``i // 8``
and bit ``i % w`` of word ``i // w``):

* **Directory** at word 0: one ``E``-bit entry per row, entry ``r`` at stream bit ``r * E``.
  Fields from the LSB: format (2 bits, :class:`~rtnerf.models.encoding.Format` code), ``nnz``
  (``coord_width + 1`` bits), word offset of the row (the remaining ``E - 3 - coord_width``
  bits). ``E`` is 32 or 64 and ``w >= 32``, so an entry never straddles a word (a 64-bit entry
  on 32-bit words fills exactly two words, low half first).
* **Payload** from word ``payload_base`` (the directory rounded up to whole words, and to whole
  bursts when ``align_rows`` or ``placement: bursts``). Row ``r`` starts at bit 0 of word
  ``offset[r]``; rows follow in order and each takes ``ceil(bits / w)`` words (rounded up to
  whole bursts when ``align_rows``), where ``bits`` is
  :func:`~rtnerf.models.encoding.format_bits` of its format; with ``placement: bursts`` a row
  may start after a gap, where it touches the fewest bursts its size allows
  (:meth:`Layout.place`). An empty row takes no words and its offset is where the next row
  could start. Padding bits are 0.
* **Row payload**, from the row's first bit: DENSE: ``N`` values. BITMAP: ``N`` presence bits
  (bit ``j`` set when column ``j`` is non-zero), then the ``nnz`` values in column order.
  COO: ``nnz`` coordinates of ``coord_width`` bits in increasing order, then the ``nnz`` values
  in the same order. Values are ``value_width``-bit two's complement.

The index part (bitmap or coordinates) comes before the values, never interleaved, so both
sparse formats reduce to "find index ``k`` in the index part, then read value ``k`` at
``values_start + k * value_width``": one value-fetch path serves BITMAP (RANK) and COO (SEARCH)
rows, the bitmap's word ``i`` holds columns ``[i*w, (i+1)*w)`` as the adder & search tree wants,
W coordinates sit contiguously for one SEARCH, and a miss reads no values.

Image files (:func:`write_image`, :func:`read_image`) hold a 32-byte fixed header, a JSON header
padded with spaces to a multiple of 64 bytes in all, then the image words (see
:data:`FILE_HEADER`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import struct
import zlib
from pathlib import Path

import numba
import numpy as np

from rtnerf.errors import RtnerfError
from rtnerf.params import EncodingParams, Format

from .encoding import FORMAT_WIDTH, choose_formats, format_bits, index_width, row_nnz
from .quant import Quantized, check_table, quantize

__all__ = [
    "FILE_HEADER",
    "FILE_VERSION",
    "MAGIC",
    "ImageFormatError",
    "Layout",
    "MemoryImage",
    "encode",
    "encode_table",
    "get_bits",
    "put_bits",
    "read_image",
    "row_bits",
    "values_start",
    "write_image",
]

#: First 8 bytes of an image file.
MAGIC = b"RTNERFIM"
#: Version of the image file format and of the layout it holds.
FILE_VERSION = 1
#: ``struct`` format of the fixed header: magic, version, JSON length, body length,
#: CRC-32 of the JSON bytes, CRC-32 of the body.
FILE_HEADER = struct.Struct("<8sIIQII")
_FILE_ALIGN = 64


class ImageFormatError(RtnerfError, ValueError):
    """An image file or buffer that is truncated, corrupt, or of another version."""


@numba.njit(cache=True)
def get_bits(buf: np.ndarray, pos: int, width: int) -> np.uint64:
    """Return ``width`` (1..32) bits at bit ``pos`` of a ``uint32`` buffer, LSB-first.

    The buffer must have one spare word after the last bit read.
    """
    i = pos >> 5
    x = np.uint64(buf[i]) | (np.uint64(buf[i + 1]) << np.uint64(32))
    return (x >> np.uint64(pos & 31)) & ((np.uint64(1) << np.uint64(width)) - np.uint64(1))


@numba.njit(cache=True)
def put_bits(buf: np.ndarray, pos: int, width: int, value: np.uint64) -> None:
    """OR the low ``width`` (1..32) bits of ``value`` into a ``uint32`` buffer at bit ``pos``.

    The buffer must have one spare word after the last bit written.
    """
    i = pos >> 5
    mask = (np.uint64(1) << np.uint64(width)) - np.uint64(1)
    x = (np.uint64(value) & mask) << np.uint64(pos & 31)
    buf[i] |= np.uint32(x & np.uint64(0xFFFFFFFF))
    buf[i + 1] |= np.uint32(x >> np.uint64(32))


@numba.njit(cache=True)
def values_start(fmt: int, nnz: int, columns: int, coord_width: int) -> int:
    """Bit position of the first value within a row's payload (= bits of its index part)."""
    if fmt == Format.BITMAP:
        return columns
    if fmt == Format.COO:
        return nnz * coord_width
    return 0


@dataclasses.dataclass(frozen=True)
class Layout:
    """Every number that places a bit in the image of one table.

    Build it with :meth:`of`. Field positions within a directory entry: format at bit 0,
    ``nnz`` at :attr:`count_shift`, offset at :attr:`offset_shift`.

    Attributes
    ----------
    rows, columns : int
        Table shape.
    value_width, word_width, entry_width : int
        From the params.
    coord_width : int
        Bits per COO coordinate (the params' value, or ``max(1, ceil(log2 columns))``).
    count_width : int
        Bits of the ``nnz`` field: ``coord_width + 1``, enough for ``2**coord_width``.
    offset_width : int
        Bits of the word-offset field: ``entry_width - 2 - count_width``.
    burst_words : int
        Words per burst.
    align_rows : bool
        Whether the payload and the rows start on burst boundaries.
    placement : str
        ``packed`` or ``bursts`` (see :class:`~rtnerf.params.EncodingParams`).
    """

    rows: int
    columns: int
    value_width: int
    word_width: int
    entry_width: int
    coord_width: int
    count_width: int
    offset_width: int
    burst_words: int
    align_rows: bool
    placement: str = "packed"

    @classmethod
    def of(cls, params: EncodingParams, rows: int, columns: int) -> Layout:
        """Return the layout of a ``rows`` x ``columns`` table under ``params``.

        Raises
        ------
        ValueError
            If ``columns`` exceeds ``params.max_columns`` (too many for the coordinate field).
        """
        if columns > params.max_columns:
            why = (
                f"coord_width={params.coord_width}"
                if params.coord_width is not None
                else "the widest coordinate field"
            )
            raise ValueError(
                f"`columns` must be at most {params.max_columns} for {why}, not {columns!r}"
            )
        coord_width = params.coord_width or index_width(columns)
        count_width = coord_width + 1
        return cls(
            rows=rows,
            columns=columns,
            value_width=params.value_width,
            word_width=params.word_width,
            entry_width=params.entry_width,
            coord_width=coord_width,
            count_width=count_width,
            offset_width=params.entry_width - FORMAT_WIDTH - count_width,
            burst_words=params.burst_words,
            align_rows=params.align_rows,
            placement=params.placement,
        )

    @property
    def count_shift(self) -> int:
        """Bit of the ``nnz`` field within an entry."""
        return FORMAT_WIDTH

    @property
    def offset_shift(self) -> int:
        """Bit of the offset field within an entry."""
        return FORMAT_WIDTH + self.count_width

    @property
    def directory_words(self) -> int:
        """Words holding the directory entries."""
        return -(-self.rows * self.entry_width // self.word_width)

    @property
    def payload_base(self) -> int:
        """Word where the payload starts."""
        if self.placement == "bursts" and not self.align_rows:
            bw = self.burst_words
            return -(-self.directory_words // bw) * bw
        return self._round(self.directory_words)

    @property
    def dense_stride(self) -> int:
        """Words from one DENSE row to the next in a table of DENSE rows only.

        ``packed``: the row's words; ``align_rows``: rounded up to whole bursts; ``bursts``: the
        smallest stride ``s`` at or above the row's ``n`` words at which no row touches more
        than ``ceil(n / burst_words)`` bursts: row ``r`` starts ``r * s mod burst_words``
        words into a burst, and that must never exceed the row's slack ``ceil(n /
        burst_words) * burst_words - n``, so ``burst_words - gcd(s, burst_words)`` must not.
        """
        n = int(self.row_words(self.columns * self.value_width))
        if self.placement != "bursts" or self.align_rows:
            return n
        bw = self.burst_words
        slack = -(-n // bw) * bw - n
        s = n
        while bw - math.gcd(s, bw) > slack:
            s += 1
        return s

    def place(self, bits: np.ndarray) -> tuple[np.ndarray, int]:
        """Offsets of rows of the given payload bits, and the image's total words.

        ``packed`` and ``align_rows``: each row right after the previous one (its words
        rounded to bursts when ``align_rows``). ``bursts``: a table of DENSE-sized rows only at
        :attr:`dense_stride`; otherwise each row at the first word, from the end of the
        previous one, where it touches no more than ``ceil(words / burst_words)`` bursts.
        """
        bits = np.asarray(bits, dtype=np.int64)
        words = self.row_words(bits)
        base = self.payload_base
        if self.placement != "bursts" or self.align_rows or not bits.size:
            offsets = base + np.concatenate(([0], np.cumsum(words)[:-1])).astype(np.int64)
            return offsets, base + int(words.sum())
        n = int(self.row_words(self.columns * self.value_width))
        if (words == n).all():
            s = self.dense_stride
            return base + np.arange(bits.size, dtype=np.int64) * s, base + (bits.size - 1) * s + n
        offsets = _place_bursts(words, base, self.burst_words)
        return offsets, int(offsets[-1] + words[-1])

    def _round(self, words: np.ndarray | int) -> np.ndarray | int:
        if not self.align_rows:
            return words
        return -(-words // self.burst_words) * self.burst_words

    def row_words(self, bits: np.ndarray) -> np.ndarray:
        """Words taken by rows of the given payload bits (padding and alignment included)."""
        bits = np.asarray(bits, dtype=np.int64)
        return self._round(-(-bits // self.word_width))

    def image_words(self, bits: np.ndarray) -> int:
        """Total words of an image whose rows have the given payload bits."""
        return self.place(bits)[1]

    def to_dict(self) -> dict[str, int | bool]:
        """Return the fields as a plain mapping."""
        return dataclasses.asdict(self)


@numba.njit(cache=True)
def _place_bursts(words, base, burst_words):
    """Offsets of rows of ``words`` words each, every one where it touches the fewest bursts."""
    offsets = np.empty(words.size, np.int64)
    cur = base
    for r in range(words.size):
        n = words[r]
        if n > 0:
            slack = -(-n // burst_words) * burst_words - n
            if cur % burst_words > slack:
                cur += burst_words - cur % burst_words
        offsets[r] = cur
        cur += n
    return offsets


@numba.njit(cache=True)
def _pack_rows(values, formats, nnz, offsets, buf, word_width, value_width, coord_width):
    columns = values.shape[1]
    vmask = (np.int64(1) << value_width) - 1
    for r in range(values.shape[0]):
        fmt = formats[r]
        base = offsets[r] * word_width
        if fmt == Format.DENSE:
            for c in range(columns):
                put_bits(buf, base + c * value_width, value_width, values[r, c] & vmask)
        elif fmt == Format.BITMAP or fmt == Format.COO:
            vbase = base + values_start(fmt, nnz[r], columns, coord_width)
            k = 0
            for c in range(columns):
                v = values[r, c]
                if v != 0:
                    if fmt == Format.BITMAP:
                        put_bits(buf, base + c, 1, 1)
                    else:
                        put_bits(buf, base + k * coord_width, coord_width, c)
                    put_bits(buf, vbase + k * value_width, value_width, v & vmask)
                    k += 1


@numba.njit(cache=True)
def _check_rows(buf, formats, nnz, offsets, columns, word_width, coord_width):
    # Returns the first row whose index part disagrees with its directory entry, or -1.
    for r in range(formats.shape[0]):
        fmt = formats[r]
        base = offsets[r] * word_width
        if fmt == Format.BITMAP:
            count = 0
            for c in range(columns):
                count += np.int64(get_bits(buf, base + c, 1))
            if count != nnz[r]:
                return r
        elif fmt == Format.COO:
            last = -1
            for k in range(nnz[r]):
                c = np.int64(get_bits(buf, base + k * coord_width, coord_width))
                if c <= last or c >= columns:
                    return r
                last = c
    return -1


@dataclasses.dataclass(frozen=True, eq=False)
class MemoryImage:
    """A hybrid-encoded table as it sits in DRAM.

    Build one with :func:`encode`, :func:`encode_table` or :func:`read_image`. Construction
    checks that the directory and the index parts are consistent, so decoders never read
    outside the image.

    Attributes
    ----------
    params : EncodingParams
        The encoding design point.
    layout : Layout
        Field widths and positions derived from ``params`` and the table shape.
    scale : float
        Real value of one integer step of the stored values.
    body : numpy.ndarray
        The image bytes (``uint8``, read-only): ``n_words * word_width / 8`` of them.

    Raises
    ------
    ImageFormatError
        If the body has the wrong size or the directory or an index part is inconsistent.
    """

    params: EncodingParams
    layout: Layout
    scale: float
    body: np.ndarray

    def __post_init__(self) -> None:
        lay = self.layout
        if (
            not isinstance(self.body, np.ndarray)
            or self.body.dtype != np.uint8
            or self.body.ndim != 1
        ):
            raise TypeError(f"`body` must be a 1-D uint8 numpy array, not {self.body!r:.40}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"`scale` must be a finite positive number, not {self.scale!r}")
        if self.body.size % (lay.word_width // 8):
            raise ImageFormatError(
                f"corrupt image: {self.body.size} bytes is not a whole number of words"
            )
        if lay.payload_base > self.n_words:
            raise ImageFormatError(
                f"corrupt image: {self.n_words} words cannot hold a {lay.rows}-row directory"
            )
        self.body.flags.writeable = False
        padded = np.zeros(self.body.size // 4 + 2, np.uint32)
        padded[:-2] = self.body.view("<u4")
        object.__setattr__(self, "_u32", padded)
        formats, nnz, offsets = self.directory()
        self._check_directory(formats, nnz, offsets)
        bad = _check_rows(
            padded, formats, nnz, offsets, lay.columns, lay.word_width, lay.coord_width
        )
        if bad >= 0:
            raise ImageFormatError(
                f"corrupt image: row {bad}'s {Format(formats[bad]).name} index part does not "
                f"match its directory entry"
            )

    def _check_directory(self, formats, nnz, offsets) -> None:
        lay = self.layout
        bits = row_bits(formats, nnz, lay)
        words = lay.row_words(bits)
        checks = (
            (nnz > lay.columns, "has more non-zeros than columns"),
            ((formats == Format.EMPTY) & (nnz != 0), "is EMPTY with non-zeros"),
            (offsets < lay.payload_base, "starts inside the directory"),
            (offsets + words > self.n_words, "ends past the image"),
        )
        for bad, what in checks:
            if bad.any():
                row = int(np.argmax(bad))
                raise ImageFormatError(f"corrupt image: row {row} {what}")
        ends = offsets + words
        overlap = offsets[1:] < ends[:-1]
        if overlap.any():
            row = int(np.argmax(overlap)) + 1
            raise ImageFormatError(f"corrupt image: row {row} overlaps the row before it")
        # Every row DENSE at a fixed stride: readers may compute addresses (row_stride).
        stride = lay.dense_stride
        off = (formats != Format.DENSE) | (
            offsets != lay.payload_base + np.arange(lay.rows) * stride
        )
        if self.params.force_format == "dense" and off.any():
            raise ImageFormatError(
                f"corrupt image: row {int(np.argmax(off))} is not DENSE at the row stride of a "
                f"`force_format: dense` image"
            )
        object.__setattr__(self, "_stride", 0 if off.any() or lay.rows == 0 else stride)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, columns)`` of the table."""
        return (self.layout.rows, self.layout.columns)

    @property
    def n_words(self) -> int:
        """Words in the image."""
        return self.body.size // (self.layout.word_width // 8)

    @property
    def nbytes(self) -> int:
        """Bytes in the image."""
        return int(self.body.size)

    @property
    def u32(self) -> np.ndarray:
        """The image as little-endian ``uint32``, plus two zero words, for the numba kernels."""
        return self._u32

    @property
    def row_stride(self) -> int:
        """Words from one row's payload to the next's when every row is DENSE, else 0.

        When every row is DENSE (always with ``force_format: dense``; with the hybrid choice
        when no row is sparse or empty), row ``r`` starts at word ``payload_base + r *
        row_stride``, so a reader can compute the address instead of reading the directory
        (the lookup unit does: its table descriptor's ``stride``).
        """
        return self._stride

    def word(self, index: int) -> int:
        """Return word ``index`` as an unsigned integer of ``word_width`` bits."""
        nb = self.layout.word_width // 8
        if not 0 <= index < self.n_words:
            raise ValueError(f"`index` must be from 0 to {self.n_words - 1}, not {index!r}")
        return int.from_bytes(self.body[index * nb : (index + 1) * nb].tobytes(), "little")

    def directory(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Decode the row directory.

        Returns
        -------
        formats : numpy.ndarray
            ``uint8`` :class:`~rtnerf.models.encoding.Format` code per row.
        nnz : numpy.ndarray
            ``int64`` non-zeros per row.
        offsets : numpy.ndarray
            ``int64`` word offset of each row's payload.
        """
        lay = self.layout
        dtype = "<u4" if lay.entry_width == 32 else "<u8"
        raw = self.body[: lay.rows * lay.entry_width // 8].view(dtype).astype(np.uint64)
        formats = (raw & np.uint64((1 << FORMAT_WIDTH) - 1)).astype(np.uint8)
        nnz = (raw >> np.uint64(lay.count_shift)) & np.uint64((1 << lay.count_width) - 1)
        offsets = raw >> np.uint64(lay.offset_shift)
        return formats, nnz.astype(np.int64), offsets.astype(np.int64)

    def row_bits(self) -> np.ndarray:
        """Payload bits of each row (before padding), from the directory."""
        formats, nnz, _ = self.directory()
        return row_bits(formats, nnz, self.layout)


def row_bits(formats: np.ndarray, nnz: np.ndarray, layout: Layout) -> np.ndarray:
    """Payload bits of rows of the given formats and counts under ``layout``."""
    table = format_bits(nnz, layout.columns, layout.value_width, layout.coord_width)
    bits = np.take_along_axis(table, formats[:, None].astype(np.intp), axis=1)[:, 0]
    return np.maximum(bits, 0)


def _check_values(values: object, value_width: int) -> np.ndarray:
    if not isinstance(values, np.ndarray) or values.dtype.kind not in "iu":
        what = values.dtype if isinstance(values, np.ndarray) else type(values).__name__
        raise TypeError(f"`values` must be a numpy integer array, not {what}")
    check_table(values, "values")
    lo, hi = -(1 << (value_width - 1)), (1 << (value_width - 1)) - 1
    vmin, vmax = int(values.min()), int(values.max())
    if vmin < lo or vmax > hi:
        bad = vmin if vmin < lo else vmax
        raise ValueError(
            f"`values` must fit {value_width}-bit two's complement ({lo} to {hi}), not {bad!r}"
        )
    return values


def encode(values: np.ndarray, params: EncodingParams, scale: float = 1.0) -> MemoryImage:
    """Encode an already quantised table into a memory image.

    Parameters
    ----------
    values : numpy.ndarray
        2-D integers, each within the signed ``params.value_width``-bit range.
    params : EncodingParams
        The encoding design point.
    scale : float
        Real value of one integer step, stored in the image file.

    Returns
    -------
    MemoryImage
        The image; its size is :meth:`Layout.image_words` of the per-row
        :func:`~rtnerf.models.encoding.choose_formats` bits.

    Raises
    ------
    TypeError
        If ``values`` is not an integer array or ``params`` not :class:`EncodingParams`.
    ValueError
        If ``values`` is not 2-D or does not fit the value width, if it has more columns than
        the coordinate field allows, or if the image would overflow the offset field.
    """
    if not isinstance(params, EncodingParams):
        raise TypeError(f"`params` must be EncodingParams, not {type(params).__name__}")
    values = _check_values(values, params.value_width)
    rows, columns = values.shape
    lay = Layout.of(params, rows, columns)
    nnz = row_nnz(values)
    force = None if params.force_format is None else Format[params.force_format.upper()]
    formats, bits = choose_formats(nnz, columns, lay.value_width, lay.coord_width, force)
    offsets, total = lay.place(bits)
    if total >= 1 << lay.offset_width:
        raise ValueError(
            f"image of {total} words does not fit the {lay.offset_width}-bit offset field of a "
            f"{lay.entry_width}-bit directory entry; use a wider `entry_width`"
        )
    buf = np.zeros(total * lay.word_width // 32 + 2, np.uint32)
    entry = (
        formats.astype(np.uint64)
        | (nnz.astype(np.uint64) << np.uint64(lay.count_shift))
        | (offsets.astype(np.uint64) << np.uint64(lay.offset_shift))
    )
    dir_bytes = entry.astype("<u4" if lay.entry_width == 32 else "<u8").view(np.uint8)
    _pack_rows(values, formats, nnz, offsets, buf, lay.word_width, lay.value_width, lay.coord_width)
    body = buf[:-2].astype("<u4", copy=False).view(np.uint8).copy()
    body[: dir_bytes.size] = dir_bytes
    return MemoryImage(params=params, layout=lay, scale=float(scale), body=body)


def encode_table(table: np.ndarray, params: EncodingParams) -> tuple[MemoryImage, Quantized]:
    """Quantise a table to ``params.value_width`` bits and encode it.

    Returns
    -------
    image : MemoryImage
        The encoded table, carrying the quantisation scale.
    quantized : Quantized
        The quantised values and the error report.

    Raises
    ------
    TypeError, ValueError
        As for :func:`~rtnerf.models.quant.quantize` and :func:`encode`.
    """
    if not isinstance(params, EncodingParams):
        raise TypeError(f"`params` must be EncodingParams, not {type(params).__name__}")
    q = quantize(table, params.value_width)
    return encode(q.values, params, q.scale), q


def write_image(image: MemoryImage, path: str | Path) -> None:
    """Write ``image`` to a file: fixed header, JSON header, then the words.

    The JSON header holds the params (with ``version`` and ``kind``), the table shape, the
    scale, the derived layout and the word count; it is padded with spaces so that the words
    start at a multiple of 64 bytes.
    """
    if not isinstance(image, MemoryImage):
        raise TypeError(f"`image` must be a MemoryImage, not {type(image).__name__}")
    meta = {
        "params": {"version": 1, "kind": image.params.kind, **image.params.to_dict()},
        "scale": image.scale,
        "layout": image.layout.to_dict(),
        "words": image.n_words,
    }
    text = json.dumps(meta, sort_keys=True).encode()
    text += b" " * (-(FILE_HEADER.size + len(text)) % _FILE_ALIGN)
    body = image.body.tobytes()
    head = FILE_HEADER.pack(
        MAGIC, FILE_VERSION, len(text), len(body), zlib.crc32(text), zlib.crc32(body)
    )
    Path(path).write_bytes(head + text + body)


def _header_int(mapping: dict, name: str, minimum: int) -> int:
    value = mapping.get(name.rsplit(".", 1)[-1])
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, not {value!r:.40}")
    return value


def read_image(path: str | Path) -> MemoryImage:
    """Read an image file written by :func:`write_image`.

    Raises
    ------
    ImageFormatError
        If the file cannot be read, is not an image file, is of another version, is truncated
        or has trailing bytes, fails a checksum, or holds inconsistent contents.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageFormatError(f"{path}: cannot read image: {exc.strerror}") from None
    if len(data) < FILE_HEADER.size:
        if not MAGIC.startswith(data[: len(MAGIC)]):
            raise ImageFormatError(f"{path}: not an rtnerf memory image (bad magic)")
        raise ImageFormatError(f"{path}: truncated image file ({len(data)} bytes)")
    magic, version, nmeta, nbody, crc_meta, crc_body = FILE_HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ImageFormatError(f"{path}: not an rtnerf memory image (bad magic {magic!r})")
    if version != FILE_VERSION:
        raise ImageFormatError(
            f"{path}: image file version {version} is not supported (this rtnerf reads "
            f"version {FILE_VERSION})"
        )
    expected = FILE_HEADER.size + nmeta + nbody
    if len(data) < expected:
        raise ImageFormatError(f"{path}: truncated image file ({len(data)} of {expected} bytes)")
    if len(data) > expected:
        raise ImageFormatError(
            f"{path}: corrupt image file ({len(data) - expected} bytes after the end)"
        )
    text = data[FILE_HEADER.size : FILE_HEADER.size + nmeta]
    body = data[FILE_HEADER.size + nmeta :]
    if zlib.crc32(text) != crc_meta:
        raise ImageFormatError(f"{path}: corrupt image file (header checksum mismatch)")
    if zlib.crc32(body) != crc_body:
        raise ImageFormatError(f"{path}: corrupt image file (data checksum mismatch)")
    try:
        meta = json.loads(text)
        if not isinstance(meta, dict):
            raise ValueError(f"it must be a JSON object, not {type(meta).__name__}")
        lay = meta.get("layout")
        if not isinstance(lay, dict):
            raise ValueError(f"`layout` must be an object, not {lay!r:.40}")
        rows = _header_int(lay, "layout.rows", 1)
        columns = _header_int(lay, "layout.columns", 1)
        words = _header_int(meta, "words", 0)
        scale = meta.get("scale")
        if (
            isinstance(scale, bool)
            or not isinstance(scale, int | float)
            or not (math.isfinite(scale) and scale > 0)
        ):
            raise ValueError(f"`scale` must be a finite positive number, not {scale!r:.40}")
        params = EncodingParams.from_dict(meta.get("params"))
        layout = Layout.of(params, rows, columns)
    except (ValueError, TypeError) as exc:
        raise ImageFormatError(f"{path}: corrupt image header: {exc}") from None
    except RecursionError:
        raise ImageFormatError(f"{path}: corrupt image header: nested too deeply") from None
    # Compared as JSON so that 1 and true, 0 and false differ.
    if json.dumps(layout.to_dict(), sort_keys=True) != json.dumps(lay, sort_keys=True):
        raise ImageFormatError(f"{path}: corrupt image header: layout does not match params")
    if words * layout.word_width // 8 != nbody:
        raise ImageFormatError(
            f"{path}: corrupt image header: `words` {words} does not match the {nbody} bytes of "
            "data"
        )
    try:
        return MemoryImage(params, layout, float(scale), np.frombuffer(body, np.uint8).copy())
    except ImageFormatError as exc:
        raise ImageFormatError(f"{path}: {exc}") from None
