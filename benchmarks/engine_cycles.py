"""RTL cycles and DRAM traffic of whole traces on the engine: the perf model's calibration data.

Each case runs one trace at full rate through the engine in co-simulation (cocotb
``test_trace``: the design point's own DRAM, no stalls), checks every pooled bag bit-exactly
against the golden model and every DRAM burst against the golden accounting, and appends one
row to ``benchmarks/results/engine_cycles.csv``: design point, simulator, trace, bags,
requests, cycles, bags/cycle, DRAM bytes (and by cause), AXI bursts, cache hits, wall time.

Design points (:func:`designs`): ``u1`` (one unit, one lane), ``u4`` with its row cache and
without it (``configs/blocks/engine/``) run a random trace of 5,000 bags (Zipf rows, bag sizes
1 to 64, a quarter ELEMENT bags of 1 to 4 requests, hybrid-encoded tables of every format);
they and the default design run a 200-bag text-embedding trace (``rtnerf.workloads.text``).
With ``--calibration``, variants that change one thing at a time (units, DRAM latency and
bandwidth, outstanding bursts, cache geometry, the pairwise stage) run 100-bag random traces:
the performance model's calibration set. Every row carries the design's params as JSON. The
CSV is the store: a case already in it is skipped, so a run that dies resumes where it stopped.

    python benchmarks/engine_cycles.py [--calibration] [--simulator verilator] [--only u1]
        [--max-bags 200] [--seed 1] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import tempfile
import time
from pathlib import Path

from rtnerf.models.cases.engine import trace_inputs
from rtnerf.params import DramParams
from rtnerf.registry import get_block
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.engine import trace_args
from rtnerf.sim.toolchain import SIMULATORS, unavailable_reason

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
    "params",
)


def designs() -> dict:
    """Name -> engine params of the measured design points.

    ``u1``, ``u4``, ``u4-cache`` and ``default`` run the long traces; the others vary one
    thing at a time around them (units, DRAM latency and bandwidth, outstanding bursts, cache
    geometry, the pairwise stage) for the performance model's calibration.
    """
    block = get_block("engine")
    u1 = block.load_params(CONFIGS / "u1.yaml")
    u4c = block.load_params(CONFIGS / "u4.yaml")
    u4 = u4c.replace(unit={"cache_ways": 0})
    default = block.load_params(CONFIGS / "default.yaml")
    return {
        "u1": u1,
        "u4": u4,
        "u4-cache": u4c,
        "default": default,
        "u4-units1": u4.replace(units=1),
        "u4-units2": u4.replace(units=2),
        "u4-units8": u4.replace(units=8),
        "u4-latency10": u4.replace(dram={"latency": 10}),
        "u4-latency100": u4.replace(dram={"latency": 100}),
        "u4-outstanding1": u4.replace(port={"outstanding": 1}),
        "u4-bandwidth2": u4.replace(dram={"bytes_per_cycle": 2}),
        "u4-cache1x4": u4.replace(unit={"cache_ways": 4, "cache_sets": 1}),
        "u4-cache16x4": u4.replace(unit={"cache_ways": 4, "cache_sets": 16}),
        "u1-latency8": u1.replace(dram={"latency": 8}),
        "u1-outstanding4": u1.replace(port={"outstanding": 4}),
        "default-cache": default.replace(unit={"cache_ways": 2, "cache_sets": 16}),
        "pair": block.load_params(CONFIGS / "pair.yaml"),
        "u4-inflight1": u4.replace(unit={"inflight": 1}),
        "u4-inflight8": u4.replace(unit={"inflight": 8}),
        "u4-sram": u4.replace(
            unit={"directory": "sram", "directory_rows": 256, "entry_cache_lines": 0}
        ),
        "u4-sram-cache": u4c.replace(
            unit={"directory": "sram", "directory_rows": 256, "entry_cache_lines": 0}
        ),
        "wide-lpddr4x": default.replace(
            units=16,
            unit={"decoder": {"word_width": 512}},
            port={"word_width": 512},
            dram=DramParams.preset("lpddr4x").to_dict(),
        ),
    }


#: The long runs: (design, trace, bags); the calibration runs add every other design on a
#: shorter random trace.
MAIN = [
    *((d, "random", 5000) for d in ("u1", "u4", "u4-cache", "default")),
    *((d, "text", 200) for d in ("u1", "u4", "u4-cache", "default")),
]
CALIBRATION_BAGS = 100


def run_case(params, simulator: str, trace: str, bags: int, seed: int) -> dict:
    """Co-simulate one case; return its CSV row (raises if the RTL disagrees with the models)."""
    built = build(params, simulator)
    images, t = trace_inputs(params, trace, bags, seed)
    with tempfile.TemporaryDirectory() as tmp:
        summary = cosim(
            built,
            run_dir=Path(tmp) / "run",
            seed=seed,
            count=1,
            testcase="test_trace$",
            tb_args=trace_args(Path(tmp), images, t),
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
        "params": params.to_json(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--simulator", action="append", choices=SIMULATORS)
    parser.add_argument("--only", action="append", help="design names to run (default all)")
    parser.add_argument(
        "--calibration",
        action="store_true",
        help=f"also the calibration designs ({CALIBRATION_BAGS} bags each)",
    )
    parser.add_argument(
        "--max-bags", type=int, default=None, help="skip the cases of longer traces (e.g. 200)"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    simulators = args.simulator or [s for s in SIMULATORS if not unavailable_reason(s)]
    points = designs()
    wanted = list(MAIN)
    if args.calibration:
        main_designs = {d for d, _, _ in MAIN}
        wanted += [(d, "random", CALIBRATION_BAGS) for d in points if d not in main_designs]
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
        for name, trace, bags in wanted
        if (not args.only or name in args.only) and (args.max_bags is None or bags <= args.max_bags)
        for sim in simulators
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
