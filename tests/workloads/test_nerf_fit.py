"""The sparse refit (``plane_density``): budgets, what it buys over pruning, its cache keys."""

import json

import numpy as np
import pytest

from rtnerf.cli import main
from rtnerf.workloads.nerf.fit import cache_key, fit_vm, fit_volume, load_or_fit
from rtnerf.workloads.nerf.render import orbit_cameras, psnr, render_rtnerf, render_uniform
from rtnerf.workloads.nerf.storage import prune
from rtnerf.workloads.nerf.volume import load_scene

SEED = 5


def sparse_plane_volume(n=12, rank=3, density=0.2, seed=SEED):
    """A volume that is exactly a VM sum with ``density``-sparse planes (random support)."""
    rng = np.random.default_rng(seed)
    vol = np.zeros((n, n, n))
    for spec in ("ij,k->ijk", "ik,j->ijk", "jk,i->ijk"):
        for _ in range(rank):
            plane = rng.standard_normal((n, n)) * (rng.random((n, n)) < density)
            vol += np.einsum(spec, plane, rng.standard_normal(n))
    return vol


@pytest.mark.parametrize("sparsity", ["l0", "l1"])
def test_budget_is_met_per_mode(sparsity):
    vol = sparse_plane_volume()
    planes, _, fit = fit_vm(vol, 3, sweeps=10, plane_density=0.15, sparsity=sparsity)
    for m in range(3):
        assert np.count_nonzero(planes[m]) <= np.ceil(0.15 * planes[m].size)
    # The reconstruction is the sum of the stored (sparse) factors.
    assert np.isfinite(fit).all() and np.linalg.norm(fit) > 0


def test_l0_refit_beats_pruning_the_dense_fit():
    vol = sparse_plane_volume()
    dense, lines, _ = fit_vm(vol, 3, sweeps=30)
    # Prune the dense fit to 20 % per mode and reconstruct from its factors.
    pruned = dense.copy()
    for m in range(3):
        flat = pruned[m].reshape(-1)
        flat[np.argsort(np.abs(flat))[: flat.size - int(np.ceil(0.2 * flat.size))]] = 0
    specs = ("rji,rk->ijk", "rki,rj->ijk", "rkj,ri->ijk")  # planes[m, r, i1, i0] * lines[m, r]
    rec = sum(np.einsum(specs[m], pruned[m], lines[m]) for m in range(3))
    _, _, refit = fit_vm(vol, 3, sweeps=30, plane_density=0.2)
    err_prune = np.linalg.norm(rec - vol) / np.linalg.norm(vol)
    err_refit = np.linalg.norm(refit - vol) / np.linalg.norm(vol)
    assert err_refit < 0.5 * err_prune


def test_refit_renders_closer_to_the_dense_fit_than_pruning():
    vol = load_scene("test", 24)
    dense = fit_volume(vol, 4, 6, sweeps=6, color_sweeps=3)
    refit = fit_volume(vol, 4, 6, sweeps=6, color_sweeps=3, plane_density=0.1)
    for m in range(3):
        size = refit.density_planes[m].size
        assert np.count_nonzero(refit.density_planes[m]) <= np.ceil(0.1 * size)
        # The appearance budget is per colour channel's third of the components.
        assert np.count_nonzero(refit.app_planes[m]) <= 3 * np.ceil(0.1 * size / 4 * 6 / 3)
    assert refit.meta["plane_density"] == 0.1 and refit.meta["sparsity"] == "l0"
    cam = orbit_cameras(2, 32)[1]
    ref = render_uniform(dense, cam).image
    p_refit = psnr(ref, render_rtnerf(refit, cam).image)
    p_prune = psnr(ref, render_rtnerf(prune(dense, 0.1), cam).image)
    assert p_refit > p_prune + 3


def test_bad_arguments():
    vol = sparse_plane_volume(n=6)
    with pytest.raises(ValueError, match=r"^`plane_density` must be in \(0, 1\], not 0"):
        fit_vm(vol, 2, plane_density=0)
    with pytest.raises(ValueError, match=r"^`sparsity` must be one of 'l0', 'l1', not 'l2'"):
        fit_vm(vol, 2, plane_density=0.5, sparsity="l2")
    with pytest.raises(ValueError, match=r"^`app_plane_density` must be in \(0, 1\], not 1.5"):
        fit_volume(load_scene("test", 8), 2, 3, app_plane_density=1.5)


def test_refits_have_their_own_cache_keys(tmp_path, monkeypatch):
    assert cache_key("bunny") == "bunny_n128_r16-48_v1"  # dense fits keep the old key
    assert cache_key("bunny", plane_density=1.0, sparsity="l1") == "bunny_n128_r16-48_v1"
    assert cache_key("bunny", plane_density=0.1) == "bunny_n128_r16-48_v1_l0d0.1"
    key = cache_key("bunny", plane_density=0.1, app_plane_density=0.2, sparsity="l1")
    assert key == "bunny_n128_r16-48_v1_l1d0.1a0.2"
    monkeypatch.setenv("RTNERF_SCENE_DIR", str(tmp_path))
    a = load_or_fit("test", 10, 2, 3, plane_density=0.3)
    assert (tmp_path / "test_n10_r2-3_v1_l0d0.3.npz").exists()
    assert not (tmp_path / "test_n10_r2-3_v1.npz").exists()
    b = load_or_fit("test", 10, 2, 3, plane_density=0.3)
    np.testing.assert_array_equal(a.app_planes, b.app_planes)


def test_cli_render_refit(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RTNERF_SCENE_DIR", str(tmp_path / "scenes"))
    out = tmp_path / "run"
    argv = ["render", "test", "--grid", "12", "--resolution", "16", "--views", "1"]
    argv += ["--density-components", "2", "--app-components", "3", "--density", "1", "0.3"]
    assert main([*argv, "--refit", "l0", "-o", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["refit"] == "l0"
    assert [r["source"] for r in s["results"]] == ["prune", "refit-l0"]
    assert (tmp_path / "scenes" / "test_n12_r2-3_v1_l0d0.3.npz").exists()
    assert "density 0.3 (refit-l0): PSNR" in capsys.readouterr().out
