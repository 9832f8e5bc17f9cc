"""The performance model against RTL cycle counts made now, at the commit under test.

`tests/models/test_perf.py` holds the model to the committed `benchmarks/results/
engine_cycles.csv`; these cases co-simulate short traces on the engine's corners (one unit with
its directory in SRAM, four units with row and entry caches, the pairwise stage) and on a
12-unit design near the DRAM roofline (``nox -s slow``), so an RTL change that the model does
not follow fails here even before the CSV is re-measured. Every case must also move exactly the
accounted DRAM bytes.
"""

from pathlib import Path

import pytest
from conftest import SLOW_ON_ICARUS

from rtnerf.models.cases.engine import trace_inputs
from rtnerf.models.perf.engine import estimate
from rtnerf.registry import get_block
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.engine import trace_args

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "blocks" / "engine"
TOLERANCE = 0.10
SEED = 7


def design(name):
    block = get_block("engine")
    if name != "roofline":
        return block.load_params(CONFIGS / f"{name}.yaml")
    # Twelve units on a 64-bit port, 8-byte-per-cycle DRAM: the port and the DRAM saturate.
    base = block.load_params(CONFIGS / "u4.yaml")
    unit = {"cache_ways": 0, "entry_cache_lines": 0, "decoder": {"columns": 16}, "lanes": 4}
    return base.replace(units=12, unit=unit, dram={"bytes_per_cycle": 8})


pytestmark = pytest.mark.cosim


@pytest.mark.parametrize("simulator", SLOW_ON_ICARUS, indirect=True)
@pytest.mark.parametrize(
    ("name", "trace", "bags"),
    [
        ("u1", "random", 12),
        ("u4", "random", 40),
        ("pair", "random", 40),
        # Its own 12-unit model (about 100 s to elaborate and build on 2 cores): in `nox -s slow`.
        pytest.param("roofline", "random", 60, marks=pytest.mark.slow),
    ],
)
def test_model_follows_the_rtl(simulator, name, trace, bags, tmp_path):
    params = design(name)
    images, t = trace_inputs(params, trace, bags, SEED)
    built = build(params, simulator)
    summary = cosim(
        built,
        run_dir=tmp_path / "run",
        seed=SEED,
        count=1,
        testcase="test_trace$",
        tb_args=trace_args(tmp_path, images, t),
    )
    (record,) = summary["records"]
    assert summary["passed"] and summary["mismatches"] == 0, record
    perf = estimate(params, images, t)
    assert perf.traffic.total_bytes == record["dram_bytes"]
    error = (perf.cycles - record["cycles"]) / record["cycles"]
    print(f"{name}: rtl {record['cycles']} model {perf.cycles} ({error:+.1%})")
    assert abs(error) <= TOLERANCE, f"{name}: model {perf.cycles}, RTL {record['cycles']}"
