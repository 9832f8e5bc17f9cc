"""The hybrid row decoder in Amaranth's simulator against the golden model and its cycle count."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtnerf.models.cases.hybrid_row_decoder import directed_job, random_jobs
from rtnerf.models.golden.hybrid_row_decoder import evaluate, query_cycles, query_words
from rtnerf.params import HybridRowDecoderParams
from rtnerf.rtl.hybrid_row_decoder import HybridRowDecoder
from rtnerf.sim.memory import WordMemory, image_words, words_per_query
from rtnerf.sim.tb.hybrid_row_decoder import pack_beat, pack_query


def simulate(params, job, *, seed, latency=3, p_valid=1.0, p_ready=1.0, idle=0.0, stall=0.0):
    """Run ``job``; return received beats, expected beats, per-query cycles and memory."""
    dut = HybridRowDecoder(params)
    rng = np.random.default_rng(seed)
    memory = WordMemory(image_words(job.image), rng, latency, idle, stall)
    expected = [
        pack_beat(params, b) for beats in evaluate(params, job.image, job.queries) for b in beats
    ]
    got, accepted = [], []

    async def queries(ctx):
        cycle = 0
        for q in job.queries:
            ctx.set(dut.i_query.payload.as_value(), pack_query(params, q))
            while True:
                ctx.set(dut.i_query.valid, bool(rng.random() < p_valid))
                _, _, valid, ready = await ctx.tick().sample(dut.i_query.valid, dut.i_query.ready)
                cycle += 1
                if valid and ready:
                    accepted.append(cycle - 1)
                    break
        ctx.set(dut.i_query.valid, 0)

    async def bench(ctx):
        while len(got) < len(expected):
            req_ready, data_valid, word = memory.drive()
            ctx.set(dut.o_req.ready, req_ready)
            ctx.set(dut.i_data.valid, data_valid)
            ctx.set(dut.i_data.payload.word, word)
            ctx.set(dut.o_value.ready, bool(rng.random() < p_ready))
            sampled = await ctx.tick().sample(
                dut.o_req.valid,
                dut.o_req.payload.addr,
                dut.o_req.payload.len,
                dut.i_data.ready,
                dut.o_value.valid,
                dut.o_value.ready,
                dut.o_value.payload.as_value(),
            )
            _, _, rv, addr, length, dr, ov, orr, payload = sampled
            memory.sample(bool(rv), int(addr), int(length), bool(dr))
            if ov and orr:
                got.append(int(payload))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(queries)
    sim.add_testbench(bench)
    sim.run()
    return got, expected, np.diff(accepted), memory, accepted


PARAMS = {
    "default N128 W8 K8": HybridRowDecoderParams(),
    "N48 w32 e32 W8 K3 v8": HybridRowDecoderParams(
        columns=48, value_width=8, word_width=32, entry_width=32, leaves=8, window=3
    ),
    "N200 v12 W4 K5": HybridRowDecoderParams(columns=200, value_width=12, leaves=4, window=5),
}


@pytest.mark.parametrize("params", PARAMS.values(), ids=PARAMS.keys())
@pytest.mark.parametrize("kind", ["directed", "random"])
def test_full_rate(params, kind):
    """Beats, words read and the cycles of every query, exactly as stated."""
    if kind == "directed":
        job = directed_job(params)
    else:
        (job,) = random_jobs(params, np.random.default_rng(3), 400, rows=32, expand_fraction=0.2)
    got, expected, spacing, memory, accepted = simulate(params, job, seed=0)
    assert got == expected
    assert list(words_per_query(memory, accepted)) == list(query_words(job.image, job.queries))
    stated = query_cycles(params, job.image, job.queries, latency=3)
    assert list(spacing) == list(stated[:-1])


@pytest.mark.parametrize(
    ("p_valid", "p_ready", "idle", "stall"),
    [(0.5, 1, 0, 0), (1, 0.5, 0.5, 0.5), (0.7, 0.7, 0.3, 0)],
)
def test_random_handshakes(p_valid, p_ready, idle, stall):
    params = PARAMS["N48 w32 e32 W8 K3 v8"]
    (job,) = random_jobs(params, np.random.default_rng(7), 300, rows=24, expand_fraction=0.2)
    got, expected, _, _, _ = simulate(
        params, job, seed=7, latency=5, p_valid=p_valid, p_ready=p_ready, idle=idle, stall=stall
    )
    assert got == expected
