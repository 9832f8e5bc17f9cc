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

import numba
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
    dram_bytes_per_cycle : float
        The DRAM's peak.
    macs : int
        Multiply-accumulates done: a stored value of every ROW request, one per ELEMENT.
    element_bags : int
        ELEMENT bags of the trace (NeRF: one interpolated value per sample and component).
    """

    cycles: int
    bags: int
    requests: int
    unit_busy: np.ndarray
    port_busy: int
    traffic: Traffic
    dram_bytes_per_cycle: float
    macs: int
    element_bags: int = 0

    @property
    def bags_per_cycle(self) -> float:
        """Throughput in bags per cycle."""
        return self.bags / self.cycles

    def bandwidth_utilisation(self) -> float:
        """DRAM bytes moved per cycle over the DRAM's peak."""
        return self.traffic.total_bytes / self.cycles / self.dram_bytes_per_cycle

    @property
    def bottleneck(self) -> str:
        """What bounds the cycles: ``dram``, ``port`` or ``unit K``.

        ``dram``: its bandwidth; ``port``: the read channel; ``unit K``: the busiest lookup
        unit (its decoder's round trips and beats).
        """
        busiest = int(np.argmax(self.unit_busy))
        port = self.port_busy / self.cycles
        if self.bandwidth_utilisation() >= 0.9:
            return "dram"
        if port >= max(0.9, float(self.unit_busy[busiest]) / self.cycles):
            return "port"
        return f"unit {busiest}"

    def per_second(self, clock_hz: float) -> dict[str, float]:
        """Bags, requests, samples and DRAM bytes per second at a clock frequency.

        Requests are the decoder's queries; samples are ELEMENT bags (one interpolated value
        of a sample's component).
        """
        seconds = self.cycles / clock_hz
        return {
            "bags_per_s": self.bags / seconds,
            "requests_per_s": self.requests / seconds,
            "samples_per_s": self.element_bags / seconds,
            "dram_bytes_per_s": self.traffic.total_bytes / seconds,
        }


def _decoder_costs(params: EngineParams, images, trace: Trace, gold: Traffic):
    """Per request: decoder cycles apart from memory round trips, and stored beats."""
    dec = params.unit.decoder
    cached = params.unit.cache_ways > 0
    compute = np.zeros(len(trace), np.int64)
    beats = np.ones(len(trace), np.int64)
    # An expanded row's payload: cycles before the first value leaves, and bits before it.
    startup = np.zeros(len(trace), np.int64)
    index_bits = np.zeros(len(trace), np.int64)
    for image, sel, acc in zip(images, gold.requests, gold.accounts, strict=True):
        if not sel.size:
            continue
        rows = trace.row[sel]
        expand = np.ones(sel.size, np.bool_) if cached else trace.op[sel] == Op.ROW
        cols = np.where(expand, 0, trace.col[sel])
        # The formula once per distinct query (Zipf traces repeat rows).
        span = image.shape[1] + 1
        keys = (rows * span + cols) * 2 + expand
        distinct, inverse = np.unique(keys, return_inverse=True)
        queries = [decoder_model.Query(int(k // 2 // span), int(k // 2 % span), bool(k % 2))
                   for k in distinct]  # fmt: skip
        cycles = decoder_model.query_cycles(dec, image, queries, latency=1)[inverse]
        compute[sel] = cycles - acc.memory_requests  # (a cache hit's is unused)
        where = decoder_model.locate(image, rows, np.zeros_like(rows))
        fmt, nnz = where["format"], where["nnz"]
        stored = np.where(fmt == Format.DENSE, dec.columns, nnz)
        beats[sel] = np.maximum(stored, 1)
        bitmap, coo = fmt == Format.BITMAP, fmt == Format.COO
        startup[sel] = np.where(bitmap, 2 + dec.chunks + 2 * dec.tree.latency, 0)
        startup[sel] += np.where(coo, -(-nnz * dec.coord_bits // dec.word_width) + 2, 0)
        index_bits[sel] = np.where(bitmap, dec.columns, np.where(coo, nnz * dec.coord_bits, 0))
    return compute, beats, startup, index_bits


@numba.njit(cache=True)
def _replay(
    unit_ptr, unit_reqs, position, owner, hits, compute, beats, startup, index_bits, expand,
    ends, last, bag_of, bag_owner, mptr, maddr, mwords, cfg, clock, busy,
):  # fmt: skip
    """The request-level replay behind :func:`estimate` (see the module docstring).

    Events are handled in time order (a heap of ``(time, order, unit)``): a unit starts a
    request once the dealer has put it into its queue, issues the request's memory requests
    one at a time (so the memory system sees them in time order), finishes it, and at a bag's
    end drains it once the previous bag has left (outputs leave in bag order). A unit that
    waits for another (the dealer blocked on a full queue, the previous bag not yet out) is
    put back behind that unit's next event. Returns the read channel's last busy cycle and
    the cycles it carried words.
    """
    (depth, round_trip, word_cycles, slots, chunk, w, bv, oh_request, oh_hit, oh_start) = cfg
    n = owner.size
    units = clock.size
    start = np.full(n, -1.0)
    dealt = np.full(n, -1.0)
    drained = np.full(bag_owner.size + 1, -1.0)
    drained[0] = 0.0
    dealer, dealer_time = 0, -1.0
    step = np.zeros(units, np.int64)  # 0 start, 1 memory, 2 finish
    cur = np.full(units, -1)  # the unit's request
    nxt = np.zeros(units, np.int64)  # index of its next request in its queue
    mem_i = np.zeros(units, np.int64)
    t0 = np.zeros(units)
    r_free, ar_free, port_busy = 0.0, 0.0, 0.0
    in_flight = [0.0]
    in_flight.pop()
    heap = [(0.0, 0, 0)]
    heap.pop()
    order = 0
    for k in range(units):
        clock[k] = oh_start
        if unit_ptr[k + 1] > unit_ptr[k]:
            order += 1
            heapq.heappush(heap, (clock[k], order, k))
    while heap:
        t, _, k = heapq.heappop(heap)
        if step[k] == 0:  # start the unit's next request, once dealt
            q = unit_reqs[unit_ptr[k] + nxt[k]]
            waiting = -1
            while dealer <= q and waiting < 0:
                d = dealer
                if depth == 0:  # the unit takes the request straight from the dealer
                    if d > 0 and start[d - 1] < 0:
                        waiting = owner[d - 1]
                        break
                    td = start[d - 1] if d > 0 else 0.0
                else:
                    td = dealer_time + 1
                    j = position[d] - depth  # the request whose leaving frees the slot
                    if j >= 0:
                        kd = owner[d]
                        freeing = unit_reqs[unit_ptr[kd] + j]
                        if start[freeing] < 0:
                            waiting = kd
                            break
                        td = max(td, start[freeing] + 1)
                dealt[d] = td
                dealer_time = td
                dealer += 1
            if waiting >= 0:
                order += 1
                clock[k] = clock[waiting]
                heapq.heappush(heap, (clock[k], order, k))
                continue
            t = max(t, dealt[q] + 2)  # the queue's read latency
            start[q] = t
            t0[k] = t
            cur[k] = q
            nxt[k] += 1
            if hits[q]:
                step[k] = 2
                t += beats[q] + oh_hit
            else:
                step[k] = 1
                mem_i[k] = 0
                t += oh_request + compute[q] / (mptr[q + 1] - mptr[q] + 1)
        elif step[k] == 1:  # the next memory request, or the decoder's last cycles
            q = cur[k]
            i = mptr[q] + mem_i[k]
            share = compute[q] / (mptr[q + 1] - mptr[q] + 1)
            if i == mptr[q + 1]:
                step[k] = 2
            else:
                addr, words = maddr[i], mwords[i]
                payload = expand[q] and i == mptr[q + 1] - 1
                first, stall, done = -1.0, 0.0, 0
                while done < words:
                    # Bursts to the next multiple of `chunk` words, one per cycle while the
                    # port and the DRAM have slots; data in order after the round trip.
                    a = addr + done
                    nb = min(words - done, chunk - a % chunk)
                    while len(in_flight) >= slots:
                        ar_free = max(ar_free, heapq.heappop(in_flight) + 1)
                    issue = max(t, ar_free)
                    ar_free = issue + 1
                    data = max(issue + round_trip, r_free)
                    if first < 0:
                        first = data
                    # When the decoder needs this burst's first word: one per cycle, or for
                    # a row's payload values one per cycle after its startup.
                    need = float(done)
                    if payload:
                        need = startup[q] + max(0, done * w - index_bits[q]) / bv
                    stall += max(0.0, data - (first + stall + need))
                    stall += max(0.0, (nb - 1) * (word_cycles - 1))  # a slow DRAM
                    r_free = data + nb * word_cycles
                    port_busy += nb * word_cycles
                    heapq.heappush(in_flight, r_free)
                    done += nb
                if payload:  # the channel is held until the reader took the last word
                    lastw = max(0, (words - 2) * w - index_bits[q]) / bv
                    r_free = max(r_free, first + max(words, startup[q] + lastw + 1))
                t = first + stall + share
                mem_i[k] += 1
        else:  # finish; a bag's end waits for the previous bag to leave
            q = cur[k]
            if last[q]:
                b = bag_of[q]
                if drained[b] < 0:
                    order += 1
                    clock[k] = clock[bag_owner[b - 1]]
                    heapq.heappush(heap, (clock[k], order, k))
                    continue
                t = max(t, drained[b]) + ends[q]
                drained[b + 1] = t
            busy[k] += int(t - t0[k])
            step[k] = 0
            if nxt[k] == unit_ptr[k + 1] - unit_ptr[k]:
                clock[k] = t
                continue
        order += 1
        clock[k] = t
        heapq.heappush(heap, (t, order, k))
    return r_free, port_busy


def estimate(params: EngineParams, images: list[MemoryImage], trace: Trace) -> PerfResult:
    """Predict the cycles of ``trace`` over ``images`` (table ``t`` is ``images[t]``).

    Raises
    ------
    ConfigError
        As :func:`rtnerf.models.golden.engine.traffic`.
    """
    gold = traffic(params, images, trace)
    u, dram = params.unit, params.dram
    compute, beats, startup, index_bits = _decoder_costs(params, images, trace, gold)
    owner = bag_units(trace, params.units, u.pairwise != "none")
    # Memory requests of each trace request (CSR), as absolute words (tables 4 KB apart).
    counts = np.zeros(len(trace), np.int64)
    for sel, acc in zip(gold.requests, gold.accounts, strict=True):
        counts[sel] = acc.memory_requests
    mptr = np.concatenate(([0], np.cumsum(counts)))
    maddr = np.empty(int(mptr[-1]), np.int64)
    mwords = np.empty(int(mptr[-1]), np.int64)
    base = 0
    for image, sel, acc in zip(images, gold.requests, gold.accounts, strict=True):
        if sel.size:
            n = counts[sel]
            within = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
            idx = np.repeat(mptr[sel], n) + within
            maddr[idx] = acc.request_start + base
            mwords[idx] = acc.request_words
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

    queues = [np.flatnonzero(owner == k) for k in range(params.units)]
    unit_ptr = np.concatenate(([0], np.cumsum([q.size for q in queues])))
    position = np.zeros(len(trace), np.int64)
    for q in queues:
        position[q] = np.arange(q.size)
    bag_of = np.repeat(np.arange(trace.bags), np.diff(trace.bag_starts))
    expand = (trace.op == Op.ROW) | (u.cache_ways > 0)
    port = params.port
    cfg = (
        params.queue_depth,
        dram.latency + OVERHEAD["round_trip"],
        max(1.0, port.word_bytes / dram.bytes_per_cycle),
        min(port.outstanding, dram.max_outstanding),
        port.chunk_words,
        u.word_width,
        u.value_width,
        OVERHEAD["request"] + (OVERHEAD["lookup"] if u.cache_ways else 0),
        OVERHEAD["hit"],
        float(OVERHEAD["start"]),
    )
    clock = np.zeros(params.units)
    busy = np.zeros(params.units, np.int64)
    r_free, port_busy = _replay(
        unit_ptr,
        np.concatenate(queues),
        position,
        owner.astype(np.int64),
        gold.cache_hit,
        compute.astype(np.float64),
        beats,
        startup.astype(np.float64),
        index_bits,
        expand,
        ends.astype(np.float64),
        trace.last,
        bag_of,
        owner[trace.bag_starts[:-1]].astype(np.int64),
        mptr,
        maddr,
        mwords,
        cfg,
        clock,
        busy,
    )
    cycles = int(np.ceil(max(clock.max(initial=0), r_free)))
    return PerfResult(
        cycles=cycles,
        bags=trace.bags,
        requests=len(trace),
        unit_busy=busy,
        port_busy=int(port_busy),
        traffic=gold,
        dram_bytes_per_cycle=float(dram.bytes_per_cycle),
        macs=int(np.where(trace.op == Op.ROW, beats, 1).sum()),
        element_bags=int((trace.op[trace.bag_starts[:-1]] == Op.ELEMENT).sum()),
    )
