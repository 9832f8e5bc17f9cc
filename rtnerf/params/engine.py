"""Parameters of the accelerator top: lookup units sharing one memory port."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .base import BlockParams, Params, check_int
from .dram import DramParams
from .embedding_lookup_unit import EmbeddingLookupUnitParams
from .memory_port import MemoryPortParams

__all__ = ["EngineParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.engine.Engine`.

    Parameters
    ----------
    units : int
        Embedding lookup units, 1 to 64. Bag ``b`` of a trace runs on unit ``b mod units``
        (with the unit's pairwise stage, both bags of pair ``k`` on unit ``k mod units``).
    queue_depth : int
        Bag requests queued in front of each unit, 0 (none: the next bag waits until this
        unit took the last request of its bag) to 1024.
    out_depth : int
        Pooled beats queued behind each unit, 0 (none) to 1024. Outputs leave in bag order, so
        without a queue a unit that finishes a bag waits in its drain until every earlier bag
        (on the other units) has left; with one it drains into the queue and starts its next
        bag. Two bags' beats (``2 * dim / lanes``) absorb the usual spread of bag lengths.
    unit : EmbeddingLookupUnitParams
        Every unit's design point (a mapping in YAML).
    port : MemoryPortParams
        The shared memory port (a mapping in YAML); its ``word_width`` and ``address_width``
        must be the unit's decoder's, and its requests long enough for a whole row.
    dram : DramParams
        The DRAM the design is measured against (co-simulation, performance model); its
        ``burst_bytes`` must be at least a word and at most one AXI burst of the port
        (``max_burst`` words, and ``boundary_bytes``), so that no DRAM burst is split.
    """

    kind = "engine"
    nested: ClassVar[dict[str, type[Params]]] = {
        "unit": EmbeddingLookupUnitParams,
        "port": MemoryPortParams,
        "dram": DramParams,
    }

    units: int = 12
    queue_depth: int = 64
    out_depth: int = 16
    unit: EmbeddingLookupUnitParams = dataclasses.field(default_factory=EmbeddingLookupUnitParams)
    port: MemoryPortParams = dataclasses.field(default_factory=MemoryPortParams)
    dram: DramParams = dataclasses.field(default_factory=DramParams)

    def __post_init__(self) -> None:
        check_int("units", self.units, minimum=1, maximum=64)
        check_int("queue_depth", self.queue_depth, minimum=0, maximum=1024)
        check_int("out_depth", self.out_depth, minimum=0, maximum=1024)
        for name, cls in self.nested.items():
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"`{name}` must be {cls.__name__}, not {getattr(self, name)!r}")
        # The port is a block of its own, configured on its own, so it keeps its copy of the
        # two widths; the unit's are its decoder's.
        for field in ("word_width", "address_width"):
            mine, theirs = getattr(self.port, field), getattr(self.unit.decoder, field)
            if mine != theirs:
                raise ValueError(
                    f"`port.{field}` {mine} must equal `unit.decoder.{field}` {theirs}"
                )
        most = min(self.port.chunk_words * self.port.word_bytes, 4096)
        if not self.port.word_bytes <= self.dram.burst_bytes <= most:
            raise ValueError(
                f"`dram.burst_bytes` must be from a word ({self.port.word_bytes}) to one AXI "
                f"burst of the port ({most}), not {self.dram.burst_bytes}"
            )
        need = self.unit.slot_words
        if self.port.max_request < need:
            raise ValueError(
                f"`port.len_width` {self.port.len_width} is too narrow: a row takes up to {need} "
                f"words"
            )

    @property
    def id_width(self) -> int:
        """Bits of a unit index."""
        return max(1, (self.units - 1).bit_length())
