"""Pruned + hybrid-encoded NeRF scenes: PSNR against the unpruned model and DRAM per frame.

Runs ``rtnerf render SCENE --pipeline rtnerf --density 1 0.5 0.25 0.2 0.1 0.05`` for each scene,
once per *source* of the sparse model (run folders under ``runs/nerf_pruning/``): ``prune``
(magnitude pruning of the dense fit, the curve before the refit) and ``refit-l0`` /
``refit-l1`` (``--refit``: the sparse refit of :mod:`rtnerf.workloads.nerf.fit` at that
density, the curve after). From each ``summary.json``, per plane density (fraction of non-zeros
per plane tensor; 16-bit quantisation through ``rtnerf.models.quant``, one scale per table):
the PSNR of the RT-NeRF render against the unpruned float32 *dense* fit's uniform render, and
the DRAM bytes per frame for dense, bitmap, COO and hybrid storage (each burst of the rows the
frame touches read once, default engine encoding: 16-bit values, 64-bit words, 64-byte
bursts). Writes ``benchmarks/results/nerf_pruning.{csv,png,md}``.

    python benchmarks/nerf_pruning.py [--scenes bunny ...] [--sources prune refit-l0]
        [--views 2] [--resolution 200] [--machine "2-core VM, shared"]
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from matplotlib.figure import Figure

from rtnerf.cli import main as rtnerf_main

RESULTS = Path(__file__).parent / "results"
SCENES = ("bunny", "armadillo", "dragon", "frog")
DENSITIES = ("1", "0.5", "0.25", "0.2", "0.1", "0.05")
STORAGES = ("dense", "bitmap", "coo", "hybrid")
SOURCES = ("prune", "refit-l0", "refit-l1")


def run_scene(scene: str, source: str, args: argparse.Namespace) -> list[dict]:
    """Render one scene at every density through the CLI; one row per density."""
    out = Path("runs") / "nerf_pruning" / f"{scene}-{source}"
    argv = ["render", scene, "--pipeline", "rtnerf", "--grid", str(args.grid)]
    argv += ["--resolution", str(args.resolution), "--views", str(args.views)]
    argv += ["--density", *args.densities, "-o", str(out)]
    if source != "prune":
        argv += ["--refit", source.removeprefix("refit-")]
    t0 = time.perf_counter()
    if rtnerf_main(argv) != 0:
        raise SystemExit(f"rtnerf render {scene} failed")
    seconds = time.perf_counter() - t0
    s = json.loads((out / "summary.json").read_text())
    rows = []
    for r in s["results"]:
        dram = r["dram_bytes_per_frame"]
        row = {
            "scene": scene,
            "source": r["source"] if r["density"] < 1 else "dense fit",
            "run": source,
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
        row["run_seconds"] = round(seconds, 1)
        rows.append(row)
    return rows


def _curve(rows: list[dict], scene: str, source: str) -> list[dict]:
    """The rows of one curve: the dense fit at density 1, then ``source``'s densities."""
    rs = [r for r in rows if r["scene"] == scene and r["source"] in (source, "dense fit")]
    firsts = {}
    for r in rs:
        firsts.setdefault(r["density"], r)
    return sorted(firsts.values(), key=lambda r: -r["density"])


def plot(rows: list[dict], path: Path) -> None:
    """PSNR and DRAM bytes per frame against plane density, one colour per scene."""
    fig = Figure(figsize=(11, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    scenes = sorted({r["scene"] for r in rows}, key=[r["scene"] for r in rows].index)
    sources = [s for s in SOURCES if any(r["source"] == s for r in rows)]
    styles = {"prune": "o--", "refit-l0": "s-", "refit-l1": "^:"}
    for i, scene in enumerate(scenes):
        color = f"C{i}"
        for source in sources:
            rs = _curve(rows, scene, source)
            ax1.plot([r["density"] for r in rs], [min(r["psnr_vs_unpruned_db"], 100) for r in rs],
                     styles[source], color=color, label=f"{scene} {source}")  # fmt: skip
        rs = _curve(rows, scene, "refit-l0" if "refit-l0" in sources else sources[-1])
        d = [r["density"] for r in rs]
        ax2.plot(d, [r["dram_hybrid_bytes_per_frame"] / 1e6 for r in rs], "o-", color=color,
                 label=f"{scene} hybrid")  # fmt: skip
        ax2.plot(d, [r["dram_dense_bytes_per_frame"] / 1e6 for r in rs], "--", color=color,
                 label=f"{scene} dense")  # fmt: skip
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("plane density (fraction of non-zeros kept)")
        ax.grid(True, which="both", alpha=0.3)
    ax1.axhline(30, color="k", lw=0.8)
    ax1.set_ylabel("PSNR vs unpruned dense fit (dB, capped at 100)")
    ax1.set_title("Quality: pruned (dashed), refit l0 (solid), l1 (dotted)")
    ax2.set_ylabel("DRAM MB per frame (touched rows, once)")
    ax2.set_title("Factor-table traffic per frame (refit l0, component rows)")
    ax1.legend(fontsize=6, ncol=2)
    ax2.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(rows: list[dict], args: argparse.Namespace, path: Path) -> None:
    """The Markdown summary: PSNR per scene, density and source; hybrid over dense bytes."""
    scenes = sorted({r["scene"] for r in rows}, key=[r["scene"] for r in rows].index)
    sources = [s for s in SOURCES if any(r["source"] == s for r in rows)]
    main_source = "refit-l0" if "refit-l0" in sources else sources[-1]
    lines = [
        "# Pruning curve: PSNR vs plane density, before and after the sparse refit",
        "",
        (
            f"`python benchmarks/nerf_pruning.py` on the {args.machine}: {args.grid}^3 models, "
            f"RT-NeRF pipeline, {args.views} orbit views at {args.resolution} x {args.resolution} "
            "(scaled down from 800 x 800 for the render time; PSNR is a per-pixel mean, so the "
            "resolution changes it little), 16-bit quantised planes. PSNR is against the uniform "
            "render of the unpruned float32 **dense** fit, for every source. `prune`: magnitude "
            "pruning of the dense fit (before); `refit-l0` / `refit-l1`: the sparse refit at that "
            "density (after; `rtnerf.workloads.nerf.fit`, hard / soft threshold after every mode "
            "step). `nerf_pruning.csv` has every number (DRAM bytes per frame per storage, model "
            "bytes, samples, run times)."
        ),
        "",
        "| scene | density | "
        + " | ".join(f"{s} PSNR dB" for s in sources)
        + " | hybrid/dense model bytes ("
        + main_source
        + ") |",
        "|---|---:|" + "---:|" * len(sources) + "---:|",
    ]
    for scene in scenes:
        curves = {s: {r["density"]: r for r in _curve(rows, scene, s)} for s in sources}
        for d in sorted(curves[sources[0]], reverse=True):
            cells = [
                f"{curves[s][d]['psnr_vs_unpruned_db']:.2f}" if d in curves[s] else ""
                for s in sources
            ]
            last = curves[main_source].get(d)
            ratio = last["model_hybrid_bytes"] / last["model_dense_bytes"] if last else float("nan")
            lines.append(f"| {scene} | {d:g} | " + " | ".join(cells) + f" | {ratio:.3f} |")
    secs = {}
    for r in rows:
        secs[(r["scene"], r["run"])] = r["run_seconds"]
    lines += ["", "**Density needed for 30 dB** (the lowest density measured at >= 30 dB):", ""]
    for scene in scenes:
        cells = []
        for s in sources:
            ok = [r["density"] for r in _curve(rows, scene, s) if r["psnr_vs_unpruned_db"] >= 30]
            cells.append(f"{s} {min(ok):g}" if ok else f"{s} none")
        lines.append(f"- {scene}: " + ", ".join(cells))
    lines += ["", "Run times (s, whole `rtnerf render` call incl. the refits, under a load "
              "average of 6-9 on the 2 cores): "
              + ", ".join(f"{k[0]} {k[1]} {v:.0f}" for k, v in secs.items()), ""]  # fmt: skip
    path.write_text("\n".join(lines) + "\n")


def _number(text: str) -> object:
    """A CSV cell back as int, float or str."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", nargs="+", default=list(SCENES))
    ap.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES)
    ap.add_argument("--machine", default="2-core VM, shared")
    ap.add_argument("--densities", nargs="+", default=list(DENSITIES))
    ap.add_argument("--grid", type=int, default=128)
    ap.add_argument("--resolution", type=int, default=200)
    ap.add_argument("--views", type=int, default=2)
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--from-csv", action="store_true", help="rewrite the .md and .png from the existing .csv"
    )
    args = ap.parse_args()
    if args.from_csv:
        with (args.out / "nerf_pruning.csv").open() as f:
            rows = [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(f)]
        first = rows[0]
        args.grid, args.views, args.resolution = first["grid"], first["views"], first["resolution"]
        plot(rows, args.out / "nerf_pruning.png")
        report(rows, args, args.out / "nerf_pruning.md")
        return
    rows = [
        row for scene in args.scenes for src in args.sources for row in run_scene(scene, src, args)
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "nerf_pruning.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    plot(rows, args.out / "nerf_pruning.png")
    report(rows, args, args.out / "nerf_pruning.md")
    for r in rows:
        print(
            f"{r['scene']:10s} {r['source']:9s} density {r['density']:<5g} "
            f"PSNR {r['psnr_vs_unpruned_db']:6.2f} dB"
            f"  DRAM/frame dense {r['dram_dense_bytes_per_frame'] / 1e6:6.2f} MB"
            f"  hybrid {r['dram_hybrid_bytes_per_frame'] / 1e6:6.2f} MB"
            f"  ({r['hybrid_over_dense']:.3f}x)"
        )


if __name__ == "__main__":
    main()
