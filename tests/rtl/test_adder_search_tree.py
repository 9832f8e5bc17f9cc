"""The adder & search tree in Amaranth's simulator: directed cases, random handshakes, latency."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtnerf.models.cases.adder_search_tree import directed_cases, random_batch, to_batch
from rtnerf.models.golden.adder_search_tree import QueryBatch, evaluate
from rtnerf.params import AdderSearchTreeParams, Op
from rtnerf.rtl.adder_search_tree import AdderSearchTree


def _payload(batch: QueryBatch, n: int, params) -> dict:
    words = batch.words[n]
    word = (
        {"coords": [int(c) for c in words]}
        if batch.op[n] == Op.SEARCH
        else {"bitmap": int(sum(int(b) << i for i, b in enumerate(words)))}
    )
    return {
        "op": int(batch.op[n]),
        "word": word,
        "key": int(batch.key[n]),
        "count": int(batch.count[n]),
        "tag": n % (1 << params.tag_width),
    }


def simulate(params, batch, *, seed, p_valid=1.0, p_ready=1.0):
    """Stream ``batch`` through the RTL; return [(hit, index, tag)] and the cycles it took."""
    dut = AdderSearchTree(params)
    rng = np.random.default_rng(seed)
    results = []
    cycles = [0]

    async def producer(ctx):
        for n in range(len(batch)):
            ctx.set(dut.i_query.payload, _payload(batch, n, params))
            while True:
                ctx.set(dut.i_query.valid, bool(rng.random() < p_valid))
                _, _, valid, ready = await ctx.tick().sample(dut.i_query.valid, dut.i_query.ready)
                if valid and ready:
                    break
        ctx.set(dut.i_query.valid, 0)

    async def consumer(ctx):
        while len(results) < len(batch):
            ctx.set(dut.o_result.ready, bool(rng.random() < p_ready))
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.o_result.valid, dut.o_result.ready, dut.o_result.payload
            )
            cycles[0] += 1
            if valid and ready:
                results.append((payload.hit, payload.index, payload.tag))
        ctx.set(dut.o_result.ready, 1)
        for _ in range(params.latency + 2):  # nothing more may come out
            _, _, valid = await ctx.tick().sample(dut.o_result.valid)
            assert not valid, "result with no query"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(producer)
    sim.add_testbench(consumer)
    sim.run()
    return results, cycles[0]


def check(params, batch, results):
    hit, index = evaluate(params, batch)
    assert len(results) == len(batch)
    for n, (h, i, tag) in enumerate(results):
        assert tag == n % (1 << params.tag_width), f"result {n} out of order"
        assert (h, i) == (hit[n], index[n]), f"query {n}: op={Op(batch.op[n]).name}"


@pytest.mark.parametrize("leaves", [4, 16])
def test_directed(leaves):
    params = AdderSearchTreeParams(leaves=leaves)
    cases = directed_cases(params)
    results, _ = simulate(params, to_batch(params, cases), seed=0)
    for case, (hit, index, _) in zip(cases, results, strict=True):
        assert (hit, index) == (case.hit, case.index), case.name


@pytest.mark.parametrize(("p_valid", "p_ready"), [(1.0, 1.0), (0.5, 1.0), (1.0, 0.5), (0.6, 0.6)])
def test_random_handshakes(p_valid, p_ready):
    params = AdderSearchTreeParams(leaves=8, coord_width=5, tag_width=4)
    seed = 11
    batch = random_batch(params, np.random.default_rng(seed), per_op=60)
    results, _ = simulate(params, batch, seed=seed, p_valid=p_valid, p_ready=p_ready)
    check(params, batch, results)


@pytest.mark.parametrize("leaves", [4, 8, 32])
def test_latency_and_throughput(leaves):
    params = AdderSearchTreeParams(leaves=leaves)
    single = to_batch(params, directed_cases(params)[:1])
    _, cycles = simulate(params, single, seed=0)
    # The query is valid in cycle 0, its result in cycle `latency`; the consumer counts the
    # clock edges up to and including the one that ends that cycle.
    assert cycles == params.latency + 1
    many = random_batch(params, np.random.default_rng(0), per_op=20)
    _, cycles = simulate(params, many, seed=0)
    assert cycles == len(many) + params.latency  # then one result per cycle
