"""``rtnerf demo``: the main job on the default design."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ..registry import BLOCKS
from .sim import format_summary, positive_int, seed


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` subcommand."""
    p = sub.add_parser(
        "demo",
        help="generate, co-simulate and report every block at its default design point",
        description="For every registered block at its default params: write "
        "Verilog, co-simulate it on every available simulator against the "
        "golden model, and print a report (also RUN_DIR/report.json). The engine "
        "also runs a small text-embedding trace (bags/cycle, DRAM bytes/bag). Ends with one "
        "line per workload kernel (rtnerf bench --quick: best software baseline and "
        "accelerator lookups/s, DRAM bytes per lookup) for the families whose datasets are "
        "cached.",
    )
    p.add_argument(
        "--count",
        type=positive_int,
        default=2000,
        help="random transactions per operation per simulator (default 2000)",
    )
    p.add_argument("--seed", type=seed, default=1, help="stimulus seed (default 1)")
    p.add_argument("-o", "--output", type=Path, default=Path("runs/demo"), metavar="RUN_DIR")
    p.set_defaults(func=run)


def text_trace(params, folder: Path, seed: int, bags: int = 40) -> dict:
    """Write a small text-embedding trace and its table for the engine; its testbench args."""
    import numpy as np

    from ..sim.tb.engine import trace_args
    from ..workloads.text import text_workload

    images, trace = text_workload(params, np.random.default_rng(seed), bags=bags)
    return trace_args(folder, images, trace)


def run(args: argparse.Namespace) -> int:
    """Run the demo; exit 1 if any co-simulation failed."""
    from ..runfolder import RunFolder

    with RunFolder(args.output) as folder:
        return _demo(folder, args.count, args.seed)


def _demo(folder, count: int, seed: int) -> int:
    from ..sim.runner import build, cosim, verilog_path
    from ..sim.toolchain import SIMULATORS, unavailable_reason

    out: Path = folder.path
    report: dict = {"blocks": []}
    lines = ["rtnerf demo: every block at its default design point", ""]
    ok = True
    for name, block in sorted(BLOCKS.items()):
        params, why = block.demo_params()
        start = time.perf_counter()
        verilog = folder.write_text(f"{name}/{name}.v", verilog_path(params).read_text())
        folder.write_text(f"{name}/config.yaml", params.to_yaml())
        lines.append(f"{name}  {json.dumps(params.to_dict())}")
        if why:
            lines.append(f"  not the default design point: {why}")
        lines.append(
            f"  verilog: {verilog} ({len(verilog.read_text().splitlines())} lines, "
            f"{time.perf_counter() - start:.1f} s)"
        )
        entry = {"block": name, "params": params.to_dict(), "verilog": str(verilog), "cosim": []}
        for simulator in SIMULATORS:
            reason = unavailable_reason(simulator)
            if reason:
                lines.append(f"  {simulator}: skipped, {reason}")
                entry["cosim"].append({"simulator": simulator, "skipped": reason})
                continue
            summary = cosim(
                build(params, simulator),
                run_dir=out / name / simulator,
                seed=seed,
                count=count,
                tb_args=text_trace(params, out / name, seed) if name == "engine" else None,
            )
            ok &= summary["passed"]
            lines.append("  " + format_summary(summary))
            for rec in summary["records"]:
                if "latency" in rec:
                    lines.append(
                        f"    latency {rec['latency']} cycles (stated "
                        f"{rec['stated_latency']}), {rec['results_per_cycle']:.2f} "
                        "results/cycle at full rate"
                    )
                if "steps_off_stated" in rec:  # texel_lookup: quads on the stated schedule
                    lines.append(
                        f"    full rate: {rec['cycles']} cycles (stated {rec['stated_cycles']}), "
                        f"{rec['conflict_cycles']} bank-conflict cycles, buffer fill "
                        f"{rec['fill_cycles']} cycles"
                    )
                elif "stated_cycles" in rec:
                    lines.append(
                        f"    full rate: {rec['measured_cycles']} cycles (stated "
                        f"{rec['stated_cycles']}) for {rec['rows']} rows, "
                        f"{rec['queries_per_cycle']:.2f} queries/cycle"
                    )
                if "bags" in rec and rec.get("cycles"):
                    what = rec["trace"] if rec["test"] == "trace" else rec["test"]
                    line = (
                        f"    {what}: {rec['bags']} bags, "
                        f"{rec['bags'] / rec['cycles']:.4f} bags/cycle"
                    )
                    if "dram_bytes" in rec:
                        line += f", {rec['dram_bytes'] / rec['bags']:.0f} DRAM bytes/bag"
                    lines.append(line)
                if "cycles_per_query" in rec:
                    lines.append(
                        f"    cycles per query at full rate, memory latency "
                        f"{rec['memory_latency']} (all as stated):"
                    )
                    lines += [
                        f"      {kind:<26} {v['mean']:7.1f} mean {v['max']:5d} max "
                        f"({v['queries']} queries)"
                        for kind, v in rec["cycles_per_query"].items()
                    ]
            entry["cosim"].append({k: v for k, v in summary.items() if k != "records"})
        report["blocks"].append(entry)
        lines.append("")
    from ..bench import quick_lines

    lines.append("Workloads at --quick sizes, no cosim (full runs: rtnerf bench FAMILY):")
    report["workloads"] = quick_lines(out / "bench", seed=seed)
    lines += [*report["workloads"], ""]
    lines.append(f"report: {out / 'report.json'}")
    folder.write_summary(report, schema="rtnerf.demo.report", version=1, name="report.json")
    folder.write_text("report.txt", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if ok else 1
