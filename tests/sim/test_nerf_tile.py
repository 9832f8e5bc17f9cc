"""A NeRF tile through the engine's RTL: bit-exact with the golden model, traffic as accounted.

A tiny pruned TensoRF model (N = 8, 2 density and 3 appearance components) and 16 samples
(about 160 ELEMENT bags, 640 requests) on the NeRF design point (:func:`accel.design`: 6
tables, 8 columns, 14-bit weight fractions) run through ``test_trace`` on each simulator.
"""

from pathlib import Path

import pytest
from conftest import SLOW_ON_ICARUS

from rtnerf.models.golden.engine import traffic
from rtnerf.models.perf.engine import estimate
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.engine import trace_args
from rtnerf.workloads.nerf import accel
from tests.workloads.test_nerf_accel import tiny_model, tiny_samples

pytestmark = pytest.mark.cosim


@pytest.mark.parametrize("simulator", SLOW_ON_ICARUS, indirect=True)
@pytest.mark.parametrize("encoding", ["hybrid"])
def test_nerf_tile_is_bit_exact(simulator, encoding, tmp_path: Path):
    model = tiny_model()
    points, app = tiny_samples(16)
    params = accel.design(model)
    images, _ = accel.engine_tables(model, params, encoding=encoding)
    trace = accel.queries(model, points, app).trace(params, name="nerf-tile")
    built = build(params, simulator)
    summary = cosim(
        built,
        run_dir=tmp_path / "run",
        seed=1,
        count=1,
        testcase="test_trace$",
        tb_args=trace_args(tmp_path, images, trace),
    )
    (record,) = summary["records"]
    assert summary["passed"] and summary["mismatches"] == 0, record
    assert record["bags"] == trace.bags and record["element_requests"] == len(trace)
    gold = traffic(params, images, trace)
    assert record["dram_bytes"] == gold.total_bytes
    assert record["dram_bytes_by_cause"] == gold.bytes_by_cause()
    assert record["dram_burst_mismatches"] == 0
    perf = estimate(params, images, trace)
    assert perf.cycles == pytest.approx(record["cycles"], rel=0.15)
