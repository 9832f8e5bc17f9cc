"""Speed of the performance model against RTL co-simulation, measured side by side in one run.

One text-embedding trace of about ``--requests`` requests (default 1,000,000) on the default
design: the performance model runs all of it; the RTL (cocotb on ``--simulator``) runs its
first ``--rtl-bags`` bags (the whole trace would take hours), and both report requests per
second of wall time on this machine. Writes ``benchmarks/results/perf_speed.json``.

    python benchmarks/perf_speed.py [--requests 1000000] [--rtl-bags 60] [--simulator verilator]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from rtnerf.models.perf.engine import estimate
from rtnerf.models.trace import Trace
from rtnerf.params import EngineParams
from rtnerf.sim.runner import build, cosim
from rtnerf.sim.tb.engine import trace_args
from rtnerf.workloads.text import text_workload


def prefix(trace: Trace, bags: int) -> Trace:
    """The first ``bags`` bags of a trace."""
    n = int(trace.bag_starts[bags])
    fields = ("op", "table", "row", "col", "weight", "last")
    return Trace(
        **{f: getattr(trace, f)[:n].copy() for f in fields},
        weight_frac_bits=trace.weight_frac_bits,
        weight_width=trace.weight_width,
        name=f"{trace.name} (first {bags} bags)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--rtl-bags", type=int, default=60)
    parser.add_argument("--simulator", default="verilator")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    params = EngineParams()
    bags = max(args.rtl_bags, args.requests // 32)  # sentences average 32.5 tokens
    images, trace = text_workload(params, np.random.default_rng(1), bags=bags)
    start = time.perf_counter()
    result = estimate(params, images, trace)
    assert result.traffic.total_bytes > 0
    model_s = time.perf_counter() - start
    head = prefix(trace, args.rtl_bags)
    built = build(params, args.simulator)  # built before the clock starts
    with tempfile.TemporaryDirectory() as tmp:
        summary = cosim(
            built,
            run_dir=Path(tmp) / "run",
            count=1,
            testcase="test_trace$",
            tb_args=trace_args(Path(tmp), images, head),
        )
    (rec,) = summary["records"]
    rtl_s = summary["wall_s"]
    head_model = estimate(params, images, head)
    report = {
        "machine": f"{platform.node()} {platform.machine()} {platform.processor()}",
        "design": "default (configs/default.yaml)",
        "model": {
            "requests": len(trace),
            "bags": trace.bags,
            "seconds": round(model_s, 2),
            "requests_per_s": len(trace) / model_s,
        },
        "rtl": {
            "simulator": args.simulator,
            "requests": len(head),
            "bags": head.bags,
            "cycles": rec["cycles"],
            "seconds": rtl_s,
            "requests_per_s": len(head) / rtl_s,
            "model_cycles": head_model.cycles,
        },
    }
    report["speed_ratio"] = report["model"]["requests_per_s"] / report["rtl"]["requests_per_s"]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "perf_speed.json").write_text(json.dumps(report, indent=2) + "\n")
    m, r = report["model"], report["rtl"]
    print(f"model: {m['requests']} requests in {m['seconds']:.1f} s ({m['requests_per_s']:.0f}/s)")
    print(
        f"RTL ({args.simulator}): {r['requests']} requests, {r['cycles']} cycles (model "
        f"{r['model_cycles']}) in {r['seconds']:.1f} s ({r['requests_per_s']:.1f}/s)"
    )
    print(f"the model is {report['speed_ratio']:.0f}x faster per request")


if __name__ == "__main__":
    main()
