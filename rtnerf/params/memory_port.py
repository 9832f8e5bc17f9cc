"""Parameters of the burst read memory port."""

from __future__ import annotations

import dataclasses

from .base import BlockParams, check_int

__all__ = ["MemoryPortParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MemoryPortParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.memory_port.MemoryPort`.

    Parameters
    ----------
    word_width : int
        Bits of the data bus (one word per beat), a power of two from 32 to 512.
    address_width : int
        Bits of a client's word address, 8 to 48; AXI byte addresses are ``log2(word_width /
        8)`` bits wider.
    len_width : int
        Bits of a client request's length in words, 1 to 16 (requests of up to ``2**len_width
        - 1`` words).
    max_burst : int
        Most beats per AXI burst, a power of two from 1 to 256 (AXI4 INCR bursts). Bursts are
        aligned to it: a burst never crosses a multiple of ``max_burst`` words, so a DRAM burst
        of at most ``max_burst`` words is never split between two AXI bursts.
    boundary_bytes : int
        No burst crosses a multiple of this many bytes: a power of two from ``word_width / 8``
        to 4096. 4096 is AXI's rule; the DRAM burst size gives one AXI burst per DRAM burst.
    outstanding : int
        Most AXI bursts in flight (address sent, last beat not yet received), 1 to 256.
    """

    kind = "memory_port"
    #: No golden model: the testbench checks the words against the AXI DRAM model
    #: (:mod:`rtnerf.sim.dram`) and the bursts against :meth:`bursts`.
    golden = None

    word_width: int = 128
    address_width: int = 32
    len_width: int = 8
    max_burst: int = 16
    boundary_bytes: int = 4096
    outstanding: int = 32

    def __post_init__(self) -> None:
        check_int("word_width", self.word_width, minimum=32, maximum=512, power_of_two=True)
        check_int("address_width", self.address_width, minimum=8, maximum=48)
        check_int("len_width", self.len_width, minimum=1, maximum=16)
        check_int("max_burst", self.max_burst, minimum=1, maximum=256, power_of_two=True)
        check_int(
            "boundary_bytes",
            self.boundary_bytes,
            minimum=self.word_bytes,
            maximum=4096,
            power_of_two=True,
        )
        check_int("outstanding", self.outstanding, minimum=1, maximum=256)

    @property
    def word_bytes(self) -> int:
        """Bytes per word (per beat)."""
        return self.word_width // 8

    @property
    def size_code(self) -> int:
        """AXI ``ARSIZE``: log2 of the bytes per beat."""
        return self.word_bytes.bit_length() - 1

    @property
    def byte_address_width(self) -> int:
        """Bits of ``ARADDR``."""
        return self.address_width + self.size_code

    @property
    def boundary_words(self) -> int:
        """Words between two burst boundaries."""
        return self.boundary_bytes // self.word_bytes

    @property
    def chunk_words(self) -> int:
        """Words of the aligned blocks no burst crosses: ``min(max_burst, boundary_words)``."""
        return min(self.max_burst, self.boundary_words)

    @property
    def max_request(self) -> int:
        """Longest client request in words."""
        return (1 << self.len_width) - 1

    def bursts(self, addr: int, length: int) -> list[tuple[int, int]]:
        """The AXI bursts ``(word address, beats)`` of a request, in order.

        Each burst runs to the request's end or to the next multiple of
        :attr:`chunk_words` (``max_burst`` beats or the ``boundary_bytes`` boundary), whichever
        comes first.
        """
        out = []
        chunk = self.chunk_words
        while length > 0:
            beats = min(length, chunk - addr % chunk)
            out.append((addr, beats))
            addr += beats
            length -= beats
        return out

    def sustained_words_per_cycle(self, latency: int, beats: int | None = None) -> float:
        """Words per cycle a stream of ``beats``-beat bursts sustains at memory ``latency``.

        At most ``outstanding`` bursts are in flight, and a burst's slot is reused the cycle
        after its last beat (its address reaches ``o_ar`` one cycle later), so the port moves
        ``outstanding * beats`` words per ``latency + beats + 1`` cycles, or one word per cycle
        when that is more. ``beats`` defaults to ``max_burst``.
        """
        b = self.max_burst if beats is None else beats
        return min(1.0, self.outstanding * b / (latency + b + 1))
