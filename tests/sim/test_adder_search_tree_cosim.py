"""Co-simulation of the adder & search tree on Icarus and Verilator against the golden model.

Each simulator runs, at W = 4 and at the largest W, the latency/throughput test and, split over
four pytest items so that parallel workers can share the work, the directed corners plus
RTNERF_COSIM_COUNT (default 20,000) random queries per operation under the four
idle-insertion x backpressure combinations.
"""

import os

import pytest

from rtnerf.params import AdderSearchTreeParams
from rtnerf.registry import get_block
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.adder_search_tree import COMBOS

COUNT = int(os.environ.get("RTNERF_COSIM_COUNT", "20000"))
SEED = int(os.environ.get("RTNERF_COSIM_SEED", "20261126"))
BLOCK = get_block("adder_search_tree")
PARTS = ["test_latency_and_throughput"] + [f"test_stream/combo={i}" for i in range(len(COMBOS))]

pytestmark = pytest.mark.cosim


@pytest.mark.parametrize("leaves", [4, 256])
@pytest.mark.parametrize("part", PARTS)
def test_cosim(simulator, leaves, part, tmp_path):
    params = AdderSearchTreeParams(leaves=leaves)
    built = build(BLOCK, params, simulator)
    print(f"seed={SEED} count={COUNT} run_dir={tmp_path}")
    summary = cosim(built, run_dir=tmp_path, seed=SEED, count=COUNT, testcase=f"{part}$")
    assert summary["tests"] == 1, summary
    (record,) = summary["records"]
    assert summary["failures"] == 0 and summary["mismatches"] == 0, record
    if part.startswith("test_stream"):
        assert record["random_per_op"] * len(COMBOS) >= COUNT
        assert record["transactions"] == 3 * record["random_per_op"] + record["directed"]
    else:
        assert record["latency"] == params.latency
        assert record["results_per_cycle"] == 1.0
