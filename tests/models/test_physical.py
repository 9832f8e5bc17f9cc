"""Physical models: Liberty reading, static timing, node scaling, SRAM fit, energy table sums."""

import dataclasses
import json
import math

import numpy as np
import pytest

from rtnerf.errors import ConfigError
from rtnerf.liberty import LibertyError, _library, parse
from rtnerf.models.physical import energy as en
from rtnerf.models.physical import scaling as sc
from rtnerf.models.physical.events import engine_events, engine_memories
from rtnerf.models.physical.sram import Memory, sram_model
from rtnerf.sta import StaError, StaOptions, analyse

# A two-cell library with tables simple enough to time by hand: delays linear in the load
# (1 ns/pF) and, for the inverter, in the input transition (0.1 ns/ns).
TINY = """
library (tiny) {
  time_unit : "1ns";
  capacitive_load_unit (1, pf);
  nom_voltage : 1.0;
  lu_table_template (t2) {
    variable_1 : total_output_net_capacitance;
    variable_2 : input_net_transition;
    index_1 ("0.0, 1.0");
    index_2 ("0.0, 1.0");
  }
  lu_table_template (c2) {
    variable_1 : related_pin_transition;
    variable_2 : constrained_pin_transition;
    index_1 ("0.0, 1.0");
    index_2 ("0.0, 1.0");
  }
  /* a comment */
  cell (INV) {
    area : 2;
    pin (A) { direction : input; capacitance : 0.01; }
    pin (Y) {
      direction : output;
      function : "!A";
      timing () {
        related_pin : "A";
        cell_rise (t2) { values ("0.1, 0.2", \\
                                 "1.1, 1.2"); }
        cell_fall (t2) { values ("0.05, 0.15", "1.05, 1.15"); }
        rise_transition (t2) { values ("0.1, 0.1", "0.5, 0.5"); }
        fall_transition (t2) { values ("0.1, 0.1", "0.5, 0.5"); }
      }
    }
  }
  cell (DFF) {
    area : 8;
    ff (IQ, IQN) { clocked_on : "CLK"; next_state : "D"; }
    pin (CLK) { direction : input; capacitance : 0.01; clock : true; }
    pin (D) {
      direction : input;
      capacitance : 0.01;
      timing () {
        related_pin : "CLK";
        timing_type : setup_rising;
        rise_constraint (c2) { values ("0.2, 0.2", "0.2, 0.2"); }
        fall_constraint (c2) { values ("0.1, 0.1", "0.1, 0.1"); }
      }
    }
    pin (Q) {
      direction : output;
      function : "IQ";
      timing () {
        related_pin : "CLK";
        timing_type : rising_edge;
        cell_rise (t2) { values ("0.3, 0.3", "1.3, 1.3"); }
        cell_fall (t2) { values ("0.3, 0.3", "1.3, 1.3"); }
        rise_transition (t2) { values ("0.1, 0.1", "0.1, 0.1"); }
        fall_transition (t2) { values ("0.1, 0.1", "0.1, 0.1"); }
      }
    }
  }
}
"""


@pytest.fixture(scope="module")
def tiny():
    return _library(parse(TINY), None)


def test_liberty_cells_pins_and_tables(tiny):
    inv, dff = tiny.cell("INV"), tiny.cell("DFF")
    assert (inv.area, dff.area) == (2.0, 8.0)
    assert inv.inputs == {"A": 0.01} and "Y" in inv.outputs and not inv.sequential
    assert dff.sequential and dff.clock == "CLK"
    rise = inv.arcs["Y"][0].tables["cell_rise"]
    # Bilinear inside the grid, linear outside it.
    assert rise(total_output_net_capacitance=0.5, input_net_transition=0.5) == pytest.approx(0.65)
    assert rise(total_output_net_capacitance=2.0, input_net_transition=0.0) == pytest.approx(2.1)
    with pytest.raises(LibertyError, match="cell 'NAND9' is not in library tiny"):
        tiny.cell("NAND9")


def test_liberty_syntax_error_names_the_token():
    with pytest.raises(LibertyError, match=r"^Liberty syntax: expected '\)'"):
        parse("library (x { }")


def _netlist(extra_cells=None):
    cells = {
        "ff1": {"type": "DFF", "connections": {"CLK": [2], "D": [6], "Q": [3]}},
        "i1": {"type": "INV", "connections": {"A": [3], "Y": [4]}},
        "i2": {"type": "INV", "connections": {"A": [4], "Y": [5]}},
        "ff2": {"type": "DFF", "connections": {"CLK": [2], "D": [5], "Q": [6]}},
        **(extra_cells or {}),
    }
    ports = {"clk": {"direction": "input", "bits": [2]}}
    return {"modules": {"top": {"ports": ports, "cells": cells}}}


def test_sta_critical_path_by_hand(tiny):
    r = analyse(_netlist(), tiny, "top", StaOptions(wire_cap_per_fanout=0.0))
    # clock-to-Q into one 0.01 pF input: 0.3 + 0.01; INV at (0.01 pF, 0.1 ns): 0.1 + 0.01 + 0.01,
    # its output transition 0.1 + 0.4 * 0.01; the second INV 0.1 + 0.01 + 0.0104; setup 0.2.
    expected = 0.31 + 0.12 + 0.1204 + 0.2
    assert r.critical_path_ns == pytest.approx(expected)
    assert r.fmax_mhz == pytest.approx(1000 / expected)
    assert [p[0] for p in r.path] == ["ff1", "i1", "i2"]
    assert r.endpoint.startswith("ff2/D")
    # A wire-load guess only adds delay.
    assert analyse(_netlist(), tiny, "top").critical_path_ns > expected


def test_sta_cuts_or_rejects_a_combinational_loop(tiny):
    loop = {
        "l1": {"type": "INV", "connections": {"A": [8], "Y": [7]}},
        "l2": {"type": "INV", "connections": {"A": [7], "Y": [8]}},
    }
    with pytest.raises(StaError, match=r"combinational loop: 1 cell\(s\) had to be cut"):
        analyse(_netlist(loop), tiny, "top", StaOptions(break_loops=False))
    # Cut as STA tools do: the loop is timed once around, the flip-flop path is unchanged.
    r = analyse(_netlist(loop), tiny, "top", StaOptions(wire_cap_per_fanout=0.0))
    assert r.loop_cuts == ["l1"]
    assert r.critical_path_ns == pytest.approx(0.31 + 0.12 + 0.1204 + 0.2)
    with pytest.raises(StaError, match="module 'nope' is not in the netlist"):
        analyse(_netlist(), tiny, "nope")


def test_scaling_rule_and_errors():
    n180, n16, n45 = sc.node(180), sc.node(16), sc.node(45, 0.9)
    assert (n180.vdd, n16.vdd) == (1.8, 0.85)
    assert sc.area_factor(n180, n16) == pytest.approx(1 / 99)
    assert sc.area_factor(n45, n16) == pytest.approx(19 / 99)
    # The paper's erratum example: 32 nm HP at 0.9 V over 65 nm at 1.3 V = 0.4571 / 2.604.
    e = sc.energy_factor(sc.node(65, 1.3), sc.node(32, 0.9))
    assert e == pytest.approx(0.4571 / 2.604, rel=1e-3)
    assert sc.delay_factor(n16, n16) == 1.0
    assert 0 < sc.delay_factor(n180, n16) < 0.2
    with pytest.raises(
        ConfigError, match=r"^`node` must be one of 180, 130, .*, 7 \(nm\), not 28$"
    ):
        sc.node(28)
    with pytest.raises(ConfigError, match=r"^`vdd` must be a supply in \(0, 2\] V, not -1$"):
        sc.node(16, -1)


def test_sram_fit_is_monotone_and_flags_extrapolation():
    model = sram_model()
    assert model.points >= 4
    small = model.cost(Memory(name="a", words=64, width=16))
    large = model.cost(Memory(name="b", words=1024, width=16))
    assert large.area_um2 > small.area_um2 and large.read_pj > small.read_pj
    assert not small.extrapolated
    huge = model.cost(Memory(name="c", words=1 << 20, width=16))
    assert huge.extrapolated
    # Banks: the area of the pieces, the energy of one piece.
    two = model.cost(Memory(name="d", words=1024, width=16, banks=2))
    half = model.cost(Memory(name="e", words=512, width=16))
    assert two.area_um2 == pytest.approx(2 * half.area_um2)
    assert two.read_pj == pytest.approx(half.read_pj)
    with pytest.raises(ValueError, match=r"^`banks` must be an integer from 1 to 4, not 8$"):
        Memory(name="f", words=4, width=8, banks=8)


def test_energy_of_known_events_is_the_table_sum():
    """A hand-computed case: every component is a count times the table's number."""
    table = en.load_table()
    events = en.EventCounts(
        lookups=10,
        dram_bytes={"directory": 40.0, "values": 60.0},
        ops=(
            en.OpCount(component="mac", op="mult", width=8, count=2),
            en.OpCount(component="mac", op="add", width=32, count=3),
            en.OpCount(component="decoder", op="compare", width=8, count=1),
        ),
    )
    r = en.energy(events, table=table)
    # At the table's node (45 nm, 0.9 V): DDR 20.3 pJ/bit, 8x8 multiply 0.2 pJ, 32-bit add
    # 0.1 pJ, 8-bit compare = 8-bit add 0.03 pJ.
    assert r.components == pytest.approx(
        {
            "dram/directory": 40 * 8 * 20.3,
            "dram/values": 60 * 8 * 20.3,
            "mac/mult": 2 * 0.2,
            "mac/add": 3 * 0.1,
            "decoder/compare": 1 * 0.03,
        }
    )
    assert r.total_pj == pytest.approx(100 * 8 * 20.3 + 0.4 + 0.3 + 0.03)
    assert r.pj_per_lookup == pytest.approx(r.total_pj / 10)
    assert en.energy(events, dram="hbm2e").components["dram/values"] == pytest.approx(60 * 8 * 3.97)
    # A memory's energy is its reads and writes times the SRAM model's access energies.
    mem = Memory(name="buf", words=256, width=16, reads=10, writes=5)
    r2 = en.energy(dataclasses.replace(events, memories=(mem,)), table=table)
    cost = sram_model().cost(mem, table.logic_node)
    assert r2.components["sram/buf"] == pytest.approx(10 * cost.read_pj + 5 * cost.write_pj)
    # At another node the logic scales by the rule, DRAM does not.
    r16 = en.energy(events, table=table, at=sc.node(16))
    f = sc.energy_factor(table.logic_node, sc.node(16))
    assert r16.components["mac/mult"] == pytest.approx(0.4 * f)
    assert r16.components["dram/values"] == r.components["dram/values"]
    with pytest.raises(ConfigError, match=r"^`dram` must be one of ddr4, lpddr4x, hbm2e"):
        en.energy(events, dram="ddr5")


def test_op_energy_power_laws():
    t = en.load_table()
    assert t.op_pj("add", 8) == pytest.approx(0.03)
    assert t.op_pj("add", 32) == pytest.approx(0.1)
    assert t.op_pj("add", 16) == pytest.approx(0.03 * 2 ** math.log(0.1 / 0.03, 4))
    assert t.op_pj("mult", 32) == pytest.approx(3.1)
    assert t.op_pj("mult", 8, 32) == pytest.approx(t.op_pj("mult", 16))  # 256 partial products


def test_energy_table_errors_name_the_field(tmp_path):
    bad = tmp_path / "t.yaml"
    text = en.TABLE.read_text()
    bad.write_text(text.replace("version: 1\n", "version: 2\n", 1))
    with pytest.raises(ConfigError, match=r"t\.yaml: `version` must be 1, not 2$"):
        en.load_table(bad)
    bad.write_text(text.replace("pj_per_bit: 3.97", "pj_per_bit: -1"))
    with pytest.raises(ConfigError, match=r"`dram\.classes\.hbm2e\.pj_per_bit` must be a positive"):
        en.load_table(bad)
    every = [k for k, v in en.load_table().sources.items() if not v]
    assert not every  # every number has its source


def test_engine_events_follow_the_perf_model():
    from rtnerf.models.cases.engine import trace_inputs
    from rtnerf.models.perf.engine import estimate
    from rtnerf.params import EngineParams

    base = EngineParams()
    unit = dataclasses.replace(base.unit, cache_ways=2, cache_sets=4)
    params = dataclasses.replace(base, unit=unit)
    images, trace = trace_inputs(params, "text", 40, 3)
    perf = estimate(params, images, trace)
    ev = engine_events(params, perf, images, trace)
    assert ev.lookups == len(trace)
    assert sum(ev.dram_bytes.values()) == perf.traffic.total_bytes
    mems = {m.name: m for m in ev.memories}
    assert mems["accumulators"].writes == perf.macs
    assert mems["request_queue"].reads == mems["request_queue"].writes == len(trace)
    cache = mems["row_cache"]
    assert cache.words == 2 * 4 * unit.dim and cache.instances == params.units
    hits = int(np.count_nonzero(perf.traffic.cache_hit))
    assert (cache.reads > 0) == (hits > 0) and cache.writes > 0
    ops = {(o.component, o.op): o for o in ev.ops}
    assert ops["mac", "mult"].count == perf.macs
    assert (ops["mac", "mult"].width, ops["mac", "mult"].width_b) == (16, 16)
    # Scaling a sample to a frame scales every count; the record survives JSON.
    assert ev.scaled(3).dram_bytes["values"] == 3 * ev.dram_bytes["values"]
    assert en.EventCounts.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev
    names = [m.name for m in engine_memories(base)]
    # No row cache, directory SRAM or entry cache by default.
    assert names == ["request_queue", "slot_buffer", "output_queue", "accumulators"]
    slots = mems["slot_buffer"]
    assert slots.words == base.unit.inflight * base.unit.slot_words
    assert slots.reads == slots.writes > 0
