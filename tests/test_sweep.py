"""rtnerf sweep: study validation, parallel and resumable evaluation, reports."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rtnerf.errors import ConfigError
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
        (("units: [1, 2, 4]", "units: [1, two]"), r"`parameters.units`: 'two' is not a int"),
        (("[hybrid, dense]", "[hybrid, sparse]"), r"`parameters.encoding` must be from hybrid"),
        (("units: [1, 2, 4]", "units: [1, 9]"), r"point \{'units': 9.*`units` must be an integer"),
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
    path = write(tmp_path, STUDY.replace("bags: 12", "bags: 40"))
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
    assert {"units", "unit.cache_ways", "unit.value_width", "encoding"} <= keys


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
