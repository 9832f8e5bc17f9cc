"""Parameters of the hybrid row decoder."""

from __future__ import annotations

import dataclasses
import math

from .adder_search_tree import AdderSearchTreeParams
from .base import BlockParams, check_choice, check_int
from .encoding import EncodingParams, Format
from .sparse_search_unit import SparseSearchUnitParams

__all__ = ["HybridRowDecoderParams"]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True, kw_only=True)
class HybridRowDecoderParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.hybrid_row_decoder.HybridRowDecoder`.

    The decoder reads tables of one shape and encoding (``columns``, ``value_width``,
    ``word_width``, ``entry_width``, ``coord_width``: the fields of the memory image it is
    built for, see ``docs/memory-image.md``) and holds one adder & search tree of ``leaves``
    leaves and one single-lane sparse search unit of ``window`` coordinates.

    Parameters
    ----------
    columns : int
        N, columns of the table (embedding dimension), 2 to 4096.
    value_width : int
        Bits per stored value, 2 to 32.
    word_width : int
        Bits per memory word (the data bus), a power of two from 32 to 512.
    entry_width : int
        Bits per row-directory entry, 32 or 64.
    coord_width : int or None
        Bits per COO coordinate; ``None`` = ``max(1, ceil(log2 columns))`` as the encoder uses.
    leaves : int
        W, leaves of the adder & search tree: bitmap bits ranked per cycle and the longest COO
        row searched by the tree in one pass. A power of two from 4 to ``min(256,
        word_width)``.
    window : int
        K, coordinates the sparse search unit compares per cycle (COO rows longer than
        ``leaves``), 1 to 64.
    coo_capacity : int or None
        Most non-zeros of a COO row the decoder can expand (its coordinate buffer).
        ``None`` = the longest row the encoder stores as COO when it chooses formats itself,
        ``max(1, (columns - 1) // coord_width)``; up to ``columns`` (for ``force_format:
        coo`` images).
    row_width : int
        Bits of the row index of a query, 1 to 32.
    address_width : int
        Bits of a word address on the memory port, 8 to 48.
    """

    kind = "hybrid_row_decoder"

    columns: int = 128
    value_width: int = 16
    word_width: int = 64
    entry_width: int = 64
    coord_width: int | None = None
    leaves: int = 8
    window: int = 8
    coo_capacity: int | None = None
    row_width: int = 16
    address_width: int = 32

    def __post_init__(self) -> None:
        check_int("columns", self.columns, minimum=2, maximum=4096)
        check_int("value_width", self.value_width, minimum=2, maximum=32)
        check_int("word_width", self.word_width, minimum=32, maximum=512, power_of_two=True)
        check_choice("entry_width", self.entry_width, (32, 64))
        if self.coord_width is not None:
            check_int("coord_width", self.coord_width, minimum=1, maximum=12)
            if self.columns > 1 << self.coord_width:
                raise ValueError(
                    f"`coord_width` {self.coord_width} cannot address {self.columns} columns; "
                    f"it must be at least {self.coord_bits}"
                )
        check_int(
            "leaves", self.leaves, minimum=4, maximum=min(256, self.word_width), power_of_two=True
        )
        check_int("window", self.window, minimum=1, maximum=64)
        if self.coo_capacity is not None:
            check_int("coo_capacity", self.coo_capacity, minimum=1, maximum=self.columns)
        check_int("row_width", self.row_width, minimum=1, maximum=32)
        check_int("address_width", self.address_width, minimum=8, maximum=48)

    # -- widths -------------------------------------------------------------------------------

    @property
    def coord_bits(self) -> int:
        """b_i, bits per coordinate: ``coord_width`` or ``max(1, ceil(log2 columns))``."""
        if self.coord_width is not None:
            return self.coord_width
        return max(1, math.ceil(math.log2(self.columns)))

    @property
    def count_width(self) -> int:
        """Bits of the directory's ``nnz`` field, ``coord_bits + 1``."""
        return self.coord_bits + 1

    @property
    def capacity(self) -> int:
        """Longest COO row the decoder expands (:attr:`coo_capacity` resolved)."""
        if self.coo_capacity is not None:
            return self.coo_capacity
        return max(1, (self.columns - 1) // self.coord_bits)

    @property
    def chunks(self) -> int:
        """Bitmap chunks of ``leaves`` bits in a row, ``ceil(columns / leaves)``."""
        return _cdiv(self.columns, self.leaves)

    @property
    def len_width(self) -> int:
        """Bits of a memory request's length in words (up to a whole row)."""
        return self.max_row_words.bit_length()

    @property
    def max_row_words(self) -> int:
        """Words of the largest row payload (a full BITMAP row)."""
        return _cdiv(self.columns * (1 + self.value_width), self.word_width)

    @property
    def max_take(self) -> int:
        """Widest field the bit reader hands out in one piece."""
        return max(
            self.entry_width,
            self.value_width,
            self.leaves,
            self.leaves * self.coord_bits,
            self.window * self.coord_bits,
        )

    # -- sub-blocks ---------------------------------------------------------------------------

    @property
    def tree(self) -> AdderSearchTreeParams:
        """The adder & search tree's design point."""
        return AdderSearchTreeParams(
            leaves=self.leaves,
            coord_width=self.coord_bits,
            tag_width=max(1, (self.chunks - 1).bit_length()),
        )

    @property
    def search_unit(self) -> SparseSearchUnitParams:
        """The single-lane sparse search unit's design point."""
        return SparseSearchUnitParams(
            lanes=1,
            window=self.window,
            coord_width=self.coord_bits,
            index_width=self.count_width,
            tag_width=1,
        )

    def encoding(self, **kwargs) -> EncodingParams:
        """EncodingParams of the images this decoder reads (``kwargs`` set the other fields)."""
        return EncodingParams(
            value_width=self.value_width,
            word_width=self.word_width,
            entry_width=self.entry_width,
            coord_width=self.coord_width,
            **kwargs,
        )

    # -- timing -------------------------------------------------------------------------------

    def query_cycles(
        self,
        fmt: int,
        nnz: int,
        *,
        latency: int,
        col: int = 0,
        index: int = 0,
        hit: bool = False,
        expand: bool = False,
        chunk_counts: tuple[int, ...] = (),
    ) -> int:
        """Cycles one query occupies the decoder at full rate (no stalls, no backpressure).

        Counted from the cycle the query is accepted to the cycle the next one can be. The
        memory answers a request accepted in cycle ``t`` with its words in cycles ``t +
        latency``, ``t + latency + 1``, ... The count is exact (the testbench checks every
        query), and made of: the entry round trip, ``latency + entry words + 2``; then

        * EMPTY (and COO without entries): 2;
        * element DENSE: the value, ``1 + value``;
        * element BITMAP: ``3 + latency + col // leaves + tree latency`` (chunks of ``leaves``
          bits ranked one per cycle as the words arrive), then ``value`` on a hit, 1 on a miss;
        * element COO, ``nnz <= leaves``: ``2 + latency + words + tree latency`` (one SEARCH
          when the ``words`` coordinate words are in); over ``leaves``: the windows of
          ``window`` coordinates, one per cycle as their words arrive, then 2 cycles (3 if the
          query resolved only in the last window); then ``value`` or 1;
        * expand DENSE: ``2 + latency + columns``; COO: ``2 + latency + 2 nnz``;
          BITMAP: ``2 + latency + chunks + 2 tree latency`` plus one cycle per stored value
          and per empty chunk up to the last non-empty one (or ``3 + latency + chunks + tree
          latency`` without entries);

        where ``value``, reading a value at bit ``p`` of the row in ``n`` (1 or 2) words, is
        ``2 + latency + n``, or, when its first word was the last index word read (kept, not
        read again), 3 for ``n = 1`` and ``3 + latency`` for ``n = 2``.

        Parameters
        ----------
        fmt, nnz : int
            The row's format code (0 EMPTY, 1 DENSE, 2 BITMAP, 3 COO) and non-zeros.
        latency : int
            Memory latency in cycles, at least 1.
        col, index, hit : int, int, bool
            Element mode: the column, its position among the row's stored values (the
            insertion point on a miss) and whether it is stored.
        expand : bool
            Whole-row query.
        chunk_counts : tuple of int
            Expand BITMAP: set bits of each ``leaves``-bit chunk of the bitmap.
        """
        w, bv, bi, n = self.word_width, self.value_width, self.coord_bits, self.columns
        lat = self.tree.latency
        head = latency + _cdiv(self.entry_width, w) + 2
        if fmt == Format.EMPTY or (fmt == Format.COO and nnz == 0):
            return head + 2
        if expand:
            if fmt == Format.DENSE:
                return head + 2 + latency + n
            if fmt == Format.COO:
                return head + 2 + latency + 2 * nnz
            base = head + 2 + latency + self.chunks + lat
            if nnz == 0:
                return base + 1
            nonempty = [g for g, c in enumerate(chunk_counts) if c]
            issue = sum(c or 1 for c in chunk_counts[: nonempty[-1] + 1])
            return base + issue + lat
        if fmt == Format.DENSE:
            return head + 1 + self._value_cycles(col * bv, None, latency)
        if fmt == Format.BITMAP:
            found = head + 3 + latency + col // self.leaves + lat
            if not hit:
                return found + 1
            return found + self._value_cycles(n + index * bv, col // w, latency)
        words = _cdiv(nnz * bi, w)
        if nnz <= self.leaves:
            found = head + 2 + latency + words + lat
        else:
            windows = _cdiv(nnz, self.window)
            t = -1
            for i in range(windows):
                last_word = (min((i + 1) * self.window, nnz) * bi - 1) // w
                t = max(2 + latency + last_word, t + 1)
            resolved = min(index // self.window, windows - 1)
            found = head + t + 2 + (resolved == windows - 1)
        if not hit:
            return found + 1
        return found + self._value_cycles(nnz * bi + index * bv, words - 1, latency)

    def _value_cycles(self, p: int, held_word: int | None, latency: int) -> int:
        """Cycles from the value request to the next query: value at row bit ``p``."""
        w = self.word_width
        words = 1 + ((p % w) + self.value_width > w)
        if held_word is not None and p // w == held_word:
            return 3 if words == 1 else 3 + latency
        return 2 + latency + words
