"""The ``rtnerf`` command line.

Each subcommand lives in its own module under :mod:`rtnerf.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning the exit status). Errors caused by user input (:class:`RtnerfError`) and
by the environment (an ``OSError``: a full disk, a missing permission) are printed as one line
and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import RtnerfError

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommand modules in :mod:`rtnerf.commands`, in the order ``--help`` lists them.
COMMANDS = (
    "blocks",
    "generate",
    "sim",
    "demo",
    "encode",
    "area",
    "sweep",
    "data",
    "bench",
    "render",
)


def build_parser() -> argparse.ArgumentParser:
    """Return the parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="rtnerf",
        description="Hardware/software co-design toolkit for sparse-embedding accelerators.",
    )
    parser.add_argument("--version", action="version", version=f"rtnerf {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"rtnerf.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RtnerfError as exc:
        return _error(str(exc))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _error(f"{where}{exc.strerror or exc}")
    except KeyboardInterrupt:
        print("rtnerf: interrupted", file=sys.stderr)
        return 130


def _error(message: str) -> int:
    # One line whatever the message holds (a value quoted from a file may carry a newline).
    print(f"rtnerf: error: {' '.join(message.split())}", file=sys.stderr)
    return 2
