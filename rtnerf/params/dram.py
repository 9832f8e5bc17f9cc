"""Parameters of the DRAM behind the engine's memory port (co-simulation and performance model)."""

from __future__ import annotations

import dataclasses

from .base import Params, check_int

__all__ = ["PRESETS", "DramParams"]

#: DRAM classes users design for, at the engine clock of 1 GHz: (peak GB/s, idle latency in ns
#: from the request leaving the engine to the first data, DRAM burst bytes, requests the
#: controller accepts in flight). Sources:
#:
#: * ``ddr4``: one 64-bit DDR4 channel at 2000 MT/s, 8 B x 2000 MT/s = 16 GB/s peak (JEDEC
#:   JESD79-4; DDR4-2133 gives 17.1); 40 ns is the array's tRCD + CL (about 14 + 14 ns) plus a
#:   short controller path, the optimistic end of a dedicated accelerator's controller;
#:   64-byte bursts (BL8 x 8 B). The project's default DRAM.
#: * ``lpddr4x``: an edge part's 128-bit LPDDR4X-3200 interface, 3200 MT/s x 16 B = 51.2 GB/s
#:   (JEDEC JESD209-4-1; e.g. the 128-bit LPDDR4x of NVIDIA's Jetson Xavier NX and TX2
#:   modules); LPDDR's longer path and page policy put the idle latency near 100 ns (Jetson
#:   measurements, e.g. Pi et al. "Memory at your service", 2021, report 100-130 ns); 64-byte
#:   requests.
#: * ``hbm2e``: one HBM2e stack, 1024 bits x 3.2 Gb/s = 409.6 GB/s (JEDEC JESD235C; Samsung
#:   Flashbolt); FPGA measurements of HBM put the idle latency at 100-140 ns (Wang et al.,
#:   "Shuhai", FCCM 2020: 106 ns for a page hit on the Alveo U280), and its 32 pseudo
#:   channels take hundreds of requests in flight; 64-byte accesses (BL4 x 128 bits).
#:   One memory port (at most 64 B/cycle) cannot use it: the port is the bottleneck.
PRESETS = {
    "ddr4": {"gbps": 16.0, "ns": 40, "burst_bytes": 64, "max_outstanding": 32},
    "lpddr4x": {"gbps": 51.2, "ns": 100, "burst_bytes": 64, "max_outstanding": 64},
    "hbm2e": {"gbps": 409.6, "ns": 120, "burst_bytes": 64, "max_outstanding": 256},
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DramParams(Params):
    """The DRAM a design point is measured against; it builds no RTL.

    The co-simulation's :class:`~rtnerf.sim.dram.AxiDram` and the performance model take these
    numbers, and the DRAM accounting (:func:`rtnerf.models.dram.account`) counts bursts of
    ``burst_bytes``.

    Presets of the DRAM classes users design for (DDR4 channel, LPDDR4x edge part, HBM2e
    stack) are in :data:`PRESETS`, with their sources; :meth:`preset` converts one to a clock.

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

    @classmethod
    def preset(cls, name: str, clock_mhz: float = 1000.0, **fields) -> DramParams:
        """The params of a DRAM class (:data:`PRESETS`) for an engine clocked at ``clock_mhz``.

        Bandwidth becomes bytes per engine cycle (rounded, at least 1) and latency cycles;
        ``fields`` override the result. In YAML: ``dram: {preset: lpddr4x}`` (at 1 GHz) with
        any field beside it overriding the preset's.

        Raises
        ------
        ValueError
            If ``name`` is not a preset or the clock is not positive and finite.
        """
        if name not in PRESETS:
            raise ValueError(
                f"`preset` must be one of {', '.join(map(repr, PRESETS))}, not {name!r}"
            )
        if not (isinstance(clock_mhz, int | float) and 0 < clock_mhz < float("inf")):
            raise ValueError(f"`clock_mhz` must be a positive number, not {clock_mhz!r}")
        p = PRESETS[name]
        values = {
            "latency": max(1, round(p["ns"] * clock_mhz / 1000)),
            "bytes_per_cycle": max(1, round(p["gbps"] * 1000 / clock_mhz)),
            "burst_bytes": p["burst_bytes"],
            "max_outstanding": p["max_outstanding"],
        }
        return cls(**{**values, **fields})

    @classmethod
    def from_dict(cls, mapping):  # noqa: D102 - adds `preset` to Params.from_dict
        if isinstance(mapping, dict) and "preset" in mapping:
            values = dict(mapping)
            name = values.pop("preset")
            values.pop("version", None)
            kind = values.pop("kind", cls.kind)
            base = cls.preset(name).to_dict()
            return super().from_dict({"kind": kind, **base, **values})
        return super().from_dict(mapping)

    latency: int = 40
    bytes_per_cycle: int = 16
    burst_bytes: int = 64
    max_outstanding: int = 32

    def __post_init__(self) -> None:
        check_int("latency", self.latency, minimum=1, maximum=1000)
        check_int("bytes_per_cycle", self.bytes_per_cycle, minimum=1, maximum=4096)
        check_int("burst_bytes", self.burst_bytes, minimum=4, maximum=4096, power_of_two=True)
        check_int("max_outstanding", self.max_outstanding, minimum=1, maximum=256)
