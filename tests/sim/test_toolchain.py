"""Simulator discovery: reasons for a missing simulator, skip locally, fail when required."""

import os
import shutil

import pytest
from conftest import need_simulator

from rtnerf.errors import ConfigError
from rtnerf.sim import toolchain


@pytest.fixture
def no_iverilog(monkeypatch):
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "iverilog" else real(name))


def test_missing_simulator_reason(no_iverilog):
    assert toolchain.unavailable_reason("icarus").startswith("Icarus Verilog not found (iverilog")
    assert "icarus" not in toolchain.available_simulators()


def test_missing_simulator_skips_locally(no_iverilog, monkeypatch):
    monkeypatch.delenv("RTNERF_REQUIRE_SIMULATORS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="Icarus Verilog not found"):
        need_simulator("icarus")


def test_missing_simulator_fails_when_required(no_iverilog, monkeypatch):
    monkeypatch.setenv("RTNERF_REQUIRE_SIMULATORS", "icarus,verilator")
    with pytest.raises(pytest.fail.Exception, match="icarus is required"):
        need_simulator("icarus")


def test_bad_names(monkeypatch):
    with pytest.raises(ConfigError, match=r"^`simulator` must be one of icarus, verilator"):
        toolchain.unavailable_reason("vcs")
    monkeypatch.setenv("RTNERF_REQUIRE_SIMULATORS", "icarus,xcelium")
    with pytest.raises(ConfigError, match="`xcelium` must be one of icarus, verilator"):
        toolchain.required_simulators()
    monkeypatch.setenv("RTNERF_VERILATOR_OPT", "-O9")
    with pytest.raises(ConfigError, match="RTNERF_VERILATOR_OPT must be one of"):
        toolchain.verilator_opt()


def test_makeflags_optimise_the_evaluation_code_only(monkeypatch):
    monkeypatch.setenv("RTNERF_VERILATOR_OPT", "-Os")
    monkeypatch.setenv("MAKEFLAGS", "-j2 OPT_SLOW=-O3")
    monkeypatch.setenv("PATH", os.environ["PATH"])  # restored after the test
    toolchain.setup_path()
    flags = os.environ["MAKEFLAGS"].split()
    assert "-j2" in flags and "OPT_FAST=-Os" in flags and "OPT_GLOBAL=-Os" in flags
    assert [f for f in flags if f.startswith("OPT_SLOW=")] == ["OPT_SLOW=-O0"]
