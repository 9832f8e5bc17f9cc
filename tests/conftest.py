"""Shared fixtures: simulator availability (skip locally, fail in CI), seeds, run folders."""

import importlib.util
import os
from pathlib import Path

import pytest

from rtnerf.sim.toolchain import SIMULATORS, required_simulators, unavailable_reason


def need_simulator(simulator: str) -> None:
    """Skip (or, when CI requires it, fail) if ``simulator`` cannot run here."""
    reason = unavailable_reason(simulator)
    if reason is None:
        return
    if simulator in required_simulators():
        pytest.fail(f"{simulator} is required (RTNERF_REQUIRE_SIMULATORS) but {reason}")
    pytest.skip(reason)


def benchmark_script(name: str):
    """The module of ``benchmarks/<name>.py`` (benchmarks are scripts, not a package)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_collection_modifyitems(config, items):
    """Run the long tests first (co-simulations, then those marked ``slow``), each group in its
    collected order: pytest-xdist hands tests out in this order, so the long ones no longer
    land at the end, where one worker runs them while the others have finished."""

    def rank(item) -> int:
        return (
            0 if item.get_closest_marker("cosim") else 1 if item.get_closest_marker("slow") else 2
        )

    items.sort(key=rank)


#: ``simulator`` values for a test whose Icarus run is long and repeats what its Verilator run
#: checks: ``@pytest.mark.parametrize("simulator", SLOW_ON_ICARUS, indirect=True)``. The Icarus
#: run is marked ``slow``, so it leaves ``nox -s tests`` for ``nox -s slow`` (CI runs both).
SLOW_ON_ICARUS = [pytest.param("icarus", marks=pytest.mark.slow), "verilator"]


@pytest.fixture(params=SIMULATORS)
def simulator(request):
    """Each simulator in turn; skipped (or failed in CI) where missing."""
    need_simulator(request.param)
    return request.param


def pytest_report_header(config):
    found = {s: (unavailable_reason(s) or "ok") for s in SIMULATORS}
    required = os.environ.get("RTNERF_REQUIRE_SIMULATORS", "")
    return [f"rtnerf simulators: {found}; required: {required or 'none'}"]
