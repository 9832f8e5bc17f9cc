"""Golden model of the texel lookup against naive references, the perf model's bank map, and
its input checks."""

import dataclasses

import numpy as np
import pytest
from naive import texel_lookup as naive

from rtnerf.errors import ConfigError
from rtnerf.models.cases.texel_lookup import consecutive_slots, directed_job, random_jobs
from rtnerf.models.golden.texel_lookup import Quads, evaluate, load, places, schedule
from rtnerf.models.image import encode
from rtnerf.models.perf.nerf import DatapathParams
from rtnerf.params import TexelLookupParams
from rtnerf.workloads.nerf import texel
from rtnerf.workloads.nerf.fit import fit_volume
from rtnerf.workloads.nerf.volume import load_scene

PARAMS = [
    TexelLookupParams(lanes=2, banks=4, bank_width=32, directory_depth=256, payload_depth=1024,
                      density_columns=4, app_columns=6, weight_frac=4, interp_frac=2,
                      row_width=8, tag_width=4),
    TexelLookupParams(lanes=3, banks=8, bank_width=64, directory_depth=64, payload_depth=512,
                      density_columns=8, app_columns=12, row_width=8),
    TexelLookupParams(),
]  # fmt: skip
IDS = ["l2b4", "l3b8", "default"]


@pytest.mark.parametrize("params", PARAMS, ids=IDS)
def test_golden_equals_the_tables_and_exact_weights(params):
    jobs = [directed_job(params), *random_jobs(params, np.random.default_rng(5), 1500)]
    for job in jobs:
        got_texels, got_interp = evaluate(job.buffer, job.quads)
        q = job.quads
        for i in range(len(q.table)):
            t = int(q.table[i])
            want = naive.texels(job.tables, t, q.rows[i], int(q.parity[i]))
            g = params.columns(t)
            assert got_texels[i, :, :g].tolist() == want, (job.name, i)
            assert not got_texels[i, :, g:].any()
            interp = naive.interpolate(want, int(q.fx[i]), int(q.fy[i]), params.weight_frac,
                                       params.interp_frac)  # fmt: skip
            assert got_interp[i, :g].tolist() == interp, (job.name, i)
            half = 1 << (params.interp_width - 1)
            assert -half <= min(interp) and max(interp) < half


@pytest.mark.parametrize("params", PARAMS, ids=IDS)
def test_schedule_matches_a_naive_schedule(params):
    for job in [directed_job(params), *random_jobs(params, np.random.default_rng(6), 1200)]:
        sc = schedule(job.buffer, job.quads, job.slots)
        want = naive.group_steps(job.buffer.images, params.bank_width, params.banks, job.quads,
                                 job.slots)  # fmt: skip
        assert sc.steps.tolist() == want, job.name
        assert sc.cycles == sum(want)
        assert (sc.payload >= sc.span).all()


def test_directed_job_meets_its_corners():
    params = PARAMS[1]
    job = directed_job(params)
    formats = {int(f) for ims in job.buffer.images for im in ims for f in im.directory()[0]}
    assert formats == {0, 1, 2, 3}
    assert job.buffer.strided[2].all() and not job.buffer.strided[0].any()
    sc = schedule(job.buffer, job.quads, job.slots)
    assert sc.conflict_cycles > 0 and sc.directory.max() > 1 and sc.merged_reads > 0
    assert (job.slots < 0).all(axis=1).any()  # an empty group
    pl = places(job.buffer, job.quads)
    assert (pl.pay_span > params.banks_per_class).any()  # a row reads one bank twice


@pytest.fixture(scope="module")
def store():
    model = fit_volume(load_scene("test", 15), 4, 6, sweeps=3, color_sweeps=1, plane_density=0.3)
    return texel.encode_texels(model, "hybrid")


@pytest.mark.parametrize(("banks", "width"), [(8, 64), (16, 256)])
def test_buffer_layout_is_the_bank_map(store, banks, width):
    dp = DatapathParams(lanes=3, banks=banks, bank_width=width)
    params = TexelLookupParams.from_datapath(dp, store)
    assert (params.density_columns, params.app_columns) == (4, 6)
    buffer = load(params, store.images)
    bm = store.bank_map(banks, width)
    for t in range(6):
        for c in range(4):
            n = store.images[t][c].shape[0]
            zero = np.zeros(n, np.int64)
            sizes = [im.shape[0] for im in store.images[t]]
            rows = np.minimum(np.arange(n)[:, None], np.array(sizes) - 1)
            pl = places(buffer, Quads(np.full(n, t), rows, zero, zero, zero, zero))
            idx = bm.base[t, c] + np.arange(n)
            np.testing.assert_array_equal(pl.dir_word[:, c], bm.dir_word[idx])
            span = np.where(bm.pay_first[idx] >= 0, bm.pay_last[idx] - bm.pay_first[idx] + 1, 0)
            np.testing.assert_array_equal(pl.pay_span[:, c], span)
            live = span > 0
            np.testing.assert_array_equal(pl.pay_first[live, c], bm.pay_first[idx][live])
    assert buffer.fill_bytes >= store.nbytes


def test_consecutive_slots():
    assert consecutive_slots(5, 2).tolist() == [[0, 1], [2, 3], [4, -1]]


def test_bad_parameters_and_images():
    with pytest.raises(ValueError, match=r"^`banks` must be 4 times a power of two"):
        TexelLookupParams(banks=12)
    with pytest.raises(ValueError, match=r"^`bank_width` must be a power of two from 32 to 1024"):
        TexelLookupParams(bank_width=48)
    with pytest.raises(ValueError, match=r"^`interp_frac` must be an integer from 0 to 19"):
        TexelLookupParams(interp_frac=20)
    with pytest.raises(ValueError, match=r"^`value_width` \+ 2 `weight_frac` must be at most 60"):
        TexelLookupParams(value_width=32, weight_frac=16, interp_frac=4)
    p = PARAMS[0]
    job = directed_job(p)
    images = [list(ims) for ims in job.buffer.images]
    wide = dataclasses.replace(p, app_columns=7)
    with pytest.raises(
        ConfigError, match=r"^image \(3, 0\) has columns 6, the block is built for 7$"
    ):
        load(wide, images)
    table = np.zeros((4, 6), np.int64)
    table[1, :5] = 3
    images[3][1] = encode(table, p.encoding(force_format="coo"))
    with pytest.raises(
        ConfigError, match=r"^image \(3, 1\) row 1 is COO with 5 entries; the lanes"
    ):
        load(p, images)
    table[1, 5] = 3
    images[3][1] = encode(table, p.encoding(force_format="bitmap"))
    with pytest.raises(
        ConfigError, match=r"^image \(3, 1\) row 1 takes 4 words, more than a DENSE"
    ):
        load(p, images)
    shallow = dataclasses.replace(p, payload_depth=8)
    with pytest.raises(
        ConfigError, match=r"^class \d's payload array needs \d+ bank words; the buf"
    ):
        load(shallow, job.buffer.images)
    bad = job.quads._replace(fx=job.quads.fx + (1 << p.weight_frac))
    with pytest.raises(ValueError, match=r"^`fx` must be from 0 to 16$"):
        evaluate(job.buffer, bad)
    rows = job.quads.rows.copy()
    rows[0, 2] = 10**4
    with pytest.raises(ValueError, match=r"^quad 0: row 10000 of class 2 is outside table"):
        evaluate(job.buffer, job.quads._replace(rows=rows))
    with pytest.raises(ValueError, match=r"^the store's \d+ bytes of plane images do not fit"):
        TexelLookupParams.from_datapath(DatapathParams(sram_bytes=100), _Store())


class _Store:
    nbytes = 1000


def test_tile_quads_are_the_lookup_stage(store):
    """The quads of a frame's samples: the planes' stored texels, the lookup stage's cycles."""
    from rtnerf.models.perf.nerf import lookup_stage
    from rtnerf.workloads.nerf import accel, datapath
    from rtnerf.workloads.nerf.fit import fit_volume
    from rtnerf.workloads.nerf.render import orbit_cameras

    model = fit_volume(load_scene("test", 15), 4, 6, sweeps=3, color_sweeps=1, plane_density=0.3)
    fs = accel.frame_samples(datapath.quantized(model), orbit_cameras(3, 20)[1], "rtnerf")
    for lanes, banks, width in [(4, 16, 256), (3, 8, 64)]:
        params = TexelLookupParams.from_datapath(
            DatapathParams(lanes=lanes, banks=banks, bank_width=width), store
        )
        quads = datapath.texel_quads(store, fs.points, fs.appearance, params.weight_frac)
        buffer = load(params, store.images)
        sc = schedule(buffer, quads, consecutive_slots(len(quads.table), lanes))
        cells = datapath.sample_cells(model, fs.points)
        lk = lookup_stage(cells, fs.appearance, store.bank_map(banks, width), lanes)
        assert (sc.cycles, sc.conflict_cycles) == (lk.cycles, lk.conflict_cycles)
        assert (sc.payload_reads, sc.merged_reads) == (lk.payload_reads, lk.merged_reads)
    texels, interp = evaluate(buffer, quads)
    values = [store.values(t) for t in range(6)]
    n, f = store.resolution, params.weight_frac
    u = (fs.points + 1) * 0.5 * (n - 1)
    cell = np.clip(np.floor(u), 0, n - 2).astype(int)
    q = 0
    worst = 0.0
    for s in range(len(fs.points)):
        for kind in (0, 1) if fs.appearance[s] else (0,):
            for m, (a0, a1) in enumerate(((0, 1), (0, 2), (1, 2))):
                t = 3 * kind + m
                i0, i1 = cell[s, a0], cell[s, a1]
                for k in range(4):
                    want = values[t][:, i1 + (k >> 1), i0 + (k & 1)]
                    assert texels[q, k, : want.size].tolist() == want.tolist()
                x, y = u[s, a0] - i0, u[s, a1] - i1
                v = values[t]
                exact = (
                    (1 - x) * (1 - y) * v[:, i1, i0]
                    + x * (1 - y) * v[:, i1, i0 + 1]
                    + (1 - x) * y * v[:, i1 + 1, i0]
                    + x * y * v[:, i1 + 1, i0 + 1]
                )
                got = interp[q, : exact.size] / 2**params.interp_frac
                # Positions rounded to 2**-F, the result to 2**-E.
                mag = np.abs(texels[q, :, : exact.size]).sum(axis=0)
                bound = mag * 2.0**-f + 2.0 ** -(params.interp_frac + 1)
                assert (np.abs(got - exact) <= bound + 1e-9).all()
                worst = max(worst, float(np.abs(got - exact).max()))
                q += 1
    assert q == len(quads.table) and worst > 0
