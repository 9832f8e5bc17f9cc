"""Real-time RT-NeRF on the sparse-embedding datapath: the paper-style ablation (issue 15).

For each scene (TensoRF VM-192, 16 + 48 components, fitted at ``--grid``³ and **refitted
sparse** at ``--density`` plane density, ``rtnerf.workloads.nerf.fit``, l0) one whole view
(``--resolution`` square, default 800 x 800, the first orbit view; no ray subsets) goes through
the datapath's performance model (:func:`rtnerf.workloads.nerf.datapath.estimate`) for every
arm of: uniform vs RT-NeRF pipeline x dense vs hybrid texel storage x on-chip buffer vs
streaming. PSNR of each pipeline's render of the 16-bit quantised refit against the uniform
render of the unpruned float32 dense fit, at ``--psnr-resolution`` over ``--psnr-views``
orbit views (a per-pixel mean, so the resolution moves it little; 800 x 800 renders cost
minutes each here).

Also written: the storage study (component vs texel layout, dense vs hybrid: bytes, SRAM,
queries per sample) and, on the first scene, a lanes x MACs sweep and a cube-group sweep of
the streaming arm. Outputs ``nerf_realtime.{csv,md,png}``, ``nerf_storage.csv`` and
``nerf_realtime_sweep.csv`` (``--tag`` suffixes the names, e.g. for 300³).

    python benchmarks/nerf_realtime.py [--scenes bunny ...] [--grid 128] [--density 0.1]
        [--resolution 800] [--psnr-resolution 200] [--machine "2-core VM, shared"]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import time
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from rtnerf.models.perf.nerf import DatapathParams, datapath_frame
from rtnerf.workloads.nerf import accel, datapath, texel
from rtnerf.workloads.nerf.fit import load_or_fit
from rtnerf.workloads.nerf.render import orbit_cameras, psnr, render, render_uniform
from rtnerf.workloads.nerf.storage import encode_model, frame_dram_bytes
from rtnerf.workloads.nerf.stream import StreamParams

RESULTS = Path(__file__).parent / "results"
SCENES = ("bunny", "armadillo", "dragon", "frog")
PIPELINES = ("uniform", "rtnerf")
STORAGES = ("dense", "hybrid")
BUFFERS = ("on-chip", "stream")
#: The design point: 4 lanes, 16 banks of 256 bits, a 2 MiB buffer, 512 MACs, 1 GHz,
#: LPDDR4-3200 x64 (25.6 GB/s).
DESIGN = DatapathParams()


def component_lower_bound(model, cells, app, storage) -> int:
    """``rtnerf render``'s lower bound (component layout, touched rows once) from the cells."""
    n = model.resolution
    touched = np.zeros((2, 3, n), np.bool_)
    for kind, sel in ((0, slice(None)), (1, app)):
        for m in range(3):
            i1 = cells[sel, m, 1]
            touched[kind, m, i1] = True
            touched[kind, m, i1 + 1] = True
    return frame_dram_bytes(encode_model(model, storage), touched)["total"]


def psnrs(dense, refit, args) -> dict[str, float]:
    """PSNR per pipeline of the quantised refit against the dense fit's uniform render."""
    cams = orbit_cameras(args.psnr_views, args.psnr_resolution)
    q = datapath.quantized(refit)
    out = {}
    refs = [render_uniform(dense, c).image for c in cams]
    for pipeline in args.pipelines:
        vals = [psnr(r, render(q, c, pipeline).image) for r, c in zip(refs, cams, strict=True)]
        out[pipeline] = float(np.mean(vals))
    return out


def run_scene(scene: str, args: argparse.Namespace, sweep_rows: list[dict]) -> list[dict]:
    """All arms of one scene."""
    t0 = time.perf_counter()
    dense = load_or_fit(scene, args.grid)
    refit = load_or_fit(scene, args.grid, plane_density=args.density)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    quality = psnrs(dense, refit, args)
    psnr_s = time.perf_counter() - t0
    cam = orbit_cameras(1, args.resolution)[0]
    q = datapath.quantized(refit)
    stores = {s: texel.encode_texels(refit, s) for s in STORAGES}
    rows = []
    for pipeline in args.pipelines:
        t0 = time.perf_counter()
        samples = accel.frame_samples(q, cam, pipeline)
        stats = render(q, cam, pipeline, colour=False).stats
        front_s = time.perf_counter() - t0
        cells = datapath.sample_cells(refit, samples.points)
        for storage in STORAGES:
            comp_lb = component_lower_bound(refit, cells, samples.appearance, storage)
            for buffer in BUFFERS:
                t0 = time.perf_counter()
                e = datapath.estimate(refit, cam, DESIGN, pipeline=pipeline, storage=storage,
                                      stream=buffer == "stream", store=stores[storage],
                                      samples=samples, stats=stats)  # fmt: skip
                lookup_s = time.perf_counter() - t0
                f = e.frame
                sram = e.store.sram_bytes if buffer == "on-chip" else (
                    e.tile_buffer_bytes + e.pixel_state_bytes + e.store.line_bytes)  # fmt: skip
                rows.append({
                    "scene": scene, "grid": args.grid, "resolution": args.resolution,
                    "pipeline": pipeline, "storage": storage, "buffer": buffer,
                    "frames_per_s": round(f.frames_per_s, 2),
                    "bottleneck": f.bottleneck,
                    "fits_2MiB": e.fits,
                    "dram_MB_per_frame": round(f.dram_bytes / 1e6, 3),
                    "lower_bound_MB": round(e.lower_bound_bytes / 1e6, 3),
                    "component_lower_bound_MB": round(comp_lb / 1e6, 3),
                    "load_MB_once": round(f.load_bytes / 1e6, 3),
                    "sram_KB": round(sram / 1024, 1),
                    "tile_buffer_KB": round(e.tile_buffer_bytes / 1024, 1),
                    "pixel_state_KB": round(e.pixel_state_bytes / 1024, 1),
                    "visits": e.visits,
                    "lanes": DESIGN.lanes, "banks": DESIGN.banks,
                    "bank_width_bits": DESIGN.bank_width, "macs_per_cycle": DESIGN.macs_per_cycle,
                    "clock_GHz": DESIGN.clock_hz / 1e9, "dram_class": DESIGN.dram,
                    "psnr_db": round(quality[pipeline], 2),
                    **{k: v for k, v in f.to_dict().items() if k.endswith("_cycles")},
                    "quads": f.lookup.quads, "merged_reads": f.lookup.merged_reads,
                    "empty_rows": f.lookup.empty_rows,
                    "samples": f.samples, "appearance_samples": f.appearance_samples,
                    "front_end_work": f.front_end_work, "macs": f.macs,
                    "model_seconds": round(front_s + lookup_s, 1),
                    "samples_seconds": round(front_s, 1), "lookup_seconds": round(lookup_s, 1),
                    "fit_seconds": round(fit_s, 1), "psnr_seconds": round(psnr_s, 1),
                    "load_average": round(os.getloadavg()[0], 1),
                })  # fmt: skip
        if pipeline == "rtnerf" and scene == args.scenes[0]:
            sweep_rows += sweep(refit, cam, stores["hybrid"], samples, stats, args)
    return rows


def sweep(refit, cam, store, samples, stats, args) -> list[dict]:
    """Lanes x MACs (on chip) and cube group x screen tile (streaming), RT-NeRF, hybrid."""
    rows = []
    for lanes in (1, 2, 4, 8):
        p = dataclasses.replace(DESIGN, lanes=lanes, banks=max(16, 4 * lanes))
        e = datapath.estimate(refit, cam, p, store=store, samples=samples, stats=stats,
                              stream=False)  # fmt: skip
        for macs in (256, 512, 1024):
            f = datapath_frame(e.frame.lookup, dataclasses.replace(p, macs_per_cycle=macs),
                               samples=e.frame.samples,
                               appearance_samples=e.frame.appearance_samples,
                               front_end_work=e.frame.front_end_work,
                               density_components=refit.density_components,
                               app_components=refit.app_components,
                               load_bytes=e.frame.load_bytes)  # fmt: skip
            rows.append({"kind": "lanes x macs", "lanes": lanes, "banks": p.banks,
                         "macs_per_cycle": macs, "frames_per_s": round(f.frames_per_s, 2),
                         "bottleneck": f.bottleneck, "lookup_cycles": f.stages["lookup"],
                         "conflict_cycles": f.lookup.conflict_cycles})  # fmt: skip
    for group in (8, 16, 32):
        for tile in (64, 200, args.resolution):
            sp = StreamParams(cube_group=group, screen_tile=tile)
            e = datapath.estimate(refit, cam, DESIGN, store=store, samples=samples, stats=stats,
                                  stream=sp)  # fmt: skip
            rows.append({"kind": "stream", "cube_group": group, "screen_tile": tile,
                         "frames_per_s": round(e.frame.frames_per_s, 2),
                         "dram_MB_per_frame": round(e.frame.dram_bytes / 1e6, 3),
                         "lower_bound_MB": round(e.lower_bound_bytes / 1e6, 3),
                         "tile_buffer_KB": round(e.tile_buffer_bytes / 1024, 1),
                         "pixel_state_KB": round(e.pixel_state_bytes / 1024, 1),
                         "visits": e.visits})  # fmt: skip
    return rows


def storage_rows(scene: str, args: argparse.Namespace) -> list[dict]:
    """The storage study of the scene's refit."""
    refit = load_or_fit(scene, args.grid, plane_density=args.density)
    rows = texel.storage_study(refit, groups=(None, 16))
    return [{"scene": scene, "grid": args.grid, "density": args.density, **r} for r in rows]


def write_csv(rows: list[dict], path: Path) -> None:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


def plot(rows: list[dict], path: Path) -> None:
    """Frames/s (log) and DRAM MB per frame of every arm, per scene."""
    fig = Figure(figsize=(12, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    arms = list(dict.fromkeys((r["pipeline"], r["storage"], r["buffer"]) for r in rows))
    width = 0.8 / len(arms)
    for i, arm in enumerate(arms):
        sel = [next(r for r in rows if r["scene"] == s and (r["pipeline"], r["storage"],
                    r["buffer"]) == arm) for s in scenes]  # fmt: skip
        x = np.arange(len(scenes)) + i * width
        label = " / ".join(arm)
        ax1.bar(x, [r["frames_per_s"] for r in sel], width, label=label)
        ax2.bar(x, [r["dram_MB_per_frame"] for r in sel], width, label=label)
    for ax in (ax1, ax2):
        ax.set_xticks(np.arange(len(scenes)) + 0.4 - width / 2, scenes)
        ax.grid(True, axis="y", alpha=0.3)
    ax1.axhline(30, color="k", lw=0.8)
    ax1.set_yscale("log")
    ax1.set_ylabel("frames/s at 800 x 800 (model)")
    ax2.set_ylabel("DRAM MB per frame (0: resident)")
    ax1.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(rows, storage, sweep_rows, args, path: Path) -> None:
    """The Markdown summary with the design point's checks."""
    d = DESIGN
    lines = [
        f"# Real-time RT-NeRF on the sparse-embedding datapath ({args.grid}^3)",
        "",
        (
            f"`python benchmarks/nerf_realtime.py` on the {args.machine}. Every scene is refitted "
            f"sparse at {args.density:g} plane density (l0); one whole {args.resolution} x "
            f"{args.resolution} view (no ray subsets) per arm through "
            "`rtnerf.workloads.nerf.datapath.estimate` (stage cycles stated in "
            "`rtnerf.models.perf.nerf.datapath_frame`). PSNR: each pipeline's render of the 16-bit "
            "quantised refit against the uniform render of the unpruned float32 dense fit, "
            f"{args.psnr_views} views at {args.psnr_resolution} x {args.psnr_resolution}."
        ),
        "",
        (
            f"**Design point:** {d.lanes} lanes, {d.banks} banks x {d.bank_width} bits "
            f"({d.banks // 4} per parity class), {d.sram_bytes / 2**20:g} MiB buffer, "
            f"{d.macs_per_cycle} MACs, {d.clock_hz / 1e9:g} GHz, {d.dram} "
            f"({d.dram_bytes_per_cycle * d.clock_hz / 1e9:g} GB/s); texel rows in 4 x 4 "
            "class-texel tiles; streaming: cube groups of 16³, 200 x 200 screen tiles."
        ),
        "",
        (
            "| scene | pipeline | storage | buffer | frames/s | bottleneck | DRAM MB/frame | lower "
            "bound MB | SRAM KB | fits 2 MiB | PSNR dB | model s |"
        ),
        "|---|---|---|---|---:|---|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scene']} | {r['pipeline']} | {r['storage']} | {r['buffer']} | "
            f"{r['frames_per_s']:.2f} | {r['bottleneck']} | {r['dram_MB_per_frame']:.2f} | "
            f"{r['lower_bound_MB']:.2f} | {r['sram_KB']:.0f} | {r['fits_2MiB']} | "
            f"{r['psnr_db']:.2f} | {r['model_seconds']:.0f} |"
        )
    lines += ["", "**Checks at the design point (RT-NeRF pipeline):**", ""]

    def get(scene, pipeline, storage, buffer):
        return next(r for r in rows if (r["scene"], r["pipeline"], r["storage"], r["buffer"])
                    == (scene, pipeline, storage, buffer))  # fmt: skip

    for scene in dict.fromkeys(r["scene"] for r in rows if r["pipeline"] == "rtnerf"):
        hy = get(scene, "rtnerf", "hybrid", "on-chip")
        de_on = get(scene, "rtnerf", "dense", "on-chip")
        hs = get(scene, "rtnerf", "hybrid", "stream")
        ds = get(scene, "rtnerf", "dense", "stream")
        lines.append(
            f"- {scene}: hybrid on chip {hy['frames_per_s']:.1f} frames/s "
            f"({'>=' if hy['frames_per_s'] >= 30 else '<'} 30), PSNR {hy['psnr_db']:.1f} dB, "
            f"SRAM dense/hybrid {de_on['sram_KB'] / hy['sram_KB']:.2f}x, DRAM per frame "
            f"streaming dense/hybrid {ds['dram_MB_per_frame'] / hs['dram_MB_per_frame']:.2f}x, "
            f"one-time load dense/hybrid {de_on['load_MB_once'] / hy['load_MB_once']:.2f}x; "
            f"dense needs {de_on['sram_KB'] / 1024:.2f} MiB on chip (fits 2 MiB: "
            f"{de_on['fits_2MiB']}), so at the design point dense streams "
            f"{ds['dram_MB_per_frame']:.1f} MB per frame where hybrid streams none."
        )
    lines += ["", ("**Storage study** (`nerf_storage.csv`; queries per sample: element queries "
              "for the component layout, 2 x 2 quads for the texel layout):"), "",
              ("| scene | layout | group | storage | plane KB | directory KB | SRAM KB | "
              "queries/density sample | queries/app sample |"),
              "|---|---|---|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for r in storage:
        lines.append(
            f"| {r['scene']} | {r['layout']} | {r['group']} | {r['storage']} | "
            f"{r['plane_bytes'] / 1024:.0f} | {r['directory_bytes'] / 1024:.0f} | "
            f"{r['sram_bytes'] / 1024:.0f} | {r['queries_per_density_sample']} | "
            f"{r['queries_per_app_sample']} |"
        )
    if sweep_rows:
        lines += ["", (f"**Sweeps on {args.scenes[0]}** (RT-NeRF, hybrid; "
                  "`nerf_realtime_sweep.csv`):"), ""]  # fmt: skip
        for r in sweep_rows:
            if r["kind"] == "lanes x macs":
                lines.append(
                    f"- {r['lanes']} lanes ({r['banks']} banks), {r['macs_per_cycle']} MACs: "
                    f"{r['frames_per_s']:.1f} frames/s ({r['bottleneck']}; lookup "
                    f"{r['lookup_cycles'] / 1e6:.1f} M cycles, {r['conflict_cycles'] / 1e6:.1f} M "
                    "of them conflicts)"
                )
            else:
                lines.append(
                    f"- streaming, cube group {r['cube_group']}³, screen tile {r['screen_tile']}: "
                    f"{r['dram_MB_per_frame']:.2f} MB/frame "
                    f"({r['dram_MB_per_frame'] / max(r['lower_bound_MB'], 1e-9):.1f}x "
                    f"the lower bound {r['lower_bound_MB']:.2f} MB), tile buffer "
                    f"{r['tile_buffer_KB']:.0f} KB + pixel state {r['pixel_state_KB']:.0f} KB, "
                    f"{r['visits']} visits, {r['frames_per_s']:.1f} frames/s"
                )
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="+", default=list(SCENES))
    ap.add_argument("--grid", type=int, default=128)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--resolution", type=int, default=800)
    ap.add_argument("--psnr-resolution", type=int, default=200)
    ap.add_argument("--psnr-views", type=int, default=2)
    ap.add_argument("--pipelines", nargs="+", default=list(PIPELINES), choices=PIPELINES)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--machine", default="2-core VM, shared")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    # Compile the kernels on a tiny frame first so that model times are not compile times.
    tiny = load_or_fit("test", 16, 2, 3, plane_density=0.5)
    datapath.estimate(tiny, orbit_cameras(1, 8)[0], stream=True)
    datapath.estimate(tiny, orbit_cameras(1, 8)[0], pipeline="uniform")
    rows, storage, sweep_rows = [], [], []
    for scene in args.scenes:
        rows += run_scene(scene, args, [] if args.no_sweep else sweep_rows)
        storage += storage_rows(scene, args)
        print(f"{scene}: done", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = args.tag
    write_csv(rows, args.out / f"nerf_realtime{tag}.csv")
    write_csv(storage, args.out / f"nerf_storage{tag}.csv")
    if sweep_rows:
        write_csv(sweep_rows, args.out / f"nerf_realtime_sweep{tag}.csv")
    plot(rows, args.out / f"nerf_realtime{tag}.png")
    report(rows, storage, sweep_rows, args, args.out / f"nerf_realtime{tag}.md")


if __name__ == "__main__":
    main()
