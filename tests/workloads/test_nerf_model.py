import math

import numpy as np
import pytest

from rtnerf.workloads.nerf.fit import fit_vm, fit_volume, load_or_fit
from rtnerf.workloads.nerf.model import (
    MAT_MODE,
    VEC_MODE,
    TensorfVM,
    alpha_mask_from_density,
    cube_grid,
    query_points,
)
from rtnerf.workloads.nerf.volume import load_scene

SEED = 5


def random_model(n=6, rs=2, rc=3, seed=SEED):
    rng = np.random.default_rng(seed)
    return TensorfVM(
        aabb=np.array([[-1.0, -2.0, 0.0], [2.0, 1.0, 3.0]]),
        density_planes=rng.standard_normal((3, rs, n, n)),
        density_lines=rng.standard_normal((3, rs, n)),
        app_planes=rng.standard_normal((3, rc, n, n)),
        app_lines=rng.standard_normal((3, rc, n)),
        basis=rng.standard_normal((3 * rc, 27)),
        alpha_mask=rng.random((n, n, n)) < 0.1,
    )


def naive_grid_sample_2d(img, gx, gy):
    """PyTorch grid_sample(align_corners=True, padding zeros) of one (H, W) image."""
    h, w = img.shape
    ix, iy = (gx + 1) / 2 * (w - 1), (gy + 1) / 2 * (h - 1)
    x0, y0 = math.floor(ix), math.floor(iy)
    out = 0.0
    for xx, wx in ((x0, x0 + 1 - ix), (x0 + 1, ix - x0)):
        for yy, wy in ((y0, y0 + 1 - iy), (y0 + 1, iy - y0)):
            if 0 <= xx < w and 0 <= yy < h:
                out += wx * wy * img[yy, xx]
    return out


def test_query_points_matches_grid_sample():
    m = random_model()
    rng = np.random.default_rng(SEED)
    xh = rng.uniform(-1, 1, (40, 3))
    xh[0] = [1.0, 1.0, 1.0]
    xh[1] = [-1.0, 0.2, 1.0]
    got = query_points(m.density_planes, m.density_lines, xh)
    for p in range(xh.shape[0]):
        for mode in range(3):
            a0, a1 = MAT_MODE[mode]
            a2 = VEC_MODE[mode]
            for r in range(m.density_components):
                plane = naive_grid_sample_2d(m.density_planes[mode, r], xh[p, a0], xh[p, a1])
                line = naive_grid_sample_2d(m.density_lines[mode, r][:, None], 0.0, xh[p, a2])
                want = plane * line
                assert got[p, mode * m.density_components + r] == pytest.approx(want, abs=1e-9)


def test_density_and_rgb_definitions():
    m = random_model()
    pts = np.array([[0.5, -0.5, 1.5], [2.0, 1.0, 3.0]])
    feat = query_points(m.density_planes, m.density_lines, m.normalize(pts)).sum(axis=1)
    np.testing.assert_allclose(m.density(pts), np.log1p(np.exp(feat - 10.0)))
    d = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    a = m.app_features(pts) @ m.basis.astype(np.float64)
    c1 = 0.4886025119029199
    sh = np.array([[0.28209479177387814, 0, c1, 0, 0, 0, 0.31539156525252005 * 2, 0, 0],
                   [0.28209479177387814, 0, 0, -c1, 0, 0, -0.31539156525252005, 0,
                    0.5462742152960396]])  # fmt: skip
    want = np.maximum(np.einsum("pck,pk->pc", a.reshape(2, 3, 9), sh) + 0.5, 0)
    np.testing.assert_allclose(m.rgb(pts, d), want, rtol=1e-12)
    assert m.step_size == pytest.approx(3 / 5 * 0.5)
    assert m.n_samples == int(math.sqrt(27) / 0.3) + 1


def test_tables_layout():
    m = random_model()
    t = m.tables()
    assert list(t)[:3] == ["density_plane0", "density_plane1", "density_plane2"]
    n = m.resolution
    r, i1, i0 = 1, 4, 2
    assert t["app_plane2"][r * n + i1, i0] == m.app_planes[2, r, i1, i0]
    assert t["density_line1"].shape == (2, n)


def test_cube_grid_and_alpha_mask():
    rng = np.random.default_rng(SEED)
    mask = rng.random((5, 5, 5)) < 0.05
    cubes = cube_grid(mask)
    for idx in np.ndindex(4, 4, 4):
        i, j, k = idx
        assert cubes[idx] == mask[i : i + 2, j : j + 2, k : k + 2].any()
    sigma = np.zeros((5, 5, 5))
    sigma[2, 2, 2] = 1.0
    am = alpha_mask_from_density(sigma, 0.01)
    assert am.sum() == 27 and am[1:4, 1:4, 1:4].all()


def test_validation_and_roundtrip(tmp_path):
    m = random_model()
    with pytest.raises(ValueError, match=r"^`basis` must be of shape \(9, 27\)"):
        TensorfVM(m.aabb, m.density_planes, m.density_lines, m.app_planes, m.app_lines,
                  np.zeros((8, 27)), m.alpha_mask)  # fmt: skip
    with pytest.raises(ValueError, match=r"^`aabb` must be"):
        m.with_factors(aabb=np.zeros((2, 3)))
    m.save(tmp_path / "m.npz")
    back = TensorfVM.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.app_planes, m.app_planes)
    np.testing.assert_array_equal(back.alpha_mask, m.alpha_mask)
    np.testing.assert_array_equal(back.aabb, m.aabb)


def test_fit_vm_recovers_low_rank_volume():
    rng = np.random.default_rng(SEED)
    n = 12
    x = np.linspace(-1, 1, n)
    vol = np.zeros((n, n, n))
    specs = ("ij,k->ijk", "ik,j->ijk", "jk,i->ijk")  # plane [a0, a1] * line [a2], per mode
    for _ in range(2):  # two components per mode: exactly representable at rank 2
        for spec in specs:
            vol += np.einsum(spec, rng.standard_normal((n, n)), rng.standard_normal(n))
    vol += 0.1 * np.sin(3 * x)[:, None, None]
    planes, lines, fit = fit_vm(vol, 3, sweeps=30)
    assert np.linalg.norm(fit - vol) / np.linalg.norm(vol) < 1e-3
    m = TensorfVM(
        aabb=np.array([[-1.0] * 3, [1.0] * 3]), density_planes=planes, density_lines=lines,
        app_planes=planes, app_lines=lines, basis=np.zeros((9, 27)),
        alpha_mask=np.zeros((n, n, n), bool),
    )  # fmt: skip
    grid = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1).reshape(-1, 3)
    feats = query_points(m.density_planes, m.density_lines, grid).sum(axis=1)
    np.testing.assert_allclose(feats.reshape(n, n, n), fit, atol=1e-4)


def test_fit_volume_test_scene(tmp_path, monkeypatch):
    vol = load_scene("test", 20)
    m = fit_volume(vol, 8, 12, sweeps=6, color_sweeps=3)
    assert m.meta["density_rel_l2"] < 0.1
    assert m.meta["color_rmse"] < 0.03
    assert 0 < m.alpha_mask.mean() < 0.6
    monkeypatch.setenv("RTNERF_SCENE_DIR", str(tmp_path))
    a = load_or_fit("test", 12, 2, 3)
    assert (tmp_path / "test_n12_r2-3_v1.npz").exists()
    b = load_or_fit("test", 12, 2, 3)
    np.testing.assert_array_equal(a.density_planes, b.density_planes)
