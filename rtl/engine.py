"""The accelerator top: embedding lookup units sharing one AXI memory port."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..params.engine import EngineParams
from . import embedding_lookup_unit, memory_port
from .embedding_lookup_unit import EmbeddingLookupUnit
from .memory_port import MemoryPort

__all__ = ["Engine", "signature"]


def signature(p: EngineParams) -> wiring.Signature:
    """The ports of :class:`Engine` at ``p``: what the component's ``signature`` is."""
    request, base, pooled = embedding_lookup_unit.layouts(p.unit)
    _, _, ar, r = memory_port.layouts(p.port)
    return wiring.Signature(
        {
            "i_req": In(stream.Signature(request)),
            "i_base": In(stream.Signature(base)),
            "o_pooled": Out(stream.Signature(pooled)),
            "o_ar": Out(stream.Signature(ar)),
            "i_r": In(stream.Signature(r)),
            "error": Out(1),
        }
    )


class Engine(wiring.Component):
    """``units`` embedding lookup units behind one burst read port.

    Bag requests are dealt out by bag: bag ``b`` (counted from reset) runs on unit ``b mod
    units`` (with a pairwise stage, pair ``k`` on unit ``k mod units``), through a queue of
    ``queue_depth`` requests in front of each unit (so the next unit gets its bag while this
    one works), and pooled outputs are collected in the same order, so they leave in bag
    order.

    Every unit keeps up to ``unit.inflight`` requests in flight
    (:class:`~rtnerf.rtl.request_slots.RequestSlots`), each with up to two memory requests;
    the units' memory requests go through a round-robin arbiter into the
    :class:`~rtnerf.rtl.memory_port.MemoryPort`, and a FIFO of requester ids (as deep as the
    port has bursts in flight, plus two) routes each request's words back to its requester.
    The units always take their words, so the read channel never waits for a unit.

    Table descriptors written on ``i_base`` reach every unit. With ``unit.directory: sram`` a
    descriptor of a table read through its directory (``stride`` 0) also starts the
    **directory load**: the engine reads the table's directory (``ceil(rows * entry_width /
    word_width)`` words from ``addr``, in requests of whole port bursts) once and writes it
    into every unit's directory SRAM; ``i_base`` and ``i_req`` wait until it is in.

    Parameters
    ----------
    params : EngineParams
        The design point.

    Members
    -------
    i_req, i_base, o_pooled
        As :class:`~rtnerf.rtl.embedding_lookup_unit.EmbeddingLookupUnit`'s.
    o_ar, i_r, error
        As :class:`~rtnerf.rtl.memory_port.MemoryPort`'s (the AXI4 read channels).

    Notes
    -----
    Throughput: the arbiter grants one memory request per cycle and the port issues one burst
    address per cycle and carries one word per cycle; the units decode side by side; pooled
    beats leave one per cycle, each unit's through a queue of ``out_depth`` beats.
    """

    def __init__(self, params: EngineParams):
        if not isinstance(params, EngineParams):
            raise TypeError(f"`params` must be EngineParams, not {params!r}")
        self.params = params
        self._units = [EmbeddingLookupUnit(params.unit) for _ in range(params.units)]
        self._port = MemoryPort(params.port)
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        n = p.units
        units = self._units
        for i, u in enumerate(units):
            m.submodules[f"unit{i}"] = u
        m.submodules.port = port = self._port
        sram = p.unit.directory == "sram"
        requesters = n + sram  # the directory loader is the last requester
        id_width = max(1, (requesters - 1).bit_length())
        m.submodules.owners = owners = SyncFIFO(width=id_width, depth=p.port.outstanding + 2)

        # AXI side.
        wiring.connect(m, port.o_ar, wiring.flipped(self.o_ar))
        wiring.connect(m, wiring.flipped(self.i_r), port.i_r)
        m.d.comb += self.error.eq(port.error)

        # Memory requests of the units and the loader: (valid, addr, len) each.
        reqs = [(u.o_req.valid, u.o_req.payload.addr, u.o_req.payload.len) for u in units]
        loading = Signal()
        if sram:
            uw = p.unit
            chunk = p.port.chunk_words * max(1, p.port.max_request // p.port.chunk_words)
            ld_table = Signal(uw.table_width)
            ld_addr = Signal(uw.address_width)
            ld_left = Signal(range(uw.directory_words + 1))  # words still to request
            ld_wait = Signal(range(uw.directory_words + 1))  # words still to arrive
            ld_index = Signal(range(uw.directory_words + 1))
            ld_len = Mux(ld_left > chunk, chunk, ld_left)
            reqs.append((ld_left != 0, ld_addr, ld_len))
            m.d.comb += loading.eq(ld_wait != 0)

        # Table descriptors to every unit; a directory table starts the load.
        base = self.i_base
        m.d.comb += base.ready.eq(~loading)
        for u in units:
            m.d.comb += [
                u.i_base.valid.eq(base.valid & base.ready),
                u.i_base.payload.eq(base.payload),
            ]
            with m.If(~u.i_base.ready):
                m.d.comb += base.ready.eq(0)
        if sram:
            with m.If(base.valid & base.ready & (base.payload.stride == 0)):
                words = (base.payload.rows * uw.entry_width + (uw.word_width - 1)) >> (
                    uw.word_width.bit_length() - 1
                )
                m.d.sync += [
                    ld_table.eq(base.payload.table),
                    ld_addr.eq(base.payload.addr),
                    ld_left.eq(words),
                    ld_wait.eq(words),
                    ld_index.eq(0),
                ]

        # Bag requests: into the queue of unit `deal`, which moves on after a request that
        # ends a bag; none while a directory loads.
        deal = Signal(range(n))
        for i, u in enumerate(units):
            if p.queue_depth:
                q = SyncFIFOBuffered(width=len(self.i_req.payload.as_value()), depth=p.queue_depth)
                m.submodules[f"queue{i}"] = q
                m.d.comb += [
                    q.w_data.eq(self.i_req.payload),
                    u.i_req.payload.eq(q.r_data),
                    u.i_req.valid.eq(q.r_rdy),
                    q.r_en.eq(u.i_req.ready),
                ]
                valid, ready = q.w_en, q.w_rdy
            else:
                m.d.comb += u.i_req.payload.eq(self.i_req.payload)
                valid, ready = u.i_req.valid, u.i_req.ready
            with m.If(deal == i):
                m.d.comb += [
                    valid.eq(self.i_req.valid & ~loading),
                    self.i_req.ready.eq(ready & ~loading),
                ]
        with m.If(self.i_req.valid & self.i_req.ready & self.i_req.payload.last):
            if p.unit.pairwise == "none":
                m.d.sync += deal.eq(Mux(deal == n - 1, 0, deal + 1))
            else:  # both bags of a pair to one unit
                odd = Signal()
                m.d.sync += odd.eq(~odd)
                with m.If(odd):
                    m.d.sync += deal.eq(Mux(deal == n - 1, 0, deal + 1))

        # Pooled outputs: through a queue of `out_depth` beats per unit (so a unit drains its bag
        # and goes on while earlier bags are still leaving), from unit `collect`, which moves
        # on after a bag's last beat.
        collect = Signal(range(n))
        width = len(self.o_pooled.payload.as_value())
        for i, u in enumerate(units):
            if p.out_depth:
                q = SyncFIFOBuffered(width=width, depth=p.out_depth)
                m.submodules[f"out{i}"] = q
                m.d.comb += [
                    q.w_data.eq(u.o_pooled.payload),
                    q.w_en.eq(u.o_pooled.valid),
                    u.o_pooled.ready.eq(q.w_rdy),
                ]
                valid, data, ready = q.r_rdy, q.r_data, q.r_en
            else:
                valid, data, ready = u.o_pooled.valid, u.o_pooled.payload, u.o_pooled.ready
            with m.If(collect == i):
                m.d.comb += [
                    self.o_pooled.valid.eq(valid),
                    self.o_pooled.payload.eq(data),
                    ready.eq(self.o_pooled.ready),
                ]
        out = self.o_pooled
        with m.If(out.valid & out.ready & out.payload.last):
            m.d.sync += collect.eq(Mux(collect == n - 1, 0, collect + 1))

        # Memory requests: round-robin, the first requester after the last one granted.
        valids = Cat(v for v, _, _ in reqs)
        last_grant = Signal(range(requesters), init=requesters - 1)
        after = Signal(requesters)
        m.d.comb += after.eq(valids & Cat(last_grant < i for i in range(requesters)))
        grant = Signal(range(requesters))
        for i in reversed(range(requesters)):  # the lowest index wins
            with m.If(valids[i]):
                m.d.comb += grant.eq(i)
        for i in reversed(range(requesters)):
            with m.If(after[i]):
                m.d.comb += grant.eq(i)
        req_valid = (valids != 0) & owners.w_rdy
        m.d.comb += [
            port.i_req.valid.eq(req_valid),
            port.i_req.payload.addr.eq(Array(a for _, a, _ in reqs)[grant]),
            port.i_req.payload.len.eq(Array(n_ for _, _, n_ in reqs)[grant]),
        ]
        accepted = port.i_req.valid & port.i_req.ready
        for i, u in enumerate(units):
            m.d.comb += u.o_req.ready.eq(accepted & (grant == i))
        with m.If(accepted):
            m.d.comb += [owners.w_en.eq(1), owners.w_data.eq(grant)]
            m.d.sync += last_grant.eq(grant)
        if sram:
            with m.If(accepted & (grant == n)):
                m.d.sync += [ld_addr.eq(ld_addr + ld_len), ld_left.eq(ld_left - ld_len)]

        # Words back to the requester that asked (the FIFO head); all of them always take it.
        owner = owners.r_data
        data = port.o_data
        m.d.comb += data.ready.eq(owners.r_rdy)
        for i, u in enumerate(units):
            m.d.comb += [
                u.i_data.payload.word.eq(data.payload.word),
                u.i_data.valid.eq(data.valid & owners.r_rdy & (owner == i)),
            ]
        if sram:
            for u in units:
                m.d.comb += [
                    u.i_dir.valid.eq(data.valid & owners.r_rdy & (owner == n)),
                    u.i_dir.payload.table.eq(ld_table),
                    u.i_dir.payload.index.eq(ld_index),
                    u.i_dir.payload.word.eq(data.payload.word),
                ]
            with m.If(data.valid & owners.r_rdy & (owner == n)):
                m.d.sync += [ld_index.eq(ld_index + 1), ld_wait.eq(ld_wait - 1)]
        with m.If(data.valid & data.ready & data.payload.last):
            m.d.comb += owners.r_en.eq(1)
        return m
