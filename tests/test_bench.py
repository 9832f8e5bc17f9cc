import csv
import dataclasses
import json

import numpy as np
import pytest
from conftest import need_simulator

from rtnerf import bench
from rtnerf.cli import main
from rtnerf.workloads import data
from rtnerf.workloads.baselines import available
from rtnerf.workloads.kernel import BagKernel, design

SEED = 5


def tiny(name, pairwise="none", bags=12, rows=(40, 6), dim=4, seed=SEED, family="text"):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    tables = tuple(rng.standard_normal((r, dim)).astype(np.float32) for r in rows)
    sizes = rng.integers(1, 6, bags)
    n = int(sizes.sum())
    table = rng.integers(0, len(tables), n)
    return BagKernel(
        name=name,
        family=family,
        tables=tables,
        table=table,
        row=np.array([rng.integers(0, rows[t]) for t in table], np.int64),
        weight=np.repeat(1.0 / sizes, sizes),
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        pairwise=pairwise,
    )


@pytest.fixture
def tiny_family(monkeypatch):
    """The text family's builder replaced by three tiny synthetic kernels."""
    calls = []

    def build(quick, seed):
        calls.append((quick, seed))
        return [tiny("sum"), tiny("pairs-dot", "dot"), tiny("pairs-l2", "l2", rows=(30,))]

    monkeypatch.setitem(bench.BUILDERS, "text", build)
    return calls


def test_bench_quick_writes_the_reports(tmp_path, tiny_family, capsys):
    out = tmp_path / "run"
    rc = main(["bench", "text", "--quick", "-o", str(out), "--repeats", "1", "--cosim-bags", "0"])
    assert rc == 0
    assert tiny_family == [(True, 1)]
    for name in ("summary.json", "results.csv", "summary.txt", "throughput.png",
                 "dram_bytes.png", "cache.png", "energy.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    s = json.loads((out / "summary.json").read_text())
    assert s["version"] == bench.SUMMARY_VERSION and s["kind"] == "bench"
    assert s["family"] == "text" and s["quick"] is True
    assert {"machine", "clock_hz", "tolerance", "implementations", "kernels", "entries"} <= set(s)
    impls = [*available(), "accelerator"]
    assert s["implementations"] == impls
    # One entry per kernel and implementation, with throughput and bytes.
    pairs = [(e["kernel"], e["implementation"]) for e in s["entries"]]
    assert pairs == [(f"text/{k}", i) for k in ("sum", "pairs-dot", "pairs-l2") for i in impls]
    for e in s["entries"]:
        assert e["lookups_per_s"] > 0 and e["useful_bytes"] > 0 and e["effective_gb_per_s"] > 0
        if e["implementation"] == "accelerator":
            assert e["dram_bytes_per_lookup"] > 0 and 0 < e["burst_efficiency"] <= 1
            assert e["design"]["unit.decoder.columns"] == 4
            # The energy model's pJ/lookup, its components summing to it.
            parts = e["energy"]["components_pj_per_lookup"]
            assert e["energy_pj_per_lookup"] == pytest.approx(sum(parts.values()))
            # Dense float tables are placed at a row stride: no directory reads at all.
            assert parts["dram/directory"] == 0 and parts["dram/values"] > 0
            assert parts["mac/mult"] > 0
        else:
            assert e["agrees"] is True
            # RAPL package power where the machine exposes it, else None (n/a).
            assert (e["package_w"] is None) == (e["energy_pj_per_lookup"] is None)
    k = s["kernels"][1]
    assert k["pairwise"] == "dot" and k["tables"] == [[40, 4], [6, 4]] and "cosim" not in k
    assert len(k["cache_sweep"]) == 3  # quick: no cache, one small, the largest
    with (out / "results.csv").open() as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["kernel", "implementation", "lookups [lookups]"]
    assert "lookups_per_s [lookups/s]" in rows[0] and "effective_gb_per_s [GB/s]" in rows[0]
    assert "dram_bytes_per_lookup [B/lookup]" in rows[0]
    assert len(rows) == 1 + len(pairs)
    text = capsys.readouterr().out
    assert "text/pairs-l2" in text and "DRAM B/lookup by cause" in text and "run folder" in text
    assert "pJ/lookup at 16 nm, 0.85 V, DRAM ddr4 (energy model)" in text
    assert "energy_pj_per_lookup [pJ/lookup]" in rows[0]


def test_bench_keeps_recorded_baselines_and_re_evaluates_the_accelerator(
    tmp_path, tiny_family, capsys
):
    first, second = tmp_path / "first", tmp_path / "second"
    args = ["bench", "text", "--quick", "--repeats", "1", "--cosim-bags", "0"]
    assert main([*args, "-o", str(first)]) == 0
    old = json.loads((first / "summary.json").read_text())
    # A changed record shows that the second run copies the timings instead of timing again.
    old["machine"] = "the idle machine"
    for e in old["entries"]:
        if e["implementation"] == "numpy":
            e["lookups_per_s"] = 1e15
    (first / "summary.json").write_text(json.dumps(old))
    assert main([*args, "-o", str(second), "--baselines-from", str(first)]) == 0
    new = json.loads((second / "summary.json").read_text())
    assert new["baselines_from"]["machine"] == "the idle machine"
    kept = [e for e in new["entries"] if e["implementation"] != "accelerator"]
    assert kept == [e for e in old["entries"] if e["implementation"] != "accelerator"]
    for e in new["entries"]:
        if e["implementation"] == "accelerator":  # the best baseline is the recorded numpy
            assert e["vs_best_cpu"] == pytest.approx(e["lookups_per_s"] / 1e15)
    capsys.readouterr()
    # Another family, or a run without the kernel: one line, exit 2.
    old["family"] = "graph"
    (first / "summary.json").write_text(json.dumps(old))
    assert main([*args, "-o", str(tmp_path / "x"), "--baselines-from", str(first)]) == 2
    assert "is a run of 'graph' --quick, not 'text' --quick" in capsys.readouterr().err
    old["family"] = "text"
    old["entries"] = [e for e in old["entries"] if e["kernel"] != "text/pairs-l2"]
    (first / "summary.json").write_text(json.dumps(old))
    assert main([*args, "-o", str(tmp_path / "y"), "--baselines-from", str(first)]) == 2
    assert "has no baselines of text/pairs-l2" in capsys.readouterr().err
    assert main([*args, "-o", str(tmp_path / "z"), "--baselines-from", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bench_missing_data_is_one_line(tmp_path, monkeypatch, capsys):
    def build(quick, seed):
        raise data.DataNotFoundError("dataset 'glove' is not cached; run `rtnerf data fetch glove`")

    monkeypatch.setitem(bench.BUILDERS, "text", build)
    assert main(["bench", "text", "-o", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "rtnerf data fetch glove" in err


def test_family_kernels_rejects_unknown_families():
    with pytest.raises(bench.ConfigError, match=r"^`family` must be one of hyperbolic, graph, "):
        bench.family_kernels("nerf")


def test_quick_lines_name_the_fetch_for_missing_data(tmp_path, monkeypatch, tiny_family):
    monkeypatch.setattr(data, "is_cached", lambda name: name != "wordnet")
    monkeypatch.setitem(bench.BUILDERS, "graph", lambda quick, seed: [tiny("g", family="graph")])
    lines = bench.quick_lines(tmp_path)
    assert "hyperbolic: not run, run `rtnerf data fetch wordnet`" in lines
    assert any(line.startswith("graph/g ") for line in lines)
    assert sum(line.startswith("text/") for line in lines) == 3


@pytest.mark.cosim
@pytest.mark.slow
def test_cosim_sample_is_bit_exact(tmp_path):
    need_simulator("icarus")
    k = tiny("pairs", "l2", bags=10)
    r = bench.cosim_sample(k, design(k), 4, tmp_path, simulator="icarus")
    assert r["passed"] and r["mismatches"] == 0 and r["bags"] == 4 and r["cycles"] > 0
    # The energy model's DRAM events are the RTL's: the bytes the cosim's DRAM model served.
    from rtnerf.models.perf.engine import estimate
    from rtnerf.models.physical.events import engine_events
    from rtnerf.workloads.accelerator import sample
    from rtnerf.workloads.kernel import engine_inputs

    images, trace = engine_inputs(sample(k, 4), design(k))
    events = engine_events(design(k), estimate(design(k), images, trace), images, trace)
    assert sum(events.dram_bytes.values()) == r["dram_bytes"] > 0


def test_cosim_sample_skips_without_the_simulator(tmp_path, monkeypatch):
    import rtnerf.sim.toolchain as toolchain

    monkeypatch.setattr(toolchain, "unavailable_reason", lambda s: "not installed here")
    k = dataclasses.replace(tiny("x"), name="x")
    assert bench.cosim_sample(k, design(k), 2, tmp_path, simulator="icarus") == {
        "simulator": "icarus",
        "skipped": "not installed here",
    }


def test_cosim_sample_rejects_an_unknown_schedule(tmp_path):
    k = dataclasses.replace(tiny("x"), name="x")
    with pytest.raises(ValueError, match="`schedule` must be one of balanced, trace, not 'sorted'"):
        bench.cosim_sample(k, design(k), 2, tmp_path, simulator="icarus", schedule="sorted")


def test_a_failed_cosim_is_reported_not_raised(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no model")

    monkeypatch.setattr(bench, "cosim_sample", broken)
    s = bench.run_bench(
        "text", tmp_path, kernels=[tiny("x")], repeats=1, cosim_bags=2, cache_settings=()
    )
    assert s["kernels"][0]["cosim"] == {
        "simulator": "icarus",
        "passed": False,
        "error": "RuntimeError: no model",
    }
    assert (
        "RTL cosim (icarus): FAILED, RuntimeError: no model"
        in (tmp_path / "summary.txt").read_text()
    )
