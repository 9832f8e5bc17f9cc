"""rtnerf.sim.runner.discover_tests: the cocotb tests of a testbench, exactly as cocotb finds them.

The cosim suite runs one pytest item per discovered test, so a test that discovery missed would
never run; these tests compare discovery with cocotb's own regression manager.
"""

import sys
import textwrap

import cocotb
import pytest
from cocotb.regression import RegressionManager

from rtnerf.params import EncodingParams
from rtnerf.registry import BLOCKS
from rtnerf.sim.runner import discover_tests, generate_verilog, verilog_path


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
