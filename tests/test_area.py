"""``rtnerf area``: real Yosys synthesis of every block, stat parsing, CLI errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rtnerf import synth
from rtnerf.cli import main
from rtnerf.registry import get_block
from rtnerf.sim.runner import verilog_path

BLOCK = get_block("adder_search_tree")


def _yosys():
    try:
        return synth.find_yosys()
    except synth.YosysNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def areas(tmp_path_factory):
    """Summaries for (target, leaves) in {generic, ice40} x {4, 16}."""
    yosys = _yosys()
    out = {}
    for target in ("generic", "ice40"):
        for leaves in (4, 16):
            params = BLOCK.params(leaves=leaves)
            work = tmp_path_factory.mktemp(f"{target}{leaves}")
            result = synth.synthesize(verilog_path(params), BLOCK.name, target, work, yosys=yosys)
            out[target, leaves] = (params, result)
    return out


@pytest.mark.slow
@pytest.mark.parametrize("target", ["generic", "ice40"])
def test_counts_positive_and_plausible(areas, target):
    params, result = areas[target, 4]
    s = result.summary
    assert s["cells"] > 0
    assert s["ffs"] >= params.latency  # at least one valid bit per pipeline stage
    if target == "ice40":
        assert s["luts"] > 0 and s["carries"] > 0
        assert s["cells"] == sum(result.stat["num_cells_by_type"].values())
    else:
        assert s["gates"] > 0
        assert s["gates"] + s["ffs"] == s["cells"]
    # The text and JSON forms of `stat` agree.
    text = synth.parse_stat_text(result.stat_text)
    assert text["num_cells"] == s["cells"]
    assert text["num_cells_by_type"] == result.stat["num_cells_by_type"]


@pytest.mark.slow
@pytest.mark.parametrize("target", ["generic", "ice40"])
def test_larger_tree_is_larger(areas, target):
    small, large = areas[target, 4][1].summary, areas[target, 16][1].summary
    assert large["cells"] > small["cells"]
    assert large["ffs"] > small["ffs"]


@pytest.mark.slow
def test_cli_writes_area_json(tmp_path, capsys):
    _yosys()
    cfg = tmp_path / "w4.yaml"
    cfg.write_text("version: 1\nkind: adder_search_tree\nleaves: 4\n")
    run_dir = tmp_path / "run"
    argv = ["area", "adder_search_tree", "-c", str(cfg), "--target", "ice40", "-o", str(run_dir)]
    assert main(argv) == 0
    record = json.loads((run_dir / "area.json").read_text())
    assert record["version"] == 1
    assert record["block"] == "adder_search_tree"
    assert record["params"]["leaves"] == 4
    assert record["target"] == "ice40"
    assert record["tool"]["version"]
    assert record["summary"]["luts"] > 0
    assert "SB_LUT4" in (run_dir / "stat.txt").read_text()
    assert "luts" in capsys.readouterr().out


SMALLEST = {
    "adder_search_tree": "w4.yaml",
    "sparse_search_unit": "p1k4.yaml",
    "hybrid_row_decoder": "narrow.yaml",
    "memory_port": "o1.yaml",
    "embedding_lookup_unit": "mean.yaml",
    "engine": "u1.yaml",
    "texel_lookup": "l2b4.yaml",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_every_block_synthesises(name, tmp_path):
    from rtnerf.registry import BLOCKS

    assert set(SMALLEST) == set(BLOCKS)
    _yosys()
    config = Path(__file__).resolve().parent.parent / "configs" / "blocks" / name / SMALLEST[name]
    if name == "engine":
        # u1's 2048-row directory SRAM becomes ~200k flip-flops on the generic target (minutes
        # of Yosys): synthesise its logic with the directory read from DRAM instead.
        doc = yaml.safe_load(config.read_text())
        doc["unit"]["directory"] = "dram"
        del doc["unit"]["directory_rows"]
        config = tmp_path / "u1-dram.yaml"
        config.write_text(yaml.safe_dump(doc))
    if name == "texel_lookup":
        # Likewise the buffer's banks (160 kbit at l2b4): 16 words deep keeps every port.
        doc = yaml.safe_load(config.read_text())
        doc.update(directory_depth=16, payload_depth=16)
        config = tmp_path / "l2b4-shallow.yaml"
        config.write_text(yaml.safe_dump(doc))
    run_dir = tmp_path / "run"
    assert main(["area", name, "-c", str(config), "-o", str(run_dir)]) == 0
    record = json.loads((run_dir / "area.json").read_text())
    assert record["block"] == name and record["target"] == "generic"
    assert record["summary"]["gates"] > 0 and record["summary"]["ffs"] > 0
    # Flattened: sub-blocks are counted, not left as one opaque cell each.
    assert all(cell.startswith("$_") for cell in record["cells_by_type"]), record["cells_by_type"]


def test_cli_rejects_bad_target():
    proc = subprocess.run(
        [sys.executable, "-m", "rtnerf", "area", "adder_search_tree", "--target", "xilinx"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "invalid choice: 'xilinx'" in proc.stderr


def test_synthesize_rejects_bad_target(tmp_path):
    with pytest.raises(synth.SynthError, match="unknown target 'ecp5'"):
        synth.synthesize(tmp_path / "x.v", "x", "ecp5", tmp_path)


def test_old_system_yosys_is_rejected(tmp_path, monkeypatch):
    fake = tmp_path / "yosys"
    fake.write_text("#!/bin/sh\necho 'Yosys 0.23 (git sha1 7ce5011c24b)'\n")
    fake.chmod(0o755)
    with pytest.raises(synth.YosysNotFoundError, match=r"Yosys 0\.23, too old.*rtnerf\[synth\]"):
        synth.find_yosys(str(fake))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(synth.YosysNotFoundError, match="too old"):
        synth.find_yosys("system")


@pytest.mark.parametrize(
    "text",
    [
        # Yosys >= 0.47 layout
        (
            "=== top ===\n\n  298 wires\n    8 ports\n  473 cells\n  114   SB_CARRY\n"
            "  158   SB_DFFESR\n  201   SB_LUT4\n"
        ),
        # Yosys 0.40 layout
        (
            "=== top ===\n\n   Number of wires:   298\n   Number of ports:     8\n"
            "   Number of cells:   473\n     SB_CARRY   114\n     SB_DFFESR   158\n"
            "     SB_LUT4   201\n"
        ),
    ],
)
def test_parse_stat_text_layouts(text):
    stat = synth.parse_stat_text(text)
    assert stat["num_cells"] == 473 and stat["num_wires"] == 298
    assert stat["num_cells_by_type"] == {"SB_CARRY": 114, "SB_DFFESR": 158, "SB_LUT4": 201}
    s = synth.summarize(stat, "ice40")
    assert (s["luts"], s["carries"], s["ffs"]) == (201, 114, 158)


def _osu018():
    """The OSU 0.18 um library (fetched into the data cache), or skip saying why not."""
    from rtnerf.liberty import osu018
    from rtnerf.workloads.data import FetchError

    try:
        return osu018()
    except FetchError as exc:
        pytest.skip(f"osu018 library not available: {exc}")


@pytest.mark.slow
def test_liberty_flow_is_reproducible(tmp_path):
    """The same Verilog gives the same um^2, cells and critical path twice."""
    yosys = _yosys()
    _osu018()
    params = BLOCK.params(leaves=4)
    runs = [
        synth.synthesize(verilog_path(params), BLOCK.name, "osu018", tmp_path / str(i),
                         yosys=yosys)
        for i in range(2)
    ]  # fmt: skip
    a, b = runs
    assert a.area_um2 > 0 and a.area_um2 == b.area_um2
    assert a.sequential_area_um2 == b.sequential_area_um2
    assert a.stat["num_cells_by_type"] == b.stat["num_cells_by_type"]
    assert a.timing["critical_path_ns"] == b.timing["critical_path_ns"] > 0
    # Standard cells only, every one of the library; flip-flops for the pipeline.
    assert all(t[0].isupper() for t in a.stat["num_cells_by_type"]), a.stat["num_cells_by_type"]
    assert a.summary["ffs"] >= params.latency and a.summary["sram_macros"] == 0
    # The area is the cells' library areas summed (AND2X1 is 32 um^2 and so on).
    from rtnerf.liberty import read_library

    lib = read_library(tmp_path / "0" / "osu018_stdcells.lib")
    total = sum(lib.cell(t).area * n for t, n in a.stat["num_cells_by_type"].items())
    assert total == pytest.approx(a.area_um2)


@pytest.mark.slow
def test_cli_osu018_reports_measured_and_scaled_apart(tmp_path, capsys):
    _yosys()
    _osu018()
    cfg = tmp_path / "w4.yaml"
    cfg.write_text("version: 1\nkind: adder_search_tree\nleaves: 4\n")
    run_dir = tmp_path / "run"
    argv = ["area", "adder_search_tree", "-c", str(cfg), "--target", "osu018", "-o", str(run_dir)]
    assert main([*argv, "--node", "16"]) == 0
    record = json.loads((run_dir / "area.json").read_text())
    phys = record["physical"]
    measured, scaled = phys["measured"], phys["scaled"]
    assert measured["node"] == "180 nm, 1.8 V" and scaled["node"] == "16 nm, 0.85 V"
    assert scaled["std_cell_area_um2"] == pytest.approx(measured["std_cell_area_um2"] / 99)
    assert 0 < measured["fmax_mhz"] < scaled["fmax_mhz"]
    assert "pre-layout" in measured["label"] and "projection" in scaled["label"]
    assert (run_dir / "timing.json").exists()
    out = capsys.readouterr().out
    assert "standard-cell area" in out and "scaled to 16 nm" in out


def test_cli_rejects_a_node_outside_the_scaling_table(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["area", "adder_search_tree", "--target", "osu018", "--node", "28"])
    assert exc.value.code == 2
    assert "invalid choice: 28" in capsys.readouterr().err


def test_synthesize_rejects_bad_liberty_options(tmp_path):
    yosys = synth.Yosys("system", ("false",), "0.70")
    with pytest.raises(synth.SynthError, match=r"^`period_ns` must be a positive number, not 0$"):
        synth.synthesize(tmp_path / "x.v", "x", "osu018", tmp_path, yosys=yosys, period_ns=0)
