"""Parameters of the DRAM behind the engine's memory port (co-simulation and performance model)."""

from __future__ import annotations

import dataclasses

from .base import Params, check_int

__all__ = ["DramParams"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DramParams(Params):
    """The DRAM a design point is measured against; it builds no RTL.

    The co-simulation's :class:`~rtnerf.sim.dram.AxiDram` and the performance model take these
    numbers, and the DRAM accounting (:func:`rtnerf.models.dram.account`) counts bursts of
    ``burst_bytes``.

    Parameters
    ----------
    latency : int
        Cycles from an accepted AXI burst address to its first data beat, 1 to 1000.
    bytes_per_cycle : int
        Peak bandwidth in bytes per engine cycle, 1 to 4096 (the port moves at most one word
        per cycle, so more than a word adds nothing).
    burst_bytes : int
        DRAM burst (access granularity) in bytes, a power of two from 4 to 4096; bursts are
        aligned to it from address 0, and no AXI burst of the port may split one.
    max_outstanding : int
        AXI bursts the DRAM accepts before it stops taking addresses, 1 to 256.
    """

    kind = "dram"

    latency: int = 40
    bytes_per_cycle: int = 16
    burst_bytes: int = 64
    max_outstanding: int = 16

    def __post_init__(self) -> None:
        check_int("latency", self.latency, minimum=1, maximum=1000)
        check_int("bytes_per_cycle", self.bytes_per_cycle, minimum=1, maximum=4096)
        check_int("burst_bytes", self.burst_bytes, minimum=4, maximum=4096, power_of_two=True)
        check_int("max_outstanding", self.max_outstanding, minimum=1, maximum=256)
