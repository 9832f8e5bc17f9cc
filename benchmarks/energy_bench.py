"""Energy per lookup of every ``rtnerf bench`` kernel: the accelerator beside the CPU baselines.

Runs ``rtnerf bench FAMILY`` (:func:`rtnerf.bench.run_bench`, no RTL sample) for each family
into ``benchmarks/results/energy_bench/FAMILY/`` (its ``summary.json``, ``results.csv``,
``summary.txt`` and plots, ``energy.png`` among them), then tabulates each kernel's accelerator
pJ per lookup by component group (the energy model on the performance model's events: DRAM by
cause, SRAM, MACs, decoder; reference node, the table's default DRAM class, and the DRAM share
for the other classes) beside the baselines' measured RAPL pJ per lookup (*n/a* where the
machine exposes no RAPL counters) into ``energy_bench.md``.

    python benchmarks/energy_bench.py [--quick] [--families text graph hyperbolic]
    python benchmarks/energy_bench.py --table-only
    python benchmarks/energy_bench.py --reprice    # the saved events, current table and fit
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rtnerf.bench import FAMILIES, run_bench, write_reports
from rtnerf.models.physical.energy import EventCounts, energy, load_table
from rtnerf.models.physical.scaling import DEFAULT_NODE, node

OUT = Path(__file__).parent / "results"


def table(families: list[str], out: Path) -> None:
    t = load_table()
    lines = []
    for family in families:
        summary = json.loads((out / "energy_bench" / family / "summary.json").read_text())
        if not lines:
            lines += [
                "# Energy per lookup of the bench kernels (accelerator: energy model; CPU: RAPL)",
                "",
                f"`python benchmarks/energy_bench.py{' --quick' if summary['quick'] else ''}` "
                f"on {summary['machine']} (2-core VM, shared); `energy_bench/FAMILY/` holds "
                "each `rtnerf bench` run (`summary.txt`, `energy.png`). Accelerator: "
                "`design(kernel)` at 1 GHz, the energy model (`models/physical/energy_table"
                f".yaml`, {t.name} v{t.table_version}) on the performance model's events: "
                "DRAM bytes by cause x pJ/bit of the class, SRAM reads/writes x the OpenRAM "
                "fit, MAC and decoder operations x Horowitz 45 nm; logic and SRAM at the "
                "reference node. CPU baselines: " + (summary.get("rapl") or "n/a") + ".",
                "",
                (
                    "| kernel | lookups | accel. lookups/s | DRAM B/lookup | pJ/lookup "
                    f"({t.dram_default}) | DRAM | SRAM | MAC | decoder | pJ/lookup lpddr4x | "
                    "pJ/lookup hbm2e | CPU pJ/lookup (RAPL) |"
                ),
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            ]
        for k in summary["kernels"]:
            label = f"{k['family']}/{k['name']}"
            entries = [e for e in summary["entries"] if e["kernel"] == label]
            acc = next(e for e in entries if e["implementation"] == "accelerator")
            en = acc["energy"]
            parts = en["components_pj_per_lookup"]
            groups = {}
            for name, v in parts.items():
                groups[name.split("/")[0]] = groups.get(name.split("/")[0], 0.0) + v
            dram = groups.get("dram", 0.0)
            per_byte = t.dram_pj_per_byte(en["dram"])
            other = {
                c: acc["energy_pj_per_lookup"] - dram + dram / per_byte * t.dram_pj_per_byte(c)
                for c in ("lpddr4x", "hbm2e")
            }
            cpu = ", ".join(
                f"{e['implementation']} {e['energy_pj_per_lookup']:.3g}"
                for e in entries
                if e["implementation"] != "accelerator" and e["energy_pj_per_lookup"] is not None
            )
            lines.append(
                f"| {label} | {k['lookups']:,} | {acc['lookups_per_s']:.3g} | "
                f"{acc['dram_bytes_per_lookup']:.1f} | {acc['energy_pj_per_lookup']:,.0f} | "
                f"{dram:,.0f} | {groups.get('sram', 0):.3g} | {groups.get('mac', 0):.3g} | "
                f"{groups.get('decoder', 0):.3g} | {other['lpddr4x']:,.0f} | "
                f"{other['hbm2e']:,.0f} | {cpu or 'n/a'} |"
            )
    lines += [
        "",
        "Notes: " + en["notes"][0] + ". The DRAM share dominates: the default design has no "
        "row cache and reads a directory entry per lookup (see `dram_bytes.png`).",
    ]
    (out / "energy_bench.md").write_text("\n".join(lines) + "\n")


def reprice(family: str, out: Path) -> None:
    """Price a run's saved events again (the current table and SRAM fit); rewrite its reports."""
    run_dir = out / "energy_bench" / family
    summary = json.loads((run_dir / "summary.json").read_text())
    for e in summary["entries"]:
        if e["implementation"] == "accelerator":
            rep = energy(EventCounts.from_dict(e["events"]), at=node(DEFAULT_NODE))
            e["energy"], e["energy_pj_per_lookup"] = rep.to_dict(), rep.pj_per_lookup
    write_reports(summary, run_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--table-only", action="store_true")
    parser.add_argument(
        "--reprice", action="store_true", help="price the saved events again, then the table"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.reprice:
        for family in args.families:
            reprice(family, args.out)
    elif not args.table_only:
        for family in args.families:
            run_bench(family, args.out / "energy_bench" / family, quick=args.quick, cosim_bags=0)
    table(args.families, args.out)


if __name__ == "__main__":
    main()
