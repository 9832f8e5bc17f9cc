"""The engine's performance model: against the RTL's measured cycles, and its own sanity."""

import csv
import dataclasses
from pathlib import Path

import pytest

from rtnerf.models.cases.engine import trace_inputs
from rtnerf.models.golden.engine import traffic
from rtnerf.models.perf.engine import estimate
from rtnerf.params import EngineParams

MEASURED = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "engine_cycles.csv"
TOLERANCE = 0.10


def measured(max_requests):
    """The measured cases (one per design and trace) of at most ``max_requests`` requests."""
    seen, out = set(), []
    if not MEASURED.exists():  # before the first `nox -s engine-cycles`
        return []
    with MEASURED.open() as f:
        for row in csv.DictReader(f):
            key = (row["design"], row["trace"], row["bags"], row["seed"])
            if key not in seen and int(row["requests"]) <= max_requests:
                seen.add(key)
                out.append(pytest.param(row, id=f"{row['design']}-{row['trace']}-{row['bags']}"))
    return out


@pytest.mark.parametrize("row", measured(200_000))
def test_model_within_tolerance_of_the_rtl(row):
    params = EngineParams.from_json(row["params"])
    images, trace = trace_inputs(params, row["trace"], int(row["bags"]), int(row["seed"]))
    assert len(trace) == int(row["requests"])
    result = estimate(params, images, trace)
    assert result.traffic.total_bytes == int(row["dram_bytes"])  # the same accounting
    error = (result.cycles - int(row["cycles"])) / int(row["cycles"])
    assert abs(error) <= TOLERANCE, f"{row['design']} {row['trace']}: {error:+.1%}"


def small_case(**unit):
    params = EngineParams().replace(units=2, unit={"decoder": {"columns": 16}, **unit})
    return params, *trace_inputs(params, "random", 60, 5)


def test_dram_traffic_is_the_golden_accounting():
    params, images, trace = small_case(cache_ways=2, cache_sets=4)
    result = estimate(params, images, trace)
    gold = traffic(params, images, trace)
    assert result.traffic.bytes_by_cause() == gold.bytes_by_cause()
    assert result.traffic.cache_hit.tolist() == gold.cache_hit.tolist()


def test_cycles_respond_to_the_design():
    params, images, trace = small_case()
    base = estimate(params, images, trace).cycles
    slow = dataclasses.replace(params, dram=dataclasses.replace(params.dram, latency=200))
    assert estimate(slow, images, trace).cycles > 2 * base
    wide = dataclasses.replace(params, units=8)
    assert estimate(wide, images, trace).cycles < 0.75 * base  # 60 bags of 1 to 64: uneven
    starved = dataclasses.replace(params, dram=dataclasses.replace(params.dram, bytes_per_cycle=1))
    result = estimate(starved, images, trace)
    assert result.cycles > base and result.bottleneck in ("dram", "port")
    assert estimate(params, images, trace).bottleneck in ("unit 0", "unit 1")


def test_result_reports():
    params, images, trace = small_case()
    result = estimate(params, images, trace)
    rates = result.per_second(1e9)
    assert rates["bags_per_s"] == pytest.approx(result.bags_per_cycle * 1e9)
    elements = trace.op[trace.bag_starts[:-1]].sum()
    assert elements > 0
    assert rates["samples_per_s"] == pytest.approx(elements / result.cycles * 1e9)
    assert 0 < result.bandwidth_utilisation() <= 1
    assert result.unit_busy.shape == (2,) and (result.unit_busy <= result.cycles).all()
