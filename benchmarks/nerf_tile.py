"""A screen tile of a real NeRF frame through the engine's RTL, bit-exact with the golden model.

Takes the samples one pipeline evaluates on a ``--tile`` x ``--tile`` pixel tile of a scene's
first view (:func:`rtnerf.workloads.nerf.accel.frame_samples`; the tile is centred on the
object unless ``--x``/``--y`` place it), keeps whole samples up to ``--max-bags`` ELEMENT bags,
and writes into ``--out``: the trace, the six plane-table images, the design point
(``engine.yaml``) and ``command.txt``, the equivalent ``rtnerf sim engine`` command. Then it
co-simulates the trace (cocotb ``test_trace``, the design's own DRAM), which checks every bag
bit-exactly against the golden model and every DRAM burst against the accounting, and writes
``tile.json``: RTL cycles next to the perf model's, DRAM bytes by cause, and the golden
interpolations' largest error against the float interpolation of the quantised planes (with
its bound from weight rounding).

    python benchmarks/nerf_tile.py [--scene bunny] [--tile 2] [--max-bags 600]
        [--simulator icarus] [--design nocache] [--out runs/nerf-tile]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
from nerf_ablation import DESIGNS, design_point

from rtnerf.models.golden import embedding_lookup_unit as unit_model
from rtnerf.models.perf.engine import estimate
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.engine import trace_args
from rtnerf.sim.toolchain import SIMULATORS
from rtnerf.workloads.nerf import accel
from rtnerf.workloads.nerf.fit import load_or_fit
from rtnerf.workloads.nerf.render import orbit_cameras
from rtnerf.workloads.nerf.storage import prune


def tile_pixels(busy: np.ndarray, width: int, edge: int, x: int | None, y: int | None):
    """Pixel ids of the ``edge`` x ``edge`` tile at ``(x, y)`` (default: the busy centroid)."""
    if x is None or y is None:
        x = int(np.mean(busy % width)) - edge // 2
        y = int(np.mean(busy // width)) - edge // 2
    ys, xs = np.meshgrid(np.arange(y, y + edge), np.arange(x, x + edge), indexing="ij")
    return (ys * width + xs).ravel(), (x, y)


def pick_samples(model, appearance: np.ndarray, max_bags: int) -> np.ndarray:
    """Whole samples, in order, up to ``max_bags`` bags: half the bags for appearance samples.

    The first samples of a tile are mostly density-only (the front of the object); taking
    appearance samples from the first half of the budget puts both kinds of bags in the trace.
    """
    dens = 3 * model.density_components
    app = dens + 3 * model.app_components
    left = {True: max_bags // 2 if appearance.any() else 0}
    left[False] = max_bags - left[True]
    keep = []
    for s, a in enumerate(appearance.tolist()):
        cost = app if a else dens
        if cost <= left[a]:
            left[a] -= cost
            keep.append(s)
    return np.array(keep, np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="bunny")
    parser.add_argument("--grid", type=int, default=128)
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--image", type=int, default=400)
    parser.add_argument("--tile", type=int, default=2, help="tile edge, pixels")
    parser.add_argument("--x", type=int, default=None)
    parser.add_argument("--y", type=int, default=None)
    parser.add_argument("--pipeline", choices=accel.PIPELINES, default="rtnerf")
    parser.add_argument("--encoding", choices=("dense", "hybrid"), default="hybrid")
    parser.add_argument("--design", choices=list(DESIGNS), default="nocache")
    parser.add_argument("--max-bags", type=int, default=600)
    parser.add_argument("--simulator", choices=SIMULATORS, default="icarus")
    parser.add_argument("--no-sim", action="store_true", help="write the files only")
    parser.add_argument("--out", type=Path, default=Path("runs/nerf-tile"))
    args = parser.parse_args()

    model = prune(load_or_fit(args.scene, args.grid), args.density)
    params = design_point(model, args.design)
    cam = orbit_cameras(4, args.image)[0]
    busy = accel.busy_pixels(model, cam)
    pixels, origin = tile_pixels(busy, cam.width, args.tile, args.x, args.y)
    samples = accel.frame_samples(model, cam, args.pipeline, pixels)
    q = accel.queries(model, samples.points, samples.appearance)
    q = q.select(np.isin(q.sample, pick_samples(model, samples.appearance, args.max_bags)))
    if not q.bags:
        sys.exit(f"the tile at {origin} has no samples within {args.max_bags} bags")
    images, quantized = accel.engine_tables(model, params, encoding=args.encoding)
    name = f"nerf-{args.scene}-{args.pipeline}-tile{args.tile}@{origin[0]},{origin[1]}"
    trace = q.trace(params, name=name)

    gold = unit_model.evaluate(params.unit, images, trace)[:, 0]
    values = [x.values for x in quantized]
    exact = q.interpolate(values)
    # |golden - exact| <= sum of the 4 texels' |v| x half a weight step + half an output step
    ones = dataclasses.replace(q, weight=np.ones_like(q.weight))
    magnitude = ones.interpolate([np.abs(v) for v in values])
    bound = magnitude * 2.0 ** -(params.unit.weight_frac_bits + 1) + 0.5

    args.out.mkdir(parents=True, exist_ok=True)
    run = trace_args(args.out, images, trace)
    (args.out / "engine.yaml").write_text(params.to_yaml())
    command = ["rtnerf", "sim", "engine", "-c", str(args.out / "engine.yaml")]
    command += ["--simulator", args.simulator, "--trace", run["trace"]]
    for path in run["images"]:
        command += ["--image", path]
    command += ["-o", str(args.out / "sim")]
    (args.out / "command.txt").write_text(" ".join(command) + "\n")
    perf = estimate(params, images, trace)
    summary = {
        "scene": args.scene,
        "pipeline": args.pipeline,
        "encoding": args.encoding,
        "design": args.design,
        "tile_origin": origin,
        "tile_pixels": int(pixels.size),
        "samples": q.samples,
        "appearance_samples": q.appearance_samples,
        "bags": q.bags,
        "requests": q.requests,
        "golden_vs_float_max_error": float(np.abs(gold - exact).max()),
        "golden_vs_float_within_bound": bool((np.abs(gold - exact) <= bound + 1e-9).all()),
        "perf_cycles": perf.cycles,
        "perf_dram_bytes": perf.traffic.total_bytes,
        "dram_bytes_by_cause": perf.traffic.bytes_by_cause(),
        "params": params.to_dict(),
    }
    if not args.no_sim:
        start = time.perf_counter()
        built = build(params, args.simulator)
        result = cosim(
            built,
            run_dir=args.out / "sim",
            seed=1,
            count=1,
            testcase="test_trace$",
            tb_args=run,
        )
        (record,) = result["records"]
        summary.update(
            simulator=args.simulator,
            passed=bool(result["passed"]),
            mismatches=record["mismatches"],
            dram_burst_mismatches=record["dram_burst_mismatches"],
            rtl_cycles=record["cycles"],
            rtl_dram_bytes=record["dram_bytes"],
            perf_vs_rtl_cycles=perf.cycles / record["cycles"] - 1,
            sim_wall_s=round(time.perf_counter() - start, 1),
        )
    (args.out / "tile.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "params"}, indent=2))
    if not args.no_sim and not (summary["passed"] and summary["mismatches"] == 0):
        sys.exit(1)


if __name__ == "__main__":
    main()
