"""RT-NeRF ablation on the accelerator: uniform vs RT-NeRF pipeline x dense vs hybrid encoding.

For each scene (TensoRF VM-192 fitted at ``--grid``³, planes magnitude-pruned to ``--density``
of their values, :mod:`rtnerf.workloads.nerf.storage`) one view (``--image`` pixels square,
default 800 x 800 as Blender's scenes; the first of
:func:`~rtnerf.workloads.nerf.render.orbit_cameras`) is rendered by both pipelines; the
renderers' counters give the frame's exact density and appearance samples. The frame's
embedding reads then go through the lookup engine's performance model as ELEMENT bags
(:mod:`rtnerf.workloads.nerf.accel`) with the six plane tables stored dense or hybrid, and the
per-sample compute through the MAC array (:mod:`rtnerf.models.perf.nerf`).

**Sampling.** A whole frame is billions of requests; the perf model runs about 10^5 requests
per second here. So each (scene, pipeline) runs a uniformly random subset of the rays that
evaluate samples, sized to about ``--budget`` requests, and scales cycles and DRAM bytes by
the frame's bags over the subset's (a ratio estimator: the frame's bag count is exact). The
same rays serve both encodings. ``--check-scaling`` measures the estimator's error against
whole frames small enough to run (``nerf_scaling.csv``).

Design points (stated in every row): the default engine with 8 lookup units (the most the
engine takes), ``unit.decoder.columns`` = N, 6 tables, 14-bit weight fractions, DRAM 16 B per
cycle at latency 40 (16 GB/s at 1 GHz), and either no row cache (``nocache``: every texel read
is a DRAM query) or the largest row cache a unit takes (``cache8x64``: 8 ways x 64 sets = 512
rows per unit, whole rows fetched on a miss); MAC array of 256 MACs per cycle with TensoRF's SH
decoder; 1 GHz clock; lookup engine and MAC array pipelined (frame time = the larger).

    python benchmarks/nerf_ablation.py [--scenes bunny armadillo dragon frog] [--image 800]
        [--budget 400000] [--check-scaling] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import platform
import sys
import time
from pathlib import Path

import numpy as np

from rtnerf.models.perf.engine import estimate
from rtnerf.models.perf.nerf import MacArrayParams, frame
from rtnerf.params import EngineParams
from rtnerf.workloads.nerf import accel
from rtnerf.workloads.nerf.fit import load_or_fit
from rtnerf.workloads.nerf.render import orbit_cameras, render
from rtnerf.workloads.nerf.storage import prune

CLOCK_HZ = 1e9
ENCODINGS = ("dense", "hybrid")
MACHINE = f"{platform.node()} {platform.machine()} (2-core VM, shared)"


#: Design name -> (cache ways, cache sets) of each lookup unit.
DESIGNS = {"nocache": (0, 1), "cache8x64": (8, 64)}


def design_point(model, design: str = "nocache") -> EngineParams:
    """The NeRF design point ``design`` (see the module docstring)."""
    ways, sets = DESIGNS[design]
    base = EngineParams()
    unit = dataclasses.replace(base.unit, cache_ways=ways, cache_sets=sets)
    return accel.design(model, dataclasses.replace(base, units=8, unit=unit))


def run_subset(model, params, images, samples, pixels, totals, mac) -> dict:
    """Perf model on the samples of ``pixels``, scaled to the frame's ``totals``."""
    keep = np.isin(samples.ray, pixels)
    q = accel.queries(model, samples.points[keep], samples.appearance[keep])
    rs, rc = model.density_components, model.app_components
    frame_bags = 3 * rs * totals[0] + 3 * rc * totals[1]
    start = time.perf_counter()
    est = estimate(params, images, q.trace(params))
    wall = time.perf_counter() - start
    fr = frame(
        est,
        scale=frame_bags / q.bags,
        density_samples=totals[0],
        appearance_samples=totals[1],
        density_components=rs,
        app_components=rc,
        mac=mac,
        clock_hz=CLOCK_HZ,
    )
    return {
        "rays_measured": int(np.unique(samples.ray[keep]).size),
        "requests_measured": q.requests,
        "frame_requests": 4 * frame_bags,
        "line_reads_on_chip": 2 * frame_bags,
        **fr.to_dict(),
        "perf_model_s": round(wall, 2),
        "perf_model_requests_per_s": round(q.requests / wall),
    }


def ablation(args) -> list[dict]:
    rows = []
    mac = MacArrayParams(macs_per_cycle=args.macs)
    for scene in args.scenes:
        model = prune(load_or_fit(scene, args.grid), args.density)
        designs = {d: design_point(model, d) for d in args.designs}
        cam = orbit_cameras(4, args.image)[0]
        params = designs[args.designs[0]]  # the tables' encoding is the same for every design
        encoded = {e: accel.engine_tables(model, params, encoding=e)[0] for e in ENCODINGS}
        busy = accel.busy_pixels(model, cam)
        rng = np.random.default_rng(args.seed)
        for pipeline in accel.PIPELINES:
            stats = render(model, cam, pipeline).stats
            totals = (stats.samples_evaluated, stats.app_evaluated)
            rs, rc = model.density_components, model.app_components
            per_ray = 4 * (3 * rs * totals[0] + 3 * rc * totals[1]) / busy.size
            k = int(min(busy.size, max(1, args.budget // per_ray)))
            pixels = rng.choice(busy, size=k, replace=False)
            samples = accel.frame_samples(model, cam, pipeline, pixels)
            for (design, params), enc in itertools.product(designs.items(), ENCODINGS):
                row = {
                    "design": design,
                    "cache_rows_per_unit": params.unit.cache_rows,
                    "scene": scene,
                    "pipeline": pipeline,
                    "encoding": enc,
                    "image": f"{args.image}x{args.image}",
                    "grid": args.grid,
                    "plane_density": args.density,
                    "busy_rays": busy.size,
                    "table_bytes": sum(im.nbytes for im in encoded[enc]),
                    **run_subset(model, params, encoded[enc], samples, pixels, totals, mac),
                    "units": params.units,
                    "macs_per_cycle": mac.macs_per_cycle,
                    "decoder": mac.decoder,
                    "clock_hz": CLOCK_HZ,
                    "dram_bytes_per_cycle": params.dram.bytes_per_cycle,
                    "seed": args.seed,
                    "machine": MACHINE,
                }
                rows.append(row)
                print(
                    f"{design} {scene} {pipeline} {enc}: {row['frames_per_s']:.4g} frames/s, "
                    f"{row['dram_bytes'] / 1e6:.4g} MB/frame, compute share "
                    f"{row['compute_share']:.3f} ({row['perf_model_s']} s)",
                    file=sys.stderr,
                )
    return rows


def check_scaling(args) -> list[dict]:
    """Whole small frames against ray subsets of them (``--seeds`` subsets each)."""
    rows = []
    mac = MacArrayParams(macs_per_cycle=args.macs)
    scene = args.scenes[0]
    model = prune(load_or_fit(scene, args.grid), args.density)
    cam = orbit_cameras(4, args.check_image)[0]
    busy = accel.busy_pixels(model, cam)
    samples = accel.frame_samples(model, cam, "rtnerf")
    for design, enc in itertools.product(args.designs, ENCODINGS):
        params = design_point(model, design)
        images = accel.engine_tables(model, params, encoding=enc)[0]
        totals = (samples.samples, samples.appearance_samples)
        whole = run_subset(model, params, images, samples, busy, totals, mac)
        for seed in range(args.seeds):
            rng = np.random.default_rng(seed)
            for frac in (0.1, 0.25):
                k = max(1, round(frac * busy.size))
                pixels = rng.choice(busy, size=k, replace=False)
                part = run_subset(model, params, images, samples, pixels, totals, mac)
                rows.append(
                    {
                        "design": design,
                        "scene": scene,
                        "pipeline": "rtnerf",
                        "encoding": enc,
                        "image": f"{args.check_image}x{args.check_image}",
                        "busy_rays": busy.size,
                        "fraction": frac,
                        "rays_measured": part["rays_measured"],
                        "seed": seed,
                        "whole_frames_per_s": whole["frames_per_s"],
                        "subset_frames_per_s": part["frames_per_s"],
                        "frames_per_s_rel_error": part["frames_per_s"] / whole["frames_per_s"] - 1,
                        "whole_dram_bytes": whole["dram_bytes"],
                        "subset_dram_bytes": part["dram_bytes"],
                        "dram_bytes_rel_error": part["dram_bytes"] / whole["dram_bytes"] - 1,
                        "machine": MACHINE,
                    }
                )
                print(
                    f"scaling {design} {enc} {frac} seed {seed}: fps err "
                    f"{rows[-1]['frames_per_s_rel_error']:+.4f}, bytes err "
                    f"{rows[-1]['dram_bytes_rel_error']:+.4f}",
                    file=sys.stderr,
                )
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    designs = list(dict.fromkeys(r["design"] for r in rows))
    arms = [(p, e) for p in accel.PIPELINES for e in ENCODINGS]
    fig, axes = plt.subplots(len(designs), 2, figsize=(11, 3.6 * len(designs)), squeeze=False)
    width = 0.8 / len(arms)
    for d, design in enumerate(designs):
        for a, (p, e) in enumerate(arms):
            sel = {
                r["scene"]: r
                for r in rows
                if r["design"] == design and r["pipeline"] == p and r["encoding"] == e
            }
            x = np.arange(len(scenes)) + (a - (len(arms) - 1) / 2) * width
            for ax, key, unit in ((axes[d, 0], "frames_per_s", 1), (axes[d, 1], "dram_bytes", 1e6)):
                ax.bar(x, [sel[s][key] / unit for s in scenes], width, label=f"{p} + {e}")
        for ax, label in ((axes[d, 0], "frames/s"), (axes[d, 1], "DRAM MB per frame")):
            ax.set_xticks(np.arange(len(scenes)), scenes)
            ax.set_yscale("log")
            ax.set_ylabel(label)
            ax.set_title(design, fontsize=9)
            ax.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    r = rows[0]
    fig.suptitle(
        f"RT-NeRF ablation: {r['image']} frames, VM-192 at {r['grid']}^3, planes pruned to "
        f"{r['plane_density']:g}; engine {r['units']} units, 16 B/cycle DRAM; "
        f"{r['macs_per_cycle']} MACs/cycle ({r['decoder']}), 1 GHz",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="+", default=["bunny", "armadillo", "dragon", "frog"])
    parser.add_argument("--designs", nargs="+", choices=list(DESIGNS), default=list(DESIGNS))
    parser.add_argument("--grid", type=int, default=128)
    parser.add_argument("--density", type=float, default=0.2, help="plane density kept")
    parser.add_argument("--image", type=int, default=800, help="frame width = height")
    parser.add_argument("--budget", type=int, default=400_000, help="requests per perf run")
    parser.add_argument("--macs", type=int, default=256, help="MAC array: MACs per cycle")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--check-scaling", action="store_true")
    parser.add_argument("--check-image", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.check_scaling:
        write_csv(check_scaling(args), args.out / "nerf_scaling.csv")
        return
    rows = ablation(args)
    write_csv(rows, args.out / "nerf_ablation.csv")
    plot(rows, args.out / "nerf_ablation.png")


if __name__ == "__main__":
    main()
