"""Parameters of the hybrid sparse encoding and its memory image."""

from __future__ import annotations

import dataclasses
import enum

from .base import Params, check_choice, check_int

__all__ = [
    "FORCE_FORMATS",
    "FORMAT_WIDTH",
    "MAX_COORD_WIDTH",
    "PLACEMENTS",
    "EncodingParams",
    "Format",
]


class Format(enum.IntEnum):
    """Storage format of one row; the value is the 2-bit code in the row directory.

    The codes are in decode-speed order, so the lowest code wins a cost tie. The encoder
    (:mod:`rtnerf.models.encoding`), the memory image, the golden models and the RTL all take
    the codes from here.
    """

    EMPTY = 0
    DENSE = 1
    BITMAP = 2
    COO = 3


#: Bits of the format field of a directory entry (its low bits; the codes of :class:`Format`).
FORMAT_WIDTH = 2


#: Values accepted by :attr:`EncodingParams.force_format` besides ``None``.
FORCE_FORMATS = ("dense", "bitmap", "coo")

#: Values of :attr:`EncodingParams.placement`.
PLACEMENTS = ("packed", "bursts")

#: Widest coordinate field: a table may have at most ``2**MAX_COORD_WIDTH`` columns.
MAX_COORD_WIDTH = 24


@dataclasses.dataclass(frozen=True, kw_only=True)
class EncodingParams(Params):
    """Design point of the hybrid row encoding and of the memory image it produces.

    The exact layout these fields select (field widths, word packing, alignment) is defined in
    :mod:`rtnerf.models.image` and documented in ``docs/memory-image.md``.

    Parameters
    ----------
    value_width : int
        Bits per stored value (signed two's complement), 2 to 32. 8 and 16 are the usual choices.
    word_width : int
        Bits per memory word, the unit of row offsets and of the decoder's data bus: a power of
        two from 32 to 512.
    burst_bytes : int
        DRAM burst size in bytes: a power of two from ``word_width / 8`` to 4096. Used for row
        alignment and as the default burst of the DRAM accounting.
    align_rows : bool
        Start the payload and every non-empty row on a burst boundary (pads each row to whole
        bursts), so that no burst is shared by two rows.
    placement : str
        Where rows go when ``align_rows`` is false. ``packed`` (the default): each row right
        after the previous one, the smallest image; a row may then touch one burst more than
        its size needs. ``bursts``: each row where it touches the fewest bursts its size allows
        (``ceil(words / burst_words)``), skipping to the next burst boundary only when it would
        touch one more; the payload starts on a burst boundary. A table of DENSE rows keeps a
        fixed row stride (the smallest that never costs an extra burst), so it stays
        addressable without its directory. Costs image size (``docs/memory-image.md``).
    force_format : str or None
        ``None`` chooses the cheapest format per row; ``"dense"``, ``"bitmap"`` or ``"coo"``
        stores every row (all-zero rows included) in that one format, for studies.
    coord_width : int or None
        Bits per COO coordinate. ``None`` (the default) uses ``max(1, ceil(log2 N))`` for a table
        of N columns, the width the cost formulas in DESIGN.md assume. An integer from 1 to
        :data:`MAX_COORD_WIDTH` fixes it, as a synthesised decoder does; tables with more than
        ``2**coord_width`` columns are then rejected.
    entry_width : int
        Bits per row-directory entry, 32 or 64. The entry holds the format (2 bits), the count of
        non-zeros (``coord_width + 1`` bits) and the row's word offset (the remaining bits).
    """

    kind = "encoding"

    value_width: int = 16
    word_width: int = 64
    burst_bytes: int = 64
    align_rows: bool = False
    placement: str = "packed"
    force_format: str | None = None
    coord_width: int | None = None
    entry_width: int = 64

    def __post_init__(self) -> None:
        check_int("value_width", self.value_width, minimum=2, maximum=32)
        check_int("word_width", self.word_width, minimum=32, maximum=512, power_of_two=True)
        check_int(
            "burst_bytes",
            self.burst_bytes,
            minimum=self.word_bytes,
            maximum=4096,
            power_of_two=True,
        )
        if not isinstance(self.align_rows, bool):
            raise TypeError(f"`align_rows` must be a bool, not {self.align_rows!r}")
        check_choice("placement", self.placement, PLACEMENTS)
        if self.force_format is not None:
            check_choice("force_format", self.force_format, (None, *FORCE_FORMATS))
        if self.coord_width is not None:
            check_int("coord_width", self.coord_width, minimum=1, maximum=MAX_COORD_WIDTH)
        check_choice("entry_width", self.entry_width, (32, 64))

    @property
    def word_bytes(self) -> int:
        """Bytes per memory word."""
        return self.word_width // 8

    @property
    def burst_words(self) -> int:
        """Memory words per DRAM burst."""
        return self.burst_bytes // self.word_bytes

    @property
    def max_columns(self) -> int:
        """Most columns a table may have: ``2**coord_width`` (``2**MAX_COORD_WIDTH`` if unset)."""
        return 1 << (MAX_COORD_WIDTH if self.coord_width is None else self.coord_width)
