"""``rtnerf render``: render a fitted TensoRF scene by uniform marching or the RT-NeRF pipeline.

For each view the unpruned model is rendered by the uniform marcher (the reference), then by
the chosen pipeline for every ``--density``: the model's factor planes magnitude-pruned to that
density, quantised and hybrid-encoded (:mod:`rtnerf.workloads.nerf.storage`; density 1 is the
unpruned model, only quantised). Each frame's PSNR against the reference, its work counters,
embedding element reads and DRAM bytes per storage (each needed burst of the touched rows once
per frame) go to ``summary.json``; images to ``view_VVV_dD.png``. The accelerator's energy per
frame (mJ, hybrid storage, by component; :func:`rtnerf.models.physical.events.render_frame_events`
on the frame's counters, at the reference node and default DRAM class) goes with them, and a
stacked plot to ``energy.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import RtnerfError

__all__ = ["SUMMARY_VERSION", "register", "run"]

#: Version of the ``summary.json`` schema.
SUMMARY_VERSION = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand."""
    from ..workloads.nerf import SCENES

    p = sub.add_parser(
        "render",
        help="render a TensoRF scene (uniform or RT-NeRF pipeline), PSNR, work and DRAM bytes",
        description="Fit (or load from the cache) a TensoRF VM model of a scene made from real "
        "scans, render views by uniform ray marching or the RT-NeRF cube pipeline, and report "
        "PSNR against the unpruned uniform render, samples, embedding reads and DRAM bytes per "
        "frame for dense / bitmap / COO / hybrid storage of the factor tables.",
    )
    p.add_argument("scene", choices=sorted(SCENES), help="scene name")
    p.add_argument("--pipeline", choices=("uniform", "rtnerf"), default="rtnerf")
    p.add_argument("--resolution", type=int, default=200, help="image width = height (pixels)")
    p.add_argument("--views", type=int, default=4, help="views on a circle around the scene")
    p.add_argument("--grid", type=int, default=128, help="factor grid vertices per axis")
    p.add_argument("--density-components", type=int, default=16, metavar="R_SIGMA")
    p.add_argument("--app-components", type=int, default=48, metavar="R_C")
    p.add_argument(
        "--density",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="D",
        help="plane densities to prune to (fraction of non-zeros kept per plane tensor)",
    )
    p.add_argument("-o", "--output", type=Path, default=None, metavar="RUN_DIR")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    for name, lo, hi in (
        ("resolution", 8, 4096),
        ("views", 1, 1000),
        ("grid", 8, 512),
        ("density_components", 1, 512),
        ("app_components", 3, 512),
    ):
        v = getattr(args, name)
        if not lo <= v <= hi:
            flag = "--" + name.replace("_", "-")
            raise RtnerfError(f"{flag} must be in {lo}..{hi}, not {v}")
    for d in args.density:
        if not 0 < d <= 1:
            raise RtnerfError(f"--density must be in (0, 1], not {d}")


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in rows]))


def run(args: argparse.Namespace) -> int:
    """Render the views; write PNGs, ``summary.json`` and ``summary.txt``; print the summary."""
    import matplotlib.pyplot as plt

    from ..workloads.nerf import render as rd
    from ..workloads.nerf import storage as stg
    from ..workloads.nerf.fit import load_or_fit

    _check(args)
    out = args.output or Path("runs") / f"render-{args.scene}-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RtnerfError(f"{out}: cannot create run folder: {exc.strerror}") from None

    model = load_or_fit(
        args.scene,
        args.grid,
        args.density_components,
        args.app_components,
        progress=lambda msg: tqdm.write(f"rtnerf render: {msg}"),
    )
    cams = rd.orbit_cameras(args.views, args.resolution)
    # Compile the kernels on a tiny frame so frame times measure rendering only.
    tiny = rd.orbit_cameras(1, 8)[0]
    rd.render_uniform(model, tiny)
    rd.render_rtnerf(model, tiny)

    variants = []
    for d in args.density:
        pruned = stg.prune(model, d)
        encoded = {s: stg.encode_model(pruned, s) for s in stg.STORAGES}
        variants.append((d, encoded, stg.quantized_model(pruned, encoded["hybrid"])))

    per_density: dict[float, list[dict[str, Any]]] = {d: [] for d in args.density}
    ref_rows = []
    bar = tqdm(total=len(cams) * (1 + len(variants)), desc=f"render {args.scene}", unit="frame")
    for v, cam in enumerate(cams):
        ref = rd.render_uniform(model, cam)
        bar.update()
        ref_rows.append({**ref.stats.to_dict(), "seconds": ref.seconds})
        plt.imsave(out / f"view_{v:03d}_reference.png", ref.image)
        for d, encoded, qmodel in variants:
            res = rd.render(qmodel, cam, args.pipeline)
            bar.update()
            plt.imsave(out / f"view_{v:03d}_d{d:g}.png", res.image)
            dram = {s: stg.frame_dram_bytes(e, res.touched)["total"] for s, e in encoded.items()}
            per_density[d].append(
                {
                    **res.stats.to_dict(),
                    "psnr": rd.psnr(ref.image, res.image),
                    "seconds": res.seconds,
                    "dram_bytes": dram,
                }
            )
    bar.close()

    frame_energy = _frame_energy(model, per_density)
    ref_samples = _mean(ref_rows, "samples_generated")
    ref_evals = _mean(ref_rows, "samples_evaluated")
    results = []
    for d, encoded, _ in variants:
        rows = per_density[d]
        psnrs = [r["psnr"] for r in rows]
        evals = _mean(rows, "samples_evaluated")
        results.append(
            {
                "density": d,
                "psnr": float(np.mean([p if math.isfinite(p) else 200.0 for p in psnrs])),
                "psnr_min": float(min(psnrs)),
                "samples_generated": _mean(rows, "samples_generated"),
                "samples_evaluated": evals,
                "samples_skipped_empty": _mean(rows, "samples_skipped_empty"),
                "samples_skipped_transmittance": _mean(rows, "samples_skipped_transmittance"),
                "cubes_culled": _mean(rows, "cubes_culled"),
                "app_evaluated": _mean(rows, "app_evaluated"),
                "element_reads": _mean(rows, "element_reads"),
                "reference_samples_over_evaluated": ref_samples / max(evals, 1.0),
                "reference_evaluated_over_evaluated": ref_evals / max(evals, 1.0),
                "dram_bytes_per_frame": {
                    s: float(np.mean([r["dram_bytes"][s] for r in rows])) for s in stg.STORAGES
                },
                "model_bytes": {s: e.nbytes for s, e in encoded.items()},
                "frame_seconds": _mean(rows, "seconds"),
                "energy_mj_per_frame": frame_energy[d]["total_pj"] / 1e9,
                "energy": frame_energy[d],
            }
        )
    summary = {
        "schema": "rtnerf.render.summary",
        "version": SUMMARY_VERSION,
        "scene": args.scene,
        "pipeline": args.pipeline,
        "resolution": args.resolution,
        "views": args.views,
        "grid": model.resolution,
        "components": {"density": model.density_components, "app": model.app_components},
        "decoder": "SH degree 2 (view-independent fit: DC basis columns only)",
        "step_size": model.step_size,
        "n_samples": model.n_samples,
        "cubes": int(model.cubes.sum()),
        "fit": model.meta,
        "psnr_reference": "uniform render of the unpruned float32 model",
        "dram_model": "each burst of the touched rows' directory entries and payloads once per "
        "frame (rtnerf.workloads.nerf.storage.frame_dram_bytes), default engine encoding",
        # The first --density's numbers at the top level (per-frame means over the views).
        "psnr": results[0]["psnr"],
        "samples_evaluated": results[0]["samples_evaluated"],
        "samples_skipped": {
            "empty": results[0]["samples_skipped_empty"],
            "transmittance": results[0]["samples_skipped_transmittance"],
        },
        "element_reads_per_frame": results[0]["element_reads"],
        "dram_bytes_per_frame": results[0]["dram_bytes_per_frame"],
        "frame_seconds": results[0]["frame_seconds"],
        "reference": {
            "samples_generated": ref_samples,
            "samples_evaluated": ref_evals,
            "app_evaluated": _mean(ref_rows, "app_evaluated"),
            "element_reads": _mean(ref_rows, "element_reads"),
            "frame_seconds": _mean(ref_rows, "seconds"),
        },
        "results": results,
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "per_view": {str(d): per_density[d] for d in args.density},
    }
    text = _text(summary)
    try:
        from ..physical import energy_bars

        energy_bars(
            [f"density {r['density']:g}" for r in results],
            [r["energy"] for r in results],
            out / "energy.png",
            title=f"{args.scene}: accelerator energy per frame",
            unit="mJ/frame",
            per="components_pj",
            scale=1e-9,
        )
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        (out / "summary.txt").write_text(text + "\n")
    except OSError as exc:
        raise RtnerfError(f"{out}: cannot write summary: {exc.strerror}") from None
    print(text)
    print(f"  wrote {out}")
    return 0


def _frame_energy(model, per_density: dict[float, list[dict[str, Any]]]) -> dict[float, dict]:
    """Mean energy report of each density's frames (hybrid storage)."""
    from ..models.physical.energy import energy
    from ..models.physical.events import render_frame_events
    from ..models.physical.scaling import DEFAULT_NODE, node

    out = {}
    for d, rows in per_density.items():
        reports = [
            energy(
                render_frame_events(
                    r,
                    dram_bytes=r["dram_bytes"]["hybrid"],
                    density_components=model.density_components,
                    app_components=model.app_components,
                    resolution=model.resolution,
                ),
                at=node(DEFAULT_NODE),
            ).to_dict()
            for r in rows
        ]
        mean = dict(reports[0])
        for key in ("components_pj", "components_pj_per_lookup"):
            mean[key] = {k: float(np.mean([r[key][k] for r in reports])) for k in mean[key]}
        mean["total_pj"] = float(np.mean([r["total_pj"] for r in reports]))
        mean["lookups"] = float(np.mean([r["lookups"] for r in reports]))
        mean["pj_per_lookup"] = mean["total_pj"] / max(mean["lookups"], 1.0)
        mean["dram_model"] = "the render's: each touched burst once per frame"
        out[d] = mean
    return out


def _text(s: dict[str, Any]) -> str:
    fit, ref = s["fit"], s["reference"]
    lines = [
        (
            f"rtnerf render: {s['scene']} ({s['pipeline']}), grid {s['grid']}^3, "
            f"{s['components']['density']}/{s['components']['app']} components, "
            f"{s['views']} views at {s['resolution']}x{s['resolution']}"
        ),
        (
            f"  fit:        density relative L2 {fit['density_rel_l2']:.4f}, colour RMSE "
            f"{fit['color_rmse']:.4f} ({fit['color_psnr']:.1f} dB); {s['cubes']} non-zero cubes"
        ),
        (
            f"  reference:  uniform, {ref['samples_generated']:.0f} samples/frame, "
            f"{ref['samples_evaluated']:.0f} evaluated, {ref['frame_seconds']:.2f} s/frame"
        ),
    ]
    for r in s["results"]:
        dram = r["dram_bytes_per_frame"]
        lines.append(
            f"  density {r['density']:g}: PSNR {r['psnr']:.2f} dB (min {r['psnr_min']:.2f}), "
            f"{r['samples_evaluated']:.0f} samples evaluated "
            f"({r['reference_samples_over_evaluated']:.1f}x fewer than uniform's samples, "
            f"{r['reference_evaluated_over_evaluated']:.1f}x fewer evaluations), "
            f"{r['element_reads'] / 1e6:.1f} M element reads, {r['frame_seconds']:.2f} s/frame"
        )
        lines.append(
            "      DRAM/frame: "
            + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in dram.items())
            + f"; hybrid/dense {dram['hybrid'] / max(dram['dense'], 1):.3f}"
        )
        en = r["energy"]
        top = sorted(en["components_pj"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(
            f"      energy/frame (accelerator, {en['node']}, DRAM {en['dram']}): "
            f"{r['energy_mj_per_frame']:.4g} mJ ("
            + ", ".join(f"{k} {v / 1e9:.3g}" for k, v in top)
            + f"; {en['pj_per_lookup']:.3g} pJ/lookup)"
        )
    return "\n".join(lines)
