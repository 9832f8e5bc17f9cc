"""Energy per frame of the NeRF design point, by component (the energy model on the perf model).

The design points and the frame are ``benchmarks/nerf_ablation.py``'s: TensoRF VM-192 of a
scene fitted at 128^3, planes pruned to 20 % and hybrid-encoded, one 800 x 800 view rendered
by the RT-NeRF pipeline (exact sample counts); the engine (8 lookup units, ``nocache`` or
``cache8x64``) runs a random subset of the busy rays through the performance model and every
count is scaled by the frame's bags over the subset's (the ablation's ratio estimator). The
events (:func:`rtnerf.models.physical.events.engine_events`, plus the on-chip line factors and
the 256-MAC array, :func:`~rtnerf.models.physical.events.nerf_frame_events`) are priced by the
energy table (:mod:`rtnerf.models.physical.energy`) at the reference node for each DRAM class.

Writes ``benchmarks/results/energy_nerf.csv`` (mJ per frame by component), ``energy_nerf.md``,
``energy_nerf.png`` (stacked bars) and ``energy_nerf_events.json`` (the frame's event counts;
``--reuse`` prices them again without rerunning the models).

    python benchmarks/energy_nerf.py [--scene bunny] [--image 800] [--budget 400000]
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nerf_ablation import DESIGNS, MACHINE, design_point

from rtnerf.models.perf.engine import estimate
from rtnerf.models.perf.nerf import MacArrayParams, frame
from rtnerf.models.physical.energy import EventCounts, energy, load_table
from rtnerf.models.physical.events import engine_events, nerf_frame_events
from rtnerf.models.physical.scaling import DEFAULT_NODE, node
from rtnerf.physical import energy_bars
from rtnerf.workloads.nerf import accel
from rtnerf.workloads.nerf.fit import load_or_fit
from rtnerf.workloads.nerf.render import orbit_cameras, render
from rtnerf.workloads.nerf.storage import prune

CLOCK_HZ = 1e9


def frame_events(args) -> list[tuple[str, dict, object]]:
    """(design, frame numbers, EventCounts of the whole frame) per design."""
    model = prune(load_or_fit(args.scene, args.grid), args.density)
    cam = orbit_cameras(4, args.image)[0]
    stats = render(model, cam, "rtnerf").stats
    totals = (stats.samples_evaluated, stats.app_evaluated)
    rs, rc, n = model.density_components, model.app_components, model.resolution
    frame_bags = 3 * rs * totals[0] + 3 * rc * totals[1]
    busy = accel.busy_pixels(model, cam)
    per_ray = 4 * frame_bags / busy.size
    k = int(min(busy.size, max(1, args.budget // per_ray)))
    pixels = np.random.default_rng(args.seed).choice(busy, size=k, replace=False)
    samples = accel.frame_samples(model, cam, "rtnerf", pixels)
    q = accel.queries(model, samples.points, samples.appearance)
    mac = MacArrayParams()
    out = []
    for design in DESIGNS:
        params = design_point(model, design)
        images = accel.engine_tables(model, params, encoding="hybrid")[0]
        trace = q.trace(params)
        start = time.perf_counter()
        est = estimate(params, images, trace)
        scale = frame_bags / q.bags
        fr = frame(
            est,
            scale=scale,
            density_samples=totals[0],
            appearance_samples=totals[1],
            density_components=rs,
            app_components=rc,
            mac=mac,
            clock_hz=CLOCK_HZ,
        )
        events = nerf_frame_events(
            engine_events(params, est, images, trace).scaled(scale),
            line_values=3 * (rs + rc) * n,
            line_reads=2.0 * frame_bags,
            macs=float(fr.macs),
        )
        info = {
            "design": design,
            "scene": args.scene,
            "image": f"{args.image}x{args.image}",
            "frame_requests": 4 * frame_bags,
            "requests_measured": q.requests,
            "rays_measured": k,
            "busy_rays": int(busy.size),
            "frames_per_s": fr.frames_per_s,
            "dram_bytes_per_frame": fr.dram_bytes,
            "perf_model_s": round(time.perf_counter() - start, 1),
        }
        print(f"{design}: {fr.frames_per_s:.4g} frames/s, {fr.dram_bytes / 1e9:.3g} GB/frame",
              file=sys.stderr)  # fmt: skip
        out.append((design, info, events))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scene", default="bunny")
    parser.add_argument("--grid", type=int, default=128)
    parser.add_argument("--density", type=float, default=0.2)
    parser.add_argument("--image", type=int, default=800)
    parser.add_argument("--budget", type=int, default=400_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--reuse", action="store_true", help="price the events saved by an earlier run"
    )
    args = parser.parse_args()
    at = node(DEFAULT_NODE)
    table = load_table()
    saved = args.out / "energy_nerf_events.json"
    if args.reuse and saved.exists():  # the perf model's events of an earlier run
        frames = [(d["design"], d["info"], EventCounts.from_dict(d["events"]))
                  for d in json.loads(saved.read_text())]  # fmt: skip
    else:
        frames = frame_events(args)
        saved.write_text(json.dumps(
            [{"design": d, "info": i, "events": e.to_dict()} for d, i, e in frames], indent=1
        ) + "\n")  # fmt: skip
    rows, reports, labels = [], [], []
    for design, info, events in frames:
        for dram in table.dram:
            rep = energy(events, table=table, at=at, dram=dram)
            d = rep.to_dict()
            rows.append({
                **info,
                "dram_class": dram,
                "node": rep.node,
                "energy_mj_per_frame": rep.total_pj / 1e9,
                "pj_per_lookup": rep.pj_per_lookup,
                **{f"mj_{k.replace('/', '_')}": v / 1e9 for k, v in d["components_pj"].items()},
                "table": rep.table,
                "machine": MACHINE,
            })  # fmt: skip
            reports.append(d)
            labels.append(f"{design}, {dram}")
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with (args.out / "energy_nerf.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    energy_bars(labels, reports, args.out / "energy_nerf.png",
                title=f"{args.scene} {args.image}x{args.image} RT-NeRF frame", unit="mJ/frame",
                per="components_pj", scale=1e-9)  # fmt: skip
    write_md(rows, reports, args)


def _mj(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def write_md(rows, reports, args) -> None:
    comps = list(dict.fromkeys(k for d in reports for k in d["components_pj"]))
    r0 = rows[0]
    lines = [
        "# Energy per frame of the NeRF design point (energy model on the performance model)",
        "",
        (
            f"`python benchmarks/energy_nerf.py --scene {args.scene} --image {args.image} "
            f"--budget {args.budget}` on {r0['machine']}. Frame: {r0['scene']} {r0['image']}, "
            f"RT-NeRF pipeline, planes pruned to {args.density:g}, hybrid encoding; "
            f"{r0['frame_requests']:,} texel reads, {r0['rays_measured']} of "
            f"{r0['busy_rays']:,} busy rays run through the perf model "
            f"({r0['requests_measured']:,} requests) and scaled to the frame. Designs as "
            "`nerf_ablation.py` (8 units, 16 B/cycle DRAM, 256-MAC array at 1 GHz). Energies "
            f"at {r0['node']} from `{r0['table']}` (logic: Horowitz 45 nm scaled by Stillmaker "
            "& Baas; SRAM: OpenRAM FreePDK45 fit; DRAM per bit by class, not scaled). Not "
            "counted: leakage, clock, pipeline registers, control, DRAM background/refresh."
        ),
        "",
        "| design | DRAM | frames/s | GB/frame | mJ/frame | pJ/lookup | "
        + " | ".join(f"{c} [mJ]" for c in comps)
        + " |",
        "|---|---|---:|---:|---:|---:|" + "---:|" * len(comps),
    ]
    for r, d in zip(rows, reports, strict=True):
        lines.append(
            f"| {r['design']} | {r['dram_class']} | {r['frames_per_s']:.3g} | "
            f"{r['dram_bytes_per_frame'] / 1e9:.3g} | {_mj(r['energy_mj_per_frame'])} | "
            f"{r['pj_per_lookup']:,.0f} | "
            + " | ".join(_mj(d["components_pj"].get(c, 0) / 1e9) for c in comps)
            + " |"
        )
    notes = sorted({n for d in reports for n in d["notes"][1:]})
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    (args.out / "energy_nerf.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
