"""The engine against its memory roofline: uniform gathers from a 1 M-row table, and the kernels.

1. **Uniform random gathers** of 64 x 16-bit rows (DENSE, 128 bytes: exactly two 64-byte DRAM
   bursts, read by row stride without the directory) from a 1,048,576-row table, in bags of 16
   (weighted sum), at the default design (`configs/default.yaml`): the performance model at
   full scale (``--bags``, default 100,000 bags: 1.6 M lookups), and an RTL co-simulation
   (``--cosim-bags``, default 5,000, on ``--simulator``, default Verilator) with the model on
   the same trace. The roofline is the DRAM's peak (16 B/cycle) over 128 bytes per lookup:
   0.125 lookups per cycle, 125 M lookups/s at 1 GHz.
2. **Other DRAM classes**: the same gathers with the LPDDR4x and HBM2e presets
   (:data:`rtnerf.params.dram.PRESETS`) on designs widened for them (512-bit port), model only.
3. **The bench kernels**: each ``rtnerf bench`` kernel's accelerator entry from the committed
   ``benchmarks/results/bench_*/summary.json`` (lookups/s, the roofline, the fraction of it,
   the limits' utilisation, the ratio to the fastest CPU baseline, and the RTL cosim of its
   first bags against the model when the bench ran one).

Writes ``roofline.json`` and ``roofline.md`` into ``--out`` (default benchmarks/results).

    python benchmarks/roofline.py [--bags 100000] [--cosim-bags 5000] [--simulator verilator]
    python benchmarks/roofline.py --kernels-only   # after `rtnerf bench`: refresh part 3
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from rtnerf.models.image import encode
from rtnerf.models.perf.engine import estimate
from rtnerf.models.trace import Op, Trace
from rtnerf.params import DramParams, EngineParams
from rtnerf.runfolder import machine

RESULTS = Path(__file__).parent / "results"
ROWS, DIM, BAG = 1 << 20, 64, 16


def table(rng: np.random.Generator, params: EngineParams):
    """The 1 M-row table of random 16-bit values (no zeros: every row DENSE), as an image."""
    values = rng.integers(1, 1 << 15, (ROWS, DIM), dtype=np.int64)
    values *= rng.choice([-1, 1], size=values.shape)
    enc = params.unit.decoder.encoding(burst_bytes=params.dram.burst_bytes)
    return encode(values, enc)


def gathers(rng: np.random.Generator, params: EngineParams, bags: int) -> Trace:
    """``bags`` bags of ``BAG`` uniformly random rows with random weights."""
    n = bags * BAG
    u = params.unit
    return Trace(
        op=np.full(n, Op.ROW, np.uint8),
        table=np.zeros(n, np.uint16),
        row=rng.integers(0, ROWS, n),
        col=np.full(n, -1, np.int32),
        weight=rng.integers(-(1 << (u.weight_frac_bits - 1)), 1 << (u.weight_frac_bits - 1), n),
        last=(np.arange(n) % BAG) == BAG - 1,
        weight_frac_bits=u.weight_frac_bits,
        weight_width=u.weight_width,
        name=f"uniform-1M-{bags}",
    )


def model_row(name: str, params: EngineParams, image, trace: Trace, clock_hz=1e9) -> dict:
    """The performance model's numbers for one design and trace."""
    start = time.perf_counter()
    r = estimate(params, [image], trace)
    seconds = time.perf_counter() - start
    lookups_per_s = r.per_second(clock_hz)["requests_per_s"]
    roof = len(trace) / (r.roofline_cycles / clock_hz)
    return {
        "design": name,
        "units": params.units,
        "word_width": params.port.word_width,
        "dram": dataclasses.asdict(params.dram),
        "lookups": len(trace),
        "cycles": r.cycles,
        "dram_bytes_per_lookup": r.traffic.total_bytes / len(trace),
        "lookups_per_s": lookups_per_s,
        "roofline_lookups_per_s": roof,
        "roofline_fraction": lookups_per_s / roof,
        "utilisation": r.utilisation(),
        "bottleneck": r.bottleneck,
        "model_s": seconds,
    }


def cosim_row(params: EngineParams, image, trace: Trace, simulator: str) -> dict:
    """RTL cycles of ``trace`` (bit-exact, DRAM bursts equal to the accounting) and the model."""
    from rtnerf.sim.runner import build, cosim
    from rtnerf.sim.tb.engine import trace_args

    start = time.perf_counter()
    built = build(params, simulator)
    with tempfile.TemporaryDirectory() as tmp:
        summary = cosim(
            built,
            run_dir=Path(tmp) / "run",
            seed=1,
            count=1,
            testcase="test_trace$",
            tb_args=trace_args(Path(tmp), [image], trace),
        )
    (rec,) = summary["records"]
    model = estimate(params, [image], trace)
    return {
        "simulator": simulator,
        "bags": trace.bags,
        "lookups": len(trace),
        "passed": bool(summary["passed"]),
        "mismatches": rec["mismatches"] + rec["dram_burst_mismatches"],
        "rtl_cycles": rec["cycles"],
        "model_cycles": model.cycles,
        "model_error": (model.cycles - rec["cycles"]) / rec["cycles"],
        "rtl_dram_bytes": rec["dram_bytes"],
        "model_dram_bytes": model.traffic.total_bytes,
        "rtl_bandwidth_utilisation": rec["dram_bytes"]
        / rec["cycles"]
        / params.dram.bytes_per_cycle,
        "wall_s": time.perf_counter() - start,
    }


def kernel_rows(results: Path) -> list[dict]:
    """The accelerator entries of the committed bench summaries."""
    rows = []
    for path in sorted(results.glob("bench_*/summary.json")):
        summary = json.loads(path.read_text())
        cosims = {f"{k['family']}/{k['name']}": k.get("cosim") for k in summary["kernels"]}
        for e in summary["entries"]:
            if e["implementation"] != "accelerator" or "roofline_fraction" not in e:
                continue
            rows.append(
                {
                    "kernel": e["kernel"],
                    "lookups": e["lookups"],
                    "lookups_per_s": e["lookups_per_s"],
                    "dram_bytes_per_lookup": e["dram_bytes_per_lookup"],
                    "roofline_lookups_per_s": e["roofline_lookups_per_s"],
                    "roofline_fraction": e["roofline_fraction"],
                    "utilisation": e["utilisation"],
                    "bottleneck": e["bottleneck"],
                    "vs_best_cpu": e["vs_best_cpu"],
                    "cosim": cosims.get(e["kernel"]),
                    "machine": summary.get("machine"),
                }
            )
    return rows


def report(out: dict) -> str:
    """The Markdown summary."""
    lines = [
        "# The engine against its memory roofline",
        "",
        (
            f"Machine: {out['machine']} (2-core VM, shared with other jobs). Clock 1 GHz. "
            "Written by `python benchmarks/roofline.py`."
        ),
        "",
        "## Uniform random gathers, 64 x 16-bit rows from a 1,048,576-row table",
        "",
        (
            "Bags of 16 rows; every row DENSE, 128 bytes = two 64-byte bursts, read by row "
            "stride (no directory). Roofline = DRAM (and port) peak / DRAM bytes per lookup."
        ),
        "",
        (
            "| design | units | port bits | DRAM | lookups | B/lookup | lookups/s | roofline | "
            "of roofline | utilisation (dram, port, unit) | bottleneck |"
        ),
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in out["uniform"]:
        use = ", ".join(f"{v:.2f}" for v in r["utilisation"].values())
        d = r["dram"]
        lines.append(
            f"| {r['design']} | {r['units']} | {r['word_width']} | {d['bytes_per_cycle']} B/cycle, "
            f"{d['latency']} cycles | {r['lookups']:,} | {r['dram_bytes_per_lookup']:.1f} | "
            f"{r['lookups_per_s']:.3e} | {r['roofline_lookups_per_s']:.3e} | "
            f"{r['roofline_fraction']:.1%} | {use} | {r['bottleneck']} |"
        )
    c = out.get("cosim")
    if c:
        lines += [
            "",
            (
                f"RTL co-simulation of the default design on {c['simulator']}: "
                f"{c['bags']:,} bags ({c['lookups']:,} lookups), "
                f"{'bit-exact' if c['passed'] else 'FAILED'} ({c['mismatches']} mismatches, "
                f"DRAM bursts checked one by one), {c['rtl_cycles']:,} cycles, "
                f"{c['rtl_bandwidth_utilisation']:.1%} of DRAM bandwidth; the model on the same "
                f"trace {c['model_cycles']:,} cycles ({c['model_error']:+.2%}); DRAM bytes "
                f"{c['rtl_dram_bytes']:,} (RTL) = {c['model_dram_bytes']:,} (accounting); "
                f"{c['wall_s']:.0f} s wall."
            ),
        ]
    lines += [
        "",
        "## The `rtnerf bench` kernels at the default design adapted to each",
        "",
        (
            "From `benchmarks/results/bench_*/summary.json` (full-size runs, bags longest "
            "first; baselines timed side by side on the same machine; see each folder's "
            "summary.txt, and `bench.md` for the kernels' own bag order). Longer RTL "
            "co-simulations of the kernels: `kernel_cosims.md`."
        ),
        "",
        (
            "| kernel | B/lookup | lookups/s | roofline | of roofline | utilisation (dram, port, "
            "unit) | bottleneck | x fastest CPU | RTL cosim vs model |"
        ),
        "|---|---:|---:|---:|---:|---|---|---:|---|",
    ]
    for k in out["kernels"]:
        use = ", ".join(f"{v:.2f}" for v in k["utilisation"].values())
        c = k.get("cosim") or {}
        if c.get("model_error") is not None:
            cos = (
                f"{c['bags']} bags: {c['cycles']:,} vs {c['model_cycles']:,} "
                f"({c['model_error']:+.1%})"
            )
        else:
            cos = c.get("skipped", "not run")
        lines.append(
            f"| {k['kernel']} | {k['dram_bytes_per_lookup']:.1f} | {k['lookups_per_s']:.3e} | "
            f"{k['roofline_lookups_per_s']:.3e} | {k['roofline_fraction']:.1%} | {use} | "
            f"{k['bottleneck']} | {k['vs_best_cpu']:.1f} | {cos} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bags", type=int, default=100_000)
    parser.add_argument("--cosim-bags", type=int, default=5_000)
    parser.add_argument("--simulator", default="verilator")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--kernels-only",
        action="store_true",
        help="keep --out's roofline.json, refresh only its bench kernels (after rtnerf bench)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the bench_* are")
    args = parser.parse_args()
    if args.kernels_only:
        out = json.loads((args.out / "roofline.json").read_text())
        out["kernels"] = kernel_rows(args.results)
        (args.out / "roofline.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
        (args.out / "roofline.md").write_text(report(out))
        print(report(out))
        return
    rng = np.random.default_rng(1)
    default = EngineParams()
    wide = default.replace(
        unit={"decoder": {"word_width": 512}}, port={"word_width": 512, "outstanding": 64}
    )
    designs = {
        "default (ddr4)": default,
        "default, lpddr4x": dataclasses.replace(default, dram=DramParams.preset("lpddr4x")),
        "16 units, 512-bit, lpddr4x": dataclasses.replace(
            wide, units=16, dram=DramParams.preset("lpddr4x")
        ),
        "32 units, 512-bit, lpddr4x": dataclasses.replace(
            wide, units=32, dram=DramParams.preset("lpddr4x")
        ),
        "64 units, 512-bit, hbm2e": dataclasses.replace(
            wide, units=64, dram=DramParams.preset("hbm2e")
        ),
    }
    out: dict = {"machine": machine(), "uniform": [], "kernels": kernel_rows(args.results)}
    images = {}
    for name, params in designs.items():
        width = params.unit.word_width
        if width not in images:
            print(f"encoding the 1 M-row table for {width}-bit words ...", flush=True)
            images[width] = table(np.random.default_rng(7), params)
        trace = gathers(rng, params, args.bags)
        out["uniform"].append(model_row(name, params, images[width], trace))
        print(out["uniform"][-1], flush=True)
    if args.cosim_bags:
        trace = gathers(np.random.default_rng(11), default, args.cosim_bags)
        print(f"RTL co-simulation of {args.cosim_bags} bags on {args.simulator} ...", flush=True)
        out["cosim"] = cosim_row(default, images[default.unit.word_width], trace, args.simulator)
        print(out["cosim"], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "roofline.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    (args.out / "roofline.md").write_text(report(out))
    print(report(out))


if __name__ == "__main__":
    main()
