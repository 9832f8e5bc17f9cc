"""Parameters of the high-density sparse search unit."""

from __future__ import annotations

import dataclasses

from .base import BlockParams, check_int

__all__ = ["SparseSearchUnitParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparseSearchUnitParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.sparse_search_unit.SparseSearchUnit`.

    Parameters
    ----------
    lanes : int
        P, query columns matched per cycle, 1 to 16.
    window : int
        K, sorted coordinates compared per cycle, 1 to 64.
    coord_width : int
        Bits per coordinate and per query column, 1 to 32.
    index_width : int
        Bits of a position within a row (window base and result index), 1 to 24; a row may hold
        up to ``2**index_width - 1`` coordinates.
    tag_width : int
        Bits of the opaque tag carried from a query group to its result, 1 to 32.
    """

    kind = "sparse_search_unit"

    lanes: int = 4
    window: int = 8
    coord_width: int = 16
    index_width: int = 16
    tag_width: int = 8

    def __post_init__(self) -> None:
        check_int("lanes", self.lanes, minimum=1, maximum=16)
        check_int("window", self.window, minimum=1, maximum=64)
        check_int("coord_width", self.coord_width, minimum=1, maximum=32)
        check_int("index_width", self.index_width, minimum=1, maximum=24)
        check_int("tag_width", self.tag_width, minimum=1, maximum=32)

    @property
    def window_count_width(self) -> int:
        """Bits of a window's coordinate count, 0..window."""
        return self.window.bit_length()

    @property
    def lane_count_width(self) -> int:
        """Bits of a query group's count, 0..lanes."""
        return self.lanes.bit_length()

    @property
    def max_row_length(self) -> int:
        """Most coordinates a row may hold: positions must fit ``index_width`` bits."""
        return (1 << self.index_width) - 1

    def row_cycles(self, windows: int, groups: int) -> int:
        """Cycles one row takes at full rate.

        Each window and each query group is consumed in one cycle, and the row's last window
        together with its last group.
        """
        return windows + groups - 1
