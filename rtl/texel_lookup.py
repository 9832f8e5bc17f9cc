"""The texel lookup of RT-NeRF: sparse embedding buffer, pipelined decode lanes, interpolation.

The **buffer** holds the hybrid-encoded texel-layout planes (:mod:`rtnerf.workloads.nerf.texel`)
on chip: per parity class ``banks / 4`` directory banks and ``banks / 4`` payload banks
(``lib.memory``, one read and one write port each), bank word ``w`` of a class's array in bank
``w % (banks / 4)``. It is filled once per model from a stream of bank words (``i_fill``) and
24 table descriptors (``i_table``); :mod:`rtnerf.models.golden.texel_lookup` defines the
contents.

The **lanes** take one 2 x 2 quad each per issue group (``i_group``): a table, one row per
class, the corner's parity and the position in the cell. The lanes and stages advance in
lockstep; each step of the pipeline:

1. *directory* -- each lane reads its rows' directory entries (none for a row-stride image)
   through one port per class;
2. *entry* -- the entries become each row's format, ``nnz`` and payload words;
3. *payload* -- each lane reads its rows' payload bank words, one per class per cycle;
4. *capture* -- the row words are aligned to the row's first bit;
5. *expand* -- each row is expanded to ``G`` columns: BITMAP rows ranked by an adder tree's
   up-sweep and a down-sweep that hands every leaf the count of set bits before it (the
   all-prefix form of the adder & search tree's RANK, so that all ``G`` columns are ranked in
   one step); COO rows searched by every column (the tree's SEARCH: a leaf compare per
   coordinate, hit and count of smaller coordinates); DENSE rows passed; EMPTY rows zero;
6. *select* -- each column takes its value; the four texels leave by corner;

then the :class:`Bilinear` interpolator (*weights*, *products*, *sum*). The reads of steps 1
and 3 go through one arbiter per class and array: every cycle the lanes, in order, each take
their lowest wanted word whose bank is not reading yet this cycle or is reading that same word
(a broadcast). A step takes ``max(1, D, P)`` cycles (``D`` the directory reads' cycles of the
group in step 1, ``P`` the payload reads' of the group in step 3): the schedule of
:func:`rtnerf.models.perf.nerf.group_cycles`, which the performance model runs over frames.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..params.encoding import FORMAT_WIDTH, Format
from ..params.texel_lookup import CLASSES, TABLES, TexelLookupParams

__all__ = ["Bilinear", "TexelLookup", "layouts", "signature"]


def _log2(n: int) -> int:
    return n.bit_length() - 1


def _width(n: int) -> int:
    """Bits of an index ``0 .. n - 1``."""
    return max(1, (n - 1).bit_length())


def layouts(p: TexelLookupParams) -> dict[str, data.Layout]:
    """The payload layouts of a design point.

    ``fill``, ``table``, ``quad``, ``group``, ``core`` (the lanes' results before
    interpolation) and ``result``.
    """
    word = max(_width(p.directory_words), _width(p.payload_words))
    texels = data.ArrayLayout(data.ArrayLayout(signed(p.value_width), p.max_columns), CLASSES)
    quad = data.StructLayout(
        {
            "valid": 1,
            "table": 3,
            "parity": 2,
            "rows": data.ArrayLayout(unsigned(p.row_width), CLASSES),
            "fx": p.weight_frac + 1,
            "fy": p.weight_frac + 1,
            "tag": p.tag_width,
        }
    )
    core_lane = data.StructLayout(
        {
            "valid": 1,
            "table": 3,
            "tag": p.tag_width,
            "fx": p.weight_frac + 1,
            "fy": p.weight_frac + 1,
            "texels": texels,
        }
    )
    lane = data.StructLayout(
        {
            "valid": 1,
            "table": 3,
            "tag": p.tag_width,
            "texels": texels,
            "interp": data.ArrayLayout(signed(p.interp_width), p.max_columns),
        }
    )
    return {
        "fill": data.StructLayout({"cls": 2, "directory": 1, "word": word, "data": p.bank_width}),
        "table": data.StructLayout(
            {
                "table": 3,
                "cls": 2,
                "strided": 1,
                "dir_base": _width(p.directory_words),
                "origin": signed(p.origin_width),
            }
        ),
        "quad": quad,
        "group": data.StructLayout({"quads": data.ArrayLayout(quad, p.lanes)}),
        "core": data.StructLayout({"lanes": data.ArrayLayout(core_lane, p.lanes)}),
        "result": data.StructLayout({"lanes": data.ArrayLayout(lane, p.lanes)}),
    }


def _arbiter(m: Module, name: str, wants: list, kpc: int) -> tuple[list, list, list]:
    """Greedy bank arbitration of one class's array for one cycle.

    ``wants[l]`` lists lane ``l``'s ``(pending, word)`` pairs in priority order. The lanes in
    order each take their first pending word whose bank is free or reads that same word.
    Returns ``takes[l][k]`` and, per bank, whether it reads and which word.
    """
    lk = _log2(kpc)
    claimed: list = [C(0, 1)] * kpc
    words: list = [C(0, 1)] * kpc
    takes = []
    for lane, slots in enumerate(wants):
        ok, banks = [], []
        for k, (pending, word) in enumerate(slots):
            bank = word[:lk] if lk else C(0, 1)
            o = Signal(name=f"{name}_ok_l{lane}_s{k}")
            m.d.comb += o.eq(pending & (~Array(claimed)[bank] | (Array(words)[bank] == word)))
            ok.append(o)
            banks.append(bank)
        take = [Signal(name=f"{name}_take_l{lane}_s{k}") for k in range(len(slots))]
        before = C(0, 1)
        for k in range(len(slots)):
            m.d.comb += take[k].eq(ok[k] & ~before)
            before = before | ok[k]
        new_claimed, new_words = [], []
        for b in range(kpc):
            nc = Signal(name=f"{name}_claimed_l{lane}_b{b}")
            nw = Signal(len(slots[0][1]), name=f"{name}_word_l{lane}_b{b}")
            hit = C(0, 1)
            word = C(0, 1)
            for k, (_, w) in enumerate(slots):
                here = take[k] & (banks[k] == b)
                hit = hit | here
                word = Mux(here, w, word)
            m.d.comb += [nc.eq(claimed[b] | hit), nw.eq(Mux(claimed[b], words[b], word))]
            new_claimed.append(nc)
            new_words.append(nw)
        claimed, words = new_claimed, new_words
        takes.append(take)
    return takes, claimed, words


def _prefix_counts(m: Module, name: str, bits: list) -> list:
    """Exclusive prefix popcounts of ``bits``: an adder tree's up-sweep, then a down-sweep.

    Up: each node sums its children. Down: the root hands 0 to its left child; every node
    hands its own prefix to its left child and its prefix plus the left child's sum to its
    right child; leaf ``j`` ends with the count of set bits before it.
    """
    n = 1 << max(0, (len(bits) - 1).bit_length())
    width = _width(n + 1)
    levels = [[*bits, *([C(0, 1)] * (n - len(bits)))]]
    while len(levels[-1]) > 1:
        below = levels[-1]
        up = []
        for j in range(len(below) // 2):
            s = Signal(width, name=f"{name}_up{len(levels)}_{j}")
            m.d.comb += s.eq(below[2 * j] + below[2 * j + 1])
            up.append(s)
        levels.append(up)
    prefix = [C(0, width)]
    for lvl in range(len(levels) - 2, -1, -1):
        nodes = levels[lvl]
        down = []
        for j, pre in enumerate(prefix):
            left = Signal(width, name=f"{name}_down{lvl}_{2 * j}")
            right = Signal(width, name=f"{name}_down{lvl}_{2 * j + 1}")
            m.d.comb += [left.eq(pre), right.eq(pre + nodes[2 * j])]
            down += [left, right]
        prefix = down
    return prefix[: len(bits)]


class Bilinear(wiring.Component):
    """Fixed-point bilinear interpolation of the four texels of each lane's quad.

    Per lane and column ``j``: ``(sum_k w_k v_kj + 2**(s - 1)) >> s`` with ``w_k`` the
    products of ``2**F - fx`` or ``fx`` and ``2**F - fy`` or ``fy`` (corner ``k = dx + 2 dy``)
    and ``s = 2 F - E`` (see :mod:`rtnerf.models.golden.texel_lookup`): ``4 max_columns``
    multipliers per lane.

    Parameters
    ----------
    params : TexelLookupParams
        The design point.

    Members
    -------
    i : In(stream.Signature(layouts(params)["core"]))
        Per lane ``valid``, ``table``, ``tag``, ``fx``, ``fy`` and the texels by corner.
    o : Out(stream.Signature(layouts(params)["result"]))
        Per lane ``valid``, ``table``, ``tag``, the texels and the interpolated values.

    Notes
    -----
    Latency 3 cycles (weights, products, sum); one group per cycle; under backpressure each
    stage holds (``ready[s] = ~valid[s] | ready[s+1]``), ``o.valid`` never depends on
    ``o.ready``.
    """

    def __init__(self, params: TexelLookupParams):
        if not isinstance(params, TexelLookupParams):
            raise TypeError(f"`params` must be TexelLookupParams, not {params!r}")
        self.params = params
        lay = layouts(params)
        super().__init__(
            {"i": In(stream.Signature(lay["core"])), "o": Out(stream.Signature(lay["result"]))}
        )

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        f, g, bv = p.weight_frac, p.max_columns, p.value_width
        shift = 2 * f - p.interp_frac
        texels = data.ArrayLayout(data.ArrayLayout(signed(bv), g), CLASSES)
        meta = {"valid": 1, "table": 3, "tag": p.tag_width, "texels": texels}
        lane_w = data.StructLayout({**meta, "w": data.ArrayLayout(2 * f + 1, CLASSES)})
        lane_p = data.StructLayout(
            {**meta, "p": data.ArrayLayout(data.ArrayLayout(signed(bv + 2 * f + 2), g), CLASSES)}
        )
        s0 = Signal(data.ArrayLayout(lane_w, p.lanes))
        s1 = Signal(data.ArrayLayout(lane_p, p.lanes))
        out = Signal(layouts(p)["result"])
        valid = [Signal(name=f"valid_{i}") for i in range(3)]
        ready = [Signal(name=f"ready_{i}") for i in range(3)] + [self.o.ready]
        for i in range(3):
            m.d.comb += ready[i].eq(~valid[i] | ready[i + 1])
        m.d.comb += [self.i.ready.eq(ready[0]), self.o.valid.eq(valid[2]), self.o.payload.eq(out)]

        def copy(dst, src):
            return [dst.valid.eq(src.valid), dst.table.eq(src.table), dst.tag.eq(src.tag),
                    dst.texels.eq(src.texels)]  # fmt: skip

        one = C(1 << f, f + 1)
        with m.If(ready[0]):
            m.d.sync += valid[0].eq(self.i.valid)
            for lane in range(p.lanes):
                src, dst = self.i.payload.lanes[lane], s0[lane]
                wx = [one - src.fx, src.fx]
                wy = [one - src.fy, src.fy]
                m.d.sync += copy(dst, src)
                m.d.sync += [dst.w[k].eq(wx[k & 1] * wy[k >> 1]) for k in range(CLASSES)]
        with m.If(ready[1]):
            m.d.sync += valid[1].eq(valid[0])
            for lane in range(p.lanes):
                src, dst = s0[lane], s1[lane]
                m.d.sync += copy(dst, src)
                m.d.sync += [
                    dst.p[k][j].eq(src.texels[k][j] * src.w[k])
                    for k in range(CLASSES)
                    for j in range(g)
                ]
        half = C((1 << shift) >> 1, shift + 1)
        with m.If(ready[2]):
            m.d.sync += valid[2].eq(valid[1])
            for lane in range(p.lanes):
                src, dst = s1[lane], out.lanes[lane]
                m.d.sync += copy(dst, src)
                for j in range(g):
                    total = src.p[0][j] + src.p[1][j] + src.p[2][j] + src.p[3][j] + half
                    m.d.sync += dst.interp[j].eq(total >> shift)
        return m


def signature(p: TexelLookupParams) -> wiring.Signature:
    """The ports of :class:`TexelLookup` at ``p``: what the component's ``signature`` is."""
    lay = layouts(p)
    return wiring.Signature(
        {
            "i_fill": In(stream.Signature(lay["fill"])),
            "i_table": In(stream.Signature(lay["table"])),
            "i_group": In(stream.Signature(lay["group"])),
            "o_group": Out(stream.Signature(lay["result"])),
            "fills": Out(32),
        }
    )


class TexelLookup(wiring.Component):
    """The sparse embedding buffer with ``lanes`` pipelined decode lanes and interpolation.

    Parameters
    ----------
    params : TexelLookupParams
        The design point (banks, lanes, row widths, fixed point).

    Members
    -------
    i_fill : In(stream.Signature(layouts(params)["fill"]))
        One bank word per beat: ``cls``, ``directory`` (1: the directory array, 0: payload),
        ``word`` (its index in the class's array) and ``data``. Always ready.
    i_table : In(stream.Signature(layouts(params)["table"]))
        A table descriptor: ``table``, ``cls``, ``strided``, ``dir_base``, ``origin``. Always
        ready.
    i_group : In(stream.Signature(layouts(params)["group"]))
        An issue group: per lane a quad (``valid``, ``table``, ``parity``, ``rows`` by class,
        ``fx``, ``fy`` in ``0 .. 2**F``, ``tag``).
    o_group : Out(stream.Signature(layouts(params)["result"]))
        Per lane ``valid``, ``table``, ``tag``, the four texels by corner ``dx + 2 dy``
        (``max_columns`` signed values each, zero beyond the table's ``G``) and their
        interpolation.
    fills : Out(32)
        Bank words written through ``i_fill`` since reset.

    Notes
    -----
    Throughput: one group per pipeline step; step ``k`` takes ``max(1, D_k, P_{k-2})``
    cycles, group ``k``'s directory reads beside group ``k - 2``'s payload reads
    (:func:`rtnerf.models.perf.nerf.group_cycles`). Latency: :attr:`~TexelLookupParams.latency`
    (9) steps from acceptance to result. Lookups see the buffer as filled before them (a fill
    beat and a read of the same word in one cycle read the old word). Under backpressure the
    whole pipeline holds; ``o_group.valid`` never depends on ``o_group.ready``.
    """

    def __init__(self, params: TexelLookupParams):
        if not isinstance(params, TexelLookupParams):
            raise TypeError(f"`params` must be TexelLookupParams, not {params!r}")
        self.params = params
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        lay = layouts(p)
        lanes, kpc = p.lanes, p.banks_per_class
        per, epw = p.words_per_bank_word, p.entries_per_bank_word
        ww, bv = p.word_width, p.value_width
        lk, lper, lepw = _log2(kpc), _log2(per), _log2(epw)
        span = p.max_span
        g = p.max_columns
        dir_w, pay_w = _width(p.directory_words), _width(p.payload_words)
        flat_w = p.origin_width  # signed image-word addresses in a payload array

        # -- the banks and their fill ------------------------------------------------------
        fill = self.i_fill.payload
        m.d.comb += [self.i_fill.ready.eq(1), self.i_table.ready.eq(1)]
        with m.If(self.i_fill.valid):
            m.d.sync += self.fills.eq(self.fills + 1)
        fill_bank = fill.word[:lk] if lk else C(0, 1)
        dread, pread = [], []  # read ports [class][bank]
        for c in range(CLASSES):
            dread.append([])
            pread.append([])
            for b in range(kpc):
                arrays = (("dir", p.directory_depth, dread[c], 1),
                          ("pay", p.payload_depth, pread[c], 0))  # fmt: skip
                for kind, depth, ports, is_dir in arrays:
                    mem = Memory(shape=p.bank_width, depth=depth, init=[])
                    m.submodules[f"{kind}_c{c}_b{b}"] = mem
                    wp, rp = mem.write_port(), mem.read_port()
                    m.d.comb += [
                        wp.addr.eq(fill.word >> lk),
                        wp.data.eq(fill.data),
                        wp.en.eq(
                            self.i_fill.valid
                            & (fill.cls == c)
                            & (fill.directory == is_dir)
                            & (fill_bank == b)
                        ),
                    ]
                    ports.append(rp)

        # -- table descriptors ----------------------------------------------------------------
        strided = [[Signal(name=f"strided_t{t}_c{c}") for c in range(CLASSES)]
                   for t in range(TABLES)]  # fmt: skip
        dir_base = [[Signal(dir_w, name=f"dir_base_t{t}_c{c}") for c in range(CLASSES)]
                    for t in range(TABLES)]  # fmt: skip
        origin = [[Signal(signed(flat_w), name=f"origin_t{t}_c{c}") for c in range(CLASSES)]
                  for t in range(TABLES)]  # fmt: skip
        desc = self.i_table.payload
        for t in range(TABLES):
            for c in range(CLASSES):
                with m.If(self.i_table.valid & (desc.table == t) & (desc.cls == c)):
                    m.d.sync += [
                        strided[t][c].eq(desc.strided),
                        dir_base[t][c].eq(desc.dir_base),
                        origin[t][c].eq(desc.origin),
                    ]

        def per_table(values, table):
            """``values[t]`` of the quad's table (a mux over the six tables)."""
            return Array(values)[table]

        # -- pipeline control -------------------------------------------------------------------
        advance = Signal()
        first = Signal(init=1)  # the first cycle of a step
        m.d.sync += first.eq(advance)
        stages = ("dir", "entry", "pay", "capture", "expand", "select")
        v0, v0b, v1, v1b, v2, v3 = (Signal(name=f"valid_{n}") for n in stages)
        core_ready = Signal()
        sent = Signal()  # the select stage's group went to the interpolator in this step
        done_dir, done_pay = Signal(), Signal()
        m.d.comb += [
            advance.eq(done_dir & done_pay & (~v3 | sent | core_ready)),
            self.i_group.ready.eq(advance),
        ]
        m.d.sync += sent.eq(Mux(advance, 0, sent | (v3 & core_ready)))
        with m.If(advance):
            m.d.sync += [v0.eq(self.i_group.valid), v0b.eq(v0), v1.eq(v0b), v1b.eq(v1),
                         v2.eq(v1b), v3.eq(v2)]  # fmt: skip

        g0 = Signal(lay["group"])
        g0b, g1, g1b, g2, g3 = (Signal(lay["group"], name=f"group_{n}") for n in
                                ("entry", "pay", "capture", "expand", "select"))  # fmt: skip
        with m.If(advance):
            m.d.sync += [g0.eq(self.i_group.payload), g0b.eq(g0), g1.eq(g0b), g1b.eq(g1),
                         g2.eq(g1b), g3.eq(g2)]  # fmt: skip

        # -- step 1: directory reads ------------------------------------------------------------
        entry_land = [[Signal(name=f"entry_land_l{ln}_c{c}") for c in range(CLASSES)]
                      for ln in range(lanes)]  # fmt: skip
        entry_bank = [[Signal(max(1, lk), name=f"entry_bank_l{ln}_c{c}") for c in range(CLASSES)]
                      for ln in range(lanes)]  # fmt: skip
        entry_slot = [[Signal(max(1, lepw), name=f"entry_slot_l{ln}_c{c}")
                       for c in range(CLASSES)] for ln in range(lanes)]  # fmt: skip
        entry = [[Signal(p.entry_width, name=f"entry_l{ln}_c{c}") for c in range(CLASSES)]
                 for ln in range(lanes)]  # fmt: skip
        entry_next = [[Signal(p.entry_width, name=f"entry_next_l{ln}_c{c}")
                       for c in range(CLASSES)] for ln in range(lanes)]  # fmt: skip
        served_dir = [[Signal(name=f"served_dir_l{ln}_c{c}") for c in range(CLASSES)]
                      for ln in range(lanes)]  # fmt: skip
        left_dir = []
        for c in range(CLASSES):
            wants = []
            for ln in range(lanes):
                q = g0.quads[ln]
                want = Signal(name=f"want_dir_l{ln}_c{c}")
                word = Signal(dir_w, name=f"dir_word_l{ln}_c{c}")
                m.d.comb += [
                    want.eq(
                        v0
                        & q.valid
                        & ~per_table([s[c] for s in strided], q.table)
                        & ~served_dir[ln][c]
                    ),
                    word.eq(per_table([d[c] for d in dir_base], q.table) + (q.rows[c] >> lepw)),
                ]
                wants.append([(want, word)])
            takes, reading, words = _arbiter(m, f"dir_c{c}", wants, kpc)
            for b in range(kpc):
                m.d.comb += [dread[c][b].addr.eq(words[b] >> lk), dread[c][b].en.eq(reading[b])]
            for ln in range(lanes):
                ((want, word),) = wants[ln]
                take = takes[ln][0]
                m.d.sync += [
                    served_dir[ln][c].eq(Mux(advance, 0, served_dir[ln][c] | take)),
                    entry_land[ln][c].eq(take),
                    entry_bank[ln][c].eq(word[:lk] if lk else 0),
                    entry_slot[ln][c].eq(g0.quads[ln].rows[c][:lepw] if lepw else 0),
                ]
                left_dir.append(want & ~take)
                landed = Signal(p.bank_width, name=f"entry_word_l{ln}_c{c}")
                m.d.comb += [
                    landed.eq(Array(r.data for r in dread[c])[entry_bank[ln][c]]),
                    entry_next[ln][c].eq(Mux(
                        entry_land[ln][c], landed.word_select(entry_slot[ln][c], p.entry_width),
                        entry[ln][c])),
                ]  # fmt: skip
                m.d.sync += entry[ln][c].eq(entry_next[ln][c])
        m.d.comb += done_dir.eq(~Cat(*left_dir).any())

        # -- step 2: entries to payload words -----------------------------------------------------
        row_layout = data.StructLayout(
            {
                "fmt": FORMAT_WIDTH,
                "nnz": _width(g + 1),
                "first": pay_w,
                "start": max(1, lper),
                "span": _width(span + 1),
            }
        )
        rows1 = Signal(data.ArrayLayout(data.ArrayLayout(row_layout, CLASSES), lanes))
        for ln in range(lanes):
            q = g0b.quads[ln]
            app = q.table >= 3
            for c in range(CLASSES):
                held = Signal(p.entry_width, name=f"entry_held_l{ln}_c{c}")
                with m.If(first):
                    m.d.sync += held.eq(entry_next[ln][c])
                e = Mux(first, entry_next[ln][c], held)
                cw = {k: p.coord_bits(t) for k, t in (("d", 0), ("a", 3))}
                f = FORMAT_WIDTH  # then nnz (coordinate bits + 1), then the offset
                nnz = Mux(app, e[f : f + 1 + cw["a"]], e[f : f + 1 + cw["d"]])
                offset = Mux(app, e[f + 1 + cw["a"] :], e[f + 1 + cw["d"] :])
                is_strided = per_table([s[c] for s in strided], q.table)
                base = per_table([o[c] for o in origin], q.table)
                fmt = Signal(FORMAT_WIDTH, name=f"fmt_l{ln}_c{c}")
                count = Signal(_width(g + 1), name=f"nnz_l{ln}_c{c}")
                flat = Signal(signed(flat_w + 1), name=f"flat_l{ln}_c{c}")
                words = Signal(_width(max(p.row_words(0), p.row_words(3)) + 1),
                               name=f"words_l{ln}_c{c}")  # fmt: skip
                row_words = Mux(app, p.row_words(3), p.row_words(0))
                cols = Mux(app, p.app_columns, p.density_columns)
                m.d.comb += [
                    fmt.eq(Mux(is_strided, Format.DENSE, e[:FORMAT_WIDTH])),
                    count.eq(Mux(is_strided, cols, nnz)),
                    flat.eq(base + Mux(is_strided, q.rows[c] * row_words, offset)),
                ]
                bitmap_bits = cols + count * bv
                coo_bits = count * Mux(app, cw["a"] + bv, cw["d"] + bv)
                with m.Switch(fmt):
                    with m.Case(Format.DENSE):
                        m.d.comb += words.eq(row_words)
                    with m.Case(Format.BITMAP):
                        m.d.comb += words.eq((bitmap_bits + ww - 1) >> _log2(ww))
                    with m.Case(Format.COO):
                        m.d.comb += words.eq((coo_bits + ww - 1) >> _log2(ww))
                    with m.Default():
                        m.d.comb += words.eq(0)
                start = flat[:lper] if lper else C(0, 1)
                dst = rows1[ln][c]
                with m.If(advance):
                    m.d.sync += [
                        dst.fmt.eq(fmt),
                        dst.nnz.eq(count),
                        dst.first.eq(flat >> lper),
                        dst.start.eq(start),
                        dst.span.eq(Mux(q.valid & (words != 0),
                                        (start + words + per - 1) >> lper, 0)),
                    ]  # fmt: skip

        # -- step 3: payload reads ------------------------------------------------------------
        land = [[[Signal(name=f"land_l{ln}_c{c}_s{k}") for k in range(span)]
                 for c in range(CLASSES)] for ln in range(lanes)]  # fmt: skip
        land_bank = [[[Signal(max(1, lk), name=f"land_bank_l{ln}_c{c}_s{k}") for k in range(span)]
                      for c in range(CLASSES)] for ln in range(lanes)]  # fmt: skip
        words_r = [[[Signal(p.bank_width, name=f"row_l{ln}_c{c}_s{k}") for k in range(span)]
                    for c in range(CLASSES)] for ln in range(lanes)]  # fmt: skip
        words_next = [[[Signal(p.bank_width, name=f"row_next_l{ln}_c{c}_s{k}")
                        for k in range(span)] for c in range(CLASSES)]
                      for ln in range(lanes)]  # fmt: skip
        served = [[Signal(span, name=f"served_pay_l{ln}_c{c}") for c in range(CLASSES)]
                  for ln in range(lanes)]  # fmt: skip
        left_pay = []
        for c in range(CLASSES):
            wants = []
            for ln in range(lanes):
                r = rows1[ln][c]
                slots = []
                for k in range(span):
                    pend = Signal(name=f"want_pay_l{ln}_c{c}_s{k}")
                    word = Signal(pay_w, name=f"pay_word_l{ln}_c{c}_s{k}")
                    m.d.comb += [pend.eq(v1 & (k < r.span) & ~served[ln][c][k]),
                                 word.eq(r.first + k)]  # fmt: skip
                    slots.append((pend, word))
                wants.append(slots)
            takes, reading, words = _arbiter(m, f"pay_c{c}", wants, kpc)
            for b in range(kpc):
                m.d.comb += [pread[c][b].addr.eq(words[b] >> lk), pread[c][b].en.eq(reading[b])]
            for ln in range(lanes):
                take = Cat(*takes[ln])
                m.d.sync += served[ln][c].eq(Mux(advance, 0, served[ln][c] | take))
                for k, (pend, word) in enumerate(wants[ln]):
                    left_pay.append(pend & ~takes[ln][k])
                    m.d.sync += [land[ln][c][k].eq(takes[ln][k]),
                                 land_bank[ln][c][k].eq(word[:lk] if lk else 0)]  # fmt: skip
                    landed = Array(r.data for r in pread[c])[land_bank[ln][c][k]]
                    m.d.comb += words_next[ln][c][k].eq(
                        Mux(land[ln][c][k], landed, words_r[ln][c][k])
                    )
                    m.d.sync += words_r[ln][c][k].eq(words_next[ln][c][k])
        m.d.comb += done_pay.eq(~Cat(*left_pay).any())

        # -- step 4: capture and align the rows ------------------------------------------------
        rows1b = Signal.like(rows1, name="rows_capture")
        with m.If(advance):
            m.d.sync += rows1b.eq(rows1)
        row_bits = max(p.row_words(0), p.row_words(3)) * ww
        aligned2 = Signal(data.ArrayLayout(data.ArrayLayout(row_bits, CLASSES), lanes))
        rows2 = Signal.like(rows1, name="rows_expand")
        with m.If(advance):
            m.d.sync += rows2.eq(rows1b)
        for ln in range(lanes):
            for c in range(CLASSES):
                held = Signal(row_bits, name=f"row_held_l{ln}_c{c}")
                now = Signal(row_bits, name=f"row_now_l{ln}_c{c}")
                shift = rows1b[ln][c].start * ww if lper else 0
                m.d.comb += now.eq(Cat(*words_next[ln][c]) >> shift)
                with m.If(first):
                    m.d.sync += held.eq(now)
                with m.If(advance):
                    m.d.sync += aligned2[ln][c].eq(Mux(first, now, held))

        # -- step 5: expand -----------------------------------------------------------------
        cap = max(p.coo_capacity(0), p.coo_capacity(3))
        index_w = _width(g)
        expand = data.StructLayout(
            {"hit": g, "index": data.ArrayLayout(index_w, g), "values": g * bv}
        )
        exp3 = Signal(data.ArrayLayout(data.ArrayLayout(expand, CLASSES), lanes))
        for ln in range(lanes):
            q = g2.quads[ln]
            app = q.table >= 3
            cols = Mux(app, p.app_columns, p.density_columns)
            cw = {k: p.coord_bits(t) for k, t in (("d", 0), ("a", 3))}
            for c in range(CLASSES):
                row, r = aligned2[ln][c], rows2[ln][c]
                name = f"l{ln}_c{c}"
                ranks = _prefix_counts(m, f"rank_{name}",
                                       [row[j] & (j < cols) for j in range(g)])  # fmt: skip
                coords = [
                    Mux(app, row[i * cw["a"] : (i + 1) * cw["a"]],
                        row[i * cw["d"] : (i + 1) * cw["d"]])
                    for i in range(cap)
                ]  # fmt: skip
                live = [i < r.nnz for i in range(cap)]
                vstart = Signal(_width(row_bits), name=f"vstart_{name}")
                with m.Switch(r.fmt):
                    with m.Case(Format.BITMAP):
                        m.d.comb += vstart.eq(cols)
                    with m.Case(Format.COO):
                        m.d.comb += vstart.eq(r.nnz * Mux(app, cw["a"], cw["d"]))
                    with m.Default():
                        m.d.comb += vstart.eq(0)
                dst = exp3[ln][c]
                hits, indices = [], []
                for j in range(g):
                    hit = Signal(name=f"hit_{name}_j{j}")
                    index = Signal(index_w, name=f"index_{name}_j{j}")
                    found = [live[i] & (coords[i] == j) for i in range(cap)]
                    below = [live[i] & (coords[i] < j) for i in range(cap)]
                    with m.Switch(r.fmt):
                        with m.Case(Format.DENSE):
                            m.d.comb += [hit.eq(j < cols), index.eq(j)]
                        with m.Case(Format.BITMAP):
                            m.d.comb += [hit.eq(row[j] & (j < cols)), index.eq(ranks[j])]
                        with m.Case(Format.COO):
                            m.d.comb += [hit.eq(Cat(*found).any()),
                                         index.eq(sum(below[1:], below[0]))]  # fmt: skip
                        with m.Default():
                            m.d.comb += [hit.eq(0), index.eq(0)]
                    hits.append(hit)
                    indices.append(index)
                with m.If(advance):
                    m.d.sync += [
                        dst.hit.eq(Cat(*hits)),
                        *(dst.index[j].eq(indices[j]) for j in range(g)),
                        dst.values.eq(row >> vstart),
                    ]

        # -- step 6: select the values; the texels by corner go to the interpolator --------------
        m.submodules.bilinear = bilinear = Bilinear(p)
        core = bilinear.i.payload
        m.d.comb += [bilinear.i.valid.eq(v3 & ~sent), core_ready.eq(bilinear.i.ready)]
        wiring.connect(m, bilinear.o, wiring.flipped(self.o_group))
        for ln in range(lanes):
            q, dst = g3.quads[ln], core.lanes[ln]
            m.d.comb += [dst.valid.eq(q.valid), dst.table.eq(q.table), dst.tag.eq(q.tag),
                         dst.fx.eq(q.fx), dst.fy.eq(q.fy)]  # fmt: skip
            by_class = []
            for c in range(CLASSES):
                e = exp3[ln][c]
                vals = Signal(data.ArrayLayout(signed(bv), g), name=f"texel_l{ln}_c{c}")
                for j in range(g):
                    top = max(j, cap - 1) + 1  # index j of DENSE/BITMAP rows, < cap of COO rows
                    choices = Array(e.values[i * bv : (i + 1) * bv] for i in range(min(top, g)))
                    m.d.comb += vals[j].eq(Mux(e.hit[j], choices[e.index[j]], 0))
                by_class.append(vals)
            for k in range(CLASSES):
                m.d.comb += dst.texels[k].eq(Array(v.as_value() for v in by_class)[q.parity ^ k])
        return m
