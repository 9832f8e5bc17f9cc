"""A burst read port: client word requests to an AXI4 read channel subset."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from ..params.memory_port import MemoryPortParams

__all__ = ["MemoryPort", "layouts", "signature"]

#: AXI ``ARBURST`` code of incrementing bursts, the only kind issued.
BURST_INCR = 1


def layouts(p: MemoryPortParams) -> tuple[data.StructLayout, ...]:
    """The client request, client data, AXI AR and AXI R payload layouts of a design point."""
    request = data.StructLayout({"addr": unsigned(p.address_width), "len": unsigned(p.len_width)})
    word = data.StructLayout({"word": unsigned(p.word_width), "last": unsigned(1)})
    ar = data.StructLayout(
        {
            "addr": unsigned(p.byte_address_width),
            "len": unsigned(8),
            "size": unsigned(3),
            "burst": unsigned(2),
        }
    )
    r = data.StructLayout(
        {"data": unsigned(p.word_width), "resp": unsigned(2), "last": unsigned(1)}
    )
    return request, word, ar, r


def signature(p: MemoryPortParams) -> wiring.Signature:
    """The ports of :class:`MemoryPort` at ``p``: what the component's ``signature`` is."""
    request, word, ar, r = layouts(p)
    return wiring.Signature(
        {
            "i_req": In(stream.Signature(request)),
            "o_data": Out(stream.Signature(word)),
            "o_ar": Out(stream.Signature(ar)),
            "i_r": In(stream.Signature(r)),
            "error": Out(1),
        }
    )


class MemoryPort(wiring.Component):
    """Splits word-addressed read requests into AXI4 bursts and returns the words in order.

    A client request ``(addr, len)`` (word address, ``len >= 1`` words) becomes one or more INCR
    bursts of up to ``max_burst`` beats, aligned to ``max_burst`` words and never crossing a
    ``boundary_bytes`` boundary (:meth:`~MemoryPortParams.bursts`); at most ``outstanding``
    bursts are in flight. The words come back on ``o_data`` in request order, ``last`` marking
    each request's final word.

    AXI4 subset (read address and read data channels only, one ID, so responses return in
    order): ``ARADDR = o_ar.payload.addr`` (byte address, word-aligned), ``ARLEN =
    o_ar.payload.len`` (beats - 1), ``ARSIZE = o_ar.payload.size`` (log2 of the word bytes),
    ``ARBURST = o_ar.payload.burst`` (always INCR), ``ARVALID``/``ARREADY`` = ``o_ar.valid``/
    ``o_ar.ready``; ``RDATA``, ``RRESP``, ``RLAST`` = ``i_r.payload.data``, ``.resp``,
    ``.last``, ``RVALID``/``RREADY`` = ``i_r.valid``/``i_r.ready``. Not driven (tie off at an
    interconnect): ``ARID``/``RID`` (0), ``ARLOCK``, ``ARCACHE``, ``ARPROT``, ``ARQOS``,
    ``ARREGION`` (0). A response other than OKAY sets the sticky ``error`` output; its data
    is passed on.

    Parameters
    ----------
    params : MemoryPortParams
        The design point.

    Members
    -------
    i_req : In(stream.Signature(request_layout))
        ``addr`` (word address) and ``len`` (words, at least 1).
    o_data : Out(stream.Signature(word_layout))
        ``word`` and ``last`` (the request's final word).
    o_ar : Out(stream.Signature(ar_layout))
        AXI read address channel.
    i_r : In(stream.Signature(r_layout))
        AXI read data channel.
    error : Out(1)
        A burst returned a response other than OKAY (sticky until reset).

    Notes
    -----
    Throughput: one burst address per cycle (a request of ``b`` bursts is accepted every ``b``
    cycles) and one data word per cycle; ``o_data`` is ``i_r`` passed through combinationally
    (``i_r.ready = o_data.ready``). Latency: a request accepted in cycle ``t`` has its first
    burst address valid on ``o_ar`` in cycle ``t + 2``. A burst counts as in flight from the
    cycle its address is loaded onto ``o_ar`` to its last beat.
    """

    def __init__(self, params: MemoryPortParams):
        if not isinstance(params, MemoryPortParams):
            raise TypeError(f"`params` must be MemoryPortParams, not {params!r}")
        self.params = params
        self.request_layout, self.word_layout, self.ar_layout, self.r_layout = layouts(params)
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        req, ar, r, out = self.i_req, self.o_ar, self.i_r, self.o_data

        # One entry per burst in flight: is it its request's final burst?
        m.submodules.inflight = inflight = SyncFIFO(width=1, depth=p.outstanding)

        addr = Signal(p.address_width)
        left = Signal(p.len_width)
        chunk = p.chunk_words  # bursts end at multiples of it (a power of two)
        to_chunk = Signal(range(chunk + 1))
        beats = Signal(range(chunk + 1))
        m.d.comb += [
            to_chunk.eq(chunk - addr[: chunk.bit_length() - 1]),
            beats.eq(Mux(left < to_chunk, left, to_chunk)),
        ]
        final = beats == left

        # Burst addresses: `ar` is a register, loaded when the slot is free and a burst fits.
        with m.If(ar.valid & ar.ready):
            m.d.sync += ar.valid.eq(0)
        load = (left != 0) & (~ar.valid | ar.ready) & inflight.w_rdy
        with m.If(load):
            m.d.comb += [inflight.w_en.eq(1), inflight.w_data.eq(final)]
            m.d.sync += [
                ar.valid.eq(1),
                ar.payload.addr.eq(addr << p.size_code),
                ar.payload.len.eq(beats - 1),
                ar.payload.size.eq(p.size_code),
                ar.payload.burst.eq(BURST_INCR),
                addr.eq(addr + beats),
                left.eq(left - beats),
            ]

        # The next request is taken as the current one's final burst loads (this assignment
        # comes after the load's, so it wins).
        m.d.comb += req.ready.eq((left == 0) | (load & final))
        with m.If(req.valid & req.ready):
            m.d.sync += [addr.eq(req.payload.addr), left.eq(req.payload.len)]

        # Data back in order.
        m.d.comb += [
            out.valid.eq(r.valid),
            out.payload.word.eq(r.payload.data),
            out.payload.last.eq(r.payload.last & inflight.r_data),
            r.ready.eq(out.ready),
        ]
        with m.If(r.valid & r.ready):
            with m.If(r.payload.last):
                m.d.comb += inflight.r_en.eq(1)
            with m.If(r.payload.resp != 0):
                m.d.sync += self.error.eq(1)
        return m
