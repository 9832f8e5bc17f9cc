"""Pruned + hybrid-encoded NeRF scenes: PSNR against the unpruned model and DRAM per frame.

Runs ``rtnerf render SCENE --pipeline rtnerf --density 1 0.5 0.25 0.1 0.05`` for each scene
(run folders under ``runs/nerf_pruning/``) and collects its ``summary.json``: for each plane
density (fraction of non-zeros kept per plane tensor by magnitude pruning; 16-bit quantisation
through ``rtnerf.models.quant``, one scale per table) the PSNR of the RT-NeRF render against
the unpruned float32 uniform render, and the DRAM bytes per frame for dense, bitmap, COO and
hybrid storage (each burst of the rows the frame touches read once, default engine encoding:
16-bit values, 64-bit words, 64-byte bursts). Writes ``benchmarks/results/nerf_pruning.csv``
and ``nerf_pruning.png``.

    python benchmarks/nerf_pruning.py [--scenes bunny ...] [--views 2] [--resolution 200]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from matplotlib.figure import Figure

from rtnerf.cli import main as rtnerf_main

RESULTS = Path(__file__).parent / "results"
SCENES = ("bunny", "armadillo", "dragon", "frog")
DENSITIES = ("1", "0.5", "0.25", "0.1", "0.05")
STORAGES = ("dense", "bitmap", "coo", "hybrid")


def run_scene(scene: str, args: argparse.Namespace) -> list[dict]:
    """Render one scene at every density through the CLI; one row per density."""
    out = Path("runs") / "nerf_pruning" / scene
    argv = ["render", scene, "--pipeline", "rtnerf", "--grid", str(args.grid)]
    argv += ["--resolution", str(args.resolution), "--views", str(args.views)]
    argv += ["--density", *args.densities, "-o", str(out)]
    if rtnerf_main(argv) != 0:
        raise SystemExit(f"rtnerf render {scene} failed")
    s = json.loads((out / "summary.json").read_text())
    rows = []
    for r in s["results"]:
        dram = r["dram_bytes_per_frame"]
        row = {
            "scene": scene,
            "grid": s["grid"],
            "resolution": s["resolution"],
            "views": s["views"],
            "density": r["density"],
            "psnr_vs_unpruned_db": round(r["psnr"], 2),
            "psnr_min_db": round(r["psnr_min"], 2),
            "samples_evaluated_per_frame": round(r["samples_evaluated"]),
            "element_reads_per_frame": round(r["element_reads"]),
        }
        for st in STORAGES:
            row[f"dram_{st}_bytes_per_frame"] = round(dram[st])
        for st in STORAGES:
            row[f"model_{st}_bytes"] = r["model_bytes"][st]
        row["hybrid_over_dense"] = round(dram["hybrid"] / dram["dense"], 4)
        row["rtnerf_seconds_per_frame"] = round(r["frame_seconds"], 3)
        rows.append(row)
    return rows


def plot(rows: list[dict], path: Path) -> None:
    """PSNR and DRAM bytes per frame against plane density, one line per scene."""
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    scenes = sorted({r["scene"] for r in rows}, key=[r["scene"] for r in rows].index)
    for i, scene in enumerate(scenes):
        rs = [r for r in rows if r["scene"] == scene]
        d = [r["density"] for r in rs]
        color = f"C{i}"
        ax1.plot(d, [min(r["psnr_vs_unpruned_db"], 100) for r in rs], "o-", color=color,
                 label=scene)  # fmt: skip
        ax2.plot(d, [r["dram_hybrid_bytes_per_frame"] / 1e6 for r in rs], "o-", color=color,
                 label=f"{scene} hybrid")  # fmt: skip
        ax2.plot(d, [r["dram_dense_bytes_per_frame"] / 1e6 for r in rs], "--", color=color,
                 label=f"{scene} dense")  # fmt: skip
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("plane density (fraction of non-zeros kept)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.set_ylabel("PSNR vs unpruned model (dB, capped at 100)")
    ax1.set_title("Quality after pruning + 16-bit quantisation")
    ax2.set_ylabel("DRAM MB per frame (touched rows, once)")
    ax2.set_title("Factor-table traffic per frame")
    ax1.legend()
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="+", default=list(SCENES))
    ap.add_argument("--densities", nargs="+", default=list(DENSITIES))
    ap.add_argument("--grid", type=int, default=128)
    ap.add_argument("--resolution", type=int, default=200)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    rows = [row for scene in args.scenes for row in run_scene(scene, args)]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "nerf_pruning.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, args.out / "nerf_pruning.png")
    for r in rows:
        print(
            f"{r['scene']:10s} density {r['density']:<5g} PSNR {r['psnr_vs_unpruned_db']:6.2f} dB"
            f"  DRAM/frame dense {r['dram_dense_bytes_per_frame'] / 1e6:6.2f} MB"
            f"  hybrid {r['dram_hybrid_bytes_per_frame'] / 1e6:6.2f} MB"
            f"  ({r['hybrid_over_dense']:.3f}x)"
        )


if __name__ == "__main__":
    main()
