"""cocotb testbench of the memory port against the AXI DRAM model.

A request source, an :class:`~rtnerf.sim.dram.AxiDram` behind
:class:`~rtnerf.sim.dram.AxiResponder`, and a word sink with an in-order scoreboard. Besides
the words (and ``last``), every test checks the bursts the DRAM saw against
:meth:`~rtnerf.params.MemoryPortParams.bursts`, the bursts in flight against ``outstanding``,
and the DRAM's protocol checks.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ...models.cases.memory_port import directed_requests, memory_words, random_requests
from ...params.memory_port import MemoryPortParams
from ...rtl.memory_port import layouts
from ..dram import AxiDram, AxiResponder
from ..layout import pack
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

#: Memory latency of the throughput test (cycles from burst address to first beat).
THROUGHPUT_LATENCY = 24


def _expected(params, words, requests) -> tuple[list[int], list[tuple[int, int]]]:
    """``o_data`` payloads and the bursts, in order, for ``requests``."""
    word_layout = layouts(params)[1]
    beats, bursts = [], []
    for addr, n in requests:
        beats += [
            pack(word_layout, {"word": words[a], "last": int(a == addr + n - 1)})
            for a in range(addr, addr + n)
        ]
        bursts += params.bursts(addr, n)
    return beats, bursts


async def _run(dut, params, words, requests, rng, *, idle, backpressure, **dram_args):
    request_layout = layouts(params)[0]
    expected, bursts = _expected(params, words, requests)
    board = Scoreboard(expected)
    dram = AxiDram(words, params.word_bytes, rng, idle=idle, backpressure=backpressure, **dram_args)
    source = StreamSource(dut, "i_req", rng, idle=idle)
    source.extend(pack(request_layout, {"addr": a, "len": n}) for a, n in requests)
    sink = StreamSink(dut, "o_data", rng, board, backpressure=backpressure)
    slave = AxiResponder(dut, dram, params.byte_address_width, params.word_width)
    cycles = await run_cycles(
        dut.clk, [source, sink, slave], lambda: board.done, max_cycles=50 * len(expected) + 2000
    )
    problems = list(dram.protocol_errors)
    if dram.bursts != bursts:
        n = next(
            (i for i, (a, b) in enumerate(zip(dram.bursts, bursts, strict=False)) if a != b),
            min(len(dram.bursts), len(bursts)),
        )
        problems.append(f"burst {n}: got {dram.bursts[n : n + 1]}, expected {bursts[n : n + 1]}")
    if dram.max_in_flight > params.outstanding:
        problems.append(f"{dram.max_in_flight} bursts in flight, outstanding {params.outstanding}")
    for p in problems[:10]:
        cocotb.log.error("%s", p)
    return board, cycles, dram, sink, problems


async def _start(dut):
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
async def test_throughput(dut):
    """Back-to-back longest bursts sustain the stated words per cycle."""
    params, args = tb_context(MemoryPortParams)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 99])
    words = memory_words(params, rng)
    b = min(params.max_burst, params.max_request, params.boundary_words)
    n = max(128, 16 * params.outstanding)
    requests = [((i * b) % (len(words) - b + 1) // b * b, b) for i in range(n)]
    board, cycles, _, sink, problems = await _run(
        dut, params, words, requests, rng, idle=0.0, backpressure=0.0, latency=THROUGHPUT_LATENCY
    )
    span = sink.receive_cycles[-1] - sink.receive_cycles[0] + 1
    # Steady state: from the first beat to the last, less the first burst's own latency fill.
    measured = (n * b - 1) / (span - 1)
    stated = params.sustained_words_per_cycle(THROUGHPUT_LATENCY, b)
    write_record(
        args,
        {
            "test": "throughput",
            "transactions": n,
            "mismatches": board.mismatches,
            "cycles": cycles,
            "memory_latency": THROUGHPUT_LATENCY,
            "burst_beats": b,
            "words_per_cycle": round(measured, 4),
            "stated_words_per_cycle": round(stated, 4),
        },
    )
    assert board.mismatches == 0 and not problems, problems[:3]
    assert abs(measured - stated) <= 0.02 * stated, f"{measured:.4f} words/cycle, stated {stated}"


@cocotb.test()
async def test_error_response(dut):
    """A SLVERR response sets the sticky ``error`` output; the data still arrives."""
    params, args = tb_context(MemoryPortParams)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 7])
    words = memory_words(params, rng)
    requests = [(i, 1) for i in range(6)]
    await FallingEdge(dut.clk)
    clean_before = int(dut.error.value) == 0
    board, cycles, _, _, problems = await _run(
        dut, params, words, requests, rng, idle=0.0, backpressure=0.0, error_bursts={3}
    )
    await FallingEdge(dut.clk)
    write_record(
        args,
        {
            "test": "error response",
            "transactions": 6,
            "mismatches": board.mismatches,
            "cycles": cycles,
        },
    )
    assert clean_before and int(dut.error.value) == 1
    assert board.mismatches == 0 and not problems


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Directed and random requests under idle x backpressure, random latency and bandwidth."""
    params, args = tb_context(MemoryPortParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    words = memory_words(params, rng)
    directed = [(a, n) for _, a, n in directed_requests(params, len(words))]
    randoms = random_requests(params, rng, max(1, -(-args["count"] // len(COMBOS))), len(words))
    board, cycles, dram, _, problems = await _run(
        dut,
        params,
        words,
        directed + randoms,
        rng,
        idle=idle,
        backpressure=backpressure,
        latency=int(rng.integers(1, 33)),
        bytes_per_cycle=params.word_bytes * float(rng.choice([0.25, 0.5, 1.0])),
        burst_bytes=64 if params.word_bytes <= 64 else params.word_bytes,
    )
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": len(directed) + len(randoms),
            "mismatches": board.mismatches,
            "cycles": cycles,
            "random_per_op": len(randoms),
            "bursts": len(dram.bursts),
            "words": dram.beats,
            "dram_bytes": dram.dram_bytes,
            "max_in_flight": dram.max_in_flight,
        },
    )
    assert board.mismatches == 0, f"{board.mismatches} mismatches"
    assert board.unexpected == 0
    assert not problems, problems[:3]
