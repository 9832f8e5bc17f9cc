"""The hybrid row decoder: element lookups and row expansion straight from the memory image."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..params.adder_search_tree import Op
from ..params.encoding import FORMAT_WIDTH, Format
from ..params.hybrid_row_decoder import HybridRowDecoderParams
from .adder_search_tree import AdderSearchTree
from .bit_reader import BitReader
from .sparse_search_unit import SparseSearchUnit

__all__ = ["HybridRowDecoder", "layouts", "signature"]


def layouts(p: HybridRowDecoderParams) -> tuple[data.StructLayout, ...]:
    """The query, memory request, memory data and value payload layouts of a design point."""
    query = data.StructLayout(
        {"row": unsigned(p.row_width), "col": unsigned(p.coord_bits), "expand": unsigned(1)}
    )
    request = data.StructLayout({"addr": unsigned(p.address_width), "len": unsigned(p.len_width)})
    word = data.StructLayout({"word": unsigned(p.word_width)})
    value = data.StructLayout(
        {
            "value": signed(p.value_width),
            "column": unsigned(p.coord_bits),
            "hit": unsigned(1),
            "last": unsigned(1),
        }
    )
    return query, request, word, value


def _cdiv(x, w: int):
    """``ceil(x / w)`` for a power-of-two ``w``."""
    return (x + (w - 1)) >> (w.bit_length() - 1)


def signature(p: HybridRowDecoderParams) -> wiring.Signature:
    """The ports of :class:`HybridRowDecoder` at ``p``: what the component's ``signature`` is."""
    query, request, word, value = layouts(p)
    return wiring.Signature(
        {
            "i_query": In(stream.Signature(query)),
            "o_req": Out(stream.Signature(request)),
            "i_data": In(stream.Signature(word)),
            "o_value": Out(stream.Signature(value)),
        }
    )


class HybridRowDecoder(wiring.Component):
    """Reads rows of a hybrid-encoded table from memory and answers element or row queries.

    Each query is ``(row, col, expand)``. The decoder reads row ``row``'s directory entry and
    then, following the access policy of ``docs/memory-image.md`` (the one
    :func:`rtnerf.models.dram.account` counts), only the payload words it needs:

    * **element** (``expand = 0``): one beat ``(value, column = col, hit, last = 1)``. EMPTY rows
      (and COO rows without entries) give 0 with no payload read. DENSE: the value's word(s).
      BITMAP: the bitmap words up to column ``col``, ranked ``leaves`` bits per cycle by the
      adder & search tree (RANK), then on a hit the value. COO: all coordinates, searched by
      the tree (SEARCH) when ``nnz <= leaves``, else by the sparse search unit ``window``
      coordinates per cycle; then on a hit the value. A value word that is the last index word
      just read is not read again.
    * **expand** (``expand = 1``): the whole payload, one beat per stored element in column order
      ``(value, column, hit = 1, last)`` (DENSE rows: all ``columns`` columns); a row with no
      stored element gives one beat ``(0, 0, hit = 0, last = 1)``. BITMAP rows are ranked
      chunk by chunk (RANK gives each chunk's popcount) and the column of the ``k``-th value of
      a chunk is found by the tree's down-sweep (SELECT); COO coordinates are buffered (up to
      :attr:`~HybridRowDecoderParams.capacity`) and paired with the values that follow them.

    Values leave sign-extended from ``value_width`` bits, exactly as stored.

    Parameters
    ----------
    params : HybridRowDecoderParams
        The design point.

    Members
    -------
    i_query : In(stream.Signature(query_layout))
        ``row``, ``col`` and ``expand``.
    o_req : Out(stream.Signature(request_layout))
        Memory read requests: ``addr`` (word address from image word 0) and ``len`` (words).
    i_data : In(stream.Signature(word_layout))
        The requested words, in request order and address order within a request.
    o_value : Out(stream.Signature(value_layout))
        ``value``, ``column``, ``hit`` and ``last`` (the query's final beat).

    Notes
    -----
    One query is decoded at a time and one memory request is outstanding at a time, so the
    decoder is latency-bound: a query takes
    :meth:`~HybridRowDecoderParams.query_cycles` cycles at full rate, about one memory round
    trip for the entry, one for the index part and one for the value, plus one cycle per
    ``leaves`` bitmap bits ranked, per ``window`` coordinates searched, and per beat expanded.
    The engine hides the latency by running several decoders side by side.
    """

    def __init__(self, params: HybridRowDecoderParams):
        if not isinstance(params, HybridRowDecoderParams):
            raise TypeError(f"`params` must be HybridRowDecoderParams, not {params!r}")
        self.params = params
        (self.query_layout, self.request_layout, self.word_layout, self.value_layout) = layouts(
            params
        )
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        w, bv, bi, big_w, n = p.word_width, p.value_width, p.coord_bits, p.leaves, p.columns
        lw = w.bit_length() - 1
        m.submodules.reader = rd = BitReader(w, p.max_take)
        m.submodules.tree = tree = AdderSearchTree(p.tree)
        m.submodules.ssu = ssu = SparseSearchUnit(p.search_unit)
        tq, tr = tree.i_query, tree.o_result
        query, req, out = self.i_query, self.o_req, self.o_value

        # Query and directory entry.
        col = Signal(p.coord_bits)
        expand = Signal()
        fmt = Signal(FORMAT_WIDTH)
        nnz = Signal(p.count_width)
        offset = Signal(p.address_width)

        # Memory requests: one outstanding; `words_left` of it still to arrive.
        words_left = Signal(p.len_width + 1)
        next_addr = Signal(p.address_width)
        held = Signal(w)  # the last word received this query, and its address
        held_addr = Signal(p.address_width)
        held_valid = Signal()
        feed_held = Signal()  # push `held` into the reader before any new word

        m.d.comb += [
            rd.word.eq(Mux(feed_held, held, self.i_data.payload.word)),
            rd.word_valid.eq(feed_held | self.i_data.valid),
            self.i_data.ready.eq(rd.word_ready & ~feed_held & (words_left != 0)),
        ]
        with m.If(feed_held & rd.word_ready):
            m.d.sync += feed_held.eq(0)
        with m.If(self.i_data.valid & self.i_data.ready):
            m.d.sync += [
                words_left.eq(words_left - 1),
                next_addr.eq(next_addr + 1),
                held.eq(self.i_data.payload.word),
                held_addr.eq(next_addr),
                held_valid.eq(1),
            ]
        with m.If(req.valid & req.ready):
            m.d.sync += req.valid.eq(0)

        def request(addr, length, skip=0, start=True):
            m.d.sync += [
                req.valid.eq(1),
                req.payload.addr.eq(addr),
                req.payload.len.eq(length),
                words_left.eq(length),
                next_addr.eq(addr),
            ]
            if start:
                m.d.comb += [rd.start.eq(1), rd.skip.eq(skip)]

        # Element value: position in the row (bits) and what to read.
        vpos = Signal(range(n * (bv + 1) + 1))
        count = Signal(range(max(n, p.capacity) + 1))  # beats, chunks or windows done
        acc = Signal(p.count_width)  # RANK: set bits so far
        hit = Signal()
        index = Signal(p.count_width)

        # BITMAP expansion: chunks and their popcounts; COO expansion: coordinate buffer.
        chunks = p.chunks
        bm = Array(Signal(big_w, name=f"bm_{g}") for g in range(chunks))
        pc = Array(Signal(range(big_w + 1), name=f"pc_{g}") for g in range(chunks))
        sel_g = Signal(range(chunks + 1))
        sel_k = Signal(range(big_w + 1))
        cbuf = Array(Signal(bi, name=f"coord_{k}") for k in range(p.capacity))
        group_sent = Signal()
        windows_done = Signal()
        result_in = Signal()
        last_chunk_bits = n - (chunks - 1) * big_w

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += query.ready.eq((words_left == 0) & ~req.valid)
                with m.If(query.valid & query.ready):
                    bitpos = query.payload.row * p.entry_width
                    m.d.sync += [
                        col.eq(query.payload.col),
                        expand.eq(query.payload.expand),
                        held_valid.eq(0),
                    ]
                    request(bitpos >> lw, -(-p.entry_width // w), bitpos & (w - 1))
                    m.next = "ENTRY"

            with m.State("ENTRY"):
                m.d.comb += rd.take.eq(p.entry_width)
                with m.If(rd.avail):
                    m.d.comb += rd.pop.eq(1)
                    e = rd.bits
                    m.d.sync += [
                        fmt.eq(e[:FORMAT_WIDTH]),
                        nnz.eq(e[FORMAT_WIDTH : FORMAT_WIDTH + p.count_width]),
                        offset.eq(e[FORMAT_WIDTH + p.count_width : p.entry_width]),
                    ]
                    m.next = "DISPATCH"

            with m.State("DISPATCH"):
                m.d.sync += [count.eq(0), acc.eq(0), sel_g.eq(0), sel_k.eq(0)]
                m.d.sync += [group_sent.eq(0), windows_done.eq(0), result_in.eq(0)]
                with m.If((fmt == Format.EMPTY) | ((fmt == Format.COO) & (nnz == 0))):
                    m.next = "ZERO"
                with m.Elif(expand), m.Switch(fmt):
                    with m.Case(Format.DENSE):
                        request(offset, -(-n * bv // w))
                        m.next = "X_DENSE"
                    with m.Case(Format.BITMAP):
                        request(offset, _cdiv(n + nnz * bv, w))
                        m.next = "X_RANK"
                    with m.Case(Format.COO):
                        request(offset, _cdiv(nnz * (bi + bv), w))
                        m.next = "X_COORDS"
                with m.Else(), m.Switch(fmt):
                    with m.Case(Format.DENSE):
                        m.d.sync += vpos.eq(col * bv)
                        m.next = "VALUE_REQ"
                    with m.Case(Format.BITMAP):
                        request(offset, (col >> lw) + 1)
                        m.next = "E_RANK"
                    with m.Case(Format.COO):
                        request(offset, _cdiv(nnz * bi, w))
                        with m.If(nnz <= big_w):
                            m.next = "E_SEARCH"
                        with m.Else():
                            m.next = "E_SSU"

            # -- element mode ---------------------------------------------------------------
            with m.State("E_RANK"):
                last_g = col >> (big_w.bit_length() - 1)
                m.d.comb += [
                    rd.take.eq(big_w),
                    tq.valid.eq(rd.avail & (count <= last_g)),
                    tq.payload.op.eq(Op.RANK),
                    tq.payload.word.bitmap.eq(rd.bits[:big_w]),
                    tq.payload.key.eq(Mux(count == last_g, col & (big_w - 1), big_w)),
                    tq.payload.tag.eq(count),
                    tr.ready.eq(1),
                ]
                with m.If(tq.valid & tq.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += count.eq(count + 1)
                with m.If(tr.valid):
                    total = acc + tr.payload.index
                    m.d.sync += acc.eq(total)
                    with m.If(tr.payload.tag == last_g):
                        m.d.sync += vpos.eq(n + total * bv)
                        with m.If(tr.payload.hit):
                            m.next = "VALUE_REQ"
                        with m.Else():
                            m.next = "ZERO"

            with m.State("E_SEARCH"):
                m.d.comb += [
                    rd.take.eq(nnz * bi),
                    tq.valid.eq(rd.avail & ~group_sent),
                    tq.payload.op.eq(Op.SEARCH),
                    tq.payload.word.eq(rd.bits[: big_w * bi]),
                    tq.payload.key.eq(col),
                    tq.payload.count.eq(nnz),
                    tr.ready.eq(1),
                ]
                with m.If(tq.valid & tq.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += group_sent.eq(1)
                with m.If(tr.valid):
                    m.d.sync += vpos.eq(nnz * bi + tr.payload.index * bv)
                    with m.If(tr.payload.hit):
                        m.next = "VALUE_REQ"
                    with m.Else():
                        m.next = "ZERO"

            with m.State("E_SSU"):
                base = count
                left = nnz - base
                size = Mux(left > p.window, p.window, left)
                m.d.comb += [
                    ssu.i_group.valid.eq(~group_sent),
                    ssu.i_group.payload.queries[0].eq(col),
                    ssu.i_group.payload.count.eq(1),
                    ssu.i_group.payload.last.eq(1),
                    rd.take.eq(size * bi),
                    ssu.i_window.valid.eq(rd.avail & ~windows_done),
                    ssu.i_window.payload.coords.eq(rd.bits[: p.window * bi]),
                    ssu.i_window.payload.count.eq(size),
                    ssu.i_window.payload.base.eq(base),
                    ssu.i_window.payload.last.eq(left <= p.window),
                    ssu.o_result.ready.eq(1),
                ]
                with m.If(ssu.i_group.valid & ssu.i_group.ready):
                    m.d.sync += group_sent.eq(1)
                with m.If(ssu.i_window.valid & ssu.i_window.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += count.eq(count + p.window)
                    with m.If(left <= p.window):
                        m.d.sync += windows_done.eq(1)
                with m.If(ssu.o_result.valid):
                    m.d.sync += [
                        result_in.eq(1),
                        hit.eq(ssu.o_result.payload.hit[0]),
                        index.eq(ssu.o_result.payload.index[0]),
                    ]
                with m.If(result_in & windows_done):
                    m.d.sync += vpos.eq(nnz * bi + index * bv)
                    with m.If(hit):
                        m.next = "VALUE_REQ"
                    with m.Else():
                        m.next = "ZERO"

            with m.State("VALUE_REQ"):
                first = offset + (vpos >> lw)
                last = offset + ((vpos + (bv - 1)) >> lw)
                skip = vpos & (w - 1)
                m.d.comb += [rd.start.eq(1), rd.skip.eq(skip)]
                with m.If(held_valid & (held_addr == first)):
                    m.d.sync += feed_held.eq(1)
                    with m.If(last != first):
                        request(last, 1, start=False)
                with m.Else():
                    request(first, last - first + 1, start=False)
                m.next = "E_VALUE"

            with m.State("E_VALUE"):
                m.d.comb += [
                    rd.take.eq(bv),
                    out.valid.eq(rd.avail),
                    out.payload.value.eq(rd.bits[:bv]),
                    out.payload.column.eq(col),
                    out.payload.hit.eq(1),
                    out.payload.last.eq(1),
                ]
                with m.If(out.valid & out.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.next = "IDLE"

            with m.State("ZERO"):
                m.d.comb += [
                    out.valid.eq(1),
                    out.payload.column.eq(Mux(expand, 0, col)),
                    out.payload.last.eq(1),
                ]
                with m.If(out.ready):
                    m.next = "IDLE"

            # -- expand mode ----------------------------------------------------------------
            with m.State("X_DENSE"):
                m.d.comb += [
                    rd.take.eq(bv),
                    out.valid.eq(rd.avail),
                    out.payload.value.eq(rd.bits[:bv]),
                    out.payload.column.eq(count),
                    out.payload.hit.eq(1),
                    out.payload.last.eq(count == n - 1),
                ]
                with m.If(out.valid & out.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += count.eq(count + 1)
                    with m.If(count == n - 1):
                        m.next = "IDLE"

            with m.State("X_RANK"):
                is_last = count == chunks - 1
                chunk = Mux(is_last, rd.bits[:last_chunk_bits], rd.bits[:big_w])
                m.d.comb += [
                    rd.take.eq(Mux(is_last, last_chunk_bits, big_w)),
                    tq.valid.eq(rd.avail & (count < chunks)),
                    tq.payload.op.eq(Op.RANK),
                    tq.payload.word.bitmap.eq(chunk),
                    tq.payload.key.eq(big_w),
                    tq.payload.tag.eq(count),
                    tr.ready.eq(1),
                ]
                with m.If(tq.valid & tq.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += [count.eq(count + 1), bm[count].eq(chunk)]
                with m.If(tr.valid):
                    m.d.sync += pc[tr.payload.tag].eq(tr.payload.index)
                    with m.If(tr.payload.tag == chunks - 1):
                        m.d.sync += count.eq(0)
                        with m.If(nnz == 0):
                            m.next = "ZERO"
                        with m.Else():
                            m.next = "X_SELECT"

            with m.State("X_SELECT"):
                pop_g = pc[sel_g]
                m.d.comb += [
                    tq.valid.eq((sel_g < chunks) & (sel_k < pop_g)),
                    tq.payload.op.eq(Op.SELECT),
                    tq.payload.word.bitmap.eq(bm[sel_g]),
                    tq.payload.key.eq(sel_k),
                    tq.payload.tag.eq(sel_g),
                ]
                with m.If((sel_g < chunks) & ~(sel_k < pop_g)):
                    m.d.sync += [sel_g.eq(sel_g + 1), sel_k.eq(0)]
                with m.If(tq.valid & tq.ready):
                    with m.If(sel_k + 1 == pop_g):
                        m.d.sync += [sel_g.eq(sel_g + 1), sel_k.eq(0)]
                    with m.Else():
                        m.d.sync += sel_k.eq(sel_k + 1)
                is_last = count == nnz - 1
                m.d.comb += [
                    rd.take.eq(bv),
                    out.valid.eq(tr.valid & rd.avail),
                    out.payload.value.eq(rd.bits[:bv]),
                    out.payload.column.eq(tr.payload.tag * big_w + tr.payload.index),
                    out.payload.hit.eq(1),
                    out.payload.last.eq(is_last),
                    tr.ready.eq(rd.avail & out.ready),
                ]
                with m.If(out.valid & out.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += count.eq(count + 1)
                    with m.If(is_last):
                        m.next = "IDLE"

            with m.State("X_COORDS"):
                m.d.comb += rd.take.eq(bi)
                with m.If(rd.avail):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += [cbuf[count].eq(rd.bits[:bi]), count.eq(count + 1)]
                    with m.If(count == nnz - 1):
                        m.d.sync += count.eq(0)
                        m.next = "X_COO_VALUES"

            with m.State("X_COO_VALUES"):
                is_last = count == nnz - 1
                m.d.comb += [
                    rd.take.eq(bv),
                    out.valid.eq(rd.avail),
                    out.payload.value.eq(rd.bits[:bv]),
                    out.payload.column.eq(cbuf[count]),
                    out.payload.hit.eq(1),
                    out.payload.last.eq(is_last),
                ]
                with m.If(out.valid & out.ready):
                    m.d.comb += rd.pop.eq(1)
                    m.d.sync += count.eq(count + 1)
                    with m.If(is_last):
                        m.next = "IDLE"
        return m
