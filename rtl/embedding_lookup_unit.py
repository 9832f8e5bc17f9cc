"""The embedding lookup unit: fetch rows through the hybrid row decoder, weight, pool per bag."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..params.embedding_lookup_unit import EmbeddingLookupUnitParams
from .hybrid_row_decoder import HybridRowDecoder

__all__ = ["EmbeddingLookupUnit", "layouts"]


def layouts(p: EmbeddingLookupUnitParams) -> tuple[data.StructLayout, ...]:
    """The bag request, table base, and pooled output payload layouts of a design point."""
    request = data.StructLayout(
        {
            "table": unsigned(p.table_width),
            "row": unsigned(p.row_width),
            "weight": signed(p.weight_width),
            "last": unsigned(1),
        }
    )
    base = data.StructLayout({"table": unsigned(p.table_width), "addr": unsigned(p.address_width)})
    pooled = data.StructLayout(
        {"values": data.ArrayLayout(signed(p.out_width), p.lanes), "last": unsigned(1)}
    )
    return request, base, pooled


def _overflow(value: Value, width: int, saturate: bool) -> Value:
    """``value`` saturated or wrapped to a signed ``width``-bit value."""
    if not saturate:
        return value.as_signed()[:width].as_signed()
    hi, lo = (1 << (width - 1)) - 1, -(1 << (width - 1))
    return Mux(value > hi, hi, Mux(value < lo, lo, value))


class EmbeddingLookupUnit(wiring.Component):
    """Pools embedding rows per bag: fetch, weight, accumulate, scale, round, emit.

    Each bag request ``(table, row, weight, last)`` expands row ``row`` of table ``table``
    through the hybrid row decoder (DENSE rows straight through, sparse rows one beat per
    stored value; the decoder's memory requests are offset by the table's base address, set
    beforehand on ``i_base``). Every stored value is multiplied by the weight (or
    ``2**weight_frac_bits`` for ``sum``/``mean``) and added into its column's accumulator;
    after a request with ``last`` the ``dim`` accumulators are scaled, rounded and limited as
    :class:`~rtnerf.params.EmbeddingLookupUnitParams` defines, and leave on ``o_pooled``
    ``lanes`` at a time, column 0 first, then clear.

    Parameters
    ----------
    params : EmbeddingLookupUnitParams
        The design point.

    Members
    -------
    i_req : In(stream.Signature(request_layout))
        ``table``, ``row``, ``weight`` (signed fixed point), ``last`` (ends the bag).
    i_base : In(stream.Signature(base_layout))
        ``table``, ``addr``: the word address of the table's image (always ready).
    o_req : Out(stream.Signature(...)), i_data : In(stream.Signature(...))
        The decoder's memory requests (offset by the base) and words.
    o_pooled : Out(stream.Signature(pooled_layout))
        ``values`` (``lanes`` signed values), ``last`` on the bag's final beat.

    Notes
    -----
    One request at a time, one multiply and accumulate per stored value as the decoder
    expands the row; a bag's end takes ``dim / lanes`` more cycles to drain. (The exact cycle
    count is not yet stated or checked by the testbench.)
    """

    def __init__(self, params: EmbeddingLookupUnitParams):
        if not isinstance(params, EmbeddingLookupUnitParams):
            raise TypeError(f"`params` must be EmbeddingLookupUnitParams, not {params!r}")
        self.params = params
        self.request_layout, self.base_layout, self.pooled_layout = layouts(params)
        self._decoder = HybridRowDecoder(params.decoder)
        super().__init__(
            {
                "i_req": In(stream.Signature(self.request_layout)),
                "i_base": In(stream.Signature(self.base_layout)),
                "o_req": Out(stream.Signature(self._decoder.request_layout)),
                "i_data": In(stream.Signature(self._decoder.word_layout)),
                "o_pooled": Out(stream.Signature(self.pooled_layout)),
            }
        )

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        m.submodules.decoder = dec = self._decoder
        saturate = p.overflow == "saturate"

        bases = Array(Signal(p.address_width, name=f"base_{t}") for t in range(p.tables))
        m.d.comb += self.i_base.ready.eq(1)
        with m.If(self.i_base.valid):
            m.d.sync += bases[self.i_base.payload.table].eq(self.i_base.payload.addr)

        table = Signal(p.table_width)
        row = Signal(p.row_width)
        weight = Signal(signed(p.weight_width))
        bag_end = Signal()
        count = Signal(p.bag_width)  # requests in the bag so far
        acc = Array(Signal(signed(p.acc_width), name=f"acc_{c}") for c in range(p.dim))

        # Memory traffic of the decoder, offset by the table's base.
        wiring.connect(m, wiring.flipped(self.i_data), dec.i_data)
        m.d.comb += [
            self.o_req.valid.eq(dec.o_req.valid),
            self.o_req.payload.addr.eq(dec.o_req.payload.addr + bases[table]),
            self.o_req.payload.len.eq(dec.o_req.payload.len),
            dec.o_req.ready.eq(self.o_req.ready),
        ]

        # Mean pooling: reciprocal of the bag size.
        if p.pooling == "mean":
            recip = Array(
                Const(p.reciprocal(max(n, 1)), p.weight_frac_bits + 2) for n in range(p.max_bag + 1)
            )
            scale = recip[count].as_signed()
        else:
            scale = Const(1, 2).as_signed()
        group = Signal(range(p.dim // p.lanes))

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += self.i_req.ready.eq(1)
                with m.If(self.i_req.valid):
                    req = self.i_req.payload
                    m.d.sync += [
                        table.eq(req.table),
                        row.eq(req.row),
                        weight.eq(
                            req.weight if p.pooling == "weighted" else 1 << p.weight_frac_bits
                        ),
                        bag_end.eq(req.last),
                    ]
                    m.next = "QUERY"
            with m.State("QUERY"):
                m.d.comb += [
                    dec.i_query.valid.eq(1),
                    dec.i_query.payload.row.eq(row),
                    dec.i_query.payload.expand.eq(1),
                ]
                with m.If(dec.i_query.ready):
                    m.next = "ACCUMULATE"
            with m.State("ACCUMULATE"):
                beat = dec.o_value.payload
                m.d.comb += dec.o_value.ready.eq(1)
                with m.If(dec.o_value.valid):
                    with m.If(beat.hit):
                        total = acc[beat.column] + beat.value * weight
                        m.d.sync += acc[beat.column].eq(_overflow(total, p.acc_width, saturate))
                    with m.If(beat.last):
                        m.d.sync += [count.eq(count + 1), group.eq(0)]
                        with m.If(bag_end):
                            m.next = "DRAIN"
                        with m.Else():
                            m.next = "IDLE"
            with m.State("DRAIN"):
                out = self.o_pooled
                last_group = group == p.dim // p.lanes - 1
                m.d.comb += [out.valid.eq(1), out.payload.last.eq(last_group)]
                for i in range(p.lanes):
                    col = group * p.lanes + i
                    y = acc[col] * scale
                    if p.rounding == "nearest" and p.shift > 0:
                        y = y + (1 << (p.shift - 1))
                    m.d.comb += out.payload.values[i].eq(
                        _overflow(y >> p.shift, p.out_width, saturate)
                    )
                with m.If(out.ready):
                    for i in range(p.lanes):
                        m.d.sync += acc[group * p.lanes + i].eq(0)
                    m.d.sync += group.eq(group + 1)
                    with m.If(last_group):
                        m.d.sync += count.eq(0)
                        m.next = "IDLE"
        return m
