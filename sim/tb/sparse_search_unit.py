"""cocotb testbench of the sparse search unit.

Two sources (windows, query groups) with independent idle insertion, a sink with backpressure,
the golden model and an in-order scoreboard of whole result beats, all built from the params
the runner passes. Payload offsets come from :func:`rtnerf.rtl.sparse_search_unit.layouts`.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock

from ...models.cases.sparse_search_unit import directed_cases, random_jobs
from ...models.golden.sparse_search_unit import RowJob, evaluate, split_rows
from ...params.sparse_search_unit import SparseSearchUnitParams
from ...rtl.sparse_search_unit import layouts
from ..layout import pack, unpack
from ..stream import (
    COMBOS,
    Scoreboard,
    StreamSink,
    StreamSource,
    reset,
    run_cycles,
    tb_context,
    write_record,
)


def stimulus(params: SparseSearchUnitParams, jobs: list[RowJob], rng):
    """Window payloads, group payloads, expected result beats and the stated cycle count."""
    window_layout, group_layout, result_layout = layouts(params)
    hit, index = evaluate(params, jobs)
    windows, groups = split_rows(params, jobs)
    win_payloads, group_payloads, expected = [], [], []
    n = 0
    for row_windows, row_groups in zip(windows, groups, strict=True):
        for w in row_windows:
            win_payloads.append(
                pack(
                    window_layout,
                    {
                        "coords": w.coords,
                        "count": len(w.coords),
                        "base": w.base,
                        "last": int(w.last),
                    },
                )
            )
        for g in row_groups:
            tag = int(rng.integers(0, 1 << params.tag_width))
            group_payloads.append(
                pack(
                    group_layout,
                    {
                        "queries": g.queries,
                        "count": len(g.queries),
                        "tag": tag,
                        "last": int(g.last),
                    },
                )
            )
            lanes = range(len(g.queries))
            beat = {
                "hit": sum(int(hit[n + i]) << i for i in lanes),
                "index": [int(index[n + i]) for i in lanes] + [0] * (params.lanes - len(g.queries)),
                "count": len(g.queries),
                "tag": tag,
                "last": int(g.last),
            }
            expected.append(pack(result_layout, beat))
            n += len(g.queries)
    stated = sum(params.row_cycles(len(w), len(g)) for w, g in zip(windows, groups, strict=True))
    return win_payloads, group_payloads, expected, stated, n


async def _run(dut, params, jobs, rng, idle, backpressure):
    _, _, result_layout = layouts(params)
    windows, groups, expected, stated, queries = stimulus(params, jobs, rng)
    board = Scoreboard(expected, describe=lambda k: str(unpack(result_layout, expected[k])))
    sources = [
        StreamSource(dut, "i_window", rng, idle=idle),
        StreamSource(dut, "i_group", rng, idle=idle),
    ]
    sources[0].extend(windows)
    sources[1].extend(groups)
    sink = StreamSink(dut, "o_result", rng, board, backpressure=backpressure)
    cycles = await run_cycles(
        dut.clk, [*sources, sink], lambda: board.done, max_cycles=20 * (stated + 10)
    )
    sink.backpressure = 0.0
    await run_cycles(dut.clk, [sink], None, max_cycles=4)
    # Cycles from the first input consumed to the last one (a row's trailing windows may be
    # dropped after its last result) or to the last result, whichever is later, less the
    # result register's one cycle.
    first = min(s.accept_cycles[0] for s in sources)
    last = max(max(s.accept_cycles[-1] for s in sources) + 1, sink.receive_cycles[-1])
    measured = last - first
    return board, cycles, stated, measured, queries


async def _start(dut):
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
async def test_throughput(dut):
    """At full rate every row takes exactly ``row_cycles`` cycles (stated throughput)."""
    params, args = tb_context(SparseSearchUnitParams)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 99])
    jobs = random_jobs(params, rng, max(1, min(args["count"], 2000)))
    board, cycles, stated, measured, queries = await _run(dut, params, jobs, rng, 0.0, 0.0)
    write_record(
        args,
        {
            "test": "throughput",
            "transactions": queries,
            "mismatches": board.mismatches,
            "cycles": cycles,
            "rows": len(jobs),
            "stated_cycles": stated,
            "measured_cycles": measured,
            "queries_per_cycle": queries / measured,
            "rows_per_cycle": len(jobs) / measured,
        },
    )
    assert board.mismatches == 0 and board.unexpected == 0
    assert measured == stated, f"took {measured} cycles, stated {stated}"


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Directed rows plus random rows, every result beat against the golden model.

    ``count`` random queries are split over the four idle x backpressure combinations.
    """
    params, args = tb_context(SparseSearchUnitParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    directed = [case.job for case in directed_cases(params)]
    randoms = random_jobs(params, rng, max(1, -(-args["count"] // len(COMBOS))))
    board, cycles, _, _, queries = await _run(
        dut, params, directed + randoms, rng, idle, backpressure
    )
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": queries,
            "mismatches": board.mismatches,
            "cycles": cycles,
            "rows": len(directed) + len(randoms),
            "random_per_op": sum(len(j.queries) for j in randoms),
        },
    )
    assert board.mismatches == 0, f"{board.mismatches} mismatches"
    assert board.unexpected == 0, f"{board.unexpected} results with nothing sent"
