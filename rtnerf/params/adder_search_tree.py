"""Parameters of the dual-purpose bi-directional adder & search tree."""

from __future__ import annotations

import dataclasses
import enum

from .base import BlockParams, check_int

__all__ = ["AdderSearchTreeParams", "Op"]


class Op(enum.IntEnum):
    """Operation of one adder & search tree query.

    RANK
        Bitmap word and column ``j``: ``hit`` = bit ``j`` is set, ``index`` = number of set bits
        below ``j`` (the position of the value in the packed value array). ``j >= leaves`` gives
        ``hit = 0`` and ``index`` = popcount of the whole word.
    SELECT
        Bitmap word and ``k``: ``hit`` = the word has more than ``k`` set bits, ``index`` = column
        of the ``k``-th set bit (0-based); when not found, ``index`` = popcount of the word.
    SEARCH
        ``count`` sorted, duplicate-free coordinates and column ``j``: ``hit`` = ``j`` is among
        them, ``index`` = number of coordinates below ``j`` (its position when hit, its insertion
        point otherwise).
    """

    RANK = 0
    SELECT = 1
    SEARCH = 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdderSearchTreeParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.adder_search_tree.AdderSearchTree`.

    Parameters
    ----------
    leaves : int
        Tree width W: bits per bitmap word and coordinates per SEARCH query. A power of two from
        4 to 256.
    coord_width : int
        Bits per coordinate (column index within an embedding row), 1 to 32.
    tag_width : int
        Bits of the opaque tag carried from query to result, 1 to 32.
    """

    kind = "adder_search_tree"

    leaves: int = 16
    coord_width: int = 16
    tag_width: int = 8

    def __post_init__(self) -> None:
        check_int("leaves", self.leaves, minimum=4, maximum=256, power_of_two=True)
        check_int("coord_width", self.coord_width, minimum=1, maximum=32)
        check_int("tag_width", self.tag_width, minimum=1, maximum=32)

    @property
    def depth(self) -> int:
        """Tree depth, log2(leaves)."""
        return self.leaves.bit_length() - 1

    @property
    def index_width(self) -> int:
        """Bits of ``index`` and ``count``: enough for 0..leaves inclusive."""
        return self.depth + 1

    @property
    def key_width(self) -> int:
        """Bits of the query key: a coordinate, or a column/``k`` up to ``leaves``."""
        return max(self.coord_width, self.index_width)

    @property
    def latency(self) -> int:
        """Cycles from an accepted query to its result: leaf stage + depth up + depth down."""
        return 2 * self.depth + 1
