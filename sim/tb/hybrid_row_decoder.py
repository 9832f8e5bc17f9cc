"""cocotb testbench of the hybrid row decoder.

Memory images from the encoder (:mod:`rtnerf.models.cases.hybrid_row_decoder`) sit in a
:class:`~rtnerf.sim.memory.WordMemory` that answers the decoder's read requests; a query source,
a value sink and an in-order scoreboard against the golden model
(:func:`rtnerf.models.golden.hybrid_row_decoder.evaluate`) complete it. Every job also checks
that the words the decoder requested for each query are exactly those the DRAM accounting
(:func:`rtnerf.models.dram.account`) charges it.
"""

from __future__ import annotations

from collections import defaultdict

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ...models.cases.hybrid_row_decoder import Job, directed_job, random_jobs
from ...models.golden.hybrid_row_decoder import (
    Beat,
    Query,
    evaluate,
    query_cycles,
    query_requests,
    query_words,
)
from ...params.encoding import Format
from ...params.hybrid_row_decoder import HybridRowDecoderParams
from ...rtl.hybrid_row_decoder import layouts
from ..layout import pack, unpack
from ..memory import MemoryResponder, WordMemory, image_words, words_per_query
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

#: Memory latency (cycles) of the throughput test, the latency the stated cycles assume.
THROUGHPUT_LATENCY = 4


def pack_query(params: HybridRowDecoderParams, q: Query) -> int:
    """The ``i_query`` payload of a query."""
    return pack(layouts(params)[0], {"row": q.row, "col": q.col, "expand": int(q.expand)})


def pack_beat(params: HybridRowDecoderParams, b: Beat) -> int:
    """The ``o_value`` payload of a beat."""
    mask = (1 << params.value_width) - 1
    return pack(
        layouts(params)[3],
        {"value": b.value & mask, "column": b.column, "hit": int(b.hit), "last": int(b.last)},
    )


def query_kind(params: HybridRowDecoderParams, image, q: Query) -> str:
    """``"element|expand FORMAT"``; element COO rows also name the unit that searches them."""
    formats, nnz, _ = image.directory()
    fmt = Format(int(formats[q.row]))
    if q.expand:
        return f"expand {fmt.name}"
    if fmt == Format.COO and nnz[q.row]:
        unit = "tree" if nnz[q.row] <= params.leaves else "search unit"
        return f"element COO ({unit})"
    return f"element {fmt.name}"


async def _run_job(dut, params, job: Job, rng, *, latency, idle, backpressure):
    """Run one job; return the scoreboard, cycles, query accept cycles and the memory."""
    value_layout = layouts(params)[3]
    beats = evaluate(params, job.image, job.queries)
    expected = [pack_beat(params, b) for q in beats for b in q]
    owner = [i for i, q in enumerate(beats) for _ in q]
    board = Scoreboard(
        expected,
        describe=lambda k: (
            f"{job.name}, query {owner[k]} {job.queries[owner[k]]}: "
            f"{unpack(value_layout, expected[k])}"
        ),
    )
    await FallingEdge(dut.clk)  # leave the previous job's read-only phase before driving
    memory = WordMemory(image_words(job.image), rng, latency, idle, backpressure)
    source = StreamSource(dut, "i_query", rng, idle=idle)
    source.extend(pack_query(params, q) for q in job.queries)
    sink = StreamSink(dut, "o_value", rng, board, backpressure=backpressure)
    responder = MemoryResponder(dut, memory, params.address_width)
    stated = int(query_cycles(params, job.image, job.queries, latency).sum())
    cycles = await run_cycles(
        dut.clk, [source, sink, responder], lambda: board.done, max_cycles=50 * (stated + 100)
    )
    return board, cycles, source.accept_cycles, memory


def _check_words(job: Job, memory: WordMemory, accepted: list[int]) -> int:
    """Queries whose requested words differ from the DRAM accounting's; logs the first.

    The memory requests themselves, in order, must also be the accounting's
    (:func:`~rtnerf.models.golden.hybrid_row_decoder.query_requests`); a difference counts as
    one more bad query.
    """
    want_requests = query_requests(job.image, job.queries)
    wrong_requests = memory.requests != want_requests
    if wrong_requests:
        n = next(
            (
                i
                for i, (a, b) in enumerate(zip(memory.requests, want_requests, strict=False))
                if a != b
            ),
            min(len(memory.requests), len(want_requests)),
        )
        cocotb.log.error(
            "%s: memory request %d is %s, the DRAM accounting's is %s",
            job.name,
            n,
            memory.requests[n : n + 1],
            want_requests[n : n + 1],
        )
    got = words_per_query(memory, accepted)
    want = query_words(job.image, job.queries)
    bad = np.flatnonzero(got != want)
    if bad.size:
        q = int(bad[0])
        cocotb.log.error(
            "%s: query %d %s read %d words, the DRAM accounting charges %d",
            job.name,
            q,
            job.queries[q],
            got[q],
            want[q],
        )
    return int(bad.size) + wrong_requests


async def _start(dut):
    # Inputs idle from time 0: an undriven valid is X on Icarus and would poison the FSM.
    for port in ("i_query__valid", "i_data__valid", "o_req__ready", "o_value__ready"):
        getattr(dut, port).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
async def test_throughput(dut):
    """At full rate every query takes exactly its stated cycles; cycles/query per format."""
    params, args = tb_context(HybridRowDecoderParams)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 99])
    jobs = [directed_job(params), *random_jobs(params, rng, max(1, min(args["count"], 2000)))]
    per_kind: dict[str, list[int]] = defaultdict(list)
    mismatches = unexpected = slow = word_errors = cycles = queries = 0
    for job in jobs:
        board, n, accepted, memory = await _run_job(
            dut, params, job, rng, latency=THROUGHPUT_LATENCY, idle=0.0, backpressure=0.0
        )
        cycles += n
        queries += len(job.queries)
        mismatches += board.mismatches
        unexpected += board.unexpected
        word_errors += _check_words(job, memory, accepted)
        stated = query_cycles(params, job.image, job.queries, THROUGHPUT_LATENCY)
        measured = np.diff(accepted)
        off = np.flatnonzero(measured != stated[:-1])
        if off.size:
            q = int(off[0])
            cocotb.log.error(
                "%s: query %d %s took %d cycles, stated %d",
                job.name,
                q,
                job.queries[q],
                measured[q],
                stated[q],
            )
        slow += off.size
        for q, took in zip(job.queries[:-1], measured, strict=True):
            per_kind[query_kind(params, job.image, q)].append(int(took))
    write_record(
        args,
        {
            "test": "throughput",
            "transactions": queries,
            "mismatches": mismatches,
            "cycles": cycles,
            "memory_latency": THROUGHPUT_LATENCY,
            "cycles_per_query": {
                k: {"queries": len(v), "mean": round(float(np.mean(v)), 3), "max": max(v)}
                for k, v in sorted(per_kind.items())
            },
            "queries_off_stated": slow,
            "queries_with_wrong_words": word_errors,
        },
    )
    assert mismatches == 0 and unexpected == 0
    assert word_errors == 0, f"{word_errors} queries read other words than the DRAM accounting"
    assert slow == 0, f"{slow} queries took other than their stated cycles"


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """The directed table plus random tables, every beat against the golden model.

    ``count`` random queries are split over the four idle x backpressure combinations; idle
    applies to the query stream and the memory's data words, backpressure to the value stream
    and the memory's request port; the memory latency is drawn from 1 to 12 per table.
    """
    params, args = tb_context(HybridRowDecoderParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    randoms = random_jobs(params, rng, max(1, -(-args["count"] // len(COMBOS))))
    mismatches = unexpected = word_errors = cycles = 0
    for job in [directed_job(params), *randoms]:
        board, n, accepted, memory = await _run_job(
            dut,
            params,
            job,
            rng,
            latency=int(rng.integers(1, 13)),
            idle=idle,
            backpressure=backpressure,
        )
        cycles += n
        mismatches += board.mismatches
        unexpected += board.unexpected
        word_errors += _check_words(job, memory, accepted)
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": sum(len(j.queries) for j in randoms)
            + len(directed_job(params).queries),
            "mismatches": mismatches,
            "cycles": cycles,
            "random_per_op": sum(len(j.queries) for j in randoms),
            "queries_with_wrong_words": word_errors,
        },
    )
    assert mismatches == 0, f"{mismatches} mismatches"
    assert unexpected == 0, f"{unexpected} results with nothing sent"
    assert word_errors == 0, f"{word_errors} queries read other words than the DRAM accounting"
