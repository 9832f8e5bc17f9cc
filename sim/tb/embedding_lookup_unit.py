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

from ...models.cases.embedding_lookup_unit import Run, directed_run, random_run
from ...models.golden.embedding_lookup_unit import evaluate
from ...params.embedding_lookup_unit import EmbeddingLookupUnitParams
from ...rtl.embedding_lookup_unit import layouts
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

#: The cocotb tests of this module; the stream tests share ``count`` between them.
TESTS = [f"test_stream/combo={i}" for i in range(len(COMBOS))]


def stimulus(params: EmbeddingLookupUnitParams, run: Run):
    """Memory words, base writes, request payloads and expected pooled beats of a run."""
    request_layout, base_layout, pooled_layout = layouts(params)
    words, bases = place(run.images)
    base_writes = [pack(base_layout, {"table": t, "addr": a}) for t, a in enumerate(bases)]
    mask = (1 << params.weight_width) - 1
    t = run.trace
    requests = [
        pack(
            request_layout,
            {
                "table": int(t.table[q]),
                "row": int(t.row[q]),
                "weight": int(t.weight[q]) & mask,
                "last": int(t.last[q]),
            },
        )
        for q in range(len(t))
    ]
    out_mask = (1 << params.out_width) - 1
    expected = []
    for vec in evaluate(params, run.images, t):
        groups = vec.reshape(-1, params.lanes)
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


async def _run(dut, params, run: Run, rng, *, latency, idle, backpressure):
    words, base_writes, requests, expected = stimulus(params, run)
    await FallingEdge(dut.clk)
    base_source = StreamSource(dut, "i_base", rng)
    base_source.extend(base_writes)
    await run_cycles(dut.clk, [base_source], lambda: not base_source.queue, len(base_writes) + 2)
    await FallingEdge(dut.clk)
    base_source.valid.value = 0
    board = Scoreboard(expected)
    memory = WordMemory(words, rng, latency, idle, backpressure)
    source = StreamSource(dut, "i_req", rng, idle=idle)
    source.extend(requests)
    sink = StreamSink(dut, "o_pooled", rng, board, backpressure=backpressure)
    responder = MemoryResponder(dut, memory, params.address_width)
    cycles = await run_cycles(
        dut.clk,
        [source, sink, responder],
        lambda: board.done,
        max_cycles=400 * len(requests) + 1000,
    )
    return board, cycles


async def _start(dut):
    # Inputs idle from time 0: an undriven valid is X on Icarus and would poison the FSM.
    for port in ("i_req__valid", "i_base__valid", "i_data__valid", "o_req__ready"):
        getattr(dut, port).value = 0
    dut.o_pooled__ready.value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Directed corner bags plus random bags, every pooled beat against the golden model.

    ``count`` random requests are split over the four idle x backpressure combinations; idle
    applies to the requests and the memory's words, backpressure to the pooled output and the
    memory's request port; the memory latency is drawn from 1 to 12.
    """
    params, args = tb_context(EmbeddingLookupUnitParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    runs = [
        directed_run(params),
        random_run(params, rng, max(1, -(-args["count"] // len(COMBOS)))),
    ]
    mismatches = unexpected = cycles = requests = 0
    for run in runs:
        board, n = await _run(
            dut,
            params,
            run,
            rng,
            latency=int(rng.integers(1, 13)),
            idle=idle,
            backpressure=backpressure,
        )
        mismatches += board.mismatches
        unexpected += board.unexpected
        cycles += n
        requests += len(run.trace)
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": requests,
            "mismatches": mismatches,
            "cycles": cycles,
            "random_per_op": len(runs[1].trace),
            "bags": sum(r.trace.bags for r in runs),
        },
    )
    assert mismatches == 0, f"{mismatches} mismatches"
    assert unexpected == 0
