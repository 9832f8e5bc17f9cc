import dataclasses
import re

import numpy as np
import pytest

from rtnerf.params import EngineParams
from rtnerf.workloads import accelerator, baselines
from rtnerf.workloads.accelerator import cache_sweep, evaluate, overrides, sample
from rtnerf.workloads.baselines import (
    IMPLEMENTATIONS,
    TOLERANCE,
    Timing,
    available,
    prepare,
    relative_error,
    time_kernel,
)
from rtnerf.workloads.kernel import BagKernel, balanced, design, engine_inputs

SEED = 11


def make(pairwise="none", bags=24, rows=(50,), dim=8, max_len=9, seed=SEED, name="k"):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    tables = tuple(rng.standard_normal((r, dim)).astype(np.float32) for r in rows)
    sizes = rng.integers(1, max_len + 1, bags)
    n = int(sizes.sum())
    table = rng.integers(0, len(tables), n)
    row = np.array([rng.integers(0, rows[t]) for t in table], np.int64)
    return BagKernel(
        name=name,
        family="text",
        tables=tables,
        table=table,
        row=row,
        weight=rng.uniform(-1, 1, n),
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        pairwise=pairwise,
    )


@pytest.mark.parametrize("implementation", available())
@pytest.mark.parametrize("pairwise", ["none", "dot", "l2"])
@pytest.mark.parametrize("rows", [(50,), (40, 7, 300)])
def test_baselines_agree_with_the_reference(implementation, pairwise, rows):
    k = make(pairwise, rows=rows)
    got = prepare(k, implementation)()
    ref = k.reference()
    assert got.shape == ref.shape and got.dtype == np.float32
    assert relative_error(got, ref) <= TOLERANCE
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_numpy_blocks_split_at_bag_boundaries(monkeypatch):
    k = make("dot", bags=40, rows=(30, 20))
    monkeypatch.setattr(baselines, "NUMPY_BLOCK", 7)  # bags up to 9 lookups: some blocks of one
    assert relative_error(prepare(k, "numpy")(), k.reference()) <= TOLERANCE


def test_read_only_tables_are_fine():
    k = make(rows=(20, 10))
    tables = tuple(np.lib.stride_tricks.as_strided(t, writeable=False) for t in k.tables)
    k = dataclasses.replace(k, tables=tables)
    for impl in available():
        assert relative_error(prepare(k, impl)(), k.reference()) <= TOLERANCE


def test_available_lists_numpy_and_numba_first():
    assert available()[:2] == ("numpy", "numba")
    assert set(available()) <= set(IMPLEMENTATIONS)


def test_prepare_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"^`implementation` must be one of numpy, numba, torch, "):
        prepare(make(), "cuda")
    with pytest.raises(TypeError, match=r"^`kernel` must be a BagKernel, not ndarray$"):
        prepare(np.zeros(3), "numpy")


def test_relative_error_scales_by_the_reference():
    ref = np.array([[2.0, -4.0]])
    assert relative_error(np.array([[2.0, -3.0]]), ref) == pytest.approx(0.25)
    assert relative_error(np.zeros((1, 2)), np.zeros((1, 2))) == 0.0
    with pytest.raises(ValueError, match=r"^`result` has shape \(2,\), the reference \(1, 2\)$"):
        relative_error(np.zeros(2), ref)


def test_time_kernel_reports_every_implementation_side_by_side():
    k = make("l2", bags=20, rows=(30, 5))
    out = time_kernel(k, repeats=3)
    assert [t.implementation for t in out] == list(available())
    for t in out:
        assert isinstance(t, Timing)
        assert len(t.seconds) == 3 and all(s > 0 for s in t.seconds)
        assert t.kernel == "text/k" and t.lookups == k.lookups and t.bags == k.bags
        assert t.useful_bytes == k.lookups * k.dim * 4
        assert t.lookups_per_s == pytest.approx(k.lookups / np.median(t.seconds))
        assert t.effective_gb_per_s == pytest.approx(t.useful_bytes / t.median_s / 1e9)
        assert t.agrees and t.threads >= 1
        d = t.to_dict()
        assert {"median_s", "lookups_per_s", "effective_gb_per_s", "error", "agrees"} <= set(d)
        assert d["tolerance"] == TOLERANCE


def test_time_kernel_flags_a_wrong_reference():
    k = make()
    (t,) = time_kernel(k, ["numpy"], repeats=1, reference=k.reference() + 1.0)
    assert not t.agrees and t.error > TOLERANCE


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repeats": 0}, r"^`repeats` must be a positive integer, not 0$"),
        ({"warmup": 0}, r"^`warmup` must be a positive integer, not 0$"),
    ],
)
def test_time_kernel_rejects_bad_counts(kwargs, message):
    with pytest.raises(ValueError, match=message):
        time_kernel(make(), ["numpy"], **kwargs)


# The accelerator path


@pytest.mark.parametrize("pairwise", ["none", "l2"])
def test_evaluate_reports_the_design_point(pairwise):
    k = make(pairwise, rows=(60, 9), dim=6)
    # Mean-like weights (|sum| <= 1 per bag) keep pooled values within the 16-bit output.
    k = dataclasses.replace(k, weight=k.weight / np.repeat(np.diff(k.offsets), np.diff(k.offsets)))
    r = evaluate(k, cache_settings=((1, 0), (4, 2)))
    assert r["design"] == overrides(design(k))
    # lanes: the largest divisor of dim (6) not above the default's 8.
    assert r["design"]["unit.decoder.columns"] == 6 and r["design"]["unit.lanes"] == 6
    assert r["lookups"] == k.lookups and r["cycles"] > 0
    assert r["lookups_per_s"] == pytest.approx(k.lookups / (r["cycles"] / accelerator.CLOCK_HZ))
    causes = r["dram_bytes_per_lookup_by_cause"]
    assert set(causes) == set(accelerator.CAUSES)
    assert sum(causes.values()) == pytest.approx(r["dram_bytes_per_lookup"])
    assert r["useful_bytes"] == k.lookups * 6 * 2  # 16-bit values
    assert r["burst_efficiency"] == pytest.approx(r["useful_bytes"] / r["dram_bytes"])
    assert r["cache_hit_rate"] == 0.0  # the default design has no cache
    # 16-bit values, 8-bit weights: the golden result is within a few 2^-8 of the reference.
    assert 0 < r["fixed_point_error"] < 0.05
    assert [c["rows"] for c in r["cache_sweep"]] == [0, 8]
    # Energy: the DRAM share is the bytes per lookup times the table's DDR4 pJ/byte.
    parts = r["energy"]["components_pj_per_lookup"]
    assert r["energy_pj_per_lookup"] == pytest.approx(sum(parts.values()))
    dram = sum(v for k, v in parts.items() if k.startswith("dram/"))
    assert dram == pytest.approx(r["dram_bytes_per_lookup"] * 8 * 20.3)


@pytest.mark.parametrize("pairwise", ["none", "l2"])
def test_balanced_runs_bags_longest_first_with_the_same_results(pairwise):
    k = make(pairwise, bags=40, rows=(50, 9))
    s, order = balanced(k)
    sizes, got = np.diff(k.offsets), np.diff(s.offsets)
    assert s.lookups == k.lookups and sorted(order) == list(range(len(order)))
    if pairwise == "none":
        assert (np.diff(got) <= 0).all() and (got == sizes[order]).all()
    else:  # pairs stay together, ordered by their total length
        totals = got[0::2] + got[1::2]
        assert (np.diff(totals) <= 0).all() and (got[0::2] == sizes[2 * order]).all()
    # Equal lengths keep the trace's order (stable).
    for length in np.unique(got if pairwise == "none" else totals):
        same = order[(got if pairwise == "none" else totals) == length]
        assert (np.diff(same) > 0).all()
    np.testing.assert_allclose(s.reference(), k.reference()[order])


def test_evaluate_balances_long_bags_across_the_units():
    # A 60-lookup bag every 12th bag: in trace order the default's 12 units deal every long
    # bag to unit 0, which runs while the other eleven wait at each round's end.
    sizes = np.tile([60] + [2] * 11, 6)
    k = make(bags=sizes.size, rows=(400,))
    n = int(sizes.sum())
    rng = np.random.default_rng(SEED)
    k = dataclasses.replace(
        k,
        table=np.zeros(n, np.int64),
        row=rng.integers(0, 400, n),
        weight=np.full(n, 1 / 64),
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
    )
    fair = evaluate(k, cache_settings=())
    plain = evaluate(k, cache_settings=(), schedule="trace")
    assert fair["schedule"] == "balanced" and plain["trace_order"] is None
    assert fair["trace_order"]["cycles"] == plain["cycles"]
    assert fair["cycles"] < 0.8 * plain["cycles"]
    assert fair["dram_bytes"] == plain["dram_bytes"]  # no directory: the same bursts
    assert fair["fixed_point_error"] == pytest.approx(plain["fixed_point_error"])
    with pytest.raises(ValueError, match=r"^`schedule` must be one of balanced, trace, not 'x'$"):
        evaluate(k, schedule="x")


def test_overrides_name_only_what_changed():
    base = EngineParams()
    assert overrides(base) == {}
    p = base.replace(units=4, unit={"decoder": {"columns": 10}, "lanes": 2})
    assert overrides(p) == {"units": 4, "unit.decoder.columns": 10, "unit.lanes": 2}


def test_cache_sweep_hit_rates_grow_with_the_cache():
    k = make(rows=(16,), bags=60)
    params = design(k)
    images, trace = engine_inputs(k, params)
    out = cache_sweep(params, images, trace, ((1, 0), (1, 2), (4, 4), (16, 4)))
    hits = [c["hit_rate"] for c in out]
    assert hits[0] == 0.0 and hits == sorted(hits) and hits[-1] > 0.5
    per = [c["dram_bytes_per_lookup"] for c in out]
    assert per == sorted(per, reverse=True)
    assert out[2]["total_rows"] == 16 * params.units


@pytest.mark.parametrize("pairwise", ["none", "dot"])
def test_sample_keeps_the_first_bags_over_the_rows_they_read(pairwise):
    k = make(pairwise, rows=(50, 30), bags=20)
    s = sample(k, 5)
    bags = 4 if pairwise == "dot" else 5
    assert s.bags == bags and s.name == "k-sample"
    assert all(t.shape[0] <= 50 for t in s.tables)
    np.testing.assert_allclose(s.pooled(), k.pooled()[:bags], rtol=1e-12)
    assert (
        s.tables[0].shape[0]
        == np.unique(k.row[: k.offsets[bags]][k.table[: k.offsets[bags]] == 0]).size
    )
    with pytest.raises(ValueError, match=r"^`bags` must be a positive integer, not 0$"):
        sample(k, 0)
    assert re.match(r"^k-sample$", sample(k, 10**6).name) and sample(k, 10**6).bags == k.bags


@pytest.mark.parametrize("pairwise", ["none", "dot", "l2"])
def test_one_row_bags_take_the_shortcuts(pairwise):
    k = make(pairwise, bags=30, rows=(25, 5), max_len=1)
    assert k.lookups == k.bags
    for impl in available():
        assert relative_error(prepare(k, impl)(), k.reference()) <= TOLERANCE, impl
