"""The sparse search unit in Amaranth's simulator: directed rows at full rate and stalled."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtnerf.models.cases.sparse_search_unit import directed_cases, random_jobs
from rtnerf.params import SparseSearchUnitParams
from rtnerf.rtl.sparse_search_unit import SparseSearchUnit
from rtnerf.sim.tb.sparse_search_unit import stimulus


def simulate(params, jobs, *, seed, p_valid=1.0, p_ready=1.0):
    dut = SparseSearchUnit(params)
    rng = np.random.default_rng(seed)
    windows, groups, expected, stated, _ = stimulus(params, jobs, rng)
    got, cycles = [], [0]

    def producer(port, payloads):
        async def process(ctx):
            for payload in payloads:
                ctx.set(port.payload.as_value(), payload)
                while True:
                    ctx.set(port.valid, bool(rng.random() < p_valid))
                    _, _, valid, ready = await ctx.tick().sample(port.valid, port.ready)
                    if valid and ready:
                        break
            ctx.set(port.valid, 0)

        return process

    async def consumer(ctx):
        while len(got) < len(expected):
            ctx.set(dut.o_result.ready, bool(rng.random() < p_ready))
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.o_result.valid, dut.o_result.ready, dut.o_result.payload.as_value()
            )
            cycles[0] += 1
            if valid and ready:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(producer(dut.i_window, windows))
    sim.add_process(producer(dut.i_group, groups))
    sim.add_testbench(consumer)
    sim.run()
    return got, expected, cycles[0], stated


@pytest.mark.parametrize(
    "params",
    [
        SparseSearchUnitParams(lanes=1, window=4, coord_width=10, index_width=8),
        SparseSearchUnitParams(lanes=3, window=5),
    ],
    ids=["P1K4", "P3K5"],
)
def test_directed_full_rate(params):
    jobs = [case.job for case in directed_cases(params)]
    got, expected, cycles, stated = simulate(params, jobs, seed=0)
    assert got == expected
    assert cycles == stated + 1  # results trail the consumption by one register


@pytest.mark.parametrize(("p_valid", "p_ready"), [(0.5, 1.0), (1.0, 0.5), (0.6, 0.6)])
def test_random_handshakes(p_valid, p_ready):
    params = SparseSearchUnitParams(lanes=2, window=3, coord_width=6, index_width=6)
    jobs = random_jobs(params, np.random.default_rng(5), 150)
    got, expected, _, _ = simulate(params, jobs, seed=5, p_valid=p_valid, p_ready=p_ready)
    assert got == expected
