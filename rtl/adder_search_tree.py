"""The dual-purpose bi-directional adder & search tree of RT-NeRF.

One pipelined binary tree over W leaves serves both sparse formats:

* **Up-sweep (adder tree).** Each leaf ``i`` holds a *valid* bit ``v_i`` and a coordinate
  ``c_i``: for RANK/SELECT ``v_i`` is bitmap bit ``i`` and ``c_i = i``; for SEARCH ``v_i`` is
  ``i < count`` and ``c_i`` is the ``i``-th stored coordinate. The leaf compares ``c_i`` with the
  key, and the tree sums ``v_i & (c_i < key)`` (RANK, SEARCH) or ``v_i`` (SELECT) while OR-ing
  ``v_i & (c_i == key)``. So RANK and SEARCH are the same adder-tree pass over different leaves:
  on a sorted, duplicate-free coordinate list the count of smaller coordinates *is* the index.
* **Down-sweep (search tree).** For SELECT the partial sums of the left children are kept, and the
  query walks from the root to the leaf holding the ``k``-th set bit, one level per stage.
"""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..params.adder_search_tree import AdderSearchTreeParams, Op

__all__ = ["AdderSearchTree", "layouts", "signature"]


def layouts(p: AdderSearchTreeParams) -> tuple[data.StructLayout, data.StructLayout]:
    """The query and result payload layouts of a design point."""
    op_shape = Shape.cast(Op)
    query = data.StructLayout(
        {
            "op": op_shape,
            "word": data.UnionLayout(
                {
                    "bitmap": unsigned(p.leaves),
                    "coords": data.ArrayLayout(unsigned(p.coord_width), p.leaves),
                }
            ),
            "key": unsigned(p.key_width),
            "count": unsigned(p.index_width),
            "tag": unsigned(p.tag_width),
        }
    )
    result = data.StructLayout(
        {
            "op": op_shape,
            "hit": unsigned(1),
            "index": unsigned(p.index_width),
            "tag": unsigned(p.tag_width),
        }
    )
    return query, result


def signature(p: AdderSearchTreeParams) -> wiring.Signature:
    """The ports of :class:`AdderSearchTree` at ``p``: what the component's ``signature`` is."""
    query, result = layouts(p)
    return wiring.Signature(
        {"i_query": In(stream.Signature(query)), "o_result": Out(stream.Signature(result))}
    )


class AdderSearchTree(wiring.Component):
    """Pipelined RANK / SELECT / SEARCH over a W-bit bitmap word or W sorted coordinates.

    Parameters
    ----------
    params : AdderSearchTreeParams
        The design point. Its :attr:`~AdderSearchTreeParams.latency` is this block's latency.

    Members
    -------
    i_query : In(stream.Signature(query_layout))
        ``op`` (:class:`Op`), ``word`` (a union of ``bitmap``, W bits, and ``coords``, W
        coordinates of ``coord_width`` bits, coordinate 0 in the low bits), ``key`` (column ``j``
        for RANK/SEARCH, ``k`` for SELECT), ``count`` (valid coordinates, SEARCH only) and ``tag``.
    o_result : Out(stream.Signature(result_layout))
        ``op``, ``hit``, ``index`` and ``tag`` (see :class:`Op` for their meaning per operation).

    Notes
    -----
    Latency: ``2*log2(W) + 1`` cycles (a leaf-compare stage, ``log2(W)`` adder stages and
    ``log2(W)`` search stages); a query presented in cycle ``c`` and accepted has its result valid
    in cycle ``c + latency``. Throughput: one query per cycle, results in order. Under output
    backpressure each stage holds its item and upstream bubbles are squeezed out
    (``ready[s] = ~valid[s] | ready[s+1]``); ``o_result.valid`` never depends on
    ``o_result.ready``.
    """

    def __init__(self, params: AdderSearchTreeParams):
        if not isinstance(params, AdderSearchTreeParams):
            raise TypeError(f"`params` must be AdderSearchTreeParams, not {params!r}")
        self.params = params
        self.query_layout, self.result_layout = layouts(params)
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        depth, w = p.depth, p.leaves
        n_stages = p.latency
        op_shape = Shape.cast(Op)

        valid = [Signal(name=f"valid_{s}") for s in range(n_stages)]
        ready = [Signal(name=f"ready_{s}") for s in range(n_stages)] + [self.o_result.ready]
        for s in range(n_stages):
            m.d.comb += ready[s].eq(~valid[s] | ready[s + 1])
        m.d.comb += self.i_query.ready.eq(ready[0])

        def stage_regs(s, level_shapes):
            """Registers of stage ``s``: control fields plus kept left-child sums per level."""
            return {
                "op": Signal(op_shape, name=f"op_{s}"),
                "key": Signal(p.key_width, name=f"key_{s}"),
                "tag": Signal(p.tag_width, name=f"tag_{s}"),
                "left": {
                    lvl: [Signal(width, name=f"left_{s}_l{lvl}_{j}") for j in range(n)]
                    for lvl, (width, n) in level_shapes.items()
                },
            }

        def advance(s, prev, cur):
            """Stage ``s`` loads when it is ready; it copies control and the kept sums."""
            m.d.sync += [
                cur["op"].eq(prev["op"]),
                cur["key"].eq(prev["key"]),
                cur["tag"].eq(prev["tag"]),
            ]
            for lvl, sigs in cur["left"].items():
                m.d.sync += [a.eq(b) for a, b in zip(sigs, prev["left"][lvl], strict=True)]

        # Left-child sums of level ``lvl`` (leaves are level 0) are needed by the down-sweep;
        # only left children are kept, indexed by their parent: ``left[lvl][j] = sum[lvl][2j]``.
        def kept_levels(levels):
            return {lvl: (lvl + 1, w >> (lvl + 1)) for lvl in levels}

        # Stage 0: leaf compare.
        q = self.i_query.payload
        is_search = q.op == Op.SEARCH
        is_select = q.op == Op.SELECT
        # One signal per leaf, not one W-bit vector: in event-driven simulators (Icarus) a
        # per-bit write to a shared vector wakes every reader of that vector, O(W^2) per cycle.
        add_leaf = [Signal(name=f"add_leaf_{i}") for i in range(w)]  # adder tree inputs
        eq_leaf = [Signal(name=f"eq_leaf_{i}") for i in range(w)]  # OR tree inputs
        for i in range(w):
            coord = Mux(is_search, q.word.coords[i], i)
            v = Mux(is_search, i < q.count, q.word.bitmap[i])
            m.d.comb += [
                add_leaf[i].eq(v & (is_select | (coord < q.key))),
                eq_leaf[i].eq(v & (coord == q.key)),
            ]
        sums = [Signal(1, name=f"sum_l0_{i}") for i in range(w)]
        ors = [Signal(1, name=f"or_l0_{i}") for i in range(w)]
        regs = stage_regs(0, kept_levels([]))
        with m.If(ready[0]):
            m.d.sync += valid[0].eq(self.i_query.valid)
            m.d.sync += [regs["op"].eq(q.op), regs["key"].eq(q.key), regs["tag"].eq(q.tag)]
            m.d.sync += [sums[i].eq(add_leaf[i]) for i in range(w)]
            m.d.sync += [ors[i].eq(eq_leaf[i]) for i in range(w)]

        # Stages 1..depth: up-sweep. Stage u computes level u and starts keeping level u-1.
        for u in range(1, depth + 1):
            prev_regs, prev_sums, prev_ors = regs, sums, ors
            regs = stage_regs(u, kept_levels(range(u)))
            n = w >> u
            sums = [Signal(u + 1, name=f"sum_l{u}_{j}") for j in range(n)]
            ors = [Signal(1, name=f"or_l{u}_{j}") for j in range(n)]
            with m.If(ready[u]):
                m.d.sync += valid[u].eq(valid[u - 1])
                advance(
                    u, {**prev_regs, "left": {**prev_regs["left"], u - 1: prev_sums[0::2]}}, regs
                )
                m.d.sync += [sums[j].eq(prev_sums[2 * j] + prev_sums[2 * j + 1]) for j in range(n)]
                m.d.sync += [ors[j].eq(prev_ors[2 * j] | prev_ors[2 * j + 1]) for j in range(n)]
        total, any_eq = sums[0], ors[0]

        # Stages depth+1..2*depth: down-sweep. Stage of step d picks one bit of the position
        # by comparing the residual k with the left child's sum at level depth-d-1.
        path = Signal(0)
        residual = regs["key"]
        found = Signal(name="found_root")
        m.d.comb += found.eq(residual < total)
        for d in range(depth):
            s = depth + 1 + d
            lvl = depth - d - 1
            prev_regs = regs
            regs = stage_regs(s, kept_levels(range(lvl)))
            left_sum = Signal(lvl + 1, name=f"left_sum_{s}")
            m.d.comb += left_sum.eq(Array(prev_regs["left"][lvl])[path])
            go_right = residual >= left_sum
            new_path = Signal(d + 1, name=f"path_{s}")
            new_total = Signal(depth + 1, name=f"total_{s}")
            new_any = Signal(name=f"any_eq_{s}")
            new_found = Signal(name=f"found_{s}")
            with m.If(ready[s]):
                m.d.sync += valid[s].eq(valid[s - 1])
                advance(s, prev_regs, regs)
                m.d.sync += [
                    new_path.eq(Cat(go_right, path)),
                    regs["key"].eq(Mux(go_right, residual - left_sum, residual)),
                    new_total.eq(total),
                    new_any.eq(any_eq),
                    new_found.eq(found),
                ]
            path, residual, total, any_eq, found = (
                new_path,
                regs["key"],
                new_total,
                new_any,
                new_found,
            )

        is_select = regs["op"] == Op.SELECT
        m.d.comb += [
            self.o_result.valid.eq(valid[-1]),
            self.o_result.payload.op.eq(regs["op"]),
            self.o_result.payload.tag.eq(regs["tag"]),
            self.o_result.payload.hit.eq(Mux(is_select, found, any_eq)),
            self.o_result.payload.index.eq(Mux(is_select & found, path, total)),
        ]
        return m
