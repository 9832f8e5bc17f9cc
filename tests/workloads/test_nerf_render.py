import json

import numpy as np
import pytest

from rtnerf.cli import main
from rtnerf.workloads.nerf.fit import fit_volume
from rtnerf.workloads.nerf.render import (
    camera_rays,
    orbit_cameras,
    psnr,
    render,
    render_rtnerf,
    render_uniform,
)
from rtnerf.workloads.nerf.storage import (
    STORAGES,
    encode_model,
    frame_dram_bytes,
    prune,
    quantized_model,
)
from rtnerf.workloads.nerf.volume import load_scene


@pytest.fixture(scope="module")
def model():
    return fit_volume(load_scene("test", 24), 4, 6, sweeps=6, color_sweeps=3)


def test_cameras_look_at_the_centre():
    cams = orbit_cameras(4, 9, radius=3.0)
    for cam in cams:
        _, d = camera_rays(cam)
        assert np.linalg.norm(cam.position) == pytest.approx(3.0)
        centre = d[4 * 9 + 4]  # the middle pixel looks at the origin
        np.testing.assert_allclose(centre, -cam.position / 3.0, atol=1e-12)
        np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    assert cams[0].c2w[2, 1] < 0  # image "down" points down in the world


def test_rtnerf_matches_uniform_with_fewer_samples(model):
    cam = orbit_cameras(3, 40)[1]
    uni = render_uniform(model, cam)
    rt = render_rtnerf(model, cam)
    assert uni.image.min() < 0.9  # the object is in view
    assert psnr(uni.image, rt.image) > 40
    assert rt.stats.samples_evaluated < uni.stats.samples_evaluated
    assert rt.stats.samples_evaluated < uni.stats.samples_generated / 3
    assert rt.stats.samples_skipped_transmittance > 0
    assert uni.stats.samples_skipped_transmittance == 0
    assert rt.stats.app_evaluated == uni.stats.app_evaluated
    # Without skipping the cube pipeline visits exactly the uniform marcher's valid samples,
    # in the same per-ray order: the same image bit for bit.
    full = render_rtnerf(model, cam, t_skip=0.0)
    np.testing.assert_array_equal(full.image, uni.image)
    assert full.stats.samples_evaluated == uni.stats.samples_evaluated
    np.testing.assert_array_equal(full.touched, uni.touched)
    s = rt.stats
    assert s.element_reads == 6 * 3 * (4 * s.samples_evaluated + 6 * s.app_evaluated)
    # A counters-only frame counts the same work.
    assert render_rtnerf(model, cam, colour=False).stats == s
    assert render_uniform(model, cam, colour=False).stats == uni.stats


def test_tile_size_does_not_change_the_image(model):
    cam = orbit_cameras(2, 23)[0]
    a = render_rtnerf(model, cam, tile=4)
    b = render_rtnerf(model, cam, tile=64)
    np.testing.assert_array_equal(a.image, b.image)
    with pytest.raises(ValueError, match=r"^`pipeline` must be"):
        render(model, cam, "octree")


def test_prune_encode_and_dram(model):
    p = prune(model, 0.25)
    for m in range(3):
        nz = np.count_nonzero(p.density_planes[m])
        assert nz == pytest.approx(0.25 * p.density_planes[m].size, abs=1)
    np.testing.assert_array_equal(p.density_lines, model.density_lines)
    with pytest.raises(ValueError, match=r"^`density` must be in \(0, 1\]"):
        prune(model, 0.0)
    cam = orbit_cameras(1, 24)[0]
    res = render_rtnerf(p, cam)
    enc = {s: encode_model(p, s) for s in STORAGES}
    bytes_ = {s: frame_dram_bytes(e, res.touched)["total"] for s, e in enc.items()}
    assert bytes_["hybrid"] <= min(bytes_["bitmap"], bytes_["coo"]) + 64
    assert bytes_["hybrid"] < bytes_["dense"]
    assert all(0 < b <= enc[s].nbytes + 64 * 12 for s, b in bytes_.items())
    q = quantized_model(p, enc["hybrid"])
    assert (
        np.abs(q.app_planes - p.app_planes).max()
        <= enc["hybrid"].quantized["app_plane0"].scale * 0.5 + np.abs(p.app_planes).max() * 1e-3
    )
    assert psnr(render_rtnerf(q, cam).image, res.image) > 40


def test_cli_render(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RTNERF_SCENE_DIR", str(tmp_path / "scenes"))
    out = tmp_path / "run"
    argv = ["render", "test", "--grid", "16", "--resolution", "24", "--views", "2"]
    argv += ["--density-components", "2", "--app-components", "3", "--density", "1", "0.5"]
    assert main([*argv, "-o", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["version"] == 1 and summary["pipeline"] == "rtnerf"
    assert [r["density"] for r in summary["results"]] == [1.0, 0.5]
    r = summary["results"][0]
    assert r["psnr"] > 40 and set(r["dram_bytes_per_frame"]) == set(STORAGES)
    assert summary["psnr"] == r["psnr"] and summary["samples_evaluated"] > 0
    assert (out / "view_001_d0.5.png").exists() and (out / "summary.txt").exists()
    # mJ per frame at the design point: the components sum to it; fewer values, less DRAM.
    en = r["energy"]
    assert r["energy_mj_per_frame"] == pytest.approx(sum(en["components_pj"].values()) / 1e9)
    assert en["components_pj"]["dram/frame"] > 0 and en["components_pj"]["mac_array/mult"] > 0
    half = summary["results"][1]["energy"]["components_pj"]["dram/frame"]
    assert half < en["components_pj"]["dram/frame"]
    assert (out / "energy.png").exists()
    text = capsys.readouterr().out
    assert "rtnerf render: test" in text and "energy/frame (accelerator, 16 nm" in text
    assert main([*argv[:2], "--views", "0", "-o", str(out)]) == 2
    assert "--views must be in 1..1000, not 0" in capsys.readouterr().err
