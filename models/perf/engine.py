"""Performance model of the engine: cycles, throughput, DRAM traffic and the bottleneck.

It takes what the RTL takes (:class:`~rtnerf.params.EngineParams`, the tables' memory images, a
trace) and replays the engine at the level of requests instead of cycles:

* **DRAM traffic** is the golden accounting's (:func:`rtnerf.models.golden.engine.traffic`):
  the same per-unit row caches, the decoders' memory requests, the bursts; so it equals the
  co-simulation's byte for byte.
* **A unit** serves its requests one at a time. A request the cache misses (or every request,
  without a cache) occupies the hybrid row decoder for exactly
  :meth:`~rtnerf.params.HybridRowDecoderParams.query_cycles` at memory latency ``L``, which is
  ``C + m L`` for a query making ``m`` memory requests; in the engine each of those requests
  waits for its round trip through the arbiter, the memory port and the DRAM instead of ``L``.
  A cache hit replays the row's beats. A bag ends with its drain (``dim / lanes`` beats; one
  for an ELEMENT bag).
* **The memory system** is replayed as a queue: memory requests of all units in time order,
  split into the port's AXI bursts, at most ``port.outstanding`` and ``dram.max_outstanding``
  in flight, data beats at most one per cycle and ``dram.bytes_per_cycle`` bytes per cycle,
  answered in order after ``dram.latency`` plus the port's pipeline.

The constants that are the RTL's pipeline (:data:`OVERHEAD`) are calibrated on the RTL cycle
counts in ``benchmarks/results/engine_cycles.csv``; the calibration table and its errors are in
``benchmarks/results/perf_calibration.csv``.
"""

from __future__ import annotations

import dataclasses
import heapq

import numpy as np

from ...params.engine import EngineParams
from ..encoding import Format
from ..golden import hybrid_row_decoder as decoder_model
from ..golden.engine import Traffic, bag_units, traffic
from ..image import MemoryImage
from ..trace import Op, Trace

__all__ = ["OVERHEAD", "PerfResult", "estimate"]

#: Cycles of the RTL's pipeline the model adds (calibrated on RTL cycle counts):
#: ``request``: a unit's cycles per request beyond the decoder's (accept, query handshake);
#: ``hit``: a cache hit's cycles beyond its beats (accept, lookup, read latency);
#: ``lookup``: a cache lookup before a miss; ``round_trip``: cycles a memory request takes
#: beyond ``dram.latency`` through arbiter, port and routing; ``drain``: a bag's end beyond
#: its output beats; ``start``: cycles before the first request.
OVERHEAD = {"request": 1, "hit": 2, "lookup": 1, "round_trip": 2, "drain": 1, "start": 2}


@dataclasses.dataclass(frozen=True)
class PerfResult:
    """What the model predicts for one trace on one design point.

    Attributes
    ----------
    cycles : int
        From the first request to the last output beat.
    bags, requests : int
        Of the trace.
    unit_busy : numpy.ndarray
        Cycles each unit spent on its requests and drains.
    port_busy : int
        Cycles the memory port's read data channel carried a word.
    traffic : Traffic
        The DRAM traffic (the golden accounting's).
    """

    cycles: int
    bags: int
    requests: int
    unit_busy: np.ndarray
    port_busy: int
    traffic: Traffic
    dram_bytes_per_cycle: float

    @property
    def bags_per_cycle(self) -> float:
        """Throughput in bags per cycle."""
        return self.bags / self.cycles

    def bandwidth_utilisation(self) -> float:
        """DRAM bytes moved per cycle over the DRAM's peak."""
        return self.traffic.total_bytes / self.cycles / self.dram_bytes_per_cycle

    @property
    def bottleneck(self) -> str:
        """``dram``, ``port`` or ``units``: what bounds the cycles."""
        busiest = float(self.unit_busy.max(initial=0)) / self.cycles
        port = self.port_busy / self.cycles
        dram = self.bandwidth_utilisation()
        if dram >= 0.9:
            return "dram"
        if port >= max(0.9, busiest):
            return "port"
        return "units"

    def per_second(self, clock_hz: float) -> dict[str, float]:
        """Bags, requests and bytes per second at a clock frequency."""
        seconds = self.cycles / clock_hz
        return {
            "bags_per_s": self.bags / seconds,
            "requests_per_s": self.requests / seconds,
            "dram_bytes_per_s": self.traffic.total_bytes / seconds,
        }


def _decoder_costs(params: EngineParams, images, trace: Trace, gold: Traffic):
    """Per request: decoder cycles apart from memory round trips, and stored beats."""
    dec = params.unit.decoder
    cached = params.unit.cache_ways > 0
    compute = np.zeros(len(trace), np.int64)
    beats = np.ones(len(trace), np.int64)
    for image, sel, acc in zip(images, gold.requests, gold.accounts, strict=True):
        if not sel.size:
            continue
        rows = trace.row[sel]
        expand = np.ones(sel.size, np.bool_) if cached else trace.op[sel] == Op.ROW
        cols = np.where(expand, 0, trace.col[sel])
        queries = [
            decoder_model.Query(int(r), int(c), bool(x))
            for r, c, x in zip(rows, cols, expand, strict=True)
        ]
        full = acc.memory_requests if not cached else _row_requests(image, rows, params)
        compute[sel] = decoder_model.query_cycles(dec, image, queries, latency=1) - full
        where = decoder_model.locate(image, rows, np.zeros_like(rows))
        stored = np.where(where["format"] == Format.DENSE, dec.columns, where["nnz"])
        beats[sel] = np.maximum(stored, 1)
    return compute, beats


def _row_requests(image: MemoryImage, rows: np.ndarray, params: EngineParams) -> np.ndarray:
    """Memory requests of a whole-row read of each row (what a cache miss makes)."""
    from ..dram import account

    return account(image, rows, burst_bytes=params.dram.burst_bytes).memory_requests


def estimate(params: EngineParams, images: list[MemoryImage], trace: Trace) -> PerfResult:
    """Predict the cycles of ``trace`` over ``images`` (table ``t`` is ``images[t]``).

    Raises
    ------
    ConfigError
        As :func:`rtnerf.models.golden.engine.traffic`.
    """
    gold = traffic(params, images, trace)
    u, port, dram = params.unit, params.port, params.dram
    compute, beats = _decoder_costs(params, images, trace, gold)
    owner = bag_units(trace, params.units, u.pairwise != "none")
    # Memory requests of each trace request, as absolute word ranges (tables 4 KB apart).
    starts = [[] for _ in range(len(trace))]
    base = 0
    for image, sel, acc in zip(images, gold.requests, gold.accounts, strict=True):
        for k, q in enumerate(sel):
            lo, hi = acc.request_ptr[k], acc.request_ptr[k + 1]
            starts[q] = [
                (base + int(s), int(n))
                for s, n in zip(acc.request_start[lo:hi], acc.request_words[lo:hi], strict=True)
            ]
        base += -(-image.n_words // 1024) * 1024
    # The end of each bag: its drain.
    ends = np.zeros(len(trace), np.int64)
    last = np.flatnonzero(trace.last)
    element = trace.op[last] == Op.ELEMENT
    drain = np.where(element, 1, u.dim // u.lanes) + OVERHEAD["drain"]
    ends[last] = drain
    if u.pairwise != "none":
        ends[last[0::2]] = u.dim // u.lanes + OVERHEAD["drain"]
        ends[last[1::2]] = u.dim // u.lanes + OVERHEAD["drain"] + 1

    hits = gold.cache_hit
    queues = [np.flatnonzero(owner == k) for k in range(params.units)]
    nxt = [0] * params.units
    busy = np.zeros(params.units, np.int64)
    clock = [OVERHEAD["start"]] * params.units
    word_cycles = max(1.0, port.word_bytes / dram.bytes_per_cycle)
    slots = min(port.outstanding, dram.max_outstanding)
    in_flight: list[float] = []  # finish times of the bursts in flight (a heap)
    r_free = 0.0  # when the read data channel is next free
    ar_free = 0.0
    port_busy = 0.0
    heap = [(clock[k], k) for k in range(params.units) if queues[k].size]
    heapq.heapify(heap)
    while heap:
        t, k = heapq.heappop(heap)
        q = queues[k][nxt[k]]
        nxt[k] += 1
        start = t
        if hits[q]:
            t += beats[q] + OVERHEAD["hit"]
        else:
            t += OVERHEAD["request"] + (OVERHEAD["lookup"] if u.cache_ways else 0)
            # The decoder's own cycles, spread between its memory requests; each request
            # waits for its data instead of the formula's latency.
            share = compute[q] / (len(starts[q]) + 1)
            for addr, words in starts[q]:
                t += share
                first_data = None
                for _, n in port.bursts(addr, words):
                    # Bursts issue one per cycle while the port and the DRAM have slots;
                    # data in order, one word per `word_cycles`, after the round trip.
                    while len(in_flight) >= slots:
                        ar_free = max(ar_free, heapq.heappop(in_flight) + 1)
                    issue = max(t, ar_free)
                    ar_free = issue + 1
                    data = max(issue + dram.latency + OVERHEAD["round_trip"], r_free)
                    first_data = data if first_data is None else first_data
                    r_free = data + n * word_cycles
                    port_busy += n * word_cycles
                    heapq.heappush(in_flight, r_free)
                # The formula streams the words one per cycle from the first: only a later
                # end adds cycles.
                t = max(first_data, r_free - words)
            t += share
        t += ends[q]
        busy[k] += t - start
        clock[k] = t
        if nxt[k] < queues[k].size:
            heapq.heappush(heap, (t, k))
    cycles = int(np.ceil(max([*clock, r_free])))
    return PerfResult(
        cycles=cycles,
        bags=trace.bags,
        requests=len(trace),
        unit_busy=busy,
        port_busy=int(port_busy),
        traffic=gold,
        dram_bytes_per_cycle=float(dram.bytes_per_cycle),
    )
