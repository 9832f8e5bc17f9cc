"""rtnerf sweep: study validation, parallel and resumable evaluation, reports."""

import contextlib
import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rtnerf.errors import ConfigError
from rtnerf.runfolder import RunFolder
from rtnerf.sweep import load_study, run_study

STUDY = """\
version: 1
kind: study
name: small
parameters:
  units: [1, 2, 4]
  unit.cache_ways: [0, 2]
  encoding: [hybrid, dense]
workload: {trace: text, bags: 12, seed: 3}
"""
EXAMPLE = Path(__file__).resolve().parents[1] / "benchmarks" / "studies" / "text_lanes.yaml"


def write(tmp_path, text):
    path = tmp_path / "study.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("name: small", "name: small\nfoo: 1"), r"unknown key `foo`; allowed: version, kind"),
        (("units: [1, 2, 4]", "units: []"), r"`parameters.units` must be a non-empty list"),
        (("units: [1, 2, 4]", "unitz: [1]"), r"unknown parameter `unitz`: the engine has no"),
        (("unit.cache_ways", "unit.cache_wayz"), r"unknown parameter `unit.cache_wayz`: unit has"),
        (
            ("unit.cache_ways: [0, 2]", "unit.dim: [16, 32]"),
            r"unknown parameter `unit.dim`: `unit.dim` moved to `unit.decoder.columns`$",
        ),
        (
            ("unit.cache_ways: [0, 2]", "unit.decoder.rows: [16]"),
            r"unknown parameter `unit.decoder.rows`: unit.decoder has no `rows`",
        ),
        (("units: [1, 2, 4]", "units: [1, two]"), r"`parameters.units`: 'two' is not a int"),
        (("[hybrid, dense]", "[hybrid, sparse]"), r"`parameters.encoding` must be from hybrid"),
        (
            ("units: [1, 2, 4]", "units: [1, 65]"),
            r"point \{'units': 65.*`units` must be an integer",
        ),
        (("bags: 12", "bags: many"), r"`workload.bags` must be a non-negative integer"),
        (("seed: 3}", "seed: 3, size: 2}"), r"unknown key `workload.size`"),
        (("name: small", "name: small\nsampling: all"), r"`sampling` must be 'grid' or"),
        (("name: small", "name: small\narea: asic"), r"`area` must be one of none, generic"),
        (("version: 1", "version: 2"), r"`version` must be 1, not 2"),
    ],
)
def test_bad_studies_are_rejected_naming_the_key(tmp_path, change, message):
    path = write(tmp_path, STUDY.replace(*change))
    with pytest.raises(ConfigError, match=message):
        load_study(path)
    proc = subprocess.run(
        [sys.executable, "-m", "rtnerf", "sweep", str(path), "-o", str(tmp_path / "run")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()  # rejected before any point ran


def test_grid_and_random_sampling(tmp_path):
    study = load_study(write(tmp_path, STUDY))
    assert len(study.points) == 12 and study.points[0] == {
        "units": 1,
        "unit.cache_ways": 0,
        "encoding": "hybrid",
    }
    sampled = load_study(write(tmp_path, STUDY + "sampling: {random: 5, seed: 2}\n"))
    assert len(sampled.points) == 5 and all(p in study.points for p in sampled.points)
    assert len({json.dumps(p, sort_keys=True) for p in sampled.points}) == 5


def stored(run_dir):
    with contextlib.closing(sqlite3.connect(run_dir / "results.sqlite")) as db:
        return [k for (k,) in db.execute("SELECT key FROM points")]


def test_killed_sweep_resumes_without_loss_or_repeats(tmp_path):
    # Points of 3,000 bags take about 0.2 s each: the kill lands mid-way.
    path = write(tmp_path, STUDY.replace("bags: 12", "bags: 3000"))
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "rtnerf", "sweep", str(path), "-j", "2", "-o", str(run_dir)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while time.time() < deadline:
        if (run_dir / "results.sqlite").exists() and len(stored(run_dir)) >= 3:
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its workers, mid-way
    proc.wait()
    first = stored(run_dir)
    assert 3 <= len(first) < 12, len(first)
    again = subprocess.run(cmd, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} already done, {12 - len(first)} to run" in again.stderr
    keys = stored(run_dir)
    assert len(keys) == len(set(keys)) == 12
    assert set(first) <= set(keys)
    header = (run_dir / "results.csv").read_text().splitlines()[0]
    assert "throughput [bags/s]" in header and "dram_bytes [B]" in header
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["evaluated"] == 12 and summary["pareto"]["points"]
    for plot in ("pareto.png", "dram_by_cause.png", "roofline.png"):
        assert (run_dir / plot).stat().st_size > 10_000


def test_dask_local_cluster_gives_the_same_results(tmp_path):
    pytest.importorskip("dask.distributed")
    study = load_study(write(tmp_path, STUDY.replace("units: [1, 2, 4]", "units: [2]")))
    local = run_study(study, tmp_path / "local", jobs=1)
    dask = run_study(study, tmp_path / "dask", dask="local")
    assert local["evaluated"] == dask["evaluated"] == 4
    local["best"].pop("seconds"), dask["best"].pop("seconds")
    assert local["best"] == dask["best"]


def test_example_study_is_valid():
    study = load_study(EXAMPLE)
    assert len(study.points) >= 24
    keys = set(study.points[0])
    assert {"units", "unit.inflight", "unit.decoder.word_width+port.word_width", "encoding"} <= keys


def sweep_cli(*args):
    return subprocess.run([sys.executable, "-m", "rtnerf", "sweep", *map(str, args)],
                          capture_output=True, text=True)  # fmt: skip


def one_line_error(proc, pattern):
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert re.fullmatch(pattern, proc.stderr.strip()), proc.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("units: [1, 2, 4]", "units: [1, 1, 2]"), r"`parameters.units` lists 1 more than once$"),
        (
            (
                "  encoding: [hybrid, dense]",
                "  port.word_width: [32, 64]\n  unit.decoder.word_width+port.word_width: [32]",
            ),
            r"points \{.*\} and \{.*\} are the same design$",
        ),
        (
            ("name: small", "name: small\nclock_mhz: .inf"),
            r"`clock_mhz` must be a finite number, not inf$",
        ),
        (
            ("name: small", "name: small\nclock_mhz: .nan"),
            r"`clock_mhz` must be a finite number, not nan$",
        ),
        (
            ("units: [1, 2, 4]", "units: [1, 2, 4]\n  unit.max_bag: [16, 64]"),
            (
                r"point \{.*'unit.max_bag': 16.*\}: `unit.max_bag` 16 cannot hold the workload's "
                r"bags of up to 64 requests; lower `workload.max_bag`$"
            ),
        ),
        (
            ("seed: 3}", "seed: 3, max_bag: 65}"),
            r"`workload.max_bag` must be an integer from 1 to 64, not 65$",
        ),
    ],
)
def test_misused_studies_are_one_line(tmp_path, change, message):
    path = write(tmp_path, STUDY.replace(*change))
    with pytest.raises(ConfigError, match=message):
        load_study(path)
    one_line_error(
        sweep_cli(path, "-o", tmp_path / "run"), rf"rtnerf: error: {re.escape(str(path))}: .*"
    )


def test_non_utf8_study_is_one_line(tmp_path):
    path = tmp_path / "study.yaml"
    path.write_bytes(STUDY.encode() + b"# caf\xe9\n")
    one_line_error(
        sweep_cli(path), rf"rtnerf: error: {re.escape(str(path))}: not a UTF-8 text file .*"
    )


def test_swept_max_bag_runs_the_same_workload(tmp_path):
    text = STUDY.replace("units: [1, 2, 4]", "units: [1]\n  unit.max_bag: [16, 64]")
    study = load_study(write(tmp_path, text.replace("seed: 3}", "seed: 3, max_bag: 16}")))
    summary = run_study(study, tmp_path / "run")
    rows = list(csv.DictReader((tmp_path / "run" / "results.csv").read_text().splitlines()))
    assert summary["evaluated"] == 8
    by_bag = {}
    for row in rows:
        key = (row["unit.cache_ways"], row["encoding"])
        by_bag.setdefault(key, []).append((row["cycles [cycles]"], row["dram_bytes [B]"]))
    assert all(a == b for a, b in by_bag.values()), by_bag


def test_a_store_of_another_study_is_refused(tmp_path):
    small = STUDY.replace("units: [1, 2, 4]", "units: [1]").replace("[hybrid, dense]", "[dense]")
    run_dir = tmp_path / "run"
    run_study(load_study(write(tmp_path, small)), run_dir)
    before = stored(run_dir)
    for change in (("seed: 3", "seed: 4"), ("bags: 12", "bags: 13"), ("[dense]", "[hybrid]")):
        path = write(tmp_path, small.replace(*change))
        one_line_error(
            sweep_cli(path, "-o", run_dir),
            rf"rtnerf: error: {re.escape(str(run_dir / 'results.sqlite'))}: holds the results of "
            r"another study \('small', digest \w+\), not of 'small' \(digest \w+\); use another "
            r"output folder or delete it to start over",
        )
    assert stored(run_dir) == before


@pytest.mark.parametrize(
    "contents", [b"", b"SQLite format 3\0" + bytes(range(256)) * 8, bytes(range(256)) * 20]
)
def test_a_corrupt_store_is_one_line(tmp_path, contents):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.sqlite").write_bytes(contents)
    path = write(tmp_path, STUDY.replace("units: [1, 2, 4]", "units: [1]"))
    proc = sweep_cli(path, "-o", run_dir, "-j", "1")
    if contents:
        one_line_error(
            proc,
            r"rtnerf: error: .*results.sqlite: not a usable results store \(.*\); delete it to "
            r"start over",
        )
    else:  # an empty file is an empty database
        assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("output", ["file", "file/run"])
def test_an_output_that_is_a_file_is_one_line(tmp_path, output):
    (tmp_path / "file").write_text("")
    path = write(tmp_path, STUDY)
    one_line_error(
        sweep_cli(path, "-o", tmp_path / output),
        rf"rtnerf: error: {re.escape(str(tmp_path / output))}: cannot create run folder: .*",
    )


def test_an_unreachable_dask_scheduler_is_one_line(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    import rtnerf.sweep

    monkeypatch.setattr(rtnerf.sweep, "DASK_TIMEOUT_S", 1)
    study = load_study(write(tmp_path, STUDY))
    for address, why in (("tcp://127.0.0.1:1", "Timed out"), ("nowhere", "missing port")):
        with pytest.raises(
            ConfigError, match=rf"^--dask {address}: cannot reach the scheduler: {why}"
        ):
            run_study(study, tmp_path / "run", dask=address)
    assert stored(tmp_path / "run") == []


def children(pid):
    """Process ids whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                out.append(int(stat.parent.name))
    return out


def alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_second_sweep_into_a_busy_folder_is_refused(tmp_path):
    path = write(tmp_path, STUDY)
    with RunFolder(tmp_path / "run"):  # as a running sweep holds it
        one_line_error(
            sweep_cli(path, "-o", tmp_path / "run"),
            rf"rtnerf: error: {re.escape(str(tmp_path / 'run'))}: another rtnerf run is writing "
            r"into this folder; wait for it to finish or choose another output folder",
        )
    assert not (tmp_path / "run" / "results.sqlite").exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_die_with_a_killed_sweep(tmp_path):
    path = write(tmp_path, STUDY.replace("bags: 12", "bags: 20000"))
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "rtnerf", "sweep", str(path), "-j", "2", "-o", str(run_dir)]
    proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(children(proc.pid)) < 2:
            time.sleep(0.2)
        workers = children(proc.pid)
        assert len(workers) >= 2, "no worker processes started"
        proc.send_signal(signal.SIGKILL)  # the sweep alone, not its process group
        proc.wait()
        deadline = time.time() + 30
        while time.time() < deadline and any(alive(w) for w in workers):
            time.sleep(0.2)
        assert not any(alive(w) for w in workers)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_point_evaluates_to_a_typed_result(tmp_path):
    from rtnerf.sweep import COLUMNS, PointResult, evaluate_point

    study = load_study(write(tmp_path, STUDY))
    result = evaluate_point(study.to_dict(), study.points[0])
    assert isinstance(result, PointResult) and result.area_cells is None
    assert set(result.to_dict()) == set(COLUMNS) - {
        "area_cells",
        "area_um2",
        "fmax_mhz",
        "area_um2_node",
    }
    assert PointResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result
    assert result.dram_bytes == sum(
        getattr(result, f"dram_{c}_bytes") for c in ("directory", "bitmap", "coordinates", "values")
    )


def test_energy_and_um2_columns_and_pareto_plots(tmp_path, monkeypatch):
    """Energy per bag on every point; with osu018 the Pareto cost is um^2 at the node."""
    import rtnerf.sweep as sweep

    def fake_area(params, target):  # synthesis is `rtnerf area`'s, tested there
        assert target == "osu018"
        cells = 1000 * params.units
        return {"area_cells": cells, "area_um2": 60.0 * cells, "fmax_mhz": 100.0,
                "area_um2_node": 0.6 * cells}  # fmt: skip

    monkeypatch.setattr(sweep, "_area", fake_area)
    text = STUDY.replace("units: [1, 2, 4]", "units: [1, 2]").replace(
        "encoding: [hybrid, dense]", "encoding: [hybrid]"
    )
    study = load_study(write(tmp_path, text + "area: osu018\n"))
    summary = run_study(study, tmp_path / "run")
    assert summary["pareto"]["cost"] == "area_um2_node"
    assert summary["pareto_energy"]["cost"] == "energy_pj_per_bag"
    header = (tmp_path / "run" / "results.csv").read_text().splitlines()[0]
    for column in ("area_um2 [um2]", "fmax_mhz [MHz]", "area_um2_node [um2]",
                   "energy_pj_per_bag [pJ/bag]", "energy_pj_per_request [pJ/request]"):  # fmt: skip
        assert column in header
    best = summary["best"]
    assert best["energy_pj_per_bag"] > best["energy_pj_per_request"] > 0
    for plot in ("pareto.png", "pareto_energy.png"):
        assert (tmp_path / "run" / plot).stat().st_size > 10_000
