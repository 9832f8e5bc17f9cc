"""Parameters of the accelerator top: lookup units sharing one memory port."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from .base import Params, check_int
from .embedding_lookup_unit import EmbeddingLookupUnitParams
from .memory_port import MemoryPortParams

__all__ = ["EngineParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class EngineParams(Params):
    """Design point of :class:`rtnerf.rtl.engine.Engine`.

    Parameters
    ----------
    units : int
        Embedding lookup units, 1 to 8. Bag ``b`` of a trace runs on unit ``b mod units``.
    unit : EmbeddingLookupUnitParams
        Every unit's design point (a mapping in YAML).
    port : MemoryPortParams
        The shared memory port (a mapping in YAML); its ``word_width`` and ``address_width``
        must be the unit's, and its requests long enough for a whole row.
    """

    kind = "engine"
    nested: ClassVar[dict[str, type[Params]]] = {
        "unit": EmbeddingLookupUnitParams,
        "port": MemoryPortParams,
    }

    units: int = 2
    unit: EmbeddingLookupUnitParams = dataclasses.field(default_factory=EmbeddingLookupUnitParams)
    port: MemoryPortParams = dataclasses.field(default_factory=MemoryPortParams)

    def __post_init__(self) -> None:
        check_int("units", self.units, minimum=1, maximum=8)
        for name, cls in self.nested.items():
            if not isinstance(getattr(self, name), cls):
                raise TypeError(f"`{name}` must be {cls.__name__}, not {getattr(self, name)!r}")
        for field in ("word_width", "address_width"):
            mine, theirs = getattr(self.port, field), getattr(self.unit, field)
            if mine != theirs:
                raise ValueError(f"`port.{field}` {mine} must equal `unit.{field}` {theirs}")
        need = self.unit.decoder.max_row_words
        if self.port.max_request < need:
            raise ValueError(
                f"`port.len_width` {self.port.len_width} is too narrow: a row takes up to {need} "
                f"words"
            )

    @property
    def id_width(self) -> int:
        """Bits of a unit index."""
        return max(1, (self.units - 1).bit_length())
