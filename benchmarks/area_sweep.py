"""Area of the decode blocks against their size parameters, synthesised with Yosys.

The adder & search tree for W = 4..256 (powers of two), the sparse search unit over a grid of
lanes P and window K, and the hybrid row decoder (default table shape: 128 columns of 16-bit
values on a 64-bit bus) over tree width W and window K, both targets (``generic`` gates +
flip-flops, ``ice40`` LUT4/CARRY/DFF), at default coordinate/tag widths, through
:mod:`rtnerf.synth`: cells, gates or LUTs, carries, flip-flops, memory bits and the Yosys wall
time per point.

Writes ``benchmarks/results/area_sweep.csv`` and ``.png``. Needs ``pip install 'rtnerf[synth]'``
(or a system Yosys >= 0.40).

    python benchmarks/area_sweep.py [--max-leaves 256] [--jobs 2] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from matplotlib.figure import Figure

from rtnerf.registry import get_block
from rtnerf.sim.runner import verilog_path
from rtnerf.synth import find_yosys, synthesize

TARGETS = ("generic", "ice40")
#: (lanes P, window K) points of the sparse search unit.
SSU_POINTS = ((1, 4), (2, 8), (4, 8), (4, 16), (8, 16), (8, 32), (16, 32))
#: (leaves W, window K) points of the hybrid row decoder.
DECODER_POINTS = ((4, 4), (8, 4), (8, 8), (16, 8), (16, 16), (32, 16), (64, 32))
FIELDS = (
    "block",
    "target",
    "leaves",
    "lanes",
    "window",
    "cells",
    "gates",
    "luts",
    "carries",
    "ffs",
    "memory_bits",
    "seconds",
    "yosys",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-leaves", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--yosys", default="auto", help="auto|yowasp|system|PATH")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    yosys = find_yosys(args.yosys)
    tree, ssu = get_block("adder_search_tree"), get_block("sparse_search_unit")
    decoder = get_block("hybrid_row_decoder")
    designs = [
        (tree, tree.params(leaves=w)) for w in (4, 8, 16, 32, 64, 128, 256) if w <= args.max_leaves
    ]
    designs += [(ssu, ssu.params(lanes=p, window=k)) for p, k in SSU_POINTS]
    designs += [(decoder, decoder.params(leaves=w, window=k)) for w, k in DECODER_POINTS]
    points = [(t, n) for n in range(len(designs)) for t in TARGETS]
    # Generate Verilog serially (cached, Amaranth is not re-entrant across threads).
    sources = [verilog_path(params) for _, params in designs]

    with tempfile.TemporaryDirectory(prefix="area_sweep_") as tmp:

        def one(point):
            target, n = point
            block, params = designs[n]
            work = Path(tmp, f"{block.name}-{params.digest()}-{target}")
            r = synthesize(sources[n], block.name, target, work, yosys=yosys)
            s = r.summary
            row = {
                "block": block.name,
                "target": target,
                "leaves": getattr(params, "leaves", ""),
                "lanes": getattr(params, "lanes", ""),
                "window": getattr(params, "window", ""),
                "cells": s["cells"],
                "gates": s.get("gates", ""),
                "luts": s.get("luts", ""),
                "carries": s.get("carries", ""),
                "ffs": s["ffs"],
                "memory_bits": s["memory_bits"],
                "seconds": round(r.seconds, 2),
                "yosys": f"{yosys.kind} {yosys.version}",
            }
            print(", ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            return row

        with ThreadPoolExecutor(args.jobs) as pool:
            rows = list(pool.map(one, points))

    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "area_sweep.csv", "w", newline="") as f:
        f.write(
            f"# decode block area (tree and search unit: coord_width 16, tag_width 8, "
            f"index_width 16; decoder: 128 columns, 16-bit values, 64-bit words); "
            f"{yosys.kind} Yosys {yosys.version}; {platform.node()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, {args.jobs} jobs\n"
        )
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)

    fig = Figure(figsize=(16, 4.2))
    left, right, third = fig.subplots(1, 3)
    panels = [
        (left, "adder_search_tree", lambda r: r["leaves"], "tree width W (leaves)"),
        (
            right,
            "sparse_search_unit",
            lambda r: r["lanes"] * r["window"],
            "comparator lanes x window (P*K)",
        ),
        (
            third,
            "hybrid_row_decoder",
            lambda r: r["leaves"] * r["window"],
            "tree leaves x window (W*K)",
        ),
    ]
    for ax, name, size, xlabel in panels:
        for target, key, style in [
            ("generic", "cells", "o-"),
            ("ice40", "cells", "s-"),
            ("ice40", "luts", "s-."),
            ("ice40", "ffs", "s--"),
        ]:
            pts = sorted(
                (size(r), r[key]) for r in rows if r["block"] == name and r["target"] == target
            )
            ax.plot(*zip(*pts, strict=True), style, label=f"{target} {key}")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("count")
        ax.set_title(f"{name} (Yosys {yosys.version})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "area_sweep.png", dpi=110)


if __name__ == "__main__":
    main()
