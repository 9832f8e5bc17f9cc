"""The texel lookup in Amaranth's simulator against the golden model and its stated schedule."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from rtnerf.models.cases.texel_lookup import directed_job, random_jobs
from rtnerf.params import TexelLookupParams
from rtnerf.rtl.texel_lookup import TexelLookup
from rtnerf.sim.tb.texel_lookup import (
    check_steps,
    expected_groups,
    pack_fill,
    pack_group,
    pack_table,
    unpack_group,
)

#: Small corners: one bank per class (every pair of words conflicts) and two lanes; rows
#: spanning more bank words than a class has banks.
PARAMS = [
    TexelLookupParams(lanes=2, banks=4, bank_width=32, directory_depth=256, payload_depth=1024,
                      density_columns=4, app_columns=6, weight_frac=4, interp_frac=2,
                      row_width=8, tag_width=4),
    TexelLookupParams(lanes=3, banks=8, bank_width=64, directory_depth=64, payload_depth=512,
                      density_columns=8, app_columns=12, row_width=8),
]  # fmt: skip


def simulate(params, job, *, seed, idle=0.0, backpressure=0.0):
    """Fill, describe, run ``job``; return results, accept and result cycles, fill count."""
    dut = TexelLookup(params)
    rng = np.random.default_rng(seed)
    fills = [pack_fill(params, b) for b in job.buffer.fill()]
    tables = [pack_table(params, d) for d in job.buffer.descriptors()]
    groups = [pack_group(params, job, row) for row in job.slots]
    got, accepted, received, filled = [], [], [], []

    async def bench(ctx):
        for port, beats in ((dut.i_fill, fills), (dut.i_table, tables)):
            for b in beats:
                ctx.set(port.valid, 1)
                ctx.set(port.payload.as_value(), b)
                await ctx.tick()
            ctx.set(port.valid, 0)
        filled.append(ctx.get(dut.fills))
        cycle, sent = 0, 0
        while len(got) < len(groups):
            offer = sent < len(groups) and rng.random() >= idle
            ctx.set(dut.i_group.valid, offer)
            if offer:
                ctx.set(dut.i_group.payload.as_value(), groups[sent])
            ctx.set(dut.o_group.ready, bool(rng.random() >= backpressure))
            _, _, iv, ir, ov, orr, payload = await ctx.tick().sample(
                dut.i_group.valid, dut.i_group.ready, dut.o_group.valid, dut.o_group.ready,
                dut.o_group.payload.as_value(),
            )  # fmt: skip
            if iv and ir:
                accepted.append(cycle)
                sent += 1
            if ov and orr:
                got.append(unpack_group(params, int(payload)))
                received.append(cycle)
            cycle += 1
            assert cycle < 100 * len(groups) + 1000, "no progress"

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got, accepted, received, filled[0]


@pytest.mark.parametrize("params", PARAMS, ids=["l2b4", "l3b8"])
def test_directed_job_is_exact_and_on_schedule(params):
    job = directed_job(params)
    got, accepted, received, filled = simulate(params, job, seed=1)
    assert filled == len(job.buffer.fill())
    want = expected_groups(params, job)
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        assert a == b, f"group {k}: {job.slots[k]}"
    assert check_steps(params, job, accepted, received) == []


@pytest.mark.parametrize("params", PARAMS[:1], ids=["l2b4"])
def test_random_job_under_stalls(params):
    (job,) = random_jobs(params, np.random.default_rng(3), 40, rows=10)
    got, *_ = simulate(params, job, seed=2, idle=0.5, backpressure=0.5)
    assert got == expected_groups(params, job)
