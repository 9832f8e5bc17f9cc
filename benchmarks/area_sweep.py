"""Area of the adder & search tree against tree width W, synthesised with Yosys.

For W = 4..256 (powers of two) and both targets (``generic`` gates + flip-flops, ``ice40``
LUT4/CARRY/DFF), synthesise the block at default coord/tag widths with :mod:`rtnerf.synth` and
record cells, gates or LUTs, carries, flip-flops and the Yosys wall time per point.

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
FIELDS = (
    "target",
    "leaves",
    "latency",
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

    block = get_block("adder_search_tree")
    yosys = find_yosys(args.yosys)
    leaves = [w for w in (4, 8, 16, 32, 64, 128, 256) if w <= args.max_leaves]
    points = [(t, w) for w in leaves for t in TARGETS]
    # Generate Verilog serially (cached, Amaranth is not re-entrant across threads).
    sources = {w: verilog_path(block, block.params(leaves=w)) for w in leaves}

    with tempfile.TemporaryDirectory(prefix="area_sweep_") as tmp:

        def one(point):
            target, w = point
            work = Path(tmp, f"{target}-{w}")
            r = synthesize(sources[w], block.name, target, work, yosys=yosys)
            s = r.summary
            row = {
                "target": target,
                "leaves": w,
                "latency": block.params(leaves=w).latency,
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

    rows.sort(key=lambda r: (r["target"], r["leaves"]))
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "area_sweep.csv", "w", newline="") as f:
        f.write(
            f"# adder_search_tree area vs W (coord_width 16, tag_width 8); "
            f"{yosys.kind} Yosys {yosys.version}; {platform.node()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, {args.jobs} jobs\n"
        )
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        w.writerows(rows)

    fig = Figure(figsize=(7, 4.2))
    ax = fig.subplots()
    for target, key, style in [
        ("generic", "cells", "o-"),
        ("generic", "ffs", "o--"),
        ("ice40", "cells", "s-"),
        ("ice40", "luts", "s-."),
        ("ice40", "ffs", "s--"),
    ]:
        pts = [(r["leaves"], r[key]) for r in rows if r["target"] == target]
        ax.plot(*zip(*pts, strict=True), style, label=f"{target} {key}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("tree width W (leaves)")
    ax.set_ylabel("count")
    ax.set_title(f"adder_search_tree area vs W (Yosys {yosys.version})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out / "area_sweep.png", dpi=110)


if __name__ == "__main__":
    main()
