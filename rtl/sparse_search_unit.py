"""The high-density sparse search unit of RT-NeRF: P queries against K coordinates per cycle."""

from __future__ import annotations

from amaranth import *
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..params.sparse_search_unit import SparseSearchUnitParams

__all__ = ["SparseSearchUnit", "layouts", "signature"]


def layouts(p: SparseSearchUnitParams) -> tuple[data.StructLayout, ...]:
    """The window, query-group and result payload layouts of a design point."""
    coord = unsigned(p.coord_width)
    window = data.StructLayout(
        {
            "coords": data.ArrayLayout(coord, p.window),
            "count": unsigned(p.window_count_width),
            "base": unsigned(p.index_width),
            "last": unsigned(1),
        }
    )
    group = data.StructLayout(
        {
            "queries": data.ArrayLayout(coord, p.lanes),
            "count": unsigned(p.lane_count_width),
            "tag": unsigned(p.tag_width),
            "last": unsigned(1),
        }
    )
    result = data.StructLayout(
        {
            "hit": unsigned(p.lanes),
            "index": data.ArrayLayout(unsigned(p.index_width), p.lanes),
            "count": unsigned(p.lane_count_width),
            "tag": unsigned(p.tag_width),
            "last": unsigned(1),
        }
    )
    return window, group, result


def signature(p: SparseSearchUnitParams) -> wiring.Signature:
    """The ports of :class:`SparseSearchUnit` at ``p``: what the component's ``signature`` is."""
    window, group, result = layouts(p)
    return wiring.Signature(
        {
            "i_window": In(stream.Signature(window)),
            "i_group": In(stream.Signature(group)),
            "o_result": Out(stream.Signature(result)),
        }
    )


class SparseSearchUnit(wiring.Component):
    """Merge-intersection of sorted query columns with a long sorted COO row.

    A row arrives as a stream of *windows* (up to K sorted coordinates, the position ``base`` of
    the first one in the row, ``last`` on the row's final window) and, in parallel, a stream of
    *query groups* (up to P query columns, non-decreasing across the whole row, ``last`` on the
    row's final group). Each cycle the P lanes compare their query with all K coordinates of
    the head window (P x K comparators): a lane is resolved when the window holds a coordinate
    >= its query, or the window is the row's last; its result is ``hit`` (an equal coordinate)
    and ``index`` = ``base`` + coordinates below the query in the window, i.e. the number of
    coordinates in the row below the query (the value's position on a hit, the insertion point
    on a miss). When every lane of the group is resolved the group's results leave on
    ``o_result`` and the group is consumed; otherwise the window is consumed and resolved lanes
    keep their result. After a row's last group, its remaining windows are dropped.

    Parameters
    ----------
    params : SparseSearchUnitParams
        The design point.

    Members
    -------
    i_window : In(stream.Signature(window_layout))
        ``coords`` (K x ``coord_width``, coordinate 0 lowest), ``count``, ``base``, ``last``.
    i_group : In(stream.Signature(group_layout))
        ``queries`` (P x ``coord_width``), ``count``, ``tag``, ``last``.
    o_result : Out(stream.Signature(result_layout))
        ``hit`` (bit i for lane i), ``index`` (P x ``index_width``), and the group's ``count``,
        ``tag`` and ``last``; lanes at or above ``count`` read zero.

    Notes
    -----
    Throughput: every cycle consumes a window or a query group. A row's last group is consumed
    together with the head window, and windows still left are dropped at one per cycle, so a
    row of L coordinates and Q queries takes
    ``max(1, ceil(L/K)) + max(1, ceil(Q/P)) - 1`` cycles at full rate
    (:meth:`~SparseSearchUnitParams.row_cycles`): up to P queries per cycle, and one row per
    cycle for rows of at most K coordinates and P queries. Latency: a group's result is valid
    the cycle after the group is consumed. ``o_result.valid`` is a register; the input readies
    depend combinationally on the input valids and ``o_result.ready``.
    """

    def __init__(self, params: SparseSearchUnitParams):
        if not isinstance(params, SparseSearchUnitParams):
            raise TypeError(f"`params` must be SparseSearchUnitParams, not {params!r}")
        self.params = params
        self.window_layout, self.group_layout, self.result_layout = layouts(params)
        super().__init__(signature(params))

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        p = self.params
        win, grp, out = self.i_window.payload, self.i_group.payload, self.o_result

        # Lane comparisons against the head window. Per-lane signals, not shared vectors, keep
        # event-driven simulators linear in P*K.
        lane_hit, lane_index, lane_resolved, active = [], [], [], []
        for i in range(p.lanes):
            q = grp.queries[i]
            valid = [j < win.count for j in range(p.window)]
            lt = [valid[j] & (win.coords[j] < q) for j in range(p.window)]
            eq = [valid[j] & (win.coords[j] == q) for j in range(p.window)]
            ge = [valid[j] & ~(win.coords[j] < q) for j in range(p.window)]
            hit = Signal(name=f"lane_hit_{i}")
            index = Signal(p.index_width, name=f"lane_index_{i}")
            resolved = Signal(name=f"lane_resolved_{i}")
            act = Signal(name=f"active_{i}")
            m.d.comb += [
                hit.eq(Cat(*eq).any()),
                index.eq(win.base + sum(lt)),
                resolved.eq(win.last | Cat(*ge).any()),
                act.eq(i < grp.count),
            ]
            lane_hit.append(hit)
            lane_index.append(index)
            lane_resolved.append(resolved)
            active.append(act)

        # Results of lanes resolved in earlier windows of the current group.
        done = [Signal(name=f"done_{i}") for i in range(p.lanes)]
        held_hit = [Signal(name=f"held_hit_{i}") for i in range(p.lanes)]
        held_index = [Signal(p.index_width, name=f"held_index_{i}") for i in range(p.lanes)]
        all_resolved = Signal()
        m.d.comb += all_resolved.eq(
            Cat(*(~active[i] | done[i] | lane_resolved[i] for i in range(p.lanes))).all()
        )

        drain = Signal()  # dropping the windows left after a row's last group
        out_free = ~out.valid | out.ready
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)

        with m.If(drain):
            m.d.comb += self.i_window.ready.eq(1)
            with m.If(self.i_window.valid & win.last):
                m.d.sync += drain.eq(0)
        with m.Elif(self.i_window.valid & self.i_group.valid):
            with m.If(all_resolved), m.If(out_free):
                m.d.comb += [
                    self.i_group.ready.eq(1),
                    self.i_window.ready.eq(grp.last),  # the row's last group frees its window
                ]
                m.d.sync += [
                    drain.eq(grp.last & ~win.last),
                    out.valid.eq(1),
                    out.payload.count.eq(grp.count),
                    out.payload.tag.eq(grp.tag),
                    out.payload.last.eq(grp.last),
                    out.payload.hit.eq(
                        Cat(
                            *(
                                active[i] & Mux(done[i], held_hit[i], lane_hit[i])
                                for i in range(p.lanes)
                            )
                        )
                    ),
                ]
                for i in range(p.lanes):
                    m.d.sync += [
                        out.payload.index[i].eq(
                            Mux(active[i], Mux(done[i], held_index[i], lane_index[i]), 0)
                        ),
                        done[i].eq(0),
                    ]
            with m.Else():
                m.d.comb += self.i_window.ready.eq(1)
                for i in range(p.lanes):
                    with m.If(active[i] & ~done[i] & lane_resolved[i]):
                        m.d.sync += [
                            done[i].eq(1),
                            held_hit[i].eq(lane_hit[i]),
                            held_index[i].eq(lane_index[i]),
                        ]
        return m
