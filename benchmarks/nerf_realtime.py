"""Real-time RT-NeRF on the sparse-embedding datapath: the paper-style ablation (issue 15).

For each scene (TensoRF VM-192, 16 + 48 components, fitted at ``--grid``³ and **refitted
sparse** at ``--density`` plane density, ``rtnerf.workloads.nerf.fit``, l0) one whole view
(``--resolution`` square, default 800 x 800, the first orbit view; no ray subsets) goes through
the datapath's performance model (:func:`rtnerf.workloads.nerf.datapath.estimate`) for every
arm of: uniform vs RT-NeRF pipeline x dense vs hybrid texel storage x on-chip buffer vs
streaming (into the design point's buffer, retaining bursts across visits, LRU; the per-visit
tile buffer's bytes of the same visits are reported beside). The design point's DRAM bytes per
frame are then stated as it runs each storage (resident if it fits, else streamed), the
one-time fill amortised over ``--frames`` frames and reloaded every frame.
PSNR of each pipeline's render of the 16-bit quantised refit against the uniform
render of the unpruned float32 dense fit, at ``--psnr-resolution`` over ``--psnr-views``
orbit views (a per-pixel mean, so the resolution moves it little; 800 x 800 renders cost
minutes each here).

Also written: the storage study (component vs texel layout, dense vs hybrid: bytes, SRAM,
queries per sample) and, on the first scene, a lanes x MACs sweep and a cube-group sweep of
the streaming arm. Outputs ``nerf_realtime.{csv,md,png}``, ``nerf_storage.csv`` and
``nerf_realtime_sweep.csv`` (``--tag`` suffixes the names, e.g. for 300³).

    python benchmarks/nerf_realtime.py [--scenes bunny ...] [--grid 128] [--density 0.1]
        [--resolution 800] [--psnr-resolution 200] [--frames 30]
        [--machine "2-core VM, shared"]
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
                    "per_visit_MB_per_frame": round(e.per_visit_bytes / 1e6, 3),
                    "load_MB_once": round(f.load_bytes / 1e6, 3),
                    "line_MB": round(e.store.line_bytes / 1e6, 3),
                    "stream_policy": e.policy, "buffer_slots": e.buffer_slots,
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
            for policy in ("visit", "lru"):
                sp = StreamParams(cube_group=group, screen_tile=tile, policy=policy)
                e = datapath.estimate(refit, cam, DESIGN, store=store, samples=samples,
                                      stats=stats, stream=sp)  # fmt: skip
                rows.append({"kind": "stream", "cube_group": group, "screen_tile": tile,
                             "policy": policy, "frames_per_s": round(e.frame.frames_per_s, 2),
                             "dram_MB_per_frame": round(e.frame.dram_bytes / 1e6, 3),
                             "lower_bound_MB": round(e.lower_bound_bytes / 1e6, 3),
                             "tile_buffer_KB": round(e.tile_buffer_bytes / 1024, 1),
                             "pixel_state_KB": round(e.pixel_state_bytes / 1024, 1),
                             "buffer_slots": e.buffer_slots,
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
            "class-texel tiles; streaming: cube groups of 16³, 200 x 200 screen tiles, into the "
            "buffer less the pixel state and lines, retaining bursts across visits (LRU by "
            "visit, `rtnerf.workloads.nerf.stream`; every frame starts empty). *per-visit MB*: "
            "the same visits through a tile buffer that reloads each burst every visit (the "
            "earlier model)."
        ),
        "",
        (
            "| scene | pipeline | storage | buffer | frames/s | bottleneck | DRAM MB/frame | "
            "per-visit MB | lower bound MB | SRAM KB | fits 2 MiB | PSNR dB | model s |"
        ),
        "|---|---|---|---|---:|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        per_visit = f"{r['per_visit_MB_per_frame']:.2f}" if r["buffer"] == "stream" else "-"
        lines.append(
            f"| {r['scene']} | {r['pipeline']} | {r['storage']} | {r['buffer']} | "
            f"{r['frames_per_s']:.2f} | {r['bottleneck']} | {r['dram_MB_per_frame']:.2f} | "
            f"{per_visit} | {r['lower_bound_MB']:.2f} | {r['sram_KB']:.0f} | {r['fits_2MiB']} | "
            f"{r['psnr_db']:.2f} | {r['model_seconds']:.0f} |"
        )

    def get(scene, pipeline, storage, buffer):
        return next(r for r in rows if (r["scene"], r["pipeline"], r["storage"], r["buffer"])
                    == (scene, pipeline, storage, buffer))  # fmt: skip

    def as_run(scene, storage):
        """(MB streamed per frame, MB loaded once) of a storage as the design point runs it."""
        on, st = get(scene, "rtnerf", storage, "on-chip"), get(scene, "rtnerf", storage, "stream")
        if on["fits_2MiB"]:
            return 0.0, on["load_MB_once"]
        return st["dram_MB_per_frame"], st["line_MB"]

    def ratio(a, b, key):
        return a[key] / b[key] if b[key] else float("inf")

    k = args.frames
    lines += [
        "",
        (f"**DRAM and SRAM at the design point (RT-NeRF pipeline):** *as run*: each storage as "
        f"the {d.sram_bytes / 2**20:g} MiB design point runs it, resident when its images and "
        "lines fit (0 MB streamed per frame after a one-time fill), else streamed (the lines' "
        f"fill once); the one-time fill amortised over {k} frames (*amort.*) and, "
        "pessimistically, reloaded every frame (*reload*). *stream*: both storages streamed "
        f"through the same {d.sram_bytes / 2**20:g} MiB retaining buffer; *per-visit*: both "
        "through per-visit tile buffers; *lower bound*: each touched burst once. Ratios are "
        "dense / hybrid."),
        "",
        ("| scene | hybrid as run MB (amort. / reload) | dense as run MB (amort. / reload) | "
         "as run amort. | as run reload | stream MB dense / hybrid | stream | per-visit | "
         "lower bound | SRAM | frames/s | PSNR dB |"),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    met: dict[str, list[str]] = {}
    for scene in dict.fromkeys(r["scene"] for r in rows if r["pipeline"] == "rtnerf"):
        hy, de = get(scene, "rtnerf", "hybrid", "on-chip"), get(scene, "rtnerf", "dense", "on-chip")
        hs, ds = get(scene, "rtnerf", "hybrid", "stream"), get(scene, "rtnerf", "dense", "stream")
        (h_s, h_o), (d_s, d_o) = as_run(scene, "hybrid"), as_run(scene, "dense")
        h_am, h_re, d_am, d_re = h_s + h_o / k, h_s + h_o, d_s + d_o / k, d_s + d_o
        ratios = {
            "as run amortised": d_am / h_am,
            "as run reloaded every frame": d_re / h_re,
            "stream vs stream (equal buffer, LRU)": ratio(ds, hs, "dram_MB_per_frame"),
            "per-visit tile buffers": ratio(ds, hs, "per_visit_MB_per_frame"),
            "lower bounds": ratio(ds, hs, "lower_bound_MB"),
            "SRAM": de["sram_KB"] / hy["sram_KB"],
        }
        for name, x in ratios.items():
            met.setdefault(name, []).append(f"{x:.2f}")
        r = list(ratios.values())
        lines.append(
            f"| {scene} | {h_am:.3f} / {h_re:.2f} | {d_am:.2f} / {d_re:.2f} | {r[0]:.1f}x | "
            f"{r[1]:.2f}x | {ds['dram_MB_per_frame']:.2f} / {hs['dram_MB_per_frame']:.2f} | "
            f"{r[2]:.2f}x | {r[3]:.2f}x | {r[4]:.2f}x | {r[5]:.2f}x | {hy['frames_per_s']:.1f} | "
            f"{hy['psnr_db']:.1f} |"
        )
    lines += ["", "**>= 3x (dense / hybrid) per comparison, over the scenes:**", ""]
    for name, xs in met.items():
        ok = all(float(x) >= 3 for x in xs)
        lines.append(f"- {name}: {', '.join(x + 'x' for x in xs)}: "
                     f"{'met' if ok else 'not met'}")  # fmt: skip
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
                buf = ("tile buffer" if r["policy"] == "visit" else
                       f"retaining buffer ({r['buffer_slots']} bursts)")  # fmt: skip
                lines.append(
                    f"- streaming, cube group {r['cube_group']}³, screen tile {r['screen_tile']}, "
                    f"{r['policy']}: {r['dram_MB_per_frame']:.2f} MB/frame "
                    f"({r['dram_MB_per_frame'] / max(r['lower_bound_MB'], 1e-9):.1f}x "
                    f"the lower bound {r['lower_bound_MB']:.2f} MB), {buf} "
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
    ap.add_argument("--frames", type=int, default=30,
                    help="frames over which the one-time buffer fill is amortised")  # fmt: skip
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
