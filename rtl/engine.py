"""The accelerator top: embedding lookup units sharing one AXI memory port."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFO, SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from ..params.engine import EngineParams
from .embedding_lookup_unit import EmbeddingLookupUnit
from .memory_port import MemoryPort

__all__ = ["Engine"]


class Engine(wiring.Component):
    """``units`` embedding lookup units behind one burst read port.

    Bag requests are dealt out by bag: bag ``b`` (counted from reset) runs on unit ``b mod
    units`` (with a pairwise stage, pair ``k`` on unit ``k mod units``), through a queue of
    ``queue_depth`` requests in front of each unit (so the next unit gets its bag while this
    one works), and pooled outputs are collected in the same order, so they leave in bag
    order.
    The units' memory requests (one outstanding per unit) go through a round-robin arbiter
    into the :class:`~rtnerf.rtl.memory_port.MemoryPort`; a FIFO of unit ids routes each
    request's words back to its unit. Base addresses written on ``i_base`` reach every unit.

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
    Throughput: up to ``units`` rows are fetched and pooled at once; the memory port carries
    one word per cycle, and the arbiter grants one request per cycle.
    """

    def __init__(self, params: EngineParams):
        if not isinstance(params, EngineParams):
            raise TypeError(f"`params` must be EngineParams, not {params!r}")
        self.params = params
        self._units = [EmbeddingLookupUnit(params.unit) for _ in range(params.units)]
        self._port = MemoryPort(params.port)
        u, port = self._units[0], self._port
        super().__init__(
            {
                "i_req": In(stream.Signature(u.request_layout)),
                "i_base": In(stream.Signature(u.base_layout)),
                "o_pooled": Out(stream.Signature(u.pooled_layout)),
                "o_ar": Out(stream.Signature(port.ar_layout)),
                "i_r": In(stream.Signature(port.r_layout)),
                "error": Out(1),
            }
        )

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        n = p.units
        units = self._units
        for i, u in enumerate(units):
            m.submodules[f"unit{i}"] = u
        m.submodules.port = port = self._port
        m.submodules.owners = owners = SyncFIFO(width=p.id_width, depth=n)

        # AXI side.
        wiring.connect(m, port.o_ar, wiring.flipped(self.o_ar))
        wiring.connect(m, wiring.flipped(self.i_r), port.i_r)
        m.d.comb += self.error.eq(port.error)

        # Base addresses to every unit.
        m.d.comb += self.i_base.ready.eq(1)
        for u in units:
            m.d.comb += [
                u.i_base.valid.eq(self.i_base.valid),
                u.i_base.payload.eq(self.i_base.payload),
            ]

        # Bag requests: into the queue of unit `deal`, which moves on after a request that
        # ends a bag.
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
                m.d.comb += [valid.eq(self.i_req.valid), self.i_req.ready.eq(ready)]
        with m.If(self.i_req.valid & self.i_req.ready & self.i_req.payload.last):
            if p.unit.pairwise == "none":
                m.d.sync += deal.eq(Mux(deal == n - 1, 0, deal + 1))
            else:  # both bags of a pair to one unit
                odd = Signal()
                m.d.sync += odd.eq(~odd)
                with m.If(odd):
                    m.d.sync += deal.eq(Mux(deal == n - 1, 0, deal + 1))

        # Pooled outputs: from unit `collect`, which moves on after a bag's last beat.
        collect = Signal(range(n))
        for i, u in enumerate(units):
            with m.If(collect == i):
                m.d.comb += [
                    self.o_pooled.valid.eq(u.o_pooled.valid),
                    self.o_pooled.payload.eq(u.o_pooled.payload),
                    u.o_pooled.ready.eq(self.o_pooled.ready),
                ]
        out = self.o_pooled
        with m.If(out.valid & out.ready & out.payload.last):
            m.d.sync += collect.eq(Mux(collect == n - 1, 0, collect + 1))

        # Memory requests: round-robin from the unit after the last one granted.
        last_grant = Signal(range(n), init=n - 1)
        grant = Signal(range(n))
        any_valid = Signal()
        for k in range(n, 0, -1):  # the lowest k (nearest after last_grant) wins
            i = Signal(range(n), name=f"rr_{k}")
            m.d.comb += i.eq(Mux(last_grant + k >= n, last_grant + k - n, last_grant + k))
            with m.If(Array(u.o_req.valid for u in units)[i]):
                m.d.comb += [grant.eq(i), any_valid.eq(1)]
        req_valid = any_valid & owners.w_rdy
        m.d.comb += [
            port.i_req.valid.eq(req_valid),
            port.i_req.payload.addr.eq(Array(u.o_req.payload.addr for u in units)[grant]),
            port.i_req.payload.len.eq(Array(u.o_req.payload.len for u in units)[grant]),
        ]
        for i, u in enumerate(units):
            m.d.comb += u.o_req.ready.eq(req_valid & port.i_req.ready & (grant == i))
        with m.If(port.i_req.valid & port.i_req.ready):
            m.d.comb += [owners.w_en.eq(1), owners.w_data.eq(grant)]
            m.d.sync += last_grant.eq(grant)

        # Words back to the unit that asked (the FIFO head).
        owner = owners.r_data
        for i, u in enumerate(units):
            m.d.comb += u.i_data.payload.word.eq(port.o_data.payload.word)
            with m.If(owner == i):
                m.d.comb += [
                    u.i_data.valid.eq(port.o_data.valid & owners.r_rdy),
                    port.o_data.ready.eq(u.i_data.ready & owners.r_rdy),
                ]
        with m.If(port.o_data.valid & port.o_data.ready & port.o_data.payload.last):
            m.d.comb += owners.r_en.eq(1)
        return m
