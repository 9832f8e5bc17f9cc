"""Parameters of the embedding lookup unit."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from .base import BlockParams, Params, check_choice, check_int
from .hybrid_row_decoder import HybridRowDecoderParams

__all__ = ["EmbeddingLookupUnitParams"]

POOLINGS = ("sum", "mean", "weighted")
ROUNDINGS = ("truncate", "nearest")
OVERFLOWS = ("saturate", "wrap")
PAIRWISE = ("none", "dot", "l2")
DIRECTORIES = ("dram", "sram")


def _default_decoder() -> HybridRowDecoderParams:
    # The default design's tables: 64 columns, on the 128-bit port, of up to 1 M rows.
    return HybridRowDecoderParams(columns=64, word_width=128, row_width=20)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmbeddingLookupUnitParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.embedding_lookup_unit.EmbeddingLookupUnit`.

    The unit reads rows through a hybrid row decoder, :attr:`decoder`, and pools them per bag.
    The decoder's fields are the only copy of the widths the two share, and the unit's
    properties read them: :attr:`dim` (the decoder's ``columns``), :attr:`value_width`,
    :attr:`word_width` (the memory port's words), :attr:`entry_width`, :attr:`row_width`
    (the row of a request) and :attr:`address_width`. (An engine's memory port has its own
    ``word_width`` and ``address_width``, which :class:`EngineParams` checks equal to these.)

    Arithmetic (the golden model does exactly the same): each stored value ``v`` of a row is
    multiplied by ``m`` = the request's weight (``weighted``) or ``2**weight_frac_bits``
    (``sum``, ``mean``) and added to the column's accumulator of ``acc_width`` bits, which
    saturates or wraps (``overflow``) at every addition. At the bag's end the accumulator is
    scaled: ``y = acc`` with ``s = weight_frac_bits`` fraction bits, or for ``mean`` ``y = acc *
    R(n)``, ``R(n) = (2**f + n // 2) // n`` (``f = weight_frac_bits``, ``n`` requests in the
    bag) with ``s = 2 f``; then ``y >> s`` (``truncate``: floor) or ``(y + 2**(s-1)) >> s``
    (``nearest``: half up), saturated or wrapped to ``out_width`` bits.

    Parameters
    ----------
    decoder : HybridRowDecoderParams
        The hybrid row decoder's design point (a mapping in YAML, ``decoder: {columns: 64,
        ...}``): the tables' shape and encoding (``columns``, ``value_width``, ``word_width``,
        ``entry_width``, ``coord_width``), its tree and search unit (``leaves``, ``window``,
        ``coo_capacity``) and the request widths (``row_width``, ``address_width``). The unit's
        default is 64 columns, 128-bit words and 20-bit rows, the decoder's other defaults
        (16-bit values, 64-bit entries, 8 leaves, a window of 8, 32-bit addresses); fields left
        out of a ``decoder:`` mapping take these values, not the decoder block's own defaults.
    tables : int
        Tables the unit can address (base addresses set through ``i_base``), 1 to 16.
    weight_width, weight_frac_bits : int
        Signed fixed-point weights: 2 to 32 bits, 0 to ``weight_width`` fraction bits.
    acc_width : int
        Accumulator bits, 8 to 48.
    out_width : int
        Bits of a pooled value, 2 to 32.
    pooling : str
        ``sum``, ``mean`` or ``weighted``.
    rounding : str
        ``truncate`` or ``nearest``.
    overflow : str
        ``saturate`` or ``wrap``.
    max_bag : int
        Most requests in a bag, 1 to 1024 (the bag counter, and ``mean``'s reciprocal table).
    lanes : int
        Pooled values per output beat, 1 to 16, dividing ``dim``.
    cache_ways, cache_sets : int
        The unit's row cache: ``cache_ways`` (0 to 8; 0, the default, builds none) rows in each
        of ``cache_sets`` sets (a power of two, 1 to 64); row ``r`` of any table goes to set
        ``r mod cache_sets``, LRU within the set (:func:`rtnerf.models.dram.cache_hits`). A
        cached unit reads whole rows, for ELEMENT requests too, and keeps each row as the
        decoder's beats (up to ``dim`` of them).

    inflight : int
        Request slots, 1 to 64: the bag requests the unit holds between taking them and
        finishing them, each with its directory entry and its payload words (the slot buffer,
        ``inflight * slot_words`` words of on-chip memory). The front end runs ahead of the
        decoder through them: it reads a slot's entry, then issues its payload read, while the
        decoder works on older slots; the memory answers them while it waits. Sizing (Little's
        law): a slot is held for its memory round trip ``R`` (DRAM latency, plus the port's and
        the routing's pipeline; plus a second round trip for the entry with ``directory:
        dram``) and then for its decode time ``D`` (about ``dim`` cycles for a DENSE row, ``nnz``
        for a sparse one), so a unit that never waits for memory needs ``inflight >= R / D + 1``;
        and an engine at DRAM bandwidth ``B`` bytes per cycle needs ``units * inflight >= R * B /
        bytes per lookup`` lookups in flight. The default, 4, covers ``R`` = 40-cycle DRAM plus
        about 10 cycles of pipeline for rows down to ``D`` of 17 cycles, and at the default
        engine (12 units, 16 B/cycle, 128-byte rows) 48 lookups in flight against the 7 that
        the bandwidth needs (the margin absorbs queueing at the DRAM near saturation).
    directory : str
        Where the rows' directory entries come from. ``dram``: each request reads its row's
        entry from the table's image (one memory request, one DRAM burst) before its payload.
        ``sram``: each unit holds a copy of the directories of its tables, ``directory_rows``
        entries per table, written on ``i_dir`` (the engine loads them from DRAM once, when a
        base address is written); requests then read only their payload. Tables written with a
        row ``stride`` (images stored all-DENSE, ``force_format: dense``) need no directory in
        either mode: their payload address is computed.
    directory_rows : int
        Rows of each table the directory SRAM holds (``directory: sram``), 1 to 65536; a table
        with more rows is rejected. The SRAM is ``tables * directory_words`` words.
    entry_cache_lines : int
        With ``directory: dram``, an entry cache for tables too big for the SRAM: 0 (none) or
        a power of two from 2 to 1024 lines, direct-mapped, each holding the memory word
        (``word_width / entry_width`` entries) a miss read; line ``k mod lines`` for word
        ``k = row // entries per word`` of a table (the table id above the row bits). A hit
        reads no entry from DRAM; a request whose line is being filled waits for it, so hits
        depend only on the order of requests (:func:`rtnerf.models.dram.cache_hits`, one way).

    pairwise : str
        ``none``, or a stage that scores bags in pairs (bag ``2k`` with bag ``2k + 1``, both
        ROW bags, pooled as above to ``u`` and ``v``) and emits one beat of three exact
        integer ``scores`` per pair instead of the pooled vectors: ``dot``: ``(u . v, 0, 0)``;
        ``l2``: ``(|u - v|^2, |u|^2, |v|^2)`` (what a Poincare distance needs). Scores are
        ``score_width = 2 out_width + bits(dim) + 1`` bits, at most 62.

    Notes
    -----
    ELEMENT requests (``op`` 1 in a trace: row ``row``, column ``col``) always take the
    request's weight and accumulate into column 0's accumulator; their bag leaves as one beat
    with the scalar in lane 0 (the other lanes 0), scaled with ``s = weight_frac_bits`` (for
    ``mean``, ``R`` is replaced by ``2**f``: an interpolation is a weighted sum).
    """

    kind = "embedding_lookup_unit"
    nested: ClassVar[dict[str, type[Params]]] = {"decoder": HybridRowDecoderParams}
    moved: ClassVar[dict[str, str]] = {
        "dim": "decoder.columns",
        **{
            name: f"decoder.{name}"
            for name in (
                "value_width", "word_width", "entry_width", "coord_width", "leaves", "window",
                "coo_capacity", "row_width", "address_width",
            )
        },
    }  # fmt: skip

    decoder: HybridRowDecoderParams = dataclasses.field(default_factory=_default_decoder)
    tables: int = 2
    weight_width: int = 16
    weight_frac_bits: int = 8
    acc_width: int = 40
    out_width: int = 16
    pooling: str = "weighted"
    rounding: str = "nearest"
    overflow: str = "saturate"
    max_bag: int = 64
    lanes: int = 8
    cache_ways: int = 0
    cache_sets: int = 1
    pairwise: str = "none"
    inflight: int = 4
    directory: str = "dram"
    directory_rows: int = 1024
    entry_cache_lines: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.decoder, HybridRowDecoderParams):
            raise TypeError(f"`decoder` must be HybridRowDecoderParams, not {self.decoder!r}")
        check_int("tables", self.tables, minimum=1, maximum=16)
        check_int("weight_width", self.weight_width, minimum=2, maximum=32)
        check_int("weight_frac_bits", self.weight_frac_bits, minimum=0, maximum=self.weight_width)
        check_int("acc_width", self.acc_width, minimum=8, maximum=48)
        check_int("out_width", self.out_width, minimum=2, maximum=32)
        check_choice("pooling", self.pooling, POOLINGS)
        check_choice("rounding", self.rounding, ROUNDINGS)
        check_choice("overflow", self.overflow, OVERFLOWS)
        check_choice("pairwise", self.pairwise, PAIRWISE)
        if self.pairwise != "none" and self.score_width > 62:
            raise ValueError(
                f"`out_width` {self.out_width} is too wide for the pairwise stage: scores of "
                f"{self.score_width} bits (at most 62)"
            )
        check_int("max_bag", self.max_bag, minimum=1, maximum=1024)
        check_int("lanes", self.lanes, minimum=1, maximum=16)
        check_int("cache_ways", self.cache_ways, minimum=0, maximum=8)
        check_int("cache_sets", self.cache_sets, minimum=1, maximum=64, power_of_two=True)
        if self.cache_sets > 1 << self.row_width:
            raise ValueError(
                f"`cache_sets` must be at most 2**decoder.row_width {1 << self.row_width}, "
                f"not {self.cache_sets}"
            )
        if self.pooling == "mean" and self.acc_width + self.weight_frac_bits > 62:
            raise ValueError(
                f"`acc_width` + `weight_frac_bits` must be at most 62 for mean pooling (the "
                f"scaled accumulator), not {self.acc_width + self.weight_frac_bits}"
            )
        if self.dim % self.lanes:
            raise ValueError(f"`lanes` must divide `decoder.columns` {self.dim}, not {self.lanes}")
        check_int("inflight", self.inflight, minimum=1, maximum=64)
        check_choice("directory", self.directory, DIRECTORIES)
        check_int("directory_rows", self.directory_rows, minimum=1, maximum=65536)
        if self.directory == "sram" and self.word_width < self.entry_width:
            raise ValueError(
                "`directory: sram` needs words at least as wide as an entry: "
                f"`decoder.word_width` {self.word_width} < `decoder.entry_width` "
                f"{self.entry_width}"
            )
        check_int("entry_cache_lines", self.entry_cache_lines, minimum=0, maximum=1024)
        if self.entry_cache_lines:
            check_int(
                "entry_cache_lines", self.entry_cache_lines, minimum=2, maximum=1024,
                power_of_two=True,
            )  # fmt: skip
            if self.directory != "dram" or self.word_width < self.entry_width:
                raise ValueError(
                    "`entry_cache_lines` needs `directory: dram` and words at least as wide as "
                    f"an entry, not `directory: {self.directory}`, `decoder.word_width` "
                    f"{self.word_width}, `decoder.entry_width` {self.entry_width}"
                )

    # -- the decoder's widths, read where the unit uses them --------------------------------

    @property
    def dim(self) -> int:
        """Columns of a row (the embedding dimension): the decoder's ``columns``."""
        return self.decoder.columns

    @property
    def value_width(self) -> int:
        """Bits per stored value: the decoder's."""
        return self.decoder.value_width

    @property
    def word_width(self) -> int:
        """Bits per memory word: the decoder's."""
        return self.decoder.word_width

    @property
    def entry_width(self) -> int:
        """Bits per row-directory entry: the decoder's."""
        return self.decoder.entry_width

    @property
    def row_width(self) -> int:
        """Bits of a request's row index: the decoder's."""
        return self.decoder.row_width

    @property
    def address_width(self) -> int:
        """Bits of a word address on the memory port: the decoder's."""
        return self.decoder.address_width

    # -- derived -------------------------------------------------------------------------------

    @property
    def table_width(self) -> int:
        """Bits of a table id."""
        return max(1, (self.tables - 1).bit_length())

    @property
    def col_width(self) -> int:
        """Bits of a column index."""
        return max(1, (self.dim - 1).bit_length())

    @property
    def score_width(self) -> int:
        """Bits of a pairwise score (exact for every input)."""
        return 2 * self.out_width + self.dim.bit_length() + 1

    @property
    def cache_rows(self) -> int:
        """Rows the cache holds (0 without a cache)."""
        return self.cache_ways * self.cache_sets

    @property
    def bag_width(self) -> int:
        """Bits of the bag request counter (up to ``max_bag``)."""
        return self.max_bag.bit_length()

    @property
    def shift(self) -> int:
        """Fraction bits of the scaled accumulator, ``s``."""
        return self.weight_frac_bits * (2 if self.pooling == "mean" else 1)

    @property
    def slot_words(self) -> int:
        """Words of a request slot: the longest payload of a row the decoder reads."""
        d = self.decoder
        coo = -(-d.capacity * (d.coord_bits + self.value_width) // self.word_width)
        return max(d.max_row_words, coo, 1)

    @property
    def entry_words(self) -> int:
        """Words of one directory entry (2 for 64-bit entries on 32-bit words, else 1)."""
        return -(-self.entry_width // self.word_width)

    @property
    def directory_words(self) -> int:
        """Words of one table's directory in the directory SRAM (``directory: sram``)."""
        return -(-self.directory_rows * self.entry_width // self.word_width)

    @property
    def entry_key_shift(self) -> int:
        """log2 of the entries per memory word: the row bits below an entry cache key."""
        return max(0, (self.word_width // self.entry_width).bit_length() - 1)

    def entry_keys(self, table: np.ndarray, row: np.ndarray) -> np.ndarray:
        """The entry cache's keys of requests: the entries' memory word, table id above."""
        shift = self.entry_key_shift
        return (np.asarray(table, np.int64) << (self.row_width - shift)) | (
            np.asarray(row, np.int64) >> shift
        )

    @property
    def slot_width(self) -> int:
        """Bits of a slot index."""
        return max(1, (self.inflight - 1).bit_length())

    def reciprocal(self, n: int) -> int:
        """``R(n)``, the mean's fixed-point reciprocal of a bag of ``n`` requests."""
        f = self.weight_frac_bits
        return ((1 << f) + n // 2) // n
