"""rtnerf.sim.runner.discover_tests: the cocotb tests of a testbench, exactly as cocotb finds them.

The cosim suite runs one pytest item per discovered test, so a test that discovery missed would
never run; these tests compare discovery with cocotb's own regression manager.
"""

import sys
import textwrap
from pathlib import Path

import cocotb
import pytest
from cocotb.regression import RegressionManager
from conftest import need_simulator

from rtnerf.params import EncodingParams
from rtnerf.registry import BLOCKS
from rtnerf.sim.runner import build, cosim, discover_tests, generate_verilog, verilog_path


def cocotb_discovers(module: str, monkeypatch) -> list[str]:
    """The names cocotb's regression manager registers for ``module`` (before any filter)."""
    monkeypatch.setattr(cocotb, "RANDOM_SEED", 1, raising=False)  # set by cocotb in a simulator
    manager = RegressionManager()
    manager.discover_tests(module)
    return [test.name for test in manager._test_queue]


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_discovery_is_cocotbs(name, monkeypatch):
    module = BLOCKS[name].params.testbench
    found = discover_tests(module)
    assert found == cocotb_discovers(module, monkeypatch)
    assert len(found) == len(set(found)) >= 4, found
    assert "test_stream/combo=3" in found


EXTRA = '''
import cocotb
from rtnerf.sim.tb.sparse_search_unit import *  # noqa: F403 - the testbench's tests, and

@cocotb.test()
async def test_new(dut):
    """A test added without listing it anywhere."""

@cocotb.test(name="renamed")
@cocotb.parametrize((("a", "b"), [(1, "x"), (2, "y")]), mode=[cocotb.Param(0.5, "half"), None])
async def test_more(dut, a, b, mode):
    """Parametrized over a tuple of options and named values."""

async def helper(dut):
    """Not a test."""
'''


def test_a_new_test_is_discovered(tmp_path, monkeypatch):
    (tmp_path / "tb_extra.py").write_text(textwrap.dedent(EXTRA))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tb_extra", raising=False)
    found = discover_tests("tb_extra")
    assert found == cocotb_discovers("tb_extra", monkeypatch)
    base = discover_tests(BLOCKS["sparse_search_unit"].params.testbench)
    assert found == [
        *base,
        "test_new",
        "renamed/a=1/b=x/mode=half",
        "renamed/a=1/b=x/mode=None",
        "renamed/a=2/b=y/mode=half",
        "renamed/a=2/b=y/mode=None",
    ]


def test_only_block_params_make_verilog():
    for make in (generate_verilog, verilog_path):
        with pytest.raises(
            TypeError, match=r"^`params` must be a block's params \(BlockParams\), not Enc"
        ):
            make(EncodingParams())


@pytest.mark.cosim
def test_verilator_models_share_the_runtime_objects(tmp_path, monkeypatch):
    """The second model built in an empty cache compiles none of Verilator's runtime sources
    (they come from the first, see ``_runtime_dir``) and still links and co-simulates."""
    need_simulator("verilator")
    monkeypatch.setenv("RTNERF_CACHE_DIR", str(tmp_path / "cache"))
    configs = Path(__file__).resolve().parents[2] / "configs" / "blocks" / "memory_port"
    block = BLOCKS["memory_port"]
    first, second = (
        build(block.load_params(configs / c), "verilator") for c in ("o1.yaml", "w256.yaml")
    )
    logs = [Path(f"{b.build_dir}.build.log").read_text() for b in (first, second)]
    assert "verilated.cpp" in logs[0] and "verilated_vpi.cpp" in logs[0]
    assert "verilated.cpp" not in logs[1] and "verilated_vpi.cpp" not in logs[1]
    assert "verilator.cpp" in logs[1]  # cocotb's main includes the model's header: per model
    summary = cosim(second, run_dir=tmp_path / "run", count=20, testcase=r"\.test_throughput$")
    assert summary["tests"] == 1 and summary["failures"] == 0 and summary["mismatches"] == 0
