"""Golden model of the engine's DRAM traffic (its pooled bags are the lookup unit's).

Bag ``b`` runs on unit ``b mod units`` (with a pairwise stage, ``(b // 2) mod units``); each
unit's row cache sees its own requests in trace order (keys ``table * 2**row_width + row``,
:func:`~rtnerf.models.dram.cache_hits`), and the DRAM accounting
(:func:`~rtnerf.models.dram.account`) of each table counts what the misses read. The
co-simulation checks the AXI DRAM model's bursts against :meth:`Traffic.burst_ids`.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np

from ...params.engine import EngineParams
from ..dram import Cause, DramAccount, account, cache_hits
from ..image import MemoryImage
from ..trace import Trace
from . import embedding_lookup_unit as unit_model

__all__ = ["Traffic", "bag_units", "traffic"]


def bag_units(trace: Trace, units: int, pairs: bool = False) -> np.ndarray:
    """The unit that runs each request: its bag's (or bag pair's) index modulo ``units``."""
    bag_of = np.repeat(np.arange(trace.bags), np.diff(trace.bag_starts))
    return (bag_of // 2 if pairs else bag_of) % units


@dataclasses.dataclass(frozen=True, eq=False)
class Traffic:
    """DRAM traffic of a trace on the engine.

    Attributes
    ----------
    accounts : list of DramAccount
        One per table, over the requests of that table in trace order (``requests[t]``).
    requests : list of numpy.ndarray
        Indices into the trace of each table's requests.
    cache_hit : numpy.ndarray
        ``bool`` per request of the trace: served by its unit's row cache.
    """

    accounts: list[DramAccount]
    requests: list[np.ndarray]
    cache_hit: np.ndarray

    @property
    def total_bytes(self) -> int:
        """DRAM bytes transferred."""
        return sum(a.total_bytes for a in self.accounts)

    @property
    def total_bursts(self) -> int:
        """DRAM bursts transferred."""
        return sum(a.total_bursts for a in self.accounts)

    @property
    def memory_requests(self) -> int:
        """Memory requests the decoders made (each one or more AXI bursts)."""
        return sum(a.total_memory_requests for a in self.accounts)

    def bytes_by_cause(self) -> dict[str, int]:
        """DRAM bytes per :class:`~rtnerf.models.dram.Cause`, lower-case names."""
        out = dict.fromkeys((c.name.lower() for c in Cause), 0)
        for a in self.accounts:
            for k, v in a.bytes_by_cause().items():
                out[k] += v
        return out

    def burst_ids(self, bases: list[int]) -> Counter:
        """How often each DRAM burst is transferred, tables at byte addresses ``bases``."""
        out: Counter = Counter()
        for a, base in zip(self.accounts, bases, strict=True):
            if base % a.burst_bytes:
                raise ValueError(f"table base {base} is not aligned to {a.burst_bytes}-byte bursts")
            out.update((a.burst_ids + base // a.burst_bytes).tolist())
        return out


def traffic(params: EngineParams, images: list[MemoryImage], trace: Trace) -> Traffic:
    """DRAM traffic of ``trace`` over ``images`` (table ``t`` is ``images[t]``).

    Raises
    ------
    ConfigError
        As :func:`rtnerf.models.golden.embedding_lookup_unit.check_trace`.
    """
    unit = params.unit
    unit_model.check_trace(unit, images, trace)
    table = trace.table.astype(np.int64)
    hits = np.zeros(len(trace), np.bool_)
    if unit.cache_ways:
        keys = table << unit.row_width | trace.row
        owner = bag_units(trace, params.units, unit.pairwise != "none")
        for u in range(params.units):
            sel = np.flatnonzero(owner == u)
            hits[sel] = cache_hits(keys[sel], unit.cache_sets, unit.cache_ways)
    accounts, requests = [], []
    for t, image in enumerate(images):
        sel = np.flatnonzero(table == t)
        accounts.append(
            account(
                image,
                trace.row[sel],
                trace.col[sel],
                burst_bytes=params.dram.burst_bytes,
                hits=hits[sel] if unit.cache_ways else None,
            )
        )
        requests.append(sel)
    return Traffic(accounts, requests, hits)
