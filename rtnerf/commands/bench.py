"""``rtnerf bench hyperbolic|graph|text``: a workload family run three ways, side by side."""

from __future__ import annotations

import argparse
from pathlib import Path

from .sim import count, positive_int, seed


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``bench`` subcommand."""
    from ..bench import FAMILIES
    from ..sim.toolchain import SIMULATORS

    p = sub.add_parser(
        "bench",
        help="run a workload family's kernels on the real data: software baselines, "
        "accelerator (performance model, golden model, RTL sample)",
        description="Build the family's kernels on the real datasets (rtnerf data fetch), "
        "time the software baselines side by side (numpy, numba, torch when installed) and "
        "check them against the float64 reference, evaluate the accelerator at the kernel's "
        "design point (performance model at full scale, fixed-point error, cache sweep) and "
        "co-simulate the first bags of each kernel on the RTL (bit-exact against the golden "
        "model). Writes RUN_DIR/summary.json, results.csv, summary.txt and throughput, "
        "dram_bytes and cache PNGs.",
    )
    p.add_argument("family", choices=FAMILIES)
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default runs/bench-FAMILY)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (tests, the demo)")
    p.add_argument(
        "--repeats", type=positive_int, default=5, help="timed runs per baseline (default 5)"
    )
    p.add_argument(
        "--cosim-bags",
        type=count,
        default=8,
        help="bags of each kernel to co-simulate on the RTL (default 8; 0: none)",
    )
    p.add_argument(
        "--simulator",
        choices=SIMULATORS,
        default="icarus",
        help="simulator of the co-simulation (default icarus; skipped if not installed)",
    )
    p.add_argument("--seed", type=seed, default=1, help="seed of the kernels' random draws")
    p.add_argument(
        "--baselines-from",
        type=Path,
        metavar="RUN_DIR",
        help="keep the baseline timings of this earlier run of the family (its summary.json) "
        "and re-evaluate only the accelerator, e.g. after a model change on a busy machine",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the family; exit 1 if a baseline disagrees or a co-simulation failed."""
    from ..bench import run_bench

    run_dir = args.output or Path("runs") / f"bench-{args.family}"
    summary = run_bench(
        args.family,
        run_dir,
        quick=args.quick,
        repeats=args.repeats,
        cosim_bags=args.cosim_bags,
        simulator=args.simulator,
        seed=args.seed,
        baselines_from=args.baselines_from,
    )
    print((run_dir / "summary.txt").read_text(), end="")
    print(f"run folder: {run_dir}")
    ok = all(e.get("agrees", True) for e in summary["entries"])
    ok &= all(k.get("cosim", {}).get("passed", True) for k in summary["kernels"])
    return 0 if ok else 1
