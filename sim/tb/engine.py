"""cocotb testbench of the engine: lookup units, arbiter and memory port against an AXI DRAM.

The tables sit in an :class:`~rtnerf.sim.dram.AxiDram` (latency, bandwidth and burst counting),
bag requests come from a trace, and every pooled beat is checked in order against the golden
model (:func:`rtnerf.models.golden.embedding_lookup_unit.evaluate`: the engine's bags are the
unit's, only spread over several units). The records carry the DRAM traffic the model counted.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ...models.cases.embedding_lookup_unit import Run, directed_run, random_run
from ...params.engine import EngineParams
from ..dram import AxiDram, AxiResponder
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
from .embedding_lookup_unit import stimulus

#: The cocotb tests of this module; the stream tests share ``count`` between them.
TESTS = [f"test_stream/combo={i}" for i in range(len(COMBOS))]


async def _run(dut, params: EngineParams, run: Run, rng, *, latency, idle, backpressure):
    words, base_writes, requests, expected = stimulus(params.unit, run)
    await FallingEdge(dut.clk)
    base_source = StreamSource(dut, "i_base", rng)
    base_source.extend(base_writes)
    await run_cycles(dut.clk, [base_source], lambda: not base_source.queue, len(base_writes) + 2)
    await FallingEdge(dut.clk)
    base_source.valid.value = 0
    board = Scoreboard(expected)
    dram = AxiDram(
        words,
        params.port.word_bytes,
        rng,
        latency=latency,
        burst_bytes=max(64, params.port.word_bytes),
        idle=idle,
        backpressure=backpressure,
    )
    source = StreamSource(dut, "i_req", rng, idle=idle)
    source.extend(requests)
    sink = StreamSink(dut, "o_pooled", rng, board, backpressure=backpressure)
    slave = AxiResponder(dut, dram, params.port.byte_address_width, params.port.word_width)
    cycles = await run_cycles(
        dut.clk, [source, sink, slave], lambda: board.done, max_cycles=400 * len(requests) + 1000
    )
    return board, cycles, dram


async def _start(dut):
    # Inputs idle from time 0 (an undriven valid is X on Icarus).
    for port in ("i_req__valid", "i_base__valid", "i_r__valid", "o_ar__ready", "o_pooled__ready"):
        getattr(dut, port).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Directed corner bags plus random bags through every unit, against the golden model.

    ``count`` random requests are split over the four idle x backpressure combinations; idle
    applies to the requests and the DRAM's data beats, backpressure to the pooled output and
    the DRAM's address channel; the DRAM latency is drawn from 1 to 32.
    """
    params, args = tb_context(EngineParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    runs = [
        directed_run(params.unit),
        random_run(params.unit, rng, max(1, -(-args["count"] // len(COMBOS)))),
    ]
    mismatches = unexpected = cycles = requests = dram_bytes = bursts = 0
    for run in runs:
        board, n, dram = await _run(
            dut,
            params,
            run,
            rng,
            latency=int(rng.integers(1, 33)),
            idle=idle,
            backpressure=backpressure,
        )
        mismatches += board.mismatches
        unexpected += board.unexpected
        cycles += n
        requests += len(run.trace)
        dram_bytes += dram.dram_bytes
        bursts += len(dram.bursts)
        assert not dram.protocol_errors, dram.protocol_errors[:3]
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": requests,
            "mismatches": mismatches,
            "cycles": cycles,
            "random_per_op": len(runs[1].trace),
            "bags": sum(r.trace.bags for r in runs),
            "dram_bytes": dram_bytes,
            "axi_bursts": bursts,
        },
    )
    assert mismatches == 0, f"{mismatches} mismatches"
    assert unexpected == 0
