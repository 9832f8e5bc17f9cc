"""``rtnerf blocks``: list the registered blocks."""

from __future__ import annotations

import argparse

from ..registry import BLOCKS


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``blocks`` subcommand."""
    p = sub.add_parser("blocks", help="list the registered blocks")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print one line per block: name, params class, summary."""
    width = max(len(name) for name in BLOCKS)
    for name, block in sorted(BLOCKS.items()):
        print(f"{name:<{width}}  {block.summary}")
    return 0
