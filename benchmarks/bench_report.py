"""benchmarks/results/bench.md from the committed ``rtnerf bench`` run folders.

Reads ``bench_<family>/summary.json`` for each family (hyperbolic, graph, text; written by
``nox -s workloads`` or ``rtnerf bench FAMILY -o benchmarks/results/bench_FAMILY``) and writes
one table: each kernel's CPU baselines beside the accelerator's performance model, its DRAM
bytes per lookup, the fraction of its memory roofline, the bottleneck and the RTL sample.
Every number comes from the summaries; the text around the table is in ``NOTES`` below.

    python benchmarks/bench_report.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
FAMILIES = ("hyperbolic", "graph", "text")
CPU = ("numpy", "numba", "torch")

NOTES = """\
Reading it:
* `roofline` is the memory roofline of the kernel on the design `rtnerf bench` chose for it
  (`design(kernel)`: the default engine with the kernel's columns, lanes, row width and
  fixed point): DRAM bandwidth over DRAM bytes per lookup, or the port's width where that is
  narrower. `x CPU` is the accelerator's lookups/s over the fastest baseline's, measured in
  the same run.
* DRAM bytes per lookup are the golden model's accounting (equal to the RTL's in cosim): with
  rows placed at burst boundaries and dense float tables read by row stride, a lookup costs
  the bursts its row spans and no directory entry; tables with zeros keep their directory and
  read it through a 256-line entry cache.
* The bags run longest first (`balanced` in `rtnerf.workloads.kernel`): the engine deals
  bag b to unit b mod units and returns results in order, so a round of bags lasts as long
  as its longest; the host sorts the bags by length and reads the results back in its own
  order. `in trace order` is the same model with the bags in the kernel's order (FastRP's
  power-law bag lengths leave 19% of the bandwidth idle there).
* `RTL sample` is an RTL co-simulation of the first bags of each kernel (longest first) on
  the same design (bit-exact against the golden model, cycles against the
  performance model's on that sample).
"""


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def report(results: Path) -> str:
    rows, machines, walls, short, refreshed = [], set(), [], [], []
    for family in FAMILIES:
        path = results / f"bench_{family}" / "summary.json"
        if not path.exists():
            raise SystemExit(f"{path} is missing: run `rtnerf bench {family} -o {path.parent}`")
        summary = json.loads(path.read_text())
        kept = summary.get("baselines_from")
        machines.add(summary["machine"] if kept is None else kept["machine"])
        walls.append(f"{family} {summary['wall_s']:.0f} s")
        if kept is not None:
            refreshed.append(family)
        kernels = {f"{k['family']}/{k['name']}": k for k in summary["kernels"]}
        by_kernel: dict[str, dict] = {}
        for e in summary["entries"]:
            by_kernel.setdefault(e["kernel"], {})[e["implementation"]] = e
        for name, impls in by_kernel.items():
            acc = impls["accelerator"]
            cosim = kernels[name].get("cosim")
            sample = "-"
            if cosim and "skipped" in cosim:
                sample = f"skipped: {cosim['skipped']}"
            elif cosim:
                verdict = "bit-exact" if cosim["passed"] and not cosim["mismatches"] else "FAIL"
                sample = f"{verdict} ({cosim['bags']} bags, {cosim['simulator']})"
                if cosim.get("model_error") is not None:
                    sample += f", model {100 * cosim['model_error']:+.1f}%"
            util = acc.get("utilisation") or {}
            if acc.get("roofline_fraction", 1.0) < 0.9:
                use = ", ".join(f"{k} {v:.2f}" for k, v in util.items())
                short.append(
                    f"* {name}: {100 * acc['roofline_fraction']:.0f}% of its roofline "
                    f"(utilisation {use}; {acc['lookups']:,} lookups)."
                )
            rows.append(
                f"| {name} | {acc['lookups']:,} | "
                + " | ".join(_fmt(impls[c]["lookups_per_s"]) if c in impls else "-" for c in CPU)
                + f" | {_fmt(acc['lookups_per_s'])} | {acc['dram_bytes_per_lookup']:.0f} | "
                f"{_fmt(acc.get('roofline_lookups_per_s'))} | "
                f"{100 * acc.get('roofline_fraction', float('nan')):.1f}% | "
                f"{_pct(acc.get('trace_order_roofline_fraction'))} | "
                f"{util.get('dram', float('nan')):.2f} | {acc['bottleneck']} | "
                f"{acc.get('vs_best_cpu', float('nan')):.2f} | {sample} |"
            )
    head = [
        "# rtnerf bench: software baselines vs the accelerator on the real datasets",
        "",
        f"Machine: {', '.join(sorted(machines))}; baselines timed interleaved with each other",
        "(median of repeats) on the otherwise idle machine, float32, checked against the float64",
        "reference. The accelerator is the performance model of the default design adapted to",
        "each kernel at 1 GHz (DDR4-class DRAM: 16 B/cycle, 64 B bursts, 40-cycle latency).",
        f"Wall time: {', '.join(walls)}. Throughput in lookups/s. Written by",
        "`python benchmarks/bench_report.py` from `bench_*/summary.json`.",
        "",
        (
            "| kernel | lookups | numpy | numba | torch | accelerator | DRAM B/lookup "
            "| roofline | of roofline | in trace order | DRAM util. | bottleneck | x CPU "
            "| RTL sample |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    if refreshed:
        head[8:8] = [
            f"The accelerator columns of {', '.join(refreshed)} were re-evaluated after a model",
            "change with `rtnerf bench --baselines-from`, which keeps the baselines' timings of",
            "the earlier run on the machine named above (`baselines_from` in the summary).",
        ]
    below = ["Below 90% of the roofline:", *short, ""] if short else []
    return "\n".join([*head, *rows, "", *below, NOTES])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    text = report(args.results)
    (args.results / "bench.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
