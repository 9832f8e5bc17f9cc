"""A NeRF tile through the RTL texel lookup: bit-exact, on schedule, cycles as the model's.

The generated test scene, refitted sparse (N = 15, 4 density and 6 appearance components: no
dataset needed), stored in hybrid texel rows in a buffer of the datapath design point's lanes
and banks; the samples of a 3 x 3 pixel tile become quads in the lookup stage's issue order.
``test_tile`` fills the whole buffer from its word stream, then checks every result against
the golden model and every group's acceptance against the stated schedule; here the RTL's
cycles are compared with :func:`rtnerf.models.perf.nerf.lookup_stage` on the same samples.
(``benchmarks/texel_tile.py`` runs a bunny tile at the design point's row widths.)
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import SLOW_ON_ICARUS

from rtnerf.models.cases.texel_lookup import Job, consecutive_slots
from rtnerf.models.golden.texel_lookup import load, schedule
from rtnerf.models.perf.nerf import DatapathParams, lookup_stage
from rtnerf.params import TexelLookupParams
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.texel_lookup import tile_args
from rtnerf.workloads.nerf import accel, datapath, texel
from rtnerf.workloads.nerf.fit import fit_volume
from rtnerf.workloads.nerf.render import orbit_cameras
from rtnerf.workloads.nerf.volume import load_scene

pytestmark = pytest.mark.cosim


@pytest.fixture(scope="module")
def tile():
    model = fit_volume(load_scene("test", 15), 4, 6, sweeps=3, color_sweeps=1, plane_density=0.3)
    cam = orbit_cameras(3, 24)[1]
    busy = accel.busy_pixels(model, cam)
    x, y = int(np.median(busy % cam.width)), int(np.median(busy // cam.width))
    pixels = np.array([(y + j) * cam.width + x + i for j in range(3) for i in range(3)])
    fs = accel.frame_samples(datapath.quantized(model), cam, "rtnerf", pixels)
    store = texel.encode_texels(model, "hybrid")
    dp = DatapathParams()
    params = TexelLookupParams.from_datapath(dp, store)
    quads = datapath.texel_quads(store, fs.points, fs.appearance, params.weight_frac)
    job = Job("test-scene tile", [], load(params, store.images), quads,
              consecutive_slots(len(quads.table), params.lanes))  # fmt: skip
    cells = datapath.sample_cells(model, fs.points)
    model_cycles = lookup_stage(
        cells, fs.appearance, store.bank_map(dp.banks, dp.bank_width), dp.lanes
    ).cycles
    return params, job, model_cycles


@pytest.mark.parametrize("simulator", SLOW_ON_ICARUS, indirect=True)
def test_tile_is_bit_exact_and_as_the_model(simulator, tile, tmp_path: Path):
    params, job, model_cycles = tile
    assert len(job.slots) >= 40, "the tile is too small to compare cycles"
    assert schedule(job.buffer, job.quads, job.slots).cycles == model_cycles
    built = build(params, simulator)
    summary = cosim(
        built,
        run_dir=tmp_path / "run",
        seed=1,
        count=1,
        testcase="test_tile$",
        tb_args=tile_args(tmp_path / "job.pkl", params, job),
    )
    (record,) = summary["records"]
    assert summary["passed"] and record["mismatches"] == 0, record
    assert record["steps_off_stated"] == 0
    assert record["fill_words"] == len(job.buffer.fill())
    # The RTL adds only the pipeline's fill and drain to the model's steps.
    assert record["cycles"] == model_cycles + params.latency - 2
    assert record["cycles"] == pytest.approx(model_cycles, rel=0.10)
