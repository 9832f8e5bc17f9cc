"""``rtnerf sweep STUDY.yaml``: evaluate a design-space study with the performance model."""

from __future__ import annotations

import argparse
from pathlib import Path

from .sim import positive_int


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` subcommand."""
    p = sub.add_parser(
        "sweep",
        help="evaluate a design-space study (performance model, optional area), resumable",
        description="Evaluate every point of a study file (see rtnerf.sweep) with the "
        "performance model, in parallel, storing each result as it finishes in "
        "RUN_DIR/results.sqlite: re-running a killed sweep continues where it stopped. Writes "
        "results.csv, summary.json, summary.txt and pareto/dram_by_cause/roofline PNGs.",
    )
    p.add_argument("study", type=Path, metavar="STUDY.yaml")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="RUN_DIR",
        help="run folder (default runs/sweep-STUDY)",
    )
    p.add_argument(
        "-j", "--jobs", type=positive_int, default=1, help="local worker processes (default 1)"
    )
    p.add_argument(
        "--dask",
        metavar="ADDRESS|local",
        help="evaluate on a dask.distributed scheduler (or a LocalCluster with 'local')",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Load and check the study, run the missing points, write the reports."""
    from ..sweep import load_study, run_study

    study = load_study(args.study)
    run_dir = args.output or Path("runs") / f"sweep-{args.study.stem}"
    summary = run_study(study, run_dir, jobs=args.jobs, dask=args.dask)
    print((run_dir / "summary.txt").read_text(), end="")
    print(f"run folder: {run_dir} ({summary['evaluated']} of {summary['points']} points)")
    return 0
