"""Golden model of the engine's DRAM traffic (its pooled bags are the lookup unit's).

Bag ``b`` runs on unit ``b mod units`` (with a pairwise stage, ``(b // 2) mod units``); each
unit's row cache sees its own requests in trace order (keys ``table * 2**row_width + row``,
:func:`~rtnerf.models.dram.cache_hits`), and the DRAM accounting
(:func:`~rtnerf.models.dram.account`) of each table counts what the misses read, under the
request slots' policy (:class:`~rtnerf.rtl.request_slots.RequestSlots`): the entry from
DRAM only with ``directory: dram`` and a table read through its directory; element requests
on sparse rows read the whole payload. With ``directory: sram`` each directory table's
directory is read once, when its descriptor is written (:func:`directory_load`). The
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

__all__ = ["Traffic", "bag_units", "directory_load", "table_descriptor", "traffic"]


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
    entry_hit : numpy.ndarray
        ``bool`` per request of the trace: its directory entry came from its unit's entry
        cache (``unit.entry_cache_lines``), so it read none from DRAM.
    loads : list of numpy.ndarray
        Per table, the bursts (indices within the table's image) of its directory load
        (``directory: sram``; empty otherwise), read once before the trace.
    load_requests : list of int
        Per table, the memory requests of that load.
    """

    accounts: list[DramAccount]
    requests: list[np.ndarray]
    cache_hit: np.ndarray
    entry_hit: np.ndarray
    loads: list[np.ndarray]
    load_requests: list[int]

    @property
    def burst_bytes(self) -> int:
        """Bytes per DRAM burst."""
        return self.accounts[0].burst_bytes

    @property
    def load_bytes(self) -> int:
        """DRAM bytes of the directory loads."""
        return sum(lo.size for lo in self.loads) * self.burst_bytes

    @property
    def total_bytes(self) -> int:
        """DRAM bytes transferred (the directory loads included)."""
        return sum(a.total_bytes for a in self.accounts) + self.load_bytes

    @property
    def total_bursts(self) -> int:
        """DRAM bursts transferred (the directory loads included)."""
        return sum(a.total_bursts for a in self.accounts) + sum(lo.size for lo in self.loads)

    @property
    def memory_requests(self) -> int:
        """Memory requests of the units and the directory loader (AXI bursts: one or more)."""
        return sum(a.total_memory_requests for a in self.accounts) + sum(self.load_requests)

    def bytes_by_cause(self) -> dict[str, int]:
        """DRAM bytes per :class:`~rtnerf.models.dram.Cause` (lower-case; loads: directory)."""
        out = dict.fromkeys((c.name.lower() for c in Cause), 0)
        for a in self.accounts:
            for k, v in a.bytes_by_cause().items():
                out[k] += v
        out[Cause.DIRECTORY.name.lower()] += self.load_bytes
        return out

    def burst_ids(self, bases: list[int]) -> Counter:
        """How often each DRAM burst is transferred, tables at byte addresses ``bases``."""
        out: Counter = Counter()
        for a, load, base in zip(self.accounts, self.loads, bases, strict=True):
            if base % a.burst_bytes:
                raise ValueError(f"table base {base} is not aligned to {a.burst_bytes}-byte bursts")
            out.update((a.burst_ids + base // a.burst_bytes).tolist())
            out.update((load + base // a.burst_bytes).tolist())
        return out


def table_descriptor(image: MemoryImage) -> dict[str, int]:
    """What the host writes on ``i_base`` for a table, apart from its base ``addr``.

    ``rows``; ``stride`` and ``payload``: for an image stored all-DENSE
    (:attr:`~rtnerf.models.image.MemoryImage.row_stride`), the words per row and the word of
    row 0's payload, so the unit computes addresses and reads no directory; else 0 and 0.
    """
    stride = image.row_stride
    return {
        "rows": image.shape[0],
        "stride": stride,
        "payload": image.layout.payload_base if stride else 0,
    }


def directory_load(params: EngineParams, image: MemoryImage) -> tuple[np.ndarray, int]:
    """The bursts (within the image) and the memory requests of a table's directory load.

    With ``unit.directory: sram`` the engine reads a directory table's
    ``layout.directory_words`` words once, in requests of whole port bursts (``chunk`` words,
    the largest multiple of the port's ``chunk_words`` a request can carry), so every DRAM
    burst of the directory is transferred once. Nothing for a stride table or with
    ``directory: dram``.
    """
    if params.unit.directory != "sram" or image.row_stride:
        return np.zeros(0, np.int64), 0
    port = params.port
    chunk = port.chunk_words * max(1, port.max_request // port.chunk_words)
    words = image.layout.directory_words
    burst_words = params.dram.burst_bytes // image.params.word_bytes
    return np.arange(-(-words // burst_words), dtype=np.int64), -(-words // chunk)


def traffic(params: EngineParams, images: list[MemoryImage], trace: Trace) -> Traffic:
    """DRAM traffic of ``trace`` over ``images`` (table ``t`` is ``images[t]``).

    Raises
    ------
    ConfigError
        As :func:`rtnerf.models.golden.embedding_lookup_unit.check_trace`.
    """
    unit = params.unit
    unit_model.check_trace(unit, images, trace)
    loads = [directory_load(params, image) for image in images]
    table = trace.table.astype(np.int64)
    hits = np.zeros(len(trace), np.bool_)
    owner = bag_units(trace, params.units, unit.pairwise != "none")
    if unit.cache_ways:
        keys = table << unit.row_width | trace.row
        for u in range(params.units):
            sel = np.flatnonzero(owner == u)
            hits[sel] = cache_hits(keys[sel], unit.cache_sets, unit.cache_ways)
    # The entry cache sees, in order, the requests of its unit that need an entry from DRAM.
    entry_hits = np.zeros(len(trace), np.bool_)
    if unit.entry_cache_lines:
        stride = np.array([image.row_stride != 0 for image in images])
        needs = ~hits & ~stride[table]
        keys = unit.entry_keys(table, trace.row)
        for u in range(params.units):
            sel = np.flatnonzero((owner == u) & needs)
            entry_hits[sel] = cache_hits(keys[sel], unit.entry_cache_lines, 1)
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
                directory=(unit.directory == "dram" and not image.row_stride) & ~entry_hits[sel],
                sparse_whole=True,
            )
        )
        requests.append(sel)
    return Traffic(
        accounts, requests, hits, entry_hits, [lo for lo, _ in loads], [n for _, n in loads]
    )
