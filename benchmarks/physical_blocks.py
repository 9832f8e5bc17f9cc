"""Every block's default design and the engine's default in physical units.

For each block's ``configs/blocks/<block>/default.yaml`` and the engine's ``configs/default.yaml``
this runs ``rtnerf area``'s synthesis twice (:mod:`rtnerf.synth`): the ``generic`` target (Yosys
two-input gates and flip-flops) and the ``osu018`` target (OSU 0.18 um standard cells; the
pre-layout critical path of :mod:`rtnerf.sta`), then :func:`rtnerf.physical.area_report`:
standard-cell um^2 and Fmax at 0.18 um (measured), the same cells scaled to the reference node
(Stillmaker & Baas 2017; a projection), and the memories kept as SRAM macros costed by the
OpenRAM fit at the reference node.

Writes ``benchmarks/results/physical_blocks.csv`` and ``.md``.

    python benchmarks/physical_blocks.py [--node 16] [--out benchmarks/results] [--work DIR]
        [--skip BLOCK ...]

Synthesis runs are kept in ``--work`` (default ``runs/physical_blocks``) and reused, so a killed
run resumes; ``--synth-only`` synthesises without writing the report.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import re
import time
from pathlib import Path

from rtnerf.models.physical.scaling import DEFAULT_NODE, NODES, area_factor, delay_factor, node
from rtnerf.physical import LIBRARY_NODES, area_report
from rtnerf.registry import BLOCKS, get_block
from rtnerf.sim.runner import verilog_path
from rtnerf.synth import (
    DEFAULT_PERIOD_NS,
    DEFAULT_SRAM_MIN_BITS,
    SynthResult,
    find_yosys,
    synthesize,
)

ROOT = Path(__file__).resolve().parent.parent
MACHINE = f"{platform.node()} {platform.machine()} (2-core VM, shared)"


def designs(skip: tuple[str, ...] = ()) -> list[tuple[str, str, Path]]:
    """(label, block, config) of every block's default but those in ``skip``, and the engine's
    default design."""
    out = [(f"{b} (default)", b, ROOT / "configs" / "blocks" / b / "default.yaml")
           for b in sorted(BLOCKS) if b not in skip]  # fmt: skip
    out.append(("engine (configs/default.yaml)", "engine", ROOT / "configs" / "default.yaml"))
    return out


def _synth(src: Path, name: str, target: str, folder: Path, yosys) -> SynthResult:
    """:func:`synthesize`, or its result saved in ``folder`` by an earlier run (resumable)."""
    saved = folder / "result.json"
    if saved.exists():
        return SynthResult.from_dict(json.loads(saved.read_text()))
    result = synthesize(src, name, target, folder, yosys=yosys)
    saved.write_text(json.dumps(result.to_dict()))
    return result


def run(at, work: Path, skip: tuple[str, ...] = ()) -> list[dict]:
    yosys = find_yosys()
    rows = []
    for label, name, config in designs(skip):
        block = get_block(name)
        params = block.load_params(config)
        src = verilog_path(params)
        start = time.perf_counter()
        gen = _synth(src, name, "generic", work / f"{name}-{params.digest()}-generic", yosys)
        osu = _synth(src, name, "osu018", work / f"{name}-{params.digest()}-osu018", yosys)
        rep = area_report(osu, at)
        m, s, r = rep["measured"], rep["scaled"], rep["sram"]
        row = {
            "design": label,
            "config": str(config.relative_to(ROOT)),
            "params_digest": params.digest(),
            "generic_cells": gen.summary["cells"],
            "generic_ffs": gen.summary["ffs"],
            "osu018_cells": osu.summary["cells"],
            "osu018_ffs": osu.summary["ffs"],
            "area_um2_018": m["std_cell_area_um2"],
            "critical_path_ns_018": m["critical_path_ns"],
            "fmax_mhz_018": m["fmax_mhz"],
            "logic_depth": osu.timing["logic_depth"],
            "area_um2_scaled": s["std_cell_area_um2"],
            "fmax_mhz_scaled": s["fmax_mhz"],
            "sram_macros": "; ".join(f"{x['name']} {x['words']}x{x['width']}" for x in r["macros"]),
            "sram_um2_node": r["area_um2"],
            "total_um2_node": rep["total_area_um2_at_node"],
            "synth_s": round(time.perf_counter() - start, 1),
        }
        rows.append(row)
        print(json.dumps(row))
    return rows


def macro_summary(macros: str) -> str:
    """The ``sram_macros`` column with numbered instances counted once ("12 x
    engine.unit*.slots/slots 36x128")."""
    counts: dict[str, int] = {}
    for macro in filter(None, (m.strip() for m in macros.split(";"))):
        key = re.sub(r"(?<=[a-z])\d+(?=[./ ])", "*", macro)
        counts[key] = counts.get(key, 0) + 1
    return "; ".join(f"{n} x {key}" if n > 1 else key for key, n in counts.items()) or "-"


def write(rows: list[dict], at, out: Path, skip: tuple[str, ...] = ()) -> None:
    src = LIBRARY_NODES["osu018"]
    with (out / "physical_blocks.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})  # fmt: skip
    lines = [
        "# Blocks in physical units: generic cells, um^2 and Fmax at 0.18 um, scaled area",
        "",
        (
            f"`python benchmarks/physical_blocks.py --node {at.nm}` on {MACHINE}; Yosys "
            f"{find_yosys().version} (yowasp), hierarchical synthesis. `physical_blocks.csv` has "
            "every column." + (f" Not in this run (`--skip`): {', '.join(skip)}." if skip else "")
        ),
        "",
        (
            "* **generic**: Yosys `synth; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX` (two-input gates "
            "and "
            "flip-flops), the existing `rtnerf area` target."
        ),
        (
            "* **0.18 um (measured, pre-layout)**: OSU 0.18 um standard cells (Debian "
            "`qflow-tech-osu018`, typical corner, 1.8 V): `dfflibmap`, `abc -liberty -constr -D "
            f"{DEFAULT_PERIOD_NS * 1000:.0f}` per module, `stat -liberty` for the area; Fmax from "
            "`rtnerf.sta` on the flattened netlist (NLDM tables, 5 fF wire load per fanout, ideal "
            "clock; no placement or routing). Memories of at least "
            f"{DEFAULT_SRAM_MIN_BITS} bits are SRAM macros, not standard cells."
        ),
        (
            f"* **{at.label} (projection)**: the 0.18 um standard-cell area and delay scaled by "
            f"Stillmaker & Baas 2017 (area x{area_factor(src, at):.4g}, delay "
            f"x{delay_factor(src, at):.3g}); SRAM macros from the OpenRAM FreePDK45 fit "
            "(`rtnerf.models.physical.sram`) scaled from 45 nm by the same rule. Not measured."
        ),
        "",
        (
            "| design | generic cells | 0.18 um cells | 0.18 um area [um^2] | 0.18 um critical "
            f"path [ns] | 0.18 um Fmax [MHz] | {at.nm} nm std cells [um^2] | {at.nm} nm Fmax [MHz] "
            f"| SRAM macros | {at.nm} nm SRAM [um^2] | {at.nm} nm total [um^2] |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['design']} | {r['generic_cells']:,} | {r['osu018_cells']:,} | "
            f"{r['area_um2_018']:,.0f} | {r['critical_path_ns_018']:.2f} | "
            f"{r['fmax_mhz_018']:.0f} | {r['area_um2_scaled']:,.0f} | "
            f"{r['fmax_mhz_scaled']:,.0f} | {macro_summary(r['sram_macros'])} | "
            f"{r['sram_um2_node']:,.0f} | {r['total_um2_node']:,.0f} |"
        )
    (out / "physical_blocks.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", type=int, choices=NODES, default=DEFAULT_NODE)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument(
        "--work", type=Path, default=Path("runs/physical_blocks"), help="synthesis runs (kept)"
    )
    parser.add_argument("--synth-only", action="store_true", help="synthesise, no report")
    parser.add_argument(
        "--skip", action="append", default=[], choices=sorted(BLOCKS), help="leave out a block"
    )
    args = parser.parse_args()
    skip = tuple(args.skip)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder: {args.out}")
    args.out.mkdir(parents=True, exist_ok=True)
    at = node(args.node)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.synth_only:
        yosys = find_yosys()
        for _, name, config in designs(skip):
            block = get_block(name)
            params = block.load_params(config)
            for target in ("generic", "osu018"):
                folder = args.work / f"{name}-{params.digest()}-{target}"
                _synth(verilog_path(params), name, target, folder, yosys)
                print(f"{name} {target}: done")
        return
    write(run(at, args.work, skip), at, args.out, skip)


if __name__ == "__main__":
    main()
