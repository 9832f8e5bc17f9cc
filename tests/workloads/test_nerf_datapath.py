"""Texel storage, the datapath's lookup stage against a naive count, streaming visits, frames."""

import dataclasses
import json
import re

import numpy as np
import pytest

from rtnerf.cli import main
from rtnerf.models.perf.nerf import (
    BankMap,
    DatapathParams,
    MacArrayParams,
    datapath_frame,
    lookup_stage,
    macs_per_sample,
    touched_bytes,
)
from rtnerf.workloads.nerf import accel, datapath, stream, texel
from rtnerf.workloads.nerf.fit import fit_volume
from rtnerf.workloads.nerf.render import orbit_cameras, render
from rtnerf.workloads.nerf.storage import encode_model
from rtnerf.workloads.nerf.volume import load_scene
from tests.naive import nerf_datapath as naive
from tests.naive.nerf import sample_macs


@pytest.fixture(scope="module")
def model():
    """The generated test scene, refitted sparse (N = 15: odd, so the classes differ in size)."""
    return fit_volume(load_scene("test", 15), 4, 6, sweeps=5, color_sweeps=2, plane_density=0.3)


@pytest.fixture(scope="module")
def frame(model):
    cam = orbit_cameras(3, 20)[1]
    q = datapath.quantized(model)
    return cam, accel.frame_samples(q, cam, "rtnerf")


@pytest.mark.parametrize(("group", "tile"), [(None, None), (4, 4), (5, 3)])
def test_texel_images_hold_the_component_layouts_integers(model, group, tile):
    for storage in ("hybrid", "dense"):
        st = texel.encode_texels(model, storage, group=group, tile=tile)
        comp = encode_model(model, storage, texel.TEXEL_ENCODING)
        for t, name in enumerate(["density_plane0", "density_plane1", "density_plane2",
                                  "app_plane0", "app_plane1", "app_plane2"]):  # fmt: skip
            r = comp.quantized[name].values.shape[0] // 15
            got = st.values(t)
            np.testing.assert_array_equal(got[:r].reshape(-1, 15), comp.quantized[name].values)
            assert not got[r:].any()  # the last group's padding
            assert st.scales[t] == comp.quantized[name].scale
    hybrid = texel.encode_texels(model, "hybrid", group=group)
    assert hybrid.nbytes < texel.encode_texels(model, "dense", group=group).nbytes
    assert hybrid.sram_bytes == hybrid.nbytes + 3 * (4 + 6) * 15 * 2
    dense = texel.encode_texels(model, "dense", group=group)
    assert dense.directory_bytes == 0  # all-DENSE images are addressed by row stride
    assert dense.nbytes == sum(
        im.nbytes - im.layout.payload_base * 4 for ims in dense.images for im in ims
    )
    assert sum(hybrid.formats().values()) == sum(im.shape[0] for ims in hybrid.images for im in ims)


def test_class_rows_of_a_quad():
    plane = np.arange(2 * 5 * 5).reshape(2, 5, 5)  # [r, i1, i0], N = 5
    # Class 0 has 3 x 3 texels; tiles of 2 x 2: rows (0,0) (0,1) (1,0) (1,1), then (0,2) ...
    np.testing.assert_array_equal(texel.class_order(5, 0, 2), [0, 1, 4, 2, 3, 5, 6, 7, 8])
    tiled = texel.texel_rows(plane, 2, 2)
    np.testing.assert_array_equal(tiled[0][4], plane[:, 0, 4])  # (x, y) = (2, 0): row 4
    tabs = texel.texel_rows(plane, 2)
    assert [t.shape for t in tabs] == [(9, 2), (6, 2), (6, 2), (4, 2)]
    # texel (i0, i1) = (3, 2) is class 1 (i0 odd, i1 even), row (2 >> 1) * W + (3 >> 1) = 3
    np.testing.assert_array_equal(tabs[1][1 * 2 + 1], plane[:, 2, 3])
    assert texel.class_shape(5, 3) == (2, 2)


DESIGNS = [
    (1, 4, 32, None, None, "hybrid"),
    (3, 8, 64, None, 4, "hybrid"),
    (4, 16, 128, 4, 3, "hybrid"),
    (2, 4, 256, 5, None, "hybrid"),
    (4, 8, 64, None, 4, "dense"),
]


@pytest.mark.parametrize(("lanes", "banks", "width", "group", "tile", "storage"), DESIGNS)
def test_lookup_stage_matches_a_naive_count(model, frame, lanes, banks, width, group, tile,
                                            storage):  # fmt: skip
    _, fs = frame
    st = texel.encode_texels(model, storage, group=group, tile=tile)
    cells = datapath.sample_cells(model, fs.points)
    got = lookup_stage(cells, fs.appearance, st.bank_map(banks, width), lanes)
    ref = naive.lookup(cells, fs.appearance, st, banks, width, lanes)
    assert (got.cycles, got.conflict_cycles, got.quads, got.groups) == (
        ref["cycles"], ref["conflicts"], ref["quads"], ref["groups"])  # fmt: skip
    per_sample = 3 * st.groups[0]
    assert got.quads == fs.samples * per_sample + fs.appearance_samples * 3 * st.groups[3]
    assert got.row_reads == 4 * got.quads and got.dram_bytes == 0
    # One lane without conflicts needs at least a cycle per quad.
    assert got.cycles >= got.quads / lanes
    if lanes > 1:
        assert got.conflict_cycles > 0
    if lanes == 4:  # a group then holds quads of one plane from two samples: shared words
        assert got.merged_reads > 0


def test_streaming_visits_and_bytes(model, frame):
    cam, fs = frame
    st = texel.encode_texels(model, "hybrid")
    bm = st.bank_map(8, 64)
    cells = datapath.sample_cells(model, fs.points)
    sp = stream.StreamParams(cube_group=4, screen_tile=8)
    v = stream.visits(model, cam, fs, sp)
    assert sorted(v.order.tolist()) == list(range(fs.samples))
    assert v.count == v.visit[-1] + 1 and (np.diff(v.visit) >= 0).all()
    # Each ray's samples stay front to back in the streamed order.
    ray = fs.ray[v.order]
    for r in np.unique(ray)[:30]:
        idx = v.order[ray == r]
        assert (np.diff(idx) > 0).all()
    got = lookup_stage(cells[v.order], fs.appearance[v.order], bm, 3, v.visit)
    ref = naive.lookup(cells[v.order], fs.appearance[v.order], st, 8, 64, 3, v.visit)
    assert (got.cycles, got.dram_bytes) == (ref["cycles"], ref["dram_bytes"])
    assert got.visit_cycles.sum() == got.cycles and got.visit_bytes.sum() == got.dram_bytes
    lower = touched_bytes(cells, fs.appearance, bm)
    assert 0 < lower < got.dram_bytes
    # One visit (a tile and a group covering the whole frame) loads exactly the lower bound.
    one = stream.visits(model, cam, fs, stream.StreamParams(cube_group=64, screen_tile=64))
    assert one.count == 1
    whole = lookup_stage(cells[one.order], fs.appearance[one.order], bm, 3, one.visit)
    assert whole.dram_bytes == lower
    assert v.pixel_state_bytes == 8 * 8 * stream.PIXEL_STATE_BYTES


def test_frame_estimate_stages(model, frame):
    cam, fs = frame
    p = DatapathParams(lanes=2, banks=8, bank_width=64, macs_per_cycle=100, sram_bytes=1 << 20)
    e = datapath.estimate(model, cam, p)
    assert e.fits and not e.frame.streaming and e.frame.dram_bytes == 0
    stats = render(datapath.quantized(model), cam, "rtnerf").stats
    assert e.stats == stats and e.frame.samples == stats.samples_evaluated == fs.samples
    dens, app = macs_per_sample(4, 6, MacArrayParams(bilinear=True))
    macs = fs.samples * dens + fs.appearance_samples * app
    assert e.frame.stages["mac"] == -(-macs // 100)
    assert e.frame.stages["front_end"] == -(
        -(stats.samples_generated + stats.cube_pixel_pairs) // 2)  # fmt: skip
    assert e.frame.stages["composite"] == -(-fs.samples // 2)
    assert e.frame.cycles == max(e.frame.stages.values())
    assert e.frame.frames_per_s == pytest.approx(1e9 / e.frame.cycles)
    # Too small a buffer streams; the stream stage replaces the lookup stage.
    small = DatapathParams(lanes=2, banks=8, bank_width=64, sram_bytes=1000)
    s = datapath.estimate(model, cam, small, store=e.store, samples=fs, stats=stats,
                          stream=stream.StreamParams(policy="visit"))  # fmt: skip
    assert not s.fits and s.frame.streaming and "lookup" not in s.frame.stages
    assert s.frame.dram_bytes >= s.lower_bound_bytes > 0
    assert s.frame.stages["stream"] >= s.frame.lookup.cycles
    assert s.tile_buffer_bytes == 2 * s.frame.lookup.visit_bytes.max()
    assert s.per_visit_bytes == s.frame.dram_bytes and s.buffer_slots == 0
    # The default retaining buffer: 1000 bytes hold less than two visits, so it is grown to
    # the tile buffer's bursts, and still loads no more than the tile buffer.
    r = datapath.estimate(model, cam, small, store=e.store, samples=fs, stats=stats)
    assert r.policy == "lru" and r.per_visit_bytes == s.frame.dram_bytes
    assert r.buffer_slots * 64 == s.tile_buffer_bytes
    assert s.lower_bound_bytes <= r.frame.dram_bytes <= s.frame.dram_bytes
    assert r.frame.lookup.cycles == s.frame.lookup.cycles  # the same issue schedule
    # A buffer holding every touched burst loads each once: the lower bound.
    big = dataclasses.replace(small, sram_bytes=1 << 20)
    b = datapath.estimate(model, cam, big, store=e.store, samples=fs, stats=stats, stream=True)
    assert b.frame.dram_bytes == b.lower_bound_bytes and b.frame.lookup.evictions == 0
    free = (1 << 20) - b.pixel_state_bytes - e.store.line_bytes
    assert b.buffer_slots == stream.buffer_slots(free, b.store.bank_map(8, 64).dram_bursts, 64)
    assert b.tile_buffer_bytes <= free < b.tile_buffer_bytes + 64 + 8


def test_stream_stage_is_the_double_buffered_schedule(model, frame):
    cam, fs = frame
    st = texel.encode_texels(model, "hybrid")
    cells = datapath.sample_cells(model, fs.points)
    v = stream.visits(model, cam, fs, stream.StreamParams(cube_group=4, screen_tile=8))
    lk = lookup_stage(cells[v.order], fs.appearance[v.order], st.bank_map(4, 32), 1, v.visit)
    p = DatapathParams(dram="ddr4-2000x64", clock_hz=2e9)  # 8 bytes per cycle
    f = datapath_frame(lk, p, samples=fs.samples, appearance_samples=fs.appearance_samples,
                       front_end_work=0, density_components=4, app_components=6, load_bytes=0,
                       streaming=True)  # fmt: skip
    loads = lk.visit_bytes / 8.0
    t = loads[0]
    for i in range(v.count):
        t += max(lk.visit_cycles[i], loads[i + 1] if i + 1 < v.count else 0.0)
    assert f.stages["stream"] == pytest.approx(t)
    assert f.dram_bytes == lk.dram_bytes


def _striped_map() -> BankMap:
    """N = 6, every table and class: texel row ``(y, x)`` in DRAM burst ``x``, no directory.

    A sample whose three planes all read cell ``(i0, 0)`` reads burst ``i0 // 2`` only.
    """
    rows = np.arange(9)  # 3 x 3 texels per class, row-major
    per_image = 6 * 4
    return BankMap(
        banks=4, bank_width=32, base=np.arange(per_image).reshape(6, 4) * 9,
        dir_word=np.full(9 * per_image, -1), pay_first=np.zeros(9 * per_image, np.int64),
        pay_last=np.zeros(9 * per_image, np.int64), dram_dir=np.full(9 * per_image, -1),
        dram_first=np.tile(rows % 3, per_image), dram_last=np.tile(rows % 3, per_image),
        dram_bursts=3, burst_bytes=64, class_shape=np.full((4, 2), 3), groups=np.ones(6, np.int64),
        resolution=6, row_of=np.tile(rows, 4), row_base=np.arange(4) * 9,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("bursts", "capacity", "loads", "evictions"),
    [
        ([0, 1, 2, 0, 1, 2], None, [1, 1, 1, 1, 1, 1], 0),  # tile buffer: every visit loads
        ([0, 1, 2, 0, 1, 2], 3, [1, 1, 1, 0, 0, 0], 0),  # holds everything: each burst once
        ([0, 1, 2, 0, 1, 2], 2, [1, 1, 1, 1, 1, 1], 4),  # two visits' worth: LRU thrashes
        ([0, 1, 0, 1, 0, 1], 2, [1, 1, 0, 0, 0, 0], 0),  # two bursts alternating: kept
        ([0, 1, 2, 1, 2, 0], 2, [1, 1, 1, 0, 0, 1], 2),  # 0 goes after visit 2, 1 after visit 5
    ],
)
def test_retaining_buffer_by_hand(bursts, capacity, loads, evictions):
    bm = _striped_map()
    cells = np.zeros((len(bursts), 3, 2), np.int64)
    cells[:, :, 0] = 2 * np.array(bursts)[:, None]
    app = np.zeros(len(bursts), bool)
    visit = np.arange(len(bursts))
    got = lookup_stage(cells, app, bm, 1, visit, capacity=capacity)
    np.testing.assert_array_equal(got.visit_bytes, 64 * np.array(loads))
    assert got.dram_bytes == 64 * sum(loads) and got.evictions == evictions
    assert touched_bytes(cells, app, bm) == 64 * len(set(bursts))
    # The cycles do not depend on the buffer.
    assert got.cycles == lookup_stage(cells, app, bm, 1, visit).cycles
    seen = {v: {b} for v, b in enumerate(bursts)}
    assert [len(x) for x in naive.loads(seen, capacity).values()] == loads
    with pytest.raises(ValueError, match=r"^`capacity` must hold the bursts of two consecutive "
                       r"visits, not 1$"):  # fmt: skip
        lookup_stage(cells, app, bm, 1, visit, capacity=1)


def test_retaining_buffer_matches_a_naive_lru(model, frame):
    cam, fs = frame
    st = texel.encode_texels(model, "hybrid")
    bm = st.bank_map(8, 64)
    cells = datapath.sample_cells(model, fs.points)
    v = stream.visits(model, cam, fs, stream.StreamParams(cube_group=4, screen_tile=8))
    cells, app = cells[v.order], fs.appearance[v.order]
    tile = lookup_stage(cells, app, bm, 3, v.visit)
    lower = touched_bytes(cells, app, bm)
    least = 2 * int(tile.visit_bytes.max()) // 64
    previous = tile.dram_bytes
    for capacity in (least, least + 7, (least + lower // 64) // 2, lower // 64, bm.dram_bursts):
        got = lookup_stage(cells, app, bm, 3, v.visit, capacity=capacity)
        ref = naive.lookup(cells, app, st, 8, 64, 3, v.visit, capacity=capacity)
        assert (got.cycles, got.dram_bytes) == (ref["cycles"], ref["dram_bytes"])
        assert got.cycles == tile.cycles and got.visit_bytes.sum() == got.dram_bytes
        assert lower <= got.dram_bytes <= previous  # LRU: more slots never load more here
        previous = got.dram_bytes
    assert previous == lower  # every touched burst fits: each loaded once
    assert least < lower // 64  # the case is not trivial


def test_buffer_slots_by_hand():
    # 4 slots over 16 bursts: map 16 x (1 + 2) bits, slots 4 x (4 owner + 16 stamp) bits.
    assert stream.bookkeeping_bytes(4, 16) == (16 * 3 + 4 * 20) // 8 == 16
    assert stream.buffer_slots(4 * 64 + 16, 16, 64) == 4
    assert stream.buffer_slots(4 * 64 + 15, 16, 64) == 3
    assert stream.buffer_slots(-5, 16, 64) == 0 and stream.bookkeeping_bytes(0, 16) == 0
    with pytest.raises(ValueError, match=r"^`policy` must be one of 'lru', 'visit', not 'fifo'$"):
        stream.StreamParams(policy="fifo")


@pytest.mark.parametrize(("rs", "rc"), [(1, 1), (4, 6), (16, 48)])
def test_bilinear_macs_match_a_naive_count(rs, rc):
    dens, app = macs_per_sample(rs, rc, MacArrayParams(bilinear=True))
    assert dens == sample_macs(rs, rc, False, bilinear=True)
    assert dens + app == sample_macs(rs, rc, True, bilinear=True)


def test_bad_parameters(model):
    with pytest.raises(ValueError, match=r"^`banks` must be a multiple of 4 .*, not 6$"):
        DatapathParams(banks=6)
    with pytest.raises(ValueError, match=r"^`dram` must be one of 'ddr4-2000x64'"):
        DatapathParams(dram="ddr9")
    with pytest.raises(ValueError, match=r"^`clock_hz` must be a finite positive number"):
        DatapathParams(clock_hz=float("inf"))
    st = texel.encode_texels(model, "hybrid")
    with pytest.raises(ValueError, match=r"^`bank_width` must be a multiple of the images' 32"):
        st.bank_map(4, 48)
    bm = st.bank_map(4, 64)
    with pytest.raises(ValueError, match=re.escape("`cells` must be of shape (S, 3, 2)")):
        lookup_stage(np.zeros((2, 3)), np.zeros(2, bool), bm, 1)
    with pytest.raises(ValueError, match=r"^`cells` must be in \[0, 13\]"):
        lookup_stage(np.full((1, 3, 2), 14), np.zeros(1, bool), bm, 1)
    with pytest.raises(ValueError, match=r"^`visit` must be a non-decreasing"):
        lookup_stage(np.zeros((2, 3, 2)), np.zeros(2, bool), bm, 1, np.array([1, 0]))
    with pytest.raises(ValueError, match=r"^`capacity` needs `visit`"):
        lookup_stage(np.zeros((2, 3, 2)), np.zeros(2, bool), bm, 1, capacity=4)
    with pytest.raises(ValueError, match=r"^`capacity` must be an integer >= 0, not -1$"):
        lookup_stage(np.zeros((2, 3, 2)), np.zeros(2, bool), bm, 1, np.zeros(2), capacity=-1)
    with pytest.raises(ValueError, match=r"^`storage` must be one of"):
        texel.encode_texels(model, "csr")
    with pytest.raises(TypeError, match=r"^`model` must be a TensorfVM, not int"):
        datapath.estimate(3, None)


def test_cli_render_reports_the_datapath(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RTNERF_SCENE_DIR", str(tmp_path / "scenes"))
    out = tmp_path / "run"
    argv = ["render", "test", "--grid", "12", "--resolution", "16", "--views", "1"]
    argv += ["--density-components", "2", "--app-components", "3", "--density", "1", "0.3"]
    argv += ["--datapath", "--lanes", "2", "--macs", "64", "--sram-kib", "1"]
    assert main([*argv, "-o", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    for r in s["results"]:
        dp = r["datapath"]
        assert dp["frames_per_s"] > 0 and dp["design"]["lanes"] == 2
        assert dp["streaming"] and dp["dram_bytes_per_frame"] >= dp["lower_bound_bytes"] > 0
    assert "datapath (2 lanes, 16 banks x 256 b, 1 KiB, 64 MACs" in capsys.readouterr().out
    assert main([*argv, "--banks", "6", "-o", str(out)]) == 2
    assert "datapath: `banks` must be a multiple of 4" in capsys.readouterr().err


def test_storage_study(model):
    rows = {(r["layout"], r["group"], r["storage"]): r for r in texel.storage_study(model)}
    assert rows["component", 1, "dense"]["queries_per_density_sample"] == 3 * 4 * 4
    assert rows["component", 1, "hybrid"]["queries_per_app_sample"] == 3 * 4 * 6
    assert rows["texel", "R", "hybrid"]["queries_per_app_sample"] == 3  # one quad per plane
    assert rows["texel", 16, "hybrid"]["rows_per_app_sample"] == 3 * 4
    for layout, group in (("component", 1), ("texel", "R"), ("texel", 16)):
        dense, hybrid = rows[layout, group, "dense"], rows[layout, group, "hybrid"]
        assert hybrid["plane_bytes"] < dense["plane_bytes"]
        assert hybrid["sram_bytes"] - hybrid["plane_bytes"] == 3 * (4 + 6) * 15 * 2
