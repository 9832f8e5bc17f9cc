"""The lookup unit's front end: request slots that run ahead of the decoder."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..params.embedding_lookup_unit import EmbeddingLookupUnitParams
from ..params.encoding import FORMAT_WIDTH, Format

__all__ = ["RequestSlots", "layouts"]

#: Kinds of memory request a slot makes (the tag FIFO's ``kind``).
ENTRY, PAYLOAD = 0, 1
#: Depth of the word FIFO in front of the decoder: a read of the slot memory takes a cycle, so
#: two words in flight plus two buffered keep it streaming one word per cycle.
READ_FIFO_DEPTH = 4


def layouts(p: EmbeddingLookupUnitParams) -> dict[str, data.StructLayout]:
    """The payload layouts of the front end's ports, by port name."""
    dec = p.decoder
    request = data.StructLayout(
        {
            "table": unsigned(p.table_width),
            "row": unsigned(p.row_width),
            "col": unsigned(p.col_width),
            "element": unsigned(1),
            "weight": signed(p.weight_width),
            "last": unsigned(1),
        }
    )
    base = data.StructLayout(
        {
            "table": unsigned(p.table_width),
            "addr": unsigned(p.address_width),
            "rows": unsigned(p.row_width + 1),
            # A bursts-placed row's stride can exceed its words, but never 2**len_width
            # (Layout.dense_stride: at most the row's words rounded up to whole bursts, or to
            # the next power of two below a burst).
            "stride": unsigned(dec.len_width + 1),
            "payload": unsigned(p.address_width),
        }
    )
    directory = data.StructLayout(
        {
            "table": unsigned(p.table_width),
            "index": unsigned(max(1, (p.directory_words - 1).bit_length())),
            "word": unsigned(p.word_width),
        }
    )
    memory = data.StructLayout({"addr": unsigned(p.address_width), "len": unsigned(_len_width(p))})
    task = data.StructLayout(
        {
            "table": unsigned(p.table_width),
            "row": unsigned(p.row_width),
            "col": unsigned(p.col_width),
            "element": unsigned(1),
            "weight": signed(p.weight_width),
            "last": unsigned(1),
            "hit": unsigned(1),
            "line": unsigned(max(1, (p.cache_rows - 1).bit_length())),
        }
    )
    return {
        "request": request,
        "base": base,
        "directory": directory,
        "memory": memory,
        "task": task,
        "word": data.StructLayout({"word": unsigned(p.word_width)}),
    }


def _len_width(p: EmbeddingLookupUnitParams) -> int:
    """Bits of a memory request's length: a slot's words, an entry, or the decoder's."""
    return max(p.slot_words, p.entry_words, p.decoder.max_row_words).bit_length()


class RequestSlots(wiring.Component):
    """Holds up to ``inflight`` bag requests and fetches their data ahead of the decoder.

    Requests taken on ``i_req`` go into slots in order. Three in-order stages then walk the
    slots: the **entry** stage looks the row up in the row cache (when there is one: tags and
    LRU ages live here, so they change in request order exactly as the golden model's) and
    finds the row's directory entry: computed for a table written with a row ``stride``
    (DENSE rows at ``payload + row * stride``), read from the directory SRAM (``directory:
    sram``, one cycle), or read from memory (``directory: dram``: a memory request of the
    entry's words); the **payload** stage, once a slot has its entry, issues one memory request
    for the words the decoder will read (:meth:`payload` below); the **execute** stage hands
    the oldest slot to the unit (``o_task``) and serves the decoder's memory requests from the
    slot: the entry from the slot's registers, payload words from the slot memory as they
    arrive. The slot is freed when the unit says the request is done (``done``) and taken again
    once its payload's last word has arrived (an element query may finish before the words of
    the payload behind its value).

    The words a slot reads are exactly those the decoder asks for: a DENSE element query's
    value word(s); for every other query (and for every query when the unit has a row cache,
    which expands whole rows) the row's whole payload, which holds the bitmap or coordinates
    and the value an element query reads after them. EMPTY rows, COO rows without entries and
    cache hits read nothing.

    Memory requests leave in issue order (at most one per cycle, payload before entry when both
    are ready) and their words must come back in that order; a FIFO of (slot, kind, length)
    tags says where each word goes. Words are always accepted (``i_data.ready`` is 1): a
    slot's words fit its slot by construction, so a shared read channel never stalls on a
    unit.

    Parameters
    ----------
    params : EmbeddingLookupUnitParams
        The unit's design point (``inflight``, ``directory``, the decoder's fields, the row
        cache).

    Members
    -------
    i_req : In(stream.Signature(request))
        Bag requests, as the unit's.
    i_base : In(stream.Signature(base))
        Table descriptors: base word ``addr``; ``rows``; ``stride`` (words per row of a table
        stored all-DENSE, 0 for a table read through its directory) and ``payload`` (the word,
        from the base, of row 0's payload for a stride table). Ready only while no slot is in
        use; a write empties the row cache.
    i_dir : In(stream.Signature(directory))
        Writes of directory words into the directory SRAM (``directory: sram``): ``table``,
        ``index`` (word of the table's directory), ``word``. Always ready.
    o_req, i_data : memory requests (``addr`` with the table's base added, ``len``) and their
        words.
    o_task : Out(stream.Signature(task))
        The oldest slot's request with its cache ``hit`` and ``line``; offered once per slot.
    done : In(1)
        The unit finished the task it took: free its slot.
    i_dec_req, o_dec_data : the decoder's memory requests and words, served from the slot.
    dec_query : In(1)
        The decoder accepted a query this cycle (its next memory request is the entry's).
    busy : Out(1)
        A slot is in use.

    Notes
    -----
    Latency: a request taken in cycle ``t`` reaches ``o_task`` after its entry and payload
    stages, at the earliest ``t + 3`` (``t + 4`` with the SRAM directory or a row cache); its
    payload request leaves on ``o_req`` one cycle after its entry is known. The decoder's
    requests are answered from the slot three cycles after they are made (one to accept, one
    to read the slot memory, one through the word FIFO), one word per cycle, or as soon as
    the word arrives from memory. Throughput: one request per cycle into the slots, one memory
    request per cycle out.
    """

    def __init__(self, params: EmbeddingLookupUnitParams):
        if not isinstance(params, EmbeddingLookupUnitParams):
            raise TypeError(f"`params` must be EmbeddingLookupUnitParams, not {params!r}")
        self.params = params
        self.layouts = lay = layouts(params)
        dec_request = data.StructLayout(
            {"addr": unsigned(params.address_width), "len": unsigned(params.decoder.len_width)}
        )
        super().__init__(
            {
                "i_req": In(stream.Signature(lay["request"])),
                "i_base": In(stream.Signature(lay["base"])),
                "i_dir": In(stream.Signature(lay["directory"])),
                "o_req": Out(stream.Signature(lay["memory"])),
                "i_data": In(stream.Signature(lay["word"])),
                "o_task": Out(stream.Signature(lay["task"])),
                "done": In(1),
                "i_dec_req": In(stream.Signature(dec_request)),
                "o_dec_data": Out(stream.Signature(lay["word"])),
                "dec_query": In(1),
                "busy": Out(1),
            }
        )

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        dec = p.decoder
        n, sw = p.inflight, p.slot_words
        w, ew, bv, bi, cols = p.word_width, p.entry_width, p.value_width, dec.coord_bits, p.dim
        lw = w.bit_length() - 1
        cw = dec.count_width
        cached = p.cache_ways > 0
        len_w = _len_width(p)

        def wrap(ptr):
            return Mux(ptr == n - 1, 0, ptr + 1)

        # -- tables --------------------------------------------------------------------------
        bases = Array(Signal(p.address_width, name=f"base_{t}") for t in range(p.tables))
        strides = Array(Signal(dec.len_width + 1, name=f"stride_{t}") for t in range(p.tables))
        payloads = Array(Signal(p.address_width, name=f"payload_{t}") for t in range(p.tables))
        m.d.comb += self.i_base.ready.eq(~self.busy)
        with m.If(self.i_base.valid & self.i_base.ready):
            b = self.i_base.payload
            m.d.sync += [
                bases[b.table].eq(b.addr),
                strides[b.table].eq(b.stride),
                payloads[b.table].eq(b.payload),
            ]

        if p.directory == "sram":
            dw = p.directory_words
            m.submodules.directory = dmem = Memory(shape=w, depth=p.tables * dw, init=[])
            dwp, drp = dmem.write_port(), dmem.read_port()
            m.d.comb += [
                self.i_dir.ready.eq(1),
                dwp.addr.eq(self.i_dir.payload.table * dw + self.i_dir.payload.index),
                dwp.data.eq(self.i_dir.payload.word),
                dwp.en.eq(self.i_dir.valid),
            ]
        else:
            m.d.comb += self.i_dir.ready.eq(1)

        # -- slots ---------------------------------------------------------------------------
        def slot_array(shape, name):
            return Array(Signal(shape, name=f"{name}_{i}") for i in range(n))

        s_table = slot_array(p.table_width, "table")
        s_row = slot_array(p.row_width, "row")
        s_col = slot_array(p.col_width, "col")
        s_element = slot_array(1, "element")
        s_weight = slot_array(signed(p.weight_width), "weight")
        s_last = slot_array(1, "last")
        s_hit = slot_array(1, "hit")
        s_line = slot_array(len(self.o_task.payload.line), "line")
        s_entry = slot_array(ew, "entry")
        s_ok = slot_array(1, "ok")  # the entry is known (or not needed)
        s_start = slot_array(p.address_width, "start")  # image word of the slot's word 0
        s_fill = slot_array(range(sw + 1), "fill")  # payload words arrived
        # Payload words still to arrive: an element query may finish before the whole payload
        # it was fetched with is in, and its slot is not taken again until it is.
        s_left = slot_array(range(sw + 1), "left")

        alloc = Signal(range(n))  # next slot to fill
        ent = Signal(range(n))  # next slot for the entry stage
        pay = Signal(range(n))  # next slot for the payload stage
        exe = Signal(range(n))  # oldest slot (the unit's)
        n_ent = Signal(range(n + 1))  # slots waiting for the entry stage
        n_pay = Signal(range(n + 1))  # ... for the payload stage
        n_exe = Signal(range(n + 1))  # ... for the unit, or with it
        used = n_ent + n_pay + n_exe
        m.d.comb += self.busy.eq(used != 0)
        ent_done, pay_done = Signal(), Signal()
        take = self.i_req.valid & self.i_req.ready
        free = self.done

        m.d.comb += self.i_req.ready.eq((used < n) & (s_left[alloc] == 0))
        with m.If(take):
            r = self.i_req.payload
            m.d.sync += [
                s_table[alloc].eq(r.table),
                s_row[alloc].eq(r.row),
                s_col[alloc].eq(r.col),
                s_element[alloc].eq(r.element),
                s_weight[alloc].eq(r.weight),
                s_last[alloc].eq(r.last),
                s_ok[alloc].eq(0),
                s_hit[alloc].eq(0),
                alloc.eq(wrap(alloc)),
            ]
        m.d.sync += [
            n_ent.eq(n_ent + take - ent_done),
            n_pay.eq(n_pay + ent_done - pay_done),
            n_exe.eq(n_exe + pay_done - free),
        ]
        with m.If(ent_done):
            m.d.sync += ent.eq(wrap(ent))
        with m.If(pay_done):
            m.d.sync += pay.eq(wrap(pay))
        with m.If(free):
            m.d.sync += exe.eq(wrap(exe))

        # Memory requests (one register) and the tags of those in flight.
        req = self.o_req
        req_free = ~req.valid | req.ready
        with m.If(req.valid & req.ready):
            m.d.sync += req.valid.eq(0)
        tag_layout = data.StructLayout(
            {"slot": unsigned(p.slot_width), "kind": unsigned(1), "len": unsigned(len_w)}
        )
        m.submodules.tags = tags = SyncFIFO(width=tag_layout.size, depth=2 * n)
        tag_in = Signal(tag_layout)
        m.d.comb += tags.w_data.eq(tag_in)

        def issue(slot, kind, addr, length):
            m.d.sync += [req.valid.eq(1), req.payload.addr.eq(addr), req.payload.len.eq(length)]
            m.d.comb += [
                tags.w_en.eq(1),
                tag_in.slot.eq(slot),
                tag_in.kind.eq(kind),
                tag_in.len.eq(length),
            ]

        # -- payload stage (first claim on the request register) -------------------------------
        issued_payload = Signal()
        with m.If(n_pay != 0):
            e = s_entry[pay]
            f = FORMAT_WIDTH
            fmt, nnz, offset = e[:f], e[f : f + cw], e[f + cw : ew]
            expand = ~s_element[pay] if not cached else Const(1)
            words = Signal(len_w)
            start = Signal(p.address_width)
            with m.Switch(fmt):
                with m.Case(Format.DENSE):
                    with m.If(expand):
                        m.d.comb += [start.eq(offset), words.eq(-(-cols * bv // w))]
                    with m.Else():
                        bit = s_col[pay] * bv
                        first = bit >> lw
                        m.d.comb += [
                            start.eq(offset + first),
                            words.eq(((bit + (bv - 1)) >> lw) - first + 1),
                        ]
                with m.Case(Format.BITMAP):
                    m.d.comb += [start.eq(offset), words.eq((cols + nnz * bv + (w - 1)) >> lw)]
                with m.Case(Format.COO):
                    m.d.comb += [start.eq(offset), words.eq((nnz * (bi + bv) + (w - 1)) >> lw)]
            with m.If(s_hit[pay] | (s_ok[pay] & (words == 0))):
                m.d.comb += pay_done.eq(1)
            with m.Elif(s_ok[pay] & req_free & tags.w_rdy):
                m.d.comb += [pay_done.eq(1), issued_payload.eq(1)]
                m.d.sync += [s_start[pay].eq(start), s_fill[pay].eq(0), s_left[pay].eq(words)]
                issue(pay, PAYLOAD, bases[s_table[pay]] + start, words)

        # -- entry stage ---------------------------------------------------------------------
        if cached:  # tags (valid bit above the key) and LRU ages (0 = most recent)
            ways, sets = p.cache_ways, p.cache_sets
            lines = ways * sets
            key_width = p.table_width + p.row_width
            ctags = Array(Signal(key_width + 1, name=f"ctag_{i}") for i in range(lines))
            ages = Array(Signal(range(ways), init=i % ways, name=f"age_{i}") for i in range(lines))
            with m.If(self.i_base.valid & self.i_base.ready):  # a table moved: forget every row
                m.d.sync += [ctags[i][key_width].eq(0) for i in range(lines)]
        if p.entry_cache_lines:  # tags (valid bit on top of the key), words, lines being filled
            ec_bits = p.entry_cache_lines.bit_length() - 1
            ekey = p.table_width + p.row_width - p.entry_key_shift
            m.submodules.entry_tags = etags = Memory(shape=ekey, depth=p.entry_cache_lines, init=[])
            m.submodules.entry_words = ewords = Memory(shape=w, depth=p.entry_cache_lines, init=[])
            etw, etp = etags.write_port(), etags.read_port()
            edw, edp = ewords.write_port(), ewords.read_port()
            evalid = Signal(p.entry_cache_lines)
            epending = Signal(p.entry_cache_lines)
            looked_entry = Signal()  # the line's tag and word are on the read ports
            was_pending = Signal()  # ... read while the line was being filled
            with m.If(self.i_base.valid & self.i_base.ready):  # a table moved: forget entries
                m.d.sync += evalid.eq(0)
        looked = Signal()  # the slot's cache lookup is done
        pending = Signal()  # the directory SRAM read of the slot is under way
        with m.If(n_ent != 0):
            t, row = s_table[ent], s_row[ent]
            if cached:
                key = Cat(row, t)
                set_base = (row[: (sets - 1).bit_length()] if sets > 1 else 0) * ways
                hit, hit_way, victim = Signal(), Signal(range(ways)), Signal(range(ways))
                for way in reversed(range(ways)):
                    tag = ctags[set_base + way]
                    with m.If(tag[key_width] & (tag[:key_width] == key)):
                        m.d.comb += [hit.eq(1), hit_way.eq(way)]
                    with m.If(ages[set_base + way] == ways - 1):
                        m.d.comb += victim.eq(way)
                with m.If(~looked):
                    way = Mux(hit, hit_way, victim)
                    for i in range(ways):  # `way` becomes the most recently used
                        age = ages[set_base + i]
                        with m.If(i == way):
                            m.d.sync += age.eq(0)
                        with m.Elif(age < ages[set_base + way]):
                            m.d.sync += age.eq(age + 1)
                    with m.If(~hit):
                        m.d.sync += ctags[set_base + victim].eq(Cat(key, 1))
                    m.d.sync += [
                        looked.eq(1),
                        s_hit[ent].eq(hit),
                        s_line[ent].eq(set_base + way),
                    ]
                ready = looked
            else:
                ready = Const(1)
            with m.If(ready):
                with m.If(s_hit[ent]):
                    m.d.comb += ent_done.eq(1)
                with m.Elif(strides[t] != 0):
                    synth = Cat(
                        Const(Format.DENSE, FORMAT_WIDTH),
                        Const(0, cw),
                        (payloads[t] + row * strides[t])[: ew - 2 - cw],
                    )
                    m.d.sync += [s_entry[ent].eq(synth), s_ok[ent].eq(1)]
                    m.d.comb += ent_done.eq(1)
                with m.Else():
                    if p.directory == "sram":
                        bit = row * ew
                        m.d.comb += drp.addr.eq(t * p.directory_words + (bit >> lw))
                        with m.If(~pending):
                            m.d.sync += pending.eq(1)
                        with m.Else():
                            m.d.sync += [
                                s_entry[ent].eq(drp.data >> bit[:lw]),
                                s_ok[ent].eq(1),
                                pending.eq(0),
                            ]
                            m.d.comb += ent_done.eq(1)
                    elif p.entry_cache_lines:
                        # Entry cache: read the line's tag and word (a cycle), then a hit
                        # takes its entry, a miss claims the line and reads the word; a line
                        # being filled makes the request wait and look again.
                        key = Cat(row[p.entry_key_shift :], t)
                        m.d.comb += [etp.addr.eq(key[:ec_bits]), edp.addr.eq(key[:ec_bits])]
                        hit = evalid.bit_select(key[:ec_bits], 1) & (etp.data == key)
                        with m.If(~looked_entry):
                            # A line still being filled while its word is read may be read
                            # stale (the fill writes it at the end of this cycle): look again.
                            m.d.sync += [
                                looked_entry.eq(1),
                                was_pending.eq(epending.bit_select(key[:ec_bits], 1)),
                            ]
                        with m.Elif(was_pending):
                            m.d.sync += looked_entry.eq(0)
                        with m.Elif(hit):
                            pos = (row * ew)[:lw]
                            m.d.sync += [s_entry[ent].eq(edp.data >> pos), s_ok[ent].eq(1)]
                            m.d.sync += looked_entry.eq(0)
                            m.d.comb += ent_done.eq(1)
                        with m.Elif(req_free & ~issued_payload & tags.w_rdy):
                            m.d.comb += [
                                ent_done.eq(1),
                                etw.addr.eq(key[:ec_bits]),
                                etw.data.eq(key),
                                etw.en.eq(1),
                            ]
                            m.d.sync += [
                                evalid.bit_select(key[:ec_bits], 1).eq(1),
                                epending.bit_select(key[:ec_bits], 1).eq(1),
                                looked_entry.eq(0),
                            ]
                            issue(ent, ENTRY, bases[t] + ((row * ew) >> lw), p.entry_words)
                    else:
                        with m.If(req_free & ~issued_payload & tags.w_rdy):
                            m.d.comb += ent_done.eq(1)
                            issue(ent, ENTRY, bases[t] + ((row * ew) >> lw), p.entry_words)
            with m.If(ent_done):
                m.d.sync += looked.eq(0)

        # -- words back from memory --------------------------------------------------------------
        m.submodules.slots = smem = Memory(shape=w, depth=n * sw, init=[])
        swp, srp = smem.write_port(), smem.read_port()
        head = Signal(tag_layout)
        got = Signal(len_w)
        word = self.i_data.payload.word
        m.d.comb += [head.eq(tags.r_data), self.i_data.ready.eq(1)]
        with m.If(self.i_data.valid):
            slot = head.slot
            end = got + 1 == head.len
            m.d.sync += got.eq(Mux(end, 0, got + 1))
            m.d.comb += tags.r_en.eq(end)
            with m.If(head.kind == PAYLOAD):
                m.d.comb += [swp.addr.eq(slot * sw + got), swp.data.eq(word), swp.en.eq(1)]
                m.d.sync += [s_fill[slot].eq(got + 1), s_left[slot].eq(head.len - got - 1)]
            with m.Else():
                if p.entry_cache_lines:  # fill the line the miss claimed
                    fill_line = Cat(s_row[slot][p.entry_key_shift :], s_table[slot])[:ec_bits]
                    m.d.comb += [edw.addr.eq(fill_line), edw.data.eq(word), edw.en.eq(1)]
                    m.d.sync += epending.bit_select(fill_line, 1).eq(0)
                if p.entry_words == 1:
                    pos = (s_row[slot] * ew)[:lw]
                    m.d.sync += [s_entry[slot].eq(word >> pos), s_ok[slot].eq(1)]
                else:
                    with m.If(got == 0):
                        m.d.sync += s_entry[slot][:w].eq(word)
                    with m.Else():
                        m.d.sync += [s_entry[slot][w:].eq(word), s_ok[slot].eq(1)]

        # -- execute: the oldest slot to the unit, and its words to the decoder ----------------
        taken = Signal()
        task = self.o_task
        m.d.comb += [
            task.valid.eq((n_exe != 0) & ~taken),
            task.payload.table.eq(s_table[exe]),
            task.payload.row.eq(s_row[exe]),
            task.payload.col.eq(s_col[exe]),
            task.payload.element.eq(s_element[exe]),
            task.payload.weight.eq(s_weight[exe]),
            task.payload.last.eq(s_last[exe]),
            task.payload.hit.eq(s_hit[exe]),
            task.payload.line.eq(s_line[exe]),
        ]
        with m.If(task.valid & task.ready):
            m.d.sync += taken.eq(1)
        with m.If(free):
            m.d.sync += taken.eq(0)

        m.submodules.words = out = SyncFIFO(width=w, depth=READ_FIFO_DEPTH)
        entry_next = Signal()  # the decoder's next request is the entry's
        serving_entry = Signal()
        index = Signal(range(sw + p.entry_words + 1))
        left = Signal(len_w)
        read_pending = Signal()  # a slot memory read lands in the FIFO this cycle
        dreq = self.i_dec_req
        with m.If(self.dec_query):
            m.d.sync += entry_next.eq(1)
        m.d.comb += dreq.ready.eq((left == 0) & ~self.dec_query)
        with m.If(dreq.valid & dreq.ready):
            m.d.sync += [
                left.eq(dreq.payload.len),
                serving_entry.eq(entry_next),
                entry_next.eq(0),
                index.eq(Mux(entry_next, 0, dreq.payload.addr - s_start[exe])),
            ]
        room = out.level + read_pending < READ_FIFO_DEPTH
        m.d.sync += read_pending.eq(0)
        m.d.comb += [out.w_en.eq(read_pending), out.w_data.eq(srp.data)]
        with m.If((left != 0) & room):
            with m.If(serving_entry), m.If(~read_pending):
                if p.entry_words == 1:
                    pos = (s_row[exe] * ew)[:lw]
                    synth = s_entry[exe] << pos
                else:
                    synth = Mux(index == 0, s_entry[exe][:w], s_entry[exe][w:])
                m.d.comb += [out.w_en.eq(1), out.w_data.eq(synth)]
                m.d.sync += [left.eq(left - 1), index.eq(index + 1)]
            with m.Elif(s_fill[exe] > index):
                m.d.comb += srp.addr.eq(exe * sw + index)
                m.d.sync += [left.eq(left - 1), index.eq(index + 1), read_pending.eq(1)]
        m.d.comb += [
            self.o_dec_data.valid.eq(out.r_rdy),
            self.o_dec_data.payload.word.eq(out.r_data),
            out.r_en.eq(self.o_dec_data.ready),
        ]
        return m
