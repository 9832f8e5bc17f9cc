"""RTL cycles and DRAM traffic of whole traces on the engine: the perf model's calibration data.

Each case runs one trace at full rate through the engine in co-simulation (cocotb
``test_trace``: the design point's own DRAM, no stalls), checks every pooled bag bit-exactly
against the golden model and every DRAM burst against the golden accounting, and appends one
row to ``benchmarks/results/engine_cycles.csv``: design point, simulator, trace, bags,
requests, cycles, bags/cycle, DRAM bytes (and by cause), AXI bursts, cache hits, wall time.

Design points: ``u1`` (one unit), ``u4`` with its row cache and without it
(``configs/blocks/engine/``), and the default design. Traces: a random one (Zipf rows, bag sizes
1 to 64 (or the unit's ``max_bag``), a quarter ELEMENT bags, hybrid-encoded tables of every
format) on all but the default design (whose 64-column rows make 5,000 bags an hour of
simulation), and a text-embedding one (``rtnerf.workloads.text``) on all. The CSV is the
store: a case already in it is skipped, so a run that dies resumes where it stopped.

    python benchmarks/engine_cycles.py [--bags 5000] [--text-bags 500]
        [--simulator verilator --simulator icarus] [--only u1] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rtnerf.models.image import write_image
from rtnerf.models.trace import write_trace
from rtnerf.registry import get_block
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.toolchain import SIMULATORS, unavailable_reason
from rtnerf.workloads.text import text_workload

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "blocks" / "engine"
FIELDS = (
    "design",
    "units",
    "cache_rows",
    "simulator",
    "trace",
    "seed",
    "bags",
    "requests",
    "element_requests",
    "cycles",
    "bags_per_cycle",
    "requests_per_cycle",
    "dram_bytes",
    "dram_bytes_per_bag",
    "dram_directory_bytes",
    "dram_bitmap_bytes",
    "dram_coordinates_bytes",
    "dram_values_bytes",
    "dram_bursts",
    "axi_bursts",
    "memory_requests",
    "cache_hits",
    "mismatches",
    "wall_s",
    "machine",
)


def designs() -> dict:
    """Name -> engine params of the measured design points."""
    block = get_block("engine")
    u4 = block.load_params(CONFIGS / "u4.yaml")
    return {
        "u1": block.load_params(CONFIGS / "u1.yaml"),
        "u4": dataclasses.replace(u4, unit=dataclasses.replace(u4.unit, cache_ways=0)),
        "u4-cache": u4,
        "default": block.load_params(CONFIGS / "default.yaml"),
    }


def run_case(params, simulator: str, trace: str, bags: int, seed: int) -> dict:
    """Co-simulate one case; return its CSV row (raises if the RTL disagrees with the models)."""
    built = build(get_block("engine"), params, simulator)
    with tempfile.TemporaryDirectory() as tmp:
        tb_args: dict = {"bags": bags}
        if trace == "text":
            images, t = text_workload(params, np.random.default_rng(seed), bags=bags)
            paths = []
            for i, image in enumerate(images):
                paths.append(str(Path(tmp) / f"table{i}.img"))
                write_image(image, paths[-1])
            write_trace(t, Path(tmp) / "text.npz")
            tb_args = {"trace": str(Path(tmp) / "text.npz"), "images": paths}
        summary = cosim(
            built,
            run_dir=Path(tmp) / "run",
            seed=seed,
            count=1,
            testcase="test_trace$",
            tb_args=tb_args,
        )
    if not summary["passed"] or not summary["records"]:
        raise RuntimeError(f"{trace} on {simulator} failed: {summary.get('records')}")
    (r,) = summary["records"]
    causes = r["dram_bytes_by_cause"]
    return {
        "units": params.units,
        "cache_rows": params.unit.cache_rows,
        "requests": r["transactions"],
        "element_requests": r["element_requests"],
        "cycles": r["cycles"],
        "bags_per_cycle": f"{r['bags'] / r['cycles']:.6g}",
        "requests_per_cycle": f"{r['transactions'] / r['cycles']:.6g}",
        "dram_bytes": r["dram_bytes"],
        "dram_bytes_per_bag": f"{r['dram_bytes'] / r['bags']:.1f}",
        **{f"dram_{k}_bytes": v for k, v in causes.items()},
        "dram_bursts": r["dram_bursts"],
        "axi_bursts": r["dram_requests"],
        "memory_requests": r["memory_requests"],
        "cache_hits": r["cache_hits"],
        "mismatches": r["mismatches"] + r["dram_burst_mismatches"],
        "wall_s": f"{summary['wall_s']:.1f}",
        "machine": f"{platform.node()} {platform.machine()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=5000, help="bags of the random trace")
    parser.add_argument("--text-bags", type=int, default=500, help="bags of the text trace")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--simulator", action="append", choices=SIMULATORS)
    parser.add_argument("--only", action="append", help="design names to run (default all)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    simulators = args.simulator or [s for s in SIMULATORS if not unavailable_reason(s)]
    points = {k: v for k, v in designs().items() if not args.only or k in args.only}
    path = args.out / "engine_cycles.csv"
    done = set()
    if path.exists():
        with path.open() as f:
            done = {
                (r["design"], r["simulator"], r["trace"], r["bags"], r["seed"])
                for r in csv.DictReader(f)
            }
    cases = [
        (name, sim, trace, bags)
        for name in points
        for trace, bags in (("random", args.bags), ("text", args.text_bags))
        for sim in simulators
        if not (name == "default" and trace == "random")
    ]
    todo = [c for c in cases if (c[0], c[1], c[2], str(c[3]), str(args.seed)) not in done]
    print(f"{len(cases) - len(todo)} of {len(cases)} cases already in {path}", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    for i, (name, sim, trace, bags) in enumerate(todo, 1):
        start = time.perf_counter()
        print(f"[{i}/{len(todo)}] {name} {sim} {trace} {bags} bags ...", file=sys.stderr, end="")
        row = {"design": name, "simulator": sim, "trace": trace, "bags": bags, "seed": args.seed}
        row.update(run_case(points[name], sim, trace, bags, args.seed))
        new = not path.exists()
        with path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(
            f" {row['cycles']} cycles, {row['bags_per_cycle']} bags/cycle, "
            f"{row['dram_bytes_per_bag']} B/bag ({time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
