"""The rtnerf command line: blocks, generate (with a Verilator lint), sim, bad input."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import need_simulator

from rtnerf.cli import main
from rtnerf.errors import RtnerfError
from rtnerf.registry import get_block
from rtnerf.sim import toolchain

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "blocks" / "adder_search_tree"


def test_blocks(capsys):
    assert main(["blocks"]) == 0
    assert "adder_search_tree" in capsys.readouterr().out


def test_generate_lints_clean_under_verilator(tmp_path):
    out = tmp_path / "t.v"
    assert main(["generate", "adder_search_tree", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module adder_search_tree(" in text
    assert "/work/" not in text and ".py" not in text  # emit_src=False: no source paths
    need_simulator("verilator")
    toolchain.setup_path()
    lint = subprocess.run(
        ["verilator", "--lint-only", "-Wno-fatal", str(out)], capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stderr
    assert "%Error" not in lint.stderr


def run_cli(*args):
    """Run the CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "rtnerf", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: 1\nleaves: 3\n",
            "rtnerf: error: {path}: `leaves` must be a power of two from 4 to 256, not 3",
        ),
        (
            "version: 1\nleaves: 4\nfoo: 1\n",
            (
                "rtnerf: error: {path}: unknown key `foo` in adder_search_tree params; "
                "allowed: leaves, coord_width, tag_width"
            ),
        ),
    ],
)
@pytest.mark.parametrize("command", ["generate", "sim"])
def test_bad_config_is_one_line(tmp_path, text, message, command):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    proc = run_cli(command, "adder_search_tree", "-c", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == message.format(path=path)  # one line, no traceback


def test_flat_decoder_field_is_one_line(tmp_path):
    path = tmp_path / "flat.yaml"
    path.write_text("version: 1\nkind: engine\nunit: {dim: 32, lanes: 4}\n")
    proc = run_cli("generate", "engine", "-c", str(path))
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        f"rtnerf: error: {path}: `unit.dim` moved to `unit.decoder.columns`"
    )


def test_unknown_block_is_one_line():
    proc = run_cli("generate", "nope")
    assert proc.returncode == 2
    assert (
        proc.stderr.strip() == "rtnerf: error: unknown block 'nope'; available: "
        "adder_search_tree, embedding_lookup_unit, engine, hybrid_row_decoder, memory_port, "
        "sparse_search_unit, texel_lookup"
    )


@pytest.mark.cosim
def test_sim_writes_summary(simulator, tmp_path):
    run_dir = tmp_path / "run"
    code = main(
        [
            "sim",
            "adder_search_tree",
            "-c",
            str(CONFIGS / "w4.yaml"),
            "--simulator",
            simulator,
            "--seed",
            "7",
            "--count",
            "40",
            "--waves",
            "-o",
            str(run_dir),
        ]
    )
    assert code == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {"block", "simulator", "seed", "transactions", "mismatches", "cycles"} <= set(summary)
    assert summary["block"] == "adder_search_tree" and summary["simulator"] == simulator
    assert summary["seed"] == 7 and summary["mismatches"] == 0 and summary["tests"] == 5
    assert summary["transactions"] >= 3 * 40 and summary["cycles"] > summary["transactions"]
    waves = Path(summary["waves"])
    assert waves.suffix == (".fst" if simulator == "verilator" else ".vcd")
    assert waves.is_file() and waves.stat().st_size > 0
    assert (run_dir / "config.yaml").is_file()


ENGINE = CONFIGS.parent / "engine"


def text_files(tmp_path, bags=6):
    """A small text-embedding trace and its table image for the u1 engine."""
    import numpy as np

    from rtnerf.models.image import write_image
    from rtnerf.models.trace import write_trace
    from rtnerf.workloads.text import text_workload

    params = get_block("engine").load_params(ENGINE / "u1.yaml")
    images, trace = text_workload(params, np.random.default_rng(4), vocab=64, bags=bags)
    write_trace(trace, tmp_path / "t.npz")
    write_image(images[0], tmp_path / "v.img")
    return params, images, trace


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["adder_search_tree", "--trace", "t.npz"], "--trace runs on the engine, not on "),
        (["engine", "--trace", "t.npz"], "--trace needs its tables: give --image IMG for"),
        (["engine", "--image", "v.img"], "--image goes with --trace"),
        (
            ["engine", "--trace", "t.npz", *["--image", "v.img"] * 4],
            (
                "t.npz on {tmp}/v.img, {tmp}/v.img, {tmp}/v.img, {tmp}/v.img: 4 tables given; "
                "the unit has `tables` 3"
            ),
        ),
        (["engine", "--trace", "nope.npz", "--image", "v.img"], "nope.npz"),
    ],
)
def test_sim_trace_bad_input_is_one_line(tmp_path, args, message):
    text_files(tmp_path)
    args = [str(tmp_path / a) if a.endswith((".npz", ".img")) else a for a in args]
    config = ["-c", str(ENGINE / "u1.yaml")] if args[0] == "engine" else []
    proc = run_cli("sim", *args, *config)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("rtnerf: error: ")
    assert message.format(tmp=tmp_path) in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.cosim
def test_sim_engine_runs_a_trace(simulator, tmp_path):
    from rtnerf.models.golden.engine import traffic

    params, images, trace = text_files(tmp_path)
    run_dir = tmp_path / "run"
    args = ["sim", "engine", "-c", str(ENGINE / "u1.yaml"), "--simulator", simulator]
    args += ["--trace", str(tmp_path / "t.npz"), "--image", str(tmp_path / "v.img")]
    assert main([*args, "-o", str(run_dir)]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    gold = traffic(params, images, trace)
    assert summary["tests"] == 1 and summary["mismatches"] == 0
    assert summary["transactions"] == len(trace) and summary["cycles"] > len(trace)
    assert summary["dram_bytes"] == gold.total_bytes > 0
    assert summary["dram_bytes_by_cause"] == gold.bytes_by_cause()
    assert summary["dram_requests"] >= gold.memory_requests
    assert summary["params"] == params.to_dict()


@pytest.mark.slow  # elaborating the 12-unit default takes about 40 s; `nox -s demo` builds it too
def test_generate_the_default_design(tmp_path):
    out = tmp_path / "engine.v"
    config = CONFIGS.parent.parent / "default.yaml"
    assert main(["generate", "engine", "-c", str(config), "-o", str(out)]) == 0
    text = out.read_text()
    assert "module engine(" in text
    units = get_block("engine").load_params(config).units
    assert all(f" unit{i} (" in text for i in range(units)) and f" unit{units} (" not in text
    assert " port (" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["sim", "adder_search_tree", "--seed", "-1"],
            r"argument --seed: must be from 0 to 4294967295, not -1",
        ),
        (
            ["bench", "text", "--seed", "-1"],
            r"argument --seed: must be from 0 to 4294967295, not -1",
        ),
        (
            ["demo", "--seed", str(1 << 32)],
            r"argument --seed: must be from 0 to 4294967295, not 4294967296",
        ),
        (["bench", "text", "--cosim-bags", "-2"], r"argument --cosim-bags: must be >= 0, not -2"),
    ],
)
def test_bad_arguments_are_bad_input(args, message):
    proc = run_cli(*args)
    assert proc.returncode == 2, proc.stderr
    assert re.search(message, proc.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("output", ["file/x.v", "dir", "/dev/full"])
def test_generate_to_an_unwritable_output_is_one_line(tmp_path, output):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    target = output if output.startswith("/") else str(tmp_path / output)
    if not Path(target).parent.exists():
        pytest.skip(f"no {target}")
    proc = run_cli("generate", "adder_search_tree", "-o", target)
    assert proc.returncode == 2, proc.stderr
    assert re.fullmatch(rf"rtnerf: error: {re.escape(target)}: cannot write: .*\n", proc.stderr)


def test_sim_refuses_a_run_folder_in_use(tmp_path):
    from rtnerf.runfolder import RunFolder

    with RunFolder(tmp_path / "run"):  # as a running `rtnerf sim -o run` holds it
        proc = run_cli(
            "sim", "adder_search_tree", "--simulator", "icarus", "-o", str(tmp_path / "run")
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"rtnerf: error: {tmp_path / 'run'}: another rtnerf run is writing into this folder; "
        "wait for it to finish or choose another output folder\n"
    )


@pytest.mark.parametrize("command", ["generate", "sim", "area"])
def test_non_utf8_config_is_one_line(tmp_path, command):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"version: 1\nleaves: 4  # \xe9\n")
    proc = run_cli(command, "adder_search_tree", "-c", str(path), "-o", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert proc.stderr == f"rtnerf: error: {path}: not a UTF-8 text file (byte 0xe9 at offset 24)\n"


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (OSError(28, "No space left on device", "/x/out"), "/x/out: No space left on device"),
        (RtnerfError("two\nlines"), "two lines"),
    ],
)
def test_errors_are_one_line(monkeypatch, capsys, error, line):
    import rtnerf.commands.blocks

    def fail(args):
        raise error

    monkeypatch.setattr(rtnerf.commands.blocks, "run", fail)
    assert main(["blocks"]) == 2
    assert capsys.readouterr().err == f"rtnerf: error: {line}\n"


def test_a_skipped_testbench_test_is_not_counted_as_passed(tmp_path):
    from rtnerf.commands.sim import format_summary
    from rtnerf.sim.runner import _skipped

    xml = tmp_path / "results.xml"
    xml.write_text(
        '<testsuites><testsuite name="t">'
        '<testcase name="test_a"/><testcase name="test_b"><skipped/></testcase>'
        '<testcase name="test_c"><failure/></testcase></testsuite></testsuites>'
    )
    assert _skipped(xml) == 1 and _skipped(tmp_path / "missing.xml") == 0
    summary = {"block": "b", "simulator": "icarus", "transactions": 5, "mismatches": 0,
               "cycles": 9, "tests": 3, "failures": 1, "skipped": 1, "passed": False,
               "wall_s": 1.0}  # fmt: skip
    assert format_summary(summary) == (
        "FAIL b on icarus: 5 transactions, 0 mismatches, 9 cycles, 1/2 tests passed "
        "(1 skipped), 1.0 s"
    )
    del summary["skipped"]  # a summary written before the count
    assert "2/3 tests passed, 1.0 s" in format_summary(summary)
