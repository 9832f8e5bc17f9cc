"""Performance model of the engine: cycles, throughput, DRAM traffic and the bottleneck.

It takes what the RTL takes (:class:`~rtnerf.params.EngineParams`, the tables' memory images, a
trace) and replays the engine at the level of requests instead of cycles, following the RTL's
structure (:class:`~rtnerf.rtl.engine.Engine`, :class:`~rtnerf.rtl.request_slots.RequestSlots`):

* **DRAM traffic** is the golden accounting's (:func:`rtnerf.models.golden.engine.traffic`):
  the same per-unit row caches, the request slots' memory requests, the directory loads; so it
  equals the co-simulation's byte for byte.
* **The dealer** hands requests out in trace order, bag ``b`` to unit ``b mod units``, one per
  cycle, into per-unit queues of ``queue_depth`` (a full queue stops it).
* **A unit's front end** takes a request into a free slot (``unit.inflight`` of them), then in
  order: the entry (a row-cache lookup first; computed for a stride table, an SRAM read, or a
  memory request whose words return in order), the payload request, and the task to the unit.
  A slot is freed when the unit finishes the request.
* **A unit's back end** runs one request at a time: the hybrid row decoder's exact cycle
  formula (:meth:`~rtnerf.params.HybridRowDecoderParams.query_cycles`) with its memory
  requests answered from the slot (entry after :data:`SLOT_ENTRY_LATENCY`, payload after
  :data:`SLOT_LATENCY` cycles), stalled while payload words the decoder wants have not yet
  arrived; a cache hit replays the row's beats; a bag's end drains ``dim / lanes`` beats (one
  for an ELEMENT bag) once the previous bag has left (outputs leave in bag order).
* **The memory system** is replayed as a queue in time order: every memory request of every
  unit (and the directory loader) split into the port's AXI bursts, one burst address per
  cycle, at most ``port.outstanding`` and ``dram.max_outstanding`` in flight, data in order
  after ``dram.latency``, at most one word and ``dram.bytes_per_cycle`` bytes per cycle.

The constants that are the RTL's pipeline (:data:`OVERHEAD`) are calibrated on RTL cycle counts
(``benchmarks/perf_calibration.py``, ``tests/sim/test_perf_rtl.py``).
"""

from __future__ import annotations

import dataclasses
import heapq

import numba
import numpy as np

from ...params.encoding import Format
from ...params.engine import EngineParams
from ..dram import account
from ..golden import hybrid_row_decoder as decoder_model
from ..golden.engine import Traffic, bag_units, directory_load, traffic
from ..image import MemoryImage
from ..trace import Op, Trace

__all__ = ["OVERHEAD", "SLOT_ENTRY_LATENCY", "SLOT_LATENCY", "PerfResult", "estimate"]

#: Cycles from the decoder's entry request to its word, served from the slot's registers.
SLOT_ENTRY_LATENCY = 2
#: Cycles from the decoder's payload request to its first word, read from the slot memory.
SLOT_LATENCY = 3

#: Cycles of the RTL's pipeline the model adds (calibrated on RTL cycle counts), each from
#: one event to the next, in cycles: ``queue``: a request dealt into a unit's queue until the
#: slots can take it; ``entry``: a slot taken until its entry stage is done (plus ``lookup``
#: with a row cache, ``sram`` with the directory SRAM); ``issue``: the entry stage done until a
#: memory request for the entry is on the port; ``local``: the entry stage done (entry on
#: chip) until the payload request is on the port; ``payload``: an entry's last word arrived
#: until the payload request is on the port; ``address``: a request on the port until its
#: first burst address reaches the DRAM; ``task``: the payload request issued (or the payload
#: stage done) until the unit may take the task; ``request``: the unit's cycles per request
#: beyond the decoder's; ``fill``: a payload word arrived until the slot reader delivers it;
#: ``hit``: a ROW cache hit's cycles beyond its beats; ``drain``: a bag's end beyond its output
#: beats; ``start``: cycles before the first request.
OVERHEAD = {
    "queue": 2,
    "entry": 1,
    "lookup": 1,
    "sram": 1,
    "issue": 1,
    "local": 2,
    "payload": 2,
    "address": 1,
    "task": 0,
    "request": 1,
    "fill": 3,
    "hit": 2,
    "drain": 1,
    "start": 2,
}


@dataclasses.dataclass(frozen=True)
class PerfResult:
    """What the model predicts for one trace on one design point.

    Attributes
    ----------
    cycles : int
        From the first descriptor write (directory loads included) to the last output beat.
    bags, requests : int
        Of the trace.
    unit_busy : numpy.ndarray
        Cycles each unit's back end worked: its decoder, cache replays and drains' beats (waits
        for payload words and for the output collector are not work).
    port_busy : int
        Cycles the memory port's read data channel carried a word.
    traffic : Traffic
        The DRAM traffic (the golden accounting's).
    dram_bytes_per_cycle : float
        The DRAM's peak.
    port_bytes_per_cycle : float
        The port's peak: one word per cycle.
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
    port_bytes_per_cycle: float = float("inf")

    @property
    def bags_per_cycle(self) -> float:
        """Throughput in bags per cycle."""
        return self.bags / self.cycles

    def bandwidth_utilisation(self) -> float:
        """DRAM bytes moved per cycle over the DRAM's peak."""
        return self.traffic.total_bytes / self.cycles / self.dram_bytes_per_cycle

    @property
    def roofline_cycles(self) -> float:
        """The memory roofline: the trace's DRAM bytes at the peak of the DRAM and the port."""
        return self.traffic.total_bytes / min(self.dram_bytes_per_cycle, self.port_bytes_per_cycle)

    def utilisation(self) -> dict[str, float]:
        """How busy each limit was over the trace, as a fraction of its peak.

        ``dram``: bytes moved over the DRAM's peak; ``port``: cycles the read channel carried
        a word; ``unit``: the busiest lookup unit's back end (decoder, replays and drains).
        The largest is the :attr:`bottleneck`.
        """
        return {
            "dram": self.bandwidth_utilisation(),
            "port": self.port_busy / self.cycles,
            "unit": float(self.unit_busy.max(initial=0)) / self.cycles,
        }

    @property
    def bottleneck(self) -> str:
        """What bounds the cycles: ``dram``, ``port`` or ``unit K`` (the busiest unit).

        The limit with the largest :meth:`utilisation`; a trace whose every limit is below
        half is latency-bound and still names the largest.
        """
        use = self.utilisation()
        name = max(use, key=use.get)
        return f"unit {int(np.argmax(self.unit_busy))}" if name == "unit" else name

    def per_second(self, clock_hz: float) -> dict[str, float]:
        """Bags, requests, samples and DRAM bytes per second at a clock frequency.

        Requests are the lookups; samples are ELEMENT bags (one interpolated value of a
        sample's component).
        """
        seconds = self.cycles / clock_hz
        return {
            "bags_per_s": self.bags / seconds,
            "requests_per_s": self.requests / seconds,
            "samples_per_s": self.element_bags / seconds,
            "dram_bytes_per_s": self.traffic.total_bytes / seconds,
        }


def _decoder_costs(params: EngineParams, images, trace: Trace, gold: Traffic):
    """Per request: decoder cycles at the slot's latencies, beats, payload start, index bits.

    When the decoder wants the payload's words: cycles after the first, and the index bits
    before the values.
    """
    dec = params.unit.decoder
    cached = params.unit.cache_ways > 0
    cycles = np.zeros(len(trace), np.int64)
    beats = np.ones(len(trace), np.int64)
    startup = np.zeros(len(trace), np.int64)
    index_bits = np.zeros(len(trace), np.int64)
    for image, sel in zip(images, gold.requests, strict=True):
        if not sel.size:
            continue
        rows = trace.row[sel]
        expand = np.ones(sel.size, np.bool_) if cached else trace.op[sel] == Op.ROW
        cols = np.where(expand, 0, trace.col[sel])
        # The formula once per distinct query (Zipf traces repeat rows); the decoder's own
        # memory requests (entry, payload, value) each take the slot's latency.
        span = image.shape[1] + 1
        keys = (rows * span + cols) * 2 + expand
        distinct, inverse = np.unique(keys, return_inverse=True)
        q_rows, q_cols, q_expand = distinct // 2 // span, distinct // 2 % span, distinct % 2 == 1
        queries = [decoder_model.Query(int(r), int(c), bool(e))
                   for r, c, e in zip(q_rows, q_cols, q_expand, strict=True)]  # fmt: skip
        at_one = decoder_model.query_cycles(dec, image, queries, latency=1)
        m = account(image, q_rows, np.where(q_expand, -1, q_cols)).memory_requests
        own = at_one - m + SLOT_ENTRY_LATENCY + np.maximum(m - 1, 0) * SLOT_LATENCY
        cycles[sel] = own[inverse]
        where = decoder_model.locate(image, rows, np.zeros_like(rows))
        fmt, nnz = where["format"], where["nnz"]
        stored = np.where(fmt == Format.DENSE, dec.columns, nnz)
        beats[sel] = np.maximum(stored, 1)
        bitmap, coo = fmt == Format.BITMAP, fmt == Format.COO
        # An expanded row's payload: cycles before the first value leaves, and bits before it.
        startup[sel] = np.where(bitmap, 2 + dec.chunks + 2 * dec.tree.latency, 0)
        startup[sel] += np.where(coo, -(-nnz * dec.coord_bits // dec.word_width) + 2, 0)
        index_bits[sel] = np.where(bitmap, dec.columns, np.where(coo, nnz * dec.coord_bits, 0))
        if not cached:  # an element query wants its words one per cycle
            startup[sel] = np.where(expand, startup[sel], 0)
            index_bits[sel] = np.where(expand, index_bits[sel], 1 << 40)
    # The decoder's payload request comes after its entry: accept, the entry's round trip
    # through the slot, parse, dispatch.
    pre = 2 + SLOT_ENTRY_LATENCY + params.unit.entry_words + 2
    return cycles, beats, startup, index_bits, pre


@numba.njit(cache=True)
def _memory(t, addr, words, mem, chunk, latency, burst_cycles, burst_words, slots, in_flight,
            arrivals):  # fmt: skip
    """Issue one memory request on the port at cycle ``t``; return its AXI bursts.

    ``arrivals`` gets each burst's (first word's cycle, word index).

    An AXI burst holds the read channel for one cycle per word, or for ``burst_cycles`` per
    DRAM burst it touches when the DRAM's bandwidth is the tighter (a DRAM burst moves all its
    bytes however few words are taken). ``mem`` holds the port's state: ``[0]`` the next cycle
    a burst address can go out, ``[1]`` the next cycle the read channel is free, ``[2]``
    cycles it carried words.
    """
    done, nb = 0, 0
    while done < words:
        a = addr + done
        beats = min(words - done, chunk - a % chunk)
        while len(in_flight) >= slots:
            mem[0] = max(mem[0], heapq.heappop(in_flight) + 1.0)
        issue = max(t, mem[0])
        mem[0] = issue + 1.0
        data = max(issue + latency, mem[1])
        touched = (a + beats - 1) // burst_words - a // burst_words + 1
        mem[1] = data + max(float(beats), touched * burst_cycles)
        mem[2] += beats
        heapq.heappush(in_flight, mem[1])
        arrivals[nb, 0] = data
        arrivals[nb, 1] = done
        nb += 1
        done += beats
    return nb


@numba.njit(cache=True)
def _replay(
    unit_ptr, unit_reqs, owner, upos, hits, from_dram, wait_on, extra, e_addr, e_words, p_addr,
    p_words, dec_cycles, beats, startup, index_bits, ends, last, bag_of, room, out_beats, loads,
    cfg, oh, clock, busy,
):  # fmt: skip
    """The request-level replay behind :func:`estimate` (see the module docstring).

    Per request: ``hits`` (a row-cache hit: no memory), ``from_dram`` (1: its entry is a memory
    request of ``e_words`` words at ``e_addr``; 2: an entry-cache hit on the line request
    ``wait_on`` filled, which it waits for if the fill is still in flight), ``extra`` (entry-stage
    cycles beyond one: the cache lookups, the SRAM read), the payload request (``p_words`` 0: none).
    ``room`` per bag: the same unit's earlier output bag that must have left its output queue before
    this one fits (-1: none); ``out_beats``: a bag's output beats. Memory requests are events
    handled in time order from a heap, so the in-order memory system sees them as the RTL does; a
    unit's front end takes requests into free slots as the dealer hands them out, its back end
    finishes them in order once their payload's arrival is known, and a bag's end waits for the
    previous bag to leave. Returns the last busy cycle and the read channel's busy cycles.
    """
    (inflight, depth, chunk, latency, burst_cycles, burst_words, slots, w, bv, pre, pairs,
     out_depth) = cfg  # fmt: skip
    (o_queue, o_entry, o_issue, o_local, o_payload, o_address, o_task, o_request, o_fill,
     o_drain, o_start) = oh  # fmt: skip
    n = owner.size
    units = unit_ptr.size - 1
    bags = bag_of[n - 1] + 1 if n else 0
    alloc_t = np.full(n, -1.0)  # taken into a slot (left the unit's queue)
    fin_t = np.full(n, -1.0)  # finished by the back end (its slot freed)
    ready_t = np.full(n, -1.0)  # the task offered to the back end
    data_t = np.zeros(n)  # first payload word deliverable without a stall
    e_arrived = np.zeros(n)  # an entry read's last word
    avail = np.full(bags, -1.0)  # a bag's first output beat in its unit's output queue
    nxt_out = 0  # the next bag the collector takes
    words_in = np.zeros(n)  # the payload's last word arrived (its slot may be taken again)
    dealt = np.full(n, -1.0)  # handed to its unit's queue
    drained = np.full(bags + 1, -1.0)  # bag b's last output beat left by drained[b + 1]
    next_alloc = np.zeros(units, np.int64)
    next_exec = np.zeros(units, np.int64)
    last_alloc = np.full(units, -1e9)
    last_ent = np.full(units, -1e9)
    last_pay = np.full(units, -1e9)
    idle = np.zeros(units)
    wait_alloc = np.full(units, -1)  # the unit whose next allocation unblocks the dealer
    mem = np.zeros(3)
    in_flight = [0.0]
    in_flight.pop()
    arrivals = np.zeros((4096, 2))
    heap = [(0.0, 0, 0)]
    heap.pop()
    order = 0
    dealer = 0

    # Directory loads first: the engine takes no request until they are in.
    start = o_start
    for i in range(loads.shape[0]):
        _memory(o_start + i + o_address, loads[i, 0], loads[i, 1], mem, chunk, latency,
                burst_cycles, burst_words, slots, in_flight, arrivals)  # fmt: skip
        start = max(start, mem[1] + 1.0)
    dealer_t = start - 1.0
    drained[0] = start
    for k in range(units):
        idle[k] = start

    stack = [0]
    stack.pop()
    for k in range(units - 1, -1, -1):
        stack.append(k)
    while True:
        while stack:
            k = stack.pop()
            count = unit_ptr[k + 1] - unit_ptr[k]
            # -- the front end: take requests into free slots, as the dealer hands them out --
            while next_alloc[k] < count:
                j = next_alloc[k]
                q = unit_reqs[unit_ptr[k] + j]
                t = last_alloc[k] + 1.0
                if j >= inflight:
                    prev = unit_reqs[unit_ptr[k] + j - inflight]
                    if fin_t[prev] < 0:
                        break  # no free slot yet
                    t = max(t, fin_t[prev] + 1.0, words_in[prev] + 1.0)
                blocked = -1
                while dealer <= q:
                    d = dealer
                    kd = owner[d]
                    td = dealer_t + 1.0
                    if depth == 0:
                        if d > 0:
                            if alloc_t[d - 1] < 0:
                                blocked = owner[d - 1]
                                break
                            td = max(td, alloc_t[d - 1] + 1.0)
                    elif upos[d] >= depth:
                        f = unit_reqs[unit_ptr[kd] + upos[d] - depth]
                        if alloc_t[f] < 0:
                            blocked = kd
                            break
                        td = max(td, alloc_t[f] + 1.0)
                    dealt[d] = td
                    dealer_t = td
                    dealer += 1
                if blocked >= 0:
                    wait_alloc[k] = blocked
                    break
                t = max(t, dealt[q] + (o_queue if depth else 0.0))
                alloc_t[q] = t
                last_alloc[k] = t
                next_alloc[k] += 1
                for u in range(units):  # units waiting on the dealer for this one
                    if wait_alloc[u] == k:
                        wait_alloc[u] = -1
                        stack.append(u)
                ent = max(t + o_entry + extra[q], last_ent[k] + 1.0)
                last_ent[k] = ent
                if from_dram[q]:  # the entry from memory (or a fill): its payload follows it
                    order += 1
                    heapq.heappush(heap, (ent + o_issue, order, q))
                    continue
                if hits[q] or p_words[q] == 0:
                    ready_t[q] = max(ent + 1.0, last_pay[k] + 1.0) + o_task
                    last_pay[k] = ready_t[q] - o_task
                    continue
                pay = max(ent + o_local, last_pay[k] + 1.0)
                last_pay[k] = pay
                order += 1
                heapq.heappush(heap, (pay, order, n + q))
            # -- the back end: requests in order, once their payload is known ----------------
            while next_exec[k] < count:
                q = unit_reqs[unit_ptr[k] + next_exec[k]]
                if ready_t[q] < 0:
                    break
                b = bag_of[q]
                # The bag whose output must have left first (with the pairwise stage only the
                # second bag of a pair has an output, after the previous pair's); with output
                # queues, the unit's own earlier output whose leaving makes room.
                before = b - 1 if pairs else b
                output = last[q] and not (pairs and b % 2 == 0)
                if output and out_depth == 0 and drained[before] < 0:
                    break  # the previous output has not left yet
                if output and out_depth and room[b] >= 0 and drained[room[b] + 1] < 0:
                    break  # the unit's output queue is full
                e = max(ready_t[q], idle[k])
                stall = 0.0
                if hits[q]:
                    fin = e + beats[q]  # the replay (or an ELEMENT hit's pick)
                else:
                    if p_words[q] > 0:
                        stall = max(0.0, data_t[q] - (e + pre + o_fill))
                    fin = e + dec_cycles[q] + stall
                fin_t[q] = fin
                if last[q] and not output:  # the first bag of a pair: no output
                    idle[k] = fin + o_request + ends[q] + o_drain
                elif last[q] and out_depth:  # drain into the queue; the collector takes it
                    gate = drained[room[b] + 1] if room[b] >= 0 else 0.0
                    start = max(fin + o_request + (ends[q] if pairs else 0.0), gate)
                    beats_out = 1.0 if pairs else ends[q]
                    avail[b] = start + o_queue
                    idle[k] = start + beats_out + o_drain
                    while nxt_out < bags:  # the collector, in bag order
                        ob = nxt_out
                        if pairs and ob % 2 == 0:
                            drained[ob + 1] = drained[ob]
                        elif avail[ob] < 0:
                            break
                        else:
                            drained[ob + 1] = max(drained[ob], avail[ob]) + out_beats[ob]
                        nxt_out += 1
                    for u in range(units):
                        if u != k:
                            stack.append(u)
                elif last[q]:
                    if pairs:  # the scores accumulate while draining; then the score beat
                        out = max(fin + o_request + ends[q], drained[before]) + 1.0 + o_drain
                    else:  # each output beat waits for the collector
                        out = max(fin + o_request, drained[before]) + ends[q] + o_drain
                    drained[b + 1] = out
                    idle[k] = out
                    for u in range(units):
                        if u != k:
                            stack.append(u)
                else:
                    idle[k] = fin + o_request
                # Work: the decoder (or the replay), and a bag's drain beats; waits for payload
                # words and for the output collector are not work.
                busy[k] += int(fin - e - stall + (ends[q] if last[q] else 0.0))
                clock[k] = idle[k]
                next_exec[k] += 1
                if next_alloc[k] < count:
                    stack.append(k)
                    break  # take a request into the freed slot first
        if not heap:
            break
        t, _, ev = heapq.heappop(heap)
        q = ev - n if ev >= n else ev
        k = owner[q]
        if ev < n:  # an entry read: its words in order, then the payload request
            if from_dram[q] == 2:  # an entry-cache hit: the line's fill, if still coming
                pay = max(t - o_issue + o_local, e_arrived[wait_on[q]] + o_payload + 2.0)
                pay = max(pay, last_pay[k] + 1.0)
            else:
                _memory(t + o_address, e_addr[q], e_words[q], mem, chunk, latency,
                        burst_cycles, burst_words, slots, in_flight, arrivals)  # fmt: skip
                e_arrived[q] = mem[1] - 1.0  # the entry's last word
                pay = max(e_arrived[q] + o_payload, last_pay[k] + 1.0)
            last_pay[k] = pay
            if p_words[q] == 0:
                ready_t[q] = pay + o_task
                stack.append(k)
            else:
                order += 1
                heapq.heappush(heap, (pay, order, n + q))
        else:  # a payload read: when its words arrive against when the decoder wants them
            nb = _memory(t + o_address, p_addr[q], p_words[q], mem, chunk, latency,
                         burst_cycles, burst_words, slots, in_flight, arrivals)  # fmt: skip
            worst = arrivals[0, 0] + o_fill
            for i in range(1, nb):
                need = startup[q] + max(0.0, (arrivals[i, 1] * w - index_bits[q]) / bv)
                worst = max(worst, arrivals[i, 0] + o_fill - need)
            data_t[q] = worst
            words_in[q] = mem[1] - 1.0
            ready_t[q] = t + o_task
            stack.append(k)
    end = 0.0
    for k in range(units):
        end = max(end, clock[k])
    return max(end, mem[1]), mem[2]


def estimate(params: EngineParams, images: list[MemoryImage], trace: Trace) -> PerfResult:
    """Predict the cycles of ``trace`` over ``images`` (table ``t`` is ``images[t]``).

    Raises
    ------
    ConfigError
        As :func:`rtnerf.models.golden.engine.traffic`.
    """
    gold = traffic(params, images, trace)
    u, dram, port = params.unit, params.dram, params.port
    dec_cycles, beats, startup, index_bits, pre = _decoder_costs(params, images, trace, gold)
    owner = bag_units(trace, params.units, u.pairwise != "none").astype(np.int64)
    n = len(trace)
    # Each request's memory requests: the entry's (directory from DRAM), then the payload's;
    # tables laid out 4 KB apart as the testbench places them.
    from_dram = np.zeros(n, np.int64)
    wait_on = np.full(n, -1, np.int64)
    extra = np.zeros(n, np.float64)
    e_addr = np.zeros(n, np.int64)
    e_words = np.zeros(n, np.int64)
    p_addr = np.zeros(n, np.int64)
    p_words = np.zeros(n, np.int64)
    loads = []
    base = 0
    for image, sel, acc, load in zip(images, gold.requests, gold.accounts, gold.loads,
                                     strict=True):  # fmt: skip
        if load.size:
            _, nreq = directory_load(params, image)
            words = image.layout.directory_words
            chunk = port.chunk_words * max(1, port.max_request // port.chunk_words)
            loads += [(base + i * chunk, min(chunk, words - i * chunk)) for i in range(nreq)]
        if sel.size:
            dram_entry = u.directory == "dram" and not image.row_stride
            nreq = acc.memory_requests
            starts = np.append(acc.request_start, 0)
            words = np.append(acc.request_words, 0)
            first = acc.request_ptr[:-1]
            entry = (nreq > 0) & dram_entry & ~gold.entry_hit[sel]
            payload = nreq > entry
            from_dram[sel] = entry
            e_addr[sel] = np.where(entry, starts[first] + base, 0)
            e_words[sel] = np.where(entry, words[first], 0)
            p_addr[sel] = np.where(payload, starts[first + entry] + base, 0)
            p_words[sel] = np.where(payload, words[first + entry], 0)
            sram = u.directory == "sram" and not image.row_stride
            extra[sel] = np.where(acc.cache_hit, 0, OVERHEAD["sram"] if sram else 0)
        base += -(-image.n_words // 1024) * 1024
    if u.cache_ways:
        extra += OVERHEAD["lookup"]
    if u.entry_cache_lines:  # a two-cycle lookup; a hit waits for its line's fill
        needs = (from_dram == 1) | gold.entry_hit
        extra += np.where(needs, OVERHEAD["lookup"] + 1, 0)
        keys = u.entry_keys(trace.table, trace.row) % u.entry_cache_lines
        last_miss: dict[tuple[int, int], int] = {}
        for q in np.flatnonzero(needs):
            line = (int(owner[q]), int(keys[q]))
            if gold.entry_hit[q]:
                from_dram[q] = 2
                wait_on[q] = last_miss[line]
            else:
                last_miss[line] = int(q)
    # The end of each bag: its drain.
    ends = np.zeros(n, np.int64)
    last = np.flatnonzero(trace.last)
    element = trace.op[last] == Op.ELEMENT
    ends[last] = np.where(element, 1, u.dim // u.lanes)
    if u.pairwise != "none":  # both bags of a pair drain; the second then emits the score
        ends[last] = u.dim // u.lanes

    # Output queues: a bag's beats fit once the unit's output `keep` bags earlier has left.
    pairs = u.pairwise != "none"
    out_beats = np.where(trace.op[trace.bag_starts[:-1]] == Op.ELEMENT, 1, u.dim // u.lanes)
    if pairs:
        out_beats[:] = 1
    room = np.full(trace.bags, -1, np.int64)
    if params.out_depth:
        bag_unit = owner[trace.bag_starts[:-1]]
        outputs = np.arange(trace.bags)[1::2] if pairs else np.arange(trace.bags)
        for k in range(params.units):
            mine = outputs[bag_unit[outputs] == k]
            keep = max(1, params.out_depth // max(1, int(out_beats[mine].max(initial=1))))
            room[mine[keep:]] = mine[:-keep] if keep < mine.size else mine[:0]
    queues = [np.flatnonzero(owner == k) for k in range(params.units)]
    unit_ptr = np.concatenate(([0], np.cumsum([q.size for q in queues]))).astype(np.int64)
    upos = np.zeros(n, np.int64)
    for q in queues:
        upos[q] = np.arange(q.size)
    bag_of = np.repeat(np.arange(trace.bags), np.diff(trace.bag_starts)).astype(np.int64)
    cfg = (
        u.inflight,
        params.queue_depth,
        port.chunk_words,
        float(dram.latency),
        dram.burst_bytes / dram.bytes_per_cycle,
        dram.burst_bytes // port.word_bytes,
        min(port.outstanding, dram.max_outstanding),
        u.word_width,
        u.value_width,
        float(pre),
        u.pairwise != "none",
        params.out_depth,
    )
    oh = tuple(float(OVERHEAD[k]) for k in (
        "queue", "entry", "issue", "local", "payload", "address", "task", "request", "fill",
        "drain", "start",
    ))  # fmt: skip
    clock = np.zeros(params.units)
    busy = np.zeros(params.units, np.int64)
    end, port_busy = _replay(
        unit_ptr,
        np.concatenate(queues).astype(np.int64) if n else np.zeros(0, np.int64),
        owner,
        upos,
        gold.cache_hit,
        from_dram,
        wait_on,
        extra,
        e_addr,
        e_words,
        p_addr,
        p_words,
        dec_cycles.astype(np.float64),
        # A hit replays its row's beats, or an ELEMENT hit picks its value in three cycles.
        np.where(trace.op == Op.ELEMENT, 3, beats + OVERHEAD["hit"]).astype(np.float64),
        startup.astype(np.float64),
        index_bits.astype(np.float64),
        ends.astype(np.float64),
        trace.last,
        bag_of,
        room,
        out_beats.astype(np.float64),
        np.array(loads, np.int64).reshape(-1, 2),
        cfg,
        oh,
        clock,
        busy,
    )
    return PerfResult(
        cycles=int(np.ceil(end)),
        bags=trace.bags,
        requests=n,
        unit_busy=busy,
        port_busy=int(port_busy),
        traffic=gold,
        dram_bytes_per_cycle=float(dram.bytes_per_cycle),
        macs=int(np.where(trace.op == Op.ROW, beats, 1).sum()),
        element_bags=int((trace.op[trace.bag_starts[:-1]] == Op.ELEMENT).sum()),
        port_bytes_per_cycle=float(port.word_bytes),
    )
