import dataclasses
import re

import numpy as np
import pytest

from rtnerf.models.golden import embedding_lookup_unit as unit_model
from rtnerf.models.perf.engine import estimate
from rtnerf.models.perf.nerf import MacArrayParams, frame, macs_per_sample
from rtnerf.models.trace import Op
from rtnerf.params import EngineParams
from rtnerf.workloads.nerf import accel
from rtnerf.workloads.nerf.model import VEC_MODE, TensorfVM, query_points
from tests.naive.nerf import sample_macs

SEED = 11


def tiny_model(n=8, rs=2, rc=3, density=0.3, seed=SEED):
    """A random VM model with pruned planes (``density`` of the plane values non-zero)."""
    rng = np.random.default_rng(seed)

    def planes(r):
        p = rng.standard_normal((3, r, n, n)).astype(np.float32)
        p[rng.random(p.shape) >= density] = 0
        return p

    return TensorfVM(
        aabb=np.array([[-1.5] * 3, [1.5] * 3]),
        density_planes=planes(rs),
        density_lines=rng.standard_normal((3, rs, n)).astype(np.float32),
        app_planes=planes(rc),
        app_lines=rng.standard_normal((3, rc, n)).astype(np.float32),
        basis=rng.standard_normal((3 * rc, 27)).astype(np.float32),
        alpha_mask=np.ones((n, n, n), np.bool_),
    )


def tiny_samples(s=60, seed=SEED):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1, 1, (s, 3))
    points[0], points[1] = 1.0, -1.0  # the grid's last and first vertices
    points[2] = np.round(points[2] * 3.5) / 3.5  # on grid lines: zero weights
    return points, rng.random(s) < 0.5


def test_bags_per_sample_and_order():
    model = tiny_model()
    points, app = tiny_samples()
    q = accel.queries(model, points, app)
    assert q.bags == 60 * 3 * 2 + int(app.sum()) * 3 * 3
    assert q.requests == 4 * q.bags and q.line_reads == 2 * q.bags
    assert np.all(np.diff(q.sample) >= 0)  # sample-major, in the given order
    first = q.sample == 0
    expected = [0, 0, 1, 1, 2, 2] + ([3, 3, 3, 4, 4, 4, 5, 5, 5] if app[0] else [])
    assert q.table[first].tolist() == expected
    np.testing.assert_allclose(q.weight.sum(axis=1), 1.0)
    assert (q.weight >= 0).all()


def test_trace_is_valid_for_the_design():
    model = tiny_model()
    params = accel.design(model)
    u = params.unit
    assert (u.dim, u.tables, u.weight_frac_bits, u.weight_width) == (8, 6, 14, 16)
    assert u.dim % u.lanes == 0 and (1 << u.row_width) >= 3 * 8
    images, _ = accel.engine_tables(model, params)
    q = accel.queries(model, *tiny_samples())
    trace = q.trace(params)
    assert (trace.op == Op.ELEMENT).all() and trace.bags == q.bags
    assert (np.diff(trace.bag_starts) == 4).all()
    trace.check_tables([im.shape for im in images])
    unit_model.check_trace(u, images, trace)


def test_plane_reads_times_lines_are_the_models_features():
    model = tiny_model()
    points, app = tiny_samples()
    q = accel.queries(model, points, app)
    tables = list(model.tables().values())[:6]
    plane = q.interpolate(tables)
    n = model.resolution
    for kind, lo in (("density", 0), ("app", 3)):
        lines = getattr(model, f"{kind}_lines")
        sel = (q.table >= lo) & (q.table < lo + 3)
        m, r, s = q.table[sel] - lo, q.component[sel], q.sample[sel]
        u = (points[s, np.array(VEC_MODE)[m]] + 1) * 0.5 * (n - 1)
        i = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
        f = u - i
        line = (1 - f) * lines[m, r, i] + f * lines[m, r, i + 1]
        planes = getattr(model, f"{kind}_planes")
        feats = query_points(planes, lines, points)
        np.testing.assert_allclose(plane[sel] * line, feats[s, m * planes.shape[1] + r], atol=1e-9)


@pytest.mark.parametrize("encoding", ["hybrid", "dense"])
def test_golden_interpolation_is_within_weight_rounding(encoding):
    model = tiny_model()
    params = accel.design(model)
    images, quantized = accel.engine_tables(model, params, encoding=encoding)
    q = accel.queries(model, *tiny_samples())
    gold = unit_model.evaluate(params.unit, images, q.trace(params))[:, 0]
    values = [qt.values for qt in quantized]
    exact = q.interpolate(values)
    magnitude = np.zeros(q.bags)
    for t, v in enumerate(values):
        sel = q.table == t
        magnitude[sel] = np.abs(v[q.row[sel], q.col[sel]]).sum(axis=1)
    bound = magnitude * 2.0 ** -(accel.WEIGHT_FRAC_BITS + 1) + 0.5
    assert (np.abs(gold - exact) <= bound + 1e-9).all()
    # in real units, the engine's value is the quantised planes' interpolation
    scale = np.array([qt.scale for qt in quantized])[q.table]
    real = q.interpolate(list(model.tables().values())[:6])
    step = max(qt.max_abs_error for qt in quantized) + bound.max() * scale.max()
    assert np.abs(gold * scale - real).max() <= step + 1e-12


def test_bad_inputs():
    model = tiny_model()
    points, app = tiny_samples()
    with pytest.raises(ValueError, match=re.escape("`points` must be of shape (S, 3)")):
        accel.queries(model, points[:, :2], app)
    with pytest.raises(ValueError, match=r"^`points` must be finite normalised"):
        accel.queries(model, points * 2, app)
    with pytest.raises(ValueError, match=r"^`appearance` must be a bool array of shape \(60,\)"):
        accel.queries(model, points, app[:3])
    with pytest.raises(TypeError, match=r"^`model` must be a TensorfVM, not int"):
        accel.design(3)
    with pytest.raises(ValueError, match=r"^the design reads 64 columns"):
        accel.engine_tables(model, EngineParams())
    with pytest.raises(ValueError, match=r"^`encoding` must be hybrid"):
        accel.engine_tables(model, accel.design(model), encoding="csr")


@pytest.mark.parametrize("decoder", ["sh", "mlp"])
@pytest.mark.parametrize(("rs", "rc"), [(1, 1), (2, 3), (16, 48)])
def test_macs_per_sample_match_a_naive_count(decoder, rs, rc):
    mac = MacArrayParams(decoder=decoder, hidden=8 if rs < 16 else 128)
    dens, app = macs_per_sample(rs, rc, mac)
    assert dens == sample_macs(rs, rc, False, decoder, hidden=mac.hidden)
    assert dens + app == sample_macs(rs, rc, True, decoder, hidden=mac.hidden)


def test_tensorf_vm192_counts():
    # rtnerf-notes §2.2: basis 144 x 27 = 3,888 MACs, MLP 150 -> 128 -> 128 -> 3 = 35,968
    dens, app = macs_per_sample(16, 48, MacArrayParams(decoder="mlp"))
    assert dens == 16 * 9 + 3
    assert app == 48 * 9 + 3888 + 35968 + 4
    with pytest.raises(ValueError, match=r"^the SH decoder needs `app_dim` 27"):
        MacArrayParams(app_dim=12)
    with pytest.raises(ValueError, match=r"^`decoder` must be"):
        MacArrayParams(decoder="siren")


def tiny_frame(model, rays=40, seed=SEED):
    """Samples of a tiny 'frame': ``rays`` rays of 0 to 8 samples marching along x."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 9, rays)
    ray = np.repeat(np.arange(rays), counts)
    start = rng.uniform(-1, 0, (rays, 3))
    k = np.arange(ray.size) - np.repeat(np.cumsum(counts) - counts, counts)
    points = start[ray] + np.outer(k * 0.1, [1.0, 0.3, 0.0])
    return points, rng.random(ray.size) < 0.6, ray


def test_sample_rays_keeps_whole_rays():
    _, _, ray = tiny_frame(tiny_model())
    keep, chosen, busy = accel.sample_rays(ray, 10, np.random.default_rng(1))
    assert busy == np.unique(ray).size and chosen == 10
    assert np.unique(ray[keep]).size == 10
    assert all(keep[ray == r].all() for r in np.unique(ray[keep]))
    keep, chosen, busy = accel.sample_rays(ray, 10**6, np.random.default_rng(1))
    assert keep.all() and chosen == busy
    with pytest.raises(ValueError, match=r"^`rays` must be a positive integer, not 0"):
        accel.sample_rays(ray, 0, np.random.default_rng(1))


@pytest.mark.parametrize("encoding", ["dense", "hybrid"])
def test_ray_subset_scales_to_the_whole_frame(encoding):
    model = tiny_model()
    params = accel.design(model, dataclasses.replace(EngineParams(), units=4))
    images, _ = accel.engine_tables(model, params, encoding=encoding)
    points, app, ray = tiny_frame(model, rays=60)
    whole = accel.queries(model, points, app)
    full = estimate(params, images, whole.trace(params))
    keep, _, _ = accel.sample_rays(ray, 30, np.random.default_rng(2))
    part = accel.queries(model, points[keep], app[keep])
    scale = whole.bags / part.bags
    est = estimate(params, images, part.trace(params))
    mac = MacArrayParams()
    kw = dict(
        density_samples=whole.samples,
        appearance_samples=whole.appearance_samples,
        density_components=2,
        app_components=3,
        mac=mac,
        clock_hz=1e9,
    )
    a = frame(full, scale=1.0, **kw)
    b = frame(est, scale=scale, **kw)
    if encoding == "dense":  # every request moves the same bytes: the ratio estimate is exact
        assert b.dram_bytes == pytest.approx(a.dram_bytes)
    else:
        assert b.dram_bytes == pytest.approx(a.dram_bytes, rel=0.1)
    assert b.lookup_cycles == pytest.approx(a.lookup_cycles, rel=0.1)
    assert a.macs == b.macs


def test_frame_combination_rule():
    model = tiny_model()
    params = accel.design(model)
    images, _ = accel.engine_tables(model, params)
    points, app = tiny_samples()
    q = accel.queries(model, points, app)
    est = estimate(params, images, q.trace(params))
    kw = dict(
        scale=1.0,
        density_samples=q.samples,
        appearance_samples=q.appearance_samples,
        density_components=2,
        app_components=3,
        clock_hz=1e9,
    )
    big = frame(est, mac=MacArrayParams(macs_per_cycle=4096), **kw)
    small = frame(est, mac=MacArrayParams(macs_per_cycle=1, decoder="mlp"), **kw)
    serial = frame(est, mac=MacArrayParams(macs_per_cycle=1, decoder="mlp"), overlap=False, **kw)
    assert big.cycles == est.cycles and big.compute_share < 1
    assert small.cycles == small.mac_cycles == small.macs and small.compute_share == 1
    assert serial.cycles == est.cycles + serial.mac_cycles
    assert big.frames_per_s == pytest.approx(1e9 / est.cycles)
    assert big.dram_bytes == est.traffic.total_bytes
    assert big.bandwidth_utilisation == pytest.approx(est.bandwidth_utilisation())
    with pytest.raises(ValueError, match=r"^`scale` must be at least 1, not 0.5"):
        frame(est, mac=MacArrayParams(), **{**kw, "scale": 0.5})


def dense_scene(n=12, seed=SEED):
    """A tiny model whose density is high in a ball (rays saturate: RT-NeRF skips samples)."""
    model = tiny_model(n=n, seed=seed)
    g = np.linspace(-1, 1, n)
    ball = (g[:, None] ** 2 + g[None, :] ** 2) < 0.5
    planes = np.where(ball, 2.0, 0.0).astype(np.float32)
    dens = np.broadcast_to(planes, model.density_planes.shape).copy()
    lines = np.full(model.density_lines.shape, 2.0, np.float32)
    mask = np.zeros((n, n, n), np.bool_)
    mask[2:-2, 2:-2, 2:-2] = True
    return dataclasses.replace(model, density_planes=dens, density_lines=lines, alpha_mask=mask)


@pytest.mark.parametrize("pipeline", ["uniform", "rtnerf"])
def test_frame_samples_are_the_renderers(pipeline):
    from rtnerf.workloads.nerf.render import orbit_cameras, render

    model = dense_scene()
    cam = orbit_cameras(3, 12)[1]
    stats = render(model, cam, pipeline).stats
    fs = accel.frame_samples(model, cam, pipeline)
    assert fs.pipeline == pipeline
    assert (fs.samples, fs.appearance_samples) == (stats.samples_evaluated, stats.app_evaluated)
    assert np.isin(fs.ray, accel.busy_pixels(model, cam)).all()
    uniform = accel.frame_samples(model, cam, "uniform")
    assert stats.samples_evaluated > 0
    if pipeline == "rtnerf":  # a front-to-back prefix of each ray's uniform samples
        assert stats.samples_skipped_transmittance > 0
        for r in np.unique(fs.ray)[:20]:
            mine, ref = fs.points[fs.ray == r], uniform.points[uniform.ray == r]
            np.testing.assert_array_equal(mine, ref[: len(mine)])
    # a subset of pixels gives exactly those pixels' samples
    pixels = np.unique(fs.ray)[::3]
    part = accel.frame_samples(model, cam, pipeline, pixels)
    keep = np.isin(fs.ray, pixels)
    assert part.samples == int(keep.sum())
    assert part.appearance_samples == int(fs.appearance[keep].sum())
    with pytest.raises(ValueError, match=r"^`pipeline` must be one of uniform, rtnerf"):
        accel.frame_samples(model, cam, "nerf")
    with pytest.raises(ValueError, match=r"^`pixels` must be in \[0, 144\)"):
        accel.frame_samples(model, cam, pipeline, np.array([144]))


def test_select_keeps_whole_bags_in_order():
    model = tiny_model()
    points, app = tiny_samples()
    q = accel.queries(model, points, app)
    keep = np.isin(q.sample, [3, 4, 9])
    part = q.select(keep)
    assert part.bags == int(keep.sum()) and part.samples == 3
    assert part.appearance_samples == int(app[[3, 4, 9]].sum())
    np.testing.assert_array_equal(part.row, q.row[keep])
    again = accel.queries(model, points[[3, 4, 9]], app[[3, 4, 9]])
    np.testing.assert_array_equal(part.weight, again.weight)
