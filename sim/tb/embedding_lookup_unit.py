"""cocotb testbench of the embedding lookup unit.

Tables are laid out in one :class:`~rtnerf.sim.memory.WordMemory`
(:func:`~rtnerf.sim.memory.place`), their base addresses written on ``i_base``; a bag-request
source, a pooled-output sink and an in-order scoreboard against the golden model
(:func:`rtnerf.models.golden.embedding_lookup_unit.evaluate`).
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ...models.cases.embedding_lookup_unit import Run, directed_run, random_run, slots_run
from ...models.golden.embedding_lookup_unit import evaluate, scores
from ...models.golden.engine import table_descriptor
from ...params.embedding_lookup_unit import EmbeddingLookupUnitParams
from ...rtl.embedding_lookup_unit import layouts
from ...rtl.request_slots import layouts as slot_layouts
from ..layout import pack
from ..memory import MemoryResponder, WordMemory, place
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


def directory_writes(params: EmbeddingLookupUnitParams, images) -> list[int]:
    """``i_dir`` payloads that fill the directory SRAM with the directory tables' entries."""
    if params.directory != "sram":
        return []
    layout = slot_layouts(params)["directory"]
    out = []
    for t, image in enumerate(images):
        if not image.row_stride:
            for k in range(image.layout.directory_words):
                out.append(pack(layout, {"table": t, "index": k, "word": image.word(k)}))
    return out


def stimulus(params: EmbeddingLookupUnitParams, run: Run):
    """Memory words, table descriptor writes, request payloads and expected pooled beats."""
    request_layout, base_layout, pooled_layout = layouts(params)
    words, bases = place(run.images)
    base_writes = [
        pack(base_layout, {"table": t, "addr": a, **table_descriptor(run.images[t])})
        for t, a in enumerate(bases)
    ]
    mask = (1 << params.weight_width) - 1
    t = run.trace
    requests = [
        pack(
            request_layout,
            {
                "table": int(t.table[q]),
                "row": int(t.row[q]),
                "col": max(0, int(t.col[q])),
                "element": int(t.op[q]),
                "weight": int(t.weight[q]) & mask,
                "last": int(t.last[q]),
            },
        )
        for q in range(len(t))
    ]
    pooled = evaluate(params, run.images, t)
    if params.pairwise != "none":
        score_mask = (1 << params.score_width) - 1
        expected = [
            pack(pooled_layout, {"scores": [int(v) & score_mask for v in row], "last": 1})
            for row in scores(params, pooled)
        ]
        return words, base_writes, requests, expected
    out_mask = (1 << params.out_width) - 1
    expected = []
    element = t.op[t.bag_starts[:-1]] == 1
    for b, vec in enumerate(pooled):
        groups = vec.reshape(-1, params.lanes)[: 1 if element[b] else None]
        for g, vals in enumerate(groups):
            expected.append(
                pack(
                    pooled_layout,
                    {
                        "values": [int(v) & out_mask for v in vals],
                        "last": int(g == len(groups) - 1),
                    },
                )
            )
    return words, base_writes, requests, expected


async def run_bags(dut, params, run: Run, rng, memory, *, idle, backpressure, engine=False):
    """Write the table descriptors (and the unit's directory SRAM), then run ``run``'s bags.

    ``memory(words)`` returns the component that serves the toplevel's memory ports from the
    laid-out tables (the ``engine``'s also serves its directory loads while the descriptors are
    written; the unit's directory SRAM is written on ``i_dir``). Returns the scoreboard and the
    cycles from the first descriptor write to the last pooled beat.
    """
    words, base_writes, requests, expected = stimulus(params, run)
    await FallingEdge(dut.clk)
    writes = [StreamSource(dut, "i_base", rng)]
    writes[0].extend(base_writes)
    if not engine:  # the unit alone: its directory SRAM written directly
        writes.append(StreamSource(dut, "i_dir", rng))
        writes[1].extend(directory_writes(params, run.images))
    # The engine loads directories from its memory while it takes the descriptors.
    loader = [memory(words)] if engine else []
    setup = await run_cycles(
        dut.clk,
        writes + loader,
        lambda: not any(w.queue for w in writes),
        sum(len(w.queue) for w in writes) * 64 + 10_000,
    )
    await FallingEdge(dut.clk)
    for w in writes:
        w.valid.value = 0
    board = Scoreboard(expected)
    source = StreamSource(dut, "i_req", rng, idle=idle)
    source.extend(requests)
    sink = StreamSink(dut, "o_pooled", rng, board, backpressure=backpressure)
    cycles = await run_cycles(
        dut.clk,
        [source, sink, *(loader or [memory(words)])],
        lambda: board.done,
        max_cycles=400 * len(requests) + 1000,
    )
    return board, setup + cycles


async def stream_test(dut, combo: int, params, unit, memory, start_ports) -> None:
    """Directed corner bags plus random bags, every pooled beat against the golden model.

    The body of the stream tests of this testbench and the engine's. ``unit`` is the lookup
    unit's params (``params`` itself, or the engine's ``unit``); ``memory(rng, latency, idle,
    backpressure)`` returns a factory of the component serving the memory ports (given the
    memory's words) and a function of the run giving the counters to add to the record (keys
    ending in ``_mismatches`` must be 0); ``start_ports`` are the inputs driven low from time
    0 (an undriven valid is X on Icarus and would poison the FSMs). ``count`` random requests
    are split over the four idle x backpressure combinations; idle applies to the requests and
    the memory's data, backpressure to the pooled output and the memory's request side; the
    memory latency is drawn from 1 to 32.
    """
    args = tb_context(type(params))[1]
    idle, backpressure = COMBOS[combo]
    for port in start_ports:
        getattr(dut, port).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)
    rng = np.random.default_rng([args["seed"], combo])
    runs = [
        directed_run(unit),
        random_run(unit, rng, max(1, -(-args["count"] // len(COMBOS)))),
        slots_run(unit, rng),
    ]
    totals = {"mismatches": 0, "unexpected": 0, "cycles": 0}
    for run in runs:
        component, counters = memory(
            rng, int(rng.integers(1, 33)), idle=idle, backpressure=backpressure
        )
        board, cycles = await run_bags(
            dut,
            unit,
            run,
            rng,
            component,
            idle=idle,
            backpressure=backpressure,
            engine=params is not unit,
        )
        totals["mismatches"] += board.mismatches
        totals["unexpected"] += board.unexpected
        totals["cycles"] += cycles
        for key, value in counters(run).items():
            if isinstance(value, dict):
                totals[key] = {k: totals.get(key, {}).get(k, 0) + v for k, v in value.items()}
            else:
                totals[key] = totals.get(key, 0) + value
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": sum(len(r.trace) for r in runs),
            "random_per_op": len(runs[1].trace),
            "bags": sum(r.trace.bags for r in runs),
            **totals,
        },
    )
    assert totals["mismatches"] == 0, f"{totals['mismatches']} mismatches"
    assert totals["unexpected"] == 0
    for key, value in totals.items():  # the memory's own checks, e.g. DRAM bursts
        assert not (key.endswith("_mismatches") and value), f"{key}: {value}"


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Bags through the unit against a word memory; see :func:`stream_test`."""
    params = tb_context(EmbeddingLookupUnitParams)[0]

    def memory(rng, latency, *, idle, backpressure):
        def component(words):
            mem = WordMemory(words, rng, latency, idle, backpressure)
            return MemoryResponder(dut, mem, params.address_width)

        return component, lambda run: {}

    ports = (
        "i_req__valid",
        "i_base__valid",
        "i_dir__valid",
        "i_data__valid",
        "o_req__ready",
        "o_pooled__ready",
    )
    await stream_test(dut, combo, params, params, memory, ports)
