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
        queries = [
            decoder_model.Query(int(r), int(c), bool(x))
            for r, c, x in zip(rows, cols, expand, strict=True)
        ]
        full = acc.memory_requests if not cached else _row_requests(image, rows, params)
        compute[sel] = decoder_model.query_cycles(dec, image, queries, latency=1) - full
        where = decoder_model.locate(image, rows, np.zeros_like(rows))
        fmt, nnz = where["format"], where["nnz"]
        stored = np.where(fmt == Format.DENSE, dec.columns, nnz)
        beats[sel] = np.maximum(stored, 1)
        bitmap, coo = fmt == Format.BITMAP, fmt == Format.COO
        startup[sel] = np.where(bitmap, 2 + dec.chunks + 2 * dec.tree.latency, 0)
        startup[sel] += np.where(coo, -(-nnz * dec.coord_bits // dec.word_width) + 2, 0)
        index_bits[sel] = np.where(bitmap, dec.columns, np.where(coo, nnz * dec.coord_bits, 0))
    return compute, beats, startup, index_bits


def _row_requests(image: MemoryImage, rows: np.ndarray, params: EngineParams) -> np.ndarray:
    """Memory requests of a whole-row read of each row (what a cache miss makes)."""
    from ..dram import account

    return account(image, rows, burst_bytes=params.dram.burst_bytes).memory_requests


class Replay:
    """The request-level replay behind :func:`estimate`.

    Events are handled in time order (a heap of ``(time, order, unit)``): a unit starts a
    request (once the dealer has put it into the unit's queue), issues the request's memory
    requests one by one (the memory system sees them in time order), finishes it, and at a
    bag's end drains it (once the previous bag has left: outputs leave in bag order). A unit
    that waits for another (the dealer blocked on a full queue, the previous bag not yet out)
    is put back behind that unit's next event.
    """

    def __init__(self, params, trace, owner, hits, compute, beats, starts, ends):
        self.p, self.owner, self.hits = params, owner, hits
        self.expand = (trace.op == Op.ROW) | (params.unit.cache_ways > 0)
        self.compute, self.beats, self.starts, self.ends = compute, beats, starts, ends
        n, units = len(trace), params.units
        self.bag_of = np.repeat(np.arange(trace.bags), np.diff(trace.bag_starts))
        self.last = trace.last
        self.bag_owner = owner[trace.bag_starts[:-1]]  # the unit of each bag
        self.queues = [np.flatnonzero(owner == k) for k in range(units)]
        self.position = np.zeros(n, np.int64)  # index of each request in its unit's queue
        for q in self.queues:
            self.position[q] = np.arange(q.size)
        self.start = np.full(n, -1.0)  # when each request left its queue
        self.dealt = np.full(n, -1.0)
        self.dealer, self.dealer_time = 0, -1.0
        self.drained = np.full(trace.bags + 1, -1.0)  # drained[b + 1]: bag b has left
        self.drained[0] = 0.0
        self.clock = [float(OVERHEAD["start"])] * units
        self.busy = np.zeros(units, np.int64)
        self.r_free = self.ar_free = self.port_busy = 0.0
        self.in_flight: list[float] = []  # finish times of the bursts in flight (a heap)
        self.heap: list[tuple[float, int, int]] = []
        self.order = 0
        self.state = [("start", -1, 0, 0.0)] * units  # (step, request, memory request, t0)

    def push(self, t: float, k: int) -> None:
        """Schedule unit ``k``'s next step at ``t``."""
        self.order += 1
        self.clock[k] = t
        heapq.heappush(self.heap, (t, self.order, k))

    def deal(self, q: int) -> int | None:
        """Deal up to request ``q``; the unit the dealer waits for, or None when ``q`` is dealt."""
        depth = self.p.queue_depth
        while self.dealer <= q:
            d = self.dealer
            if depth == 0:  # the unit takes the request straight from the dealer
                if d > 0 and self.start[d - 1] < 0:
                    return int(self.owner[d - 1])
                t = self.start[d - 1] if d > 0 else 0.0
            else:
                t = self.dealer_time + 1
                j = self.position[d] - depth  # the request whose leaving frees the slot
                if j >= 0:
                    k = int(self.owner[d])
                    freeing = self.queues[k][j]
                    if self.start[freeing] < 0:
                        return k
                    t = max(t, self.start[freeing] + 1)
            self.dealt[d], self.dealer_time = t, t
            self.dealer += 1
        return None

    def run(self) -> None:
        """Replay every request."""
        for k, queue in enumerate(self.queues):
            if queue.size:
                self.push(self.clock[k], k)
        while self.heap:
            t, _, k = heapq.heappop(self.heap)
            step, q, i, t0 = self.state[k]
            if step == "start":
                q = int(self.queues[k][self.position[q] + 1 if q >= 0 else 0])
                waiting = self.deal(q)
                if waiting is not None:
                    self.state[k] = ("start", self.state[k][1], 0, 0.0)
                    self.push(self.clock[waiting], k)
                    continue
                t = max(t, self.dealt[q] + 2)  # the queue's read latency
                self.start[q] = t
                t0 = t
                if self.hits[q]:
                    self.state[k] = ("finish", q, 0, t0)
                    self.push(t + self.beats[q] + OVERHEAD["hit"], k)
                    continue
                t += OVERHEAD["request"] + (OVERHEAD["lookup"] if self.p.unit.cache_ways else 0)
                self.state[k] = ("memory", q, 0, t0)
                self.push(t + self.share(q), k)
            elif step == "memory":
                if i < len(self.starts[q]):
                    addr, words = self.starts[q][i]
                    payload = self.expand[q] and i == len(self.starts[q]) - 1
                    if payload:
                        shape = (float(self.startup[q]), int(self.index_bits[q]))
                        # The channel is free once the decoder took the last word: its
                        # reader holds about one word ahead of the value it is on.
                        w, bv = self.p.unit.word_width, self.p.unit.value_width
                        last = max(0, (words - 2) * w - int(self.index_bits[q])) / bv
                        consume = max(words, float(self.startup[q]) + last + 1)
                        t = self.memory(t, addr, words, consume, shape)
                    else:
                        t = self.memory(t, addr, words, words)
                    self.state[k] = ("memory", q, i + 1, t0)
                    self.push(t + self.share(q), k)
                else:
                    self.state[k] = ("finish", q, 0, t0)
                    self.push(t, k)
            else:  # finish: the bag's end waits for the previous bag to leave
                if self.last[q]:
                    b = self.bag_of[q]
                    if self.drained[b] < 0:
                        self.push(self.clock[int(self.bag_owner[b - 1])], k)
                        continue
                    t = max(t, self.drained[b]) + self.ends[q]
                    self.drained[b + 1] = t
                self.busy[k] += int(t - t0)
                self.state[k] = ("start", q, 0, 0.0)
                if self.position[q] + 1 < self.queues[k].size:
                    self.push(t, k)
                else:
                    self.clock[k] = t

    def share(self, q: int) -> float:
        """The decoder's own cycles of request ``q`` before each memory request, and after."""
        return float(self.compute[q]) / (len(self.starts[q]) + 1)

    def memory(self, t: float, addr: int, words: int, consume: int, shape=None) -> float:
        """Issue a memory request at ``t``; return when the decoder has its data.

        The formula has the words one per cycle from the first; the decoder takes them at its
        own pace (``consume`` cycles for the request: an expanded row's beats), so it waits
        only for a burst whose first word comes later than it needs it (a port with few
        outstanding bursts, a contended channel) or for words slower than it takes them. The
        read data channel, in order, is held until the decoder has taken the words: the next
        request's data waits (head-of-line blocking). ``shape`` ``(startup, index bits)``
        says when the decoder needs each word of an expanded row's payload: values leave one
        per cycle after ``startup`` cycles, the first at ``index bits`` (other requests'
        words are needed one per cycle).
        """
        port, dram = self.p.port, self.p.dram
        word_cycles = max(1.0, port.word_bytes / dram.bytes_per_cycle)
        slots = min(port.outstanding, dram.max_outstanding)
        first = None
        stall = 0.0  # how long the decoder waits for words beyond the formula's timeline
        w, bv = self.p.unit.word_width, self.p.unit.value_width
        done = 0  # words of the request before this burst
        for _, n in port.bursts(addr, words):
            # Bursts issue one per cycle while the port and the DRAM have slots; data in
            # order, one word per `word_cycles`, after the round trip.
            while len(self.in_flight) >= slots:
                self.ar_free = max(self.ar_free, heapq.heappop(self.in_flight) + 1)
            issue = max(t, self.ar_free)
            self.ar_free = issue + 1
            data = max(issue + dram.latency + OVERHEAD["round_trip"], self.r_free)
            first = data if first is None else first
            need = done if shape is None else shape[0] + max(0, done * w - shape[1]) / bv
            stall += max(0.0, data - (first + stall + need))
            stall += max(0.0, (n - 1) * (word_cycles - 1))  # a bandwidth-limited burst
            self.r_free = data + n * word_cycles
            self.port_busy += n * word_cycles
            heapq.heappush(self.in_flight, self.r_free)
            done += n
        self.r_free = max(self.r_free, first + consume)
        return first + stall


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

    replay = Replay(params, trace, owner, gold.cache_hit, compute, beats, starts, ends)
    replay.startup, replay.index_bits = startup, index_bits
    replay.run()
    clock, busy, r_free, port_busy = replay.clock, replay.busy, replay.r_free, replay.port_busy
    cycles = int(np.ceil(max([*clock, r_free])))
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
