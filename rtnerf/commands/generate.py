"""``rtnerf generate BLOCK``: write the Verilog of a block."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..registry import BLOCKS, get_block


def add_block_arguments(p: argparse.ArgumentParser) -> None:
    """The ``BLOCK`` and ``-c CONFIG.yaml`` arguments shared by block commands."""
    p.add_argument("block", metavar="BLOCK", help=f"one of: {', '.join(sorted(BLOCKS))}")
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        metavar="CONFIG.yaml",
        help="params of the block (YAML with `version:`); defaults if omitted",
    )


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``generate`` subcommand."""
    p = sub.add_parser(
        "generate",
        help="write a block's Verilog",
        description="Elaborate a block at a design point and write Verilog "
        "(module named after the block, no source attributes).",
    )
    add_block_arguments(p)
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="OUT.v",
        help="file to write (default: standard output)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate Verilog for ``args.block`` at ``args.config``."""
    from ..sim.runner import generate_verilog

    block = get_block(args.block)
    params = block.load_params(args.config)
    text = generate_verilog(params)
    if args.output is None:
        sys.stdout.write(text)
    else:
        from ..runfolder import write_file

        write_file(args.output, text)
        print(
            f"wrote {args.output} ({block.name}, {len(text.splitlines())} lines, "
            f"params {params.digest()})",
            file=sys.stderr,
        )
    return 0
