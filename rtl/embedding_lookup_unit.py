"""The embedding lookup unit: fetch rows through the hybrid row decoder, weight, pool per bag."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..params.embedding_lookup_unit import EmbeddingLookupUnitParams
from .hybrid_row_decoder import HybridRowDecoder
from .request_slots import RequestSlots
from .request_slots import layouts as slot_layouts

__all__ = ["EmbeddingLookupUnit", "layouts", "signature"]


def layouts(p: EmbeddingLookupUnitParams) -> tuple[data.StructLayout, ...]:
    """The bag request, table descriptor, and pooled output payload layouts of a design point."""
    front = slot_layouts(p)
    if p.pairwise == "none":
        pooled = data.StructLayout(
            {"values": data.ArrayLayout(signed(p.out_width), p.lanes), "last": unsigned(1)}
        )
    else:
        pooled = data.StructLayout(
            {"scores": data.ArrayLayout(signed(p.score_width), 3), "last": unsigned(1)}
        )
    return front["request"], front["base"], pooled


def _overflow(value: Value, width: int, saturate: bool) -> Value:
    """``value`` saturated or wrapped to a signed ``width``-bit value."""
    if not saturate:
        return value.as_signed()[:width].as_signed()
    hi, lo = (1 << (width - 1)) - 1, -(1 << (width - 1))
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


def signature(p: EmbeddingLookupUnitParams) -> wiring.Signature:
    """The ports of :class:`EmbeddingLookupUnit` at ``p``: what the component's ``signature`` is."""
    request, base, pooled = layouts(p)
    slots = slot_layouts(p)
    return wiring.Signature(
        {
            "i_req": In(stream.Signature(request)),
            "i_base": In(stream.Signature(base)),
            "i_dir": In(stream.Signature(slots["directory"])),
            "o_req": Out(stream.Signature(slots["memory"])),
            "i_data": In(stream.Signature(slots["word"])),
            "o_pooled": Out(stream.Signature(pooled)),
        }
    )


class EmbeddingLookupUnit(wiring.Component):
    """Pools embedding rows per bag: fetch, weight, accumulate, scale, round, emit.

    Each ROW request ``(table, row, weight, last)`` expands row ``row`` of table ``table``
    through the hybrid row decoder (DENSE rows straight through, sparse rows one beat per
    stored value; the decoder's memory requests are offset by the table's base address, set
    beforehand on ``i_base``). Every stored value is multiplied by the weight (or
    ``2**weight_frac_bits`` for ``sum``/``mean``) and added into its column's accumulator;
    after a request with ``last`` the ``dim`` accumulators are scaled, rounded and limited as
    :class:`~rtnerf.params.EmbeddingLookupUnitParams` defines, and leave on ``o_pooled``
    ``lanes`` at a time, column 0 first, then clear. An ELEMENT request (``element`` set)
    reads one value ``(row, col)`` (an element query of the decoder) and accumulates it times
    its weight into column 0; its bag leaves as one beat.

    Requests go through :class:`~rtnerf.rtl.request_slots.RequestSlots`, ``inflight`` slots
    that run ahead of the decoder: while the decoder expands one row, the slots behind it
    have their directory entries and payload words read from memory (up to two memory
    requests per slot in flight), so the unit is limited by its decoder, not by the memory
    round trip, once ``inflight`` covers it (the sizing rule is in the params' docstring). The
    decoder's own memory requests are answered from the slot.

    With a row cache (``cache_ways > 0``) the slots look each request's ``(table, row)`` up in
    request order: a hit replays the row's decoder beats from the cache's memory, a miss
    expands the row through the decoder (element requests too, keeping only column ``col``)
    and writes its beats into the least recently used way of the row's set. Writing a table
    descriptor empties the cache.

    Parameters
    ----------
    params : EmbeddingLookupUnitParams
        The design point.

    Members
    -------
    i_req : In(stream.Signature(request_layout))
        ``table``, ``row``, ``col`` (ELEMENT), ``element``, ``weight`` (signed fixed point),
        ``last`` (ends the bag).
    i_base : In(stream.Signature(base_layout))
        Table descriptors (see :class:`~rtnerf.rtl.request_slots.RequestSlots`): ``table``,
        ``addr`` (word address of the table's image), ``rows``, ``stride``, ``payload``.
        Ready while the unit holds no request; write them before a trace, or between bags.
    i_dir : In(stream.Signature(...))
        Directory SRAM writes (``directory: sram``); always ready.
    o_req : Out(stream.Signature(...)), i_data : In(stream.Signature(...))
        Memory read requests (word ``addr`` with the table's base, ``len``), any number in
        flight, and their words in request order (always accepted).
    o_pooled : Out(stream.Signature(pooled_layout))
        ``values`` (``lanes`` signed values), ``last`` on the bag's final beat; with a
        pairwise stage instead one beat per pair of bags: ``scores`` (three signed
        ``score_width``-bit values), ``last`` set.

    Notes
    -----
    One request at a time in the decoder, one multiply and accumulate per stored value as it
    expands the row (or the cache replays it, one beat per cycle after one cycle of read
    latency); a ROW bag's end takes ``dim / lanes`` more cycles to drain, an ELEMENT bag's one.
    The decoder sees a memory latency of three cycles when the slot's words are in.
    """

    def __init__(self, params: EmbeddingLookupUnitParams):
        if not isinstance(params, EmbeddingLookupUnitParams):
            raise TypeError(f"`params` must be EmbeddingLookupUnitParams, not {params!r}")
        self.params = params
        self.request_layout, self.base_layout, self.pooled_layout = layouts(params)
        self._decoder = HybridRowDecoder(params.decoder)
        self._slots = RequestSlots(params)
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        m.submodules.decoder = dec = self._decoder
        saturate = p.overflow == "saturate"
        cached = p.cache_ways > 0

        m.submodules.slots = slots = self._slots
        wiring.connect(m, wiring.flipped(self.i_req), slots.i_req)
        wiring.connect(m, wiring.flipped(self.i_base), slots.i_base)
        wiring.connect(m, wiring.flipped(self.i_dir), slots.i_dir)
        wiring.connect(m, slots.o_req, wiring.flipped(self.o_req))
        wiring.connect(m, wiring.flipped(self.i_data), slots.i_data)
        wiring.connect(m, dec.o_req, slots.i_dec_req)
        wiring.connect(m, slots.o_dec_data, dec.i_data)
        m.d.comb += slots.dec_query.eq(dec.i_query.valid & dec.i_query.ready)
        task = slots.o_task

        row = Signal(p.row_width)
        col = Signal(p.col_width)
        element = Signal()
        weight = Signal(signed(p.weight_width))
        bag_end = Signal()
        count = Signal(p.bag_width)  # requests in the bag so far
        acc = Array(Signal(signed(p.acc_width), name=f"acc_{c}") for c in range(p.dim))

        # Scale at the bag's end: the mean's reciprocal of the bag size (2**f for ELEMENT bags).
        if p.pooling == "mean":
            recip = Array(
                Const(p.reciprocal(max(n, 1)), p.weight_frac_bits + 2) for n in range(p.max_bag + 1)
            )
            scale = Mux(element, 1 << p.weight_frac_bits, recip[count]).as_signed()
        else:
            scale = Const(1, 2).as_signed()
        group = Signal(range(p.dim // p.lanes))

        # Pairwise stage: the first bag's pooled values, the running scores.
        pair = p.pairwise != "none"
        if pair:
            second = Signal()  # draining the second bag of a pair
            first = Array(Signal(signed(p.out_width), name=f"first_{c}") for c in range(p.dim))
            score = [Signal(signed(p.score_width), name=f"score_{i}") for i in range(3)]

        # The beat being accumulated: from the decoder or replayed from the cache.
        beat = Signal(dec.o_value.payload.shape())
        beat_valid = Signal()

        def accumulate():
            # Column `col` only for ELEMENT requests; the request ends with the beat's `last`.
            with m.If(beat_valid):
                with m.If(beat.hit & (~element | (beat.column == col))):
                    target = acc[Mux(element, 0, beat.column)]
                    total = target + beat.value * weight
                    m.d.sync += target.eq(_overflow(total, p.acc_width, saturate))
                with m.If(beat.last):
                    m.d.comb += slots.done.eq(1)
                    m.d.sync += [count.eq(count + 1), group.eq(0)]
                    with m.If(bag_end):
                        m.next = "DRAIN"
                    with m.Else():
                        m.next = "IDLE"

        if cached:
            lines = p.cache_rows
            m.submodules.store = store = Memory(shape=beat.shape(), depth=lines * p.dim, init=[])
            wp, rp = store.write_port(), store.read_port()
            line = Signal(range(lines))
            fill = Signal(range(p.dim))  # beats written into `line`
            replay = Signal(range(p.dim + 1))  # beat being read
            primed = Signal()  # the read port holds beat `replay - 1`
            # Where each column's beat is in its line, and each line's beats: an ELEMENT hit
            # reads its one value in three cycles instead of replaying the row. A stale entry
            # (from a row the line held before) points past the line's beats or at a beat of
            # another column, so it reads as a miss of the column.
            m.submodules.where = where = Memory(shape=range(p.dim), depth=lines * p.dim, init=[])
            cwp, crp = where.write_port(), where.read_port()
            beats_in = Array(Signal(range(p.dim + 1), name=f"beats_{i}") for i in range(lines))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += task.ready.eq(1)
                with m.If(task.valid):
                    req = task.payload
                    w = req.weight
                    if p.pooling != "weighted":  # ELEMENT requests always take their weight
                        w = Mux(req.element, req.weight, 1 << p.weight_frac_bits)
                    m.d.sync += [
                        row.eq(req.row),
                        col.eq(req.col),
                        element.eq(req.element),
                        weight.eq(w),
                        bag_end.eq(req.last),
                    ]
                    if cached:
                        m.d.sync += [line.eq(req.line), fill.eq(0), replay.eq(0), primed.eq(0)]
                        with m.If(req.hit & req.element):
                            m.next = "PICK"
                        with m.Elif(req.hit):
                            m.next = "REPLAY"
                        with m.Else():
                            m.next = "QUERY"
                    else:
                        m.next = "QUERY"
            if cached:
                with m.State("REPLAY"):
                    m.d.comb += rp.addr.eq(line * p.dim + replay)
                    m.d.sync += [replay.eq(replay + 1), primed.eq(1)]
                    m.d.comb += [beat.eq(rp.data), beat_valid.eq(primed)]
                    accumulate()
                # An ELEMENT hit: the column's beat index, then the beat, then the value.
                with m.State("PICK"):
                    m.d.comb += crp.addr.eq(line * p.dim + col)
                    m.next = "PICK_BEAT"
                with m.State("PICK_BEAT"):
                    m.d.comb += rp.addr.eq(line * p.dim + crp.data)
                    m.d.sync += replay.eq(crp.data)  # kept for the bound check below
                    m.next = "PICK_VALUE"
                with m.State("PICK_VALUE"):
                    stored = rp.data
                    found = (replay < beats_in[line]) & stored.hit & (stored.column == col)
                    m.d.comb += [
                        beat.value.eq(Mux(found, stored.value, 0)),
                        beat.column.eq(col),
                        beat.hit.eq(found),
                        beat.last.eq(1),
                        beat_valid.eq(1),
                    ]
                    accumulate()
            with m.State("QUERY"):
                m.d.comb += [
                    dec.i_query.valid.eq(1),
                    dec.i_query.payload.row.eq(row),
                    dec.i_query.payload.col.eq(col),
                    dec.i_query.payload.expand.eq(1 if cached else ~element),
                ]
                with m.If(dec.i_query.ready):
                    m.next = "ACCUMULATE"
            with m.State("ACCUMULATE"):
                m.d.comb += [
                    beat.eq(dec.o_value.payload),
                    beat_valid.eq(dec.o_value.valid),
                    dec.o_value.ready.eq(1),
                ]
                if cached:
                    with m.If(beat_valid):
                        m.d.comb += [
                            wp.addr.eq(line * p.dim + fill),
                            wp.data.eq(beat),
                            wp.en.eq(1),
                            cwp.addr.eq(line * p.dim + beat.column),
                            cwp.data.eq(fill),
                            cwp.en.eq(1),
                        ]
                        m.d.sync += fill.eq(fill + 1)
                        with m.If(beat.last):
                            m.d.sync += beats_in[line].eq(fill + 1)
                accumulate()
            with m.State("DRAIN"):
                out = self.o_pooled
                last_group = element | (group == p.dim // p.lanes - 1)
                ys = []
                for i in range(p.lanes):
                    y = acc[group * p.lanes + i] * scale
                    if p.rounding == "nearest" and p.shift > 0:
                        y = y + (1 << (p.shift - 1))
                    ys.append(Signal(signed(p.out_width), name=f"y_{i}"))
                    m.d.comb += ys[i].eq(_overflow(y >> p.shift, p.out_width, saturate))
                if pair:  # nothing leaves until the pair's score
                    advance = Const(1)
                    with m.If(~second):
                        for i in range(p.lanes):
                            m.d.sync += first[group * p.lanes + i].eq(ys[i])
                    with m.Else():
                        us = [first[group * p.lanes + i] for i in range(p.lanes)]
                        if p.pairwise == "dot":
                            terms = [sum(u * y for u, y in zip(us, ys, strict=True)), 0, 0]
                        else:
                            terms = [
                                sum((u - y) * (u - y) for u, y in zip(us, ys, strict=True)),
                                sum(u * u for u in us),
                                sum(y * y for y in ys),
                            ]
                        m.d.sync += [s.eq(s + t) for s, t in zip(score, terms, strict=True)]
                else:
                    advance = out.ready
                    m.d.comb += [out.valid.eq(1), out.payload.last.eq(last_group)]
                    m.d.comb += [out.payload.values[i].eq(ys[i]) for i in range(p.lanes)]
                with m.If(advance):
                    for i in range(p.lanes):
                        m.d.sync += acc[group * p.lanes + i].eq(0)
                    m.d.sync += group.eq(group + 1)
                    with m.If(last_group):
                        m.d.sync += count.eq(0)
                        if pair:
                            m.d.sync += second.eq(~second)
                            with m.If(second):
                                m.next = "SCORE"
                            with m.Else():
                                m.next = "IDLE"
                        else:
                            m.next = "IDLE"
            if pair:
                with m.State("SCORE"):
                    out = self.o_pooled
                    m.d.comb += [out.valid.eq(1), out.payload.last.eq(1)]
                    m.d.comb += [out.payload.scores[i].eq(score[i]) for i in range(3)]
                    with m.If(out.ready):
                        m.d.sync += [s.eq(0) for s in score]
                        m.next = "IDLE"
        return m
