"""Long RTL co-simulations of the ``rtnerf bench`` kernels against the performance model.

Each kernel of the chosen families (:func:`rtnerf.bench.family_kernels`, the real datasets,
seed 1 as ``rtnerf bench``) runs on its bench design (:func:`design`): its first ``--bags``
bags (:func:`rtnerf.workloads.accelerator.sample`), longest first as the bench schedules them
(:func:`rtnerf.workloads.kernel.balanced`), go through the engine's ``test_trace`` at full
rate (:func:`rtnerf.bench.cosim_sample`): every pooled bag or pair score
checked bit-exactly against the golden model, every DRAM burst against the golden accounting,
and the RTL's cycles against the performance model's on the same sample.

Results accumulate in ``kernel_cosims.json`` (one entry per kernel, bags and simulator, with
the machine and the commit), which is the store: a case already in it is skipped, so a run that
is stopped resumes where it stopped, and a session can add kernels a few at a time. Runs may
share one store (each case is added under a file lock, re-reading the store first); ``--merge``
adds the cases of other stores (runs made elsewhere) that this one lacks. ``--report`` writes
``kernel_cosims.md`` from the store alone.

    python benchmarks/kernel_cosims.py [--family graph] [--kernel pbg-dot] [--bags 5000]
        [--simulator verilator] [--out benchmarks/results] [--merge OTHER.json ...] [--report]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from filelock import FileLock

from rtnerf.bench import FAMILIES, cosim_sample, family_kernels
from rtnerf.runfolder import commit, machine
from rtnerf.sim.toolchain import SIMULATORS
from rtnerf.workloads.kernel import design

RESULTS = Path(__file__).parent / "results"
TOLERANCE = 0.10


def load(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cases"] if path.exists() else []


def key(case: dict) -> tuple:
    return case["kernel"], case["requested_bags"], case["simulator"]


def add(path: Path, new: list[dict]) -> list[dict]:
    """Add the cases of ``new`` that the store at ``path`` lacks (under its lock, re-reading it
    first, so that runs sharing a store keep each other's cases); return the store's cases."""
    with FileLock(f"{path}.lock"):
        cases = load(path)
        have = {key(c) for c in cases}
        cases += [c for c in new if key(c) not in have]
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": 1, "cases": cases}, indent=1) + "\n")
        tmp.replace(path)
    return cases


def report(cases: list[dict]) -> str:
    lines = [
        "# Long RTL co-simulations of the bench kernels",
        "",
        "`python benchmarks/kernel_cosims.py` (the store is `kernel_cosims.json`). Each kernel's",
        "first bags, longest first as the bench schedules them, on its bench design, through the",
        "engine's RTL at full rate: results bit-exact against the golden model, DRAM bursts",
        "against the golden accounting, cycles against the performance model on the same bags.",
        "",
        (
            "| kernel | simulator | bags | lookups | RTL cycles | model cycles | model error "
            "| DRAM bytes | bit-exact | wall | commit | machine |"
        ),
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---|---|",
    ]
    for c in sorted(cases, key=lambda c: (c["kernel"], c["bags"], c["simulator"])):
        err = c.get("model_error")
        lines.append(
            f"| {c['kernel']} | {c['simulator']} | {c['bags']:,} | {c['lookups']:,} | "
            f"{c['cycles']:,} | {c['model_cycles']:,} | "
            f"{'-' if err is None else f'{100 * err:+.2f}%'} | {c['dram_bytes']:,} | "
            f"{'yes' if c['passed'] else 'NO'} | {c['wall_s'] / 60:.1f} min | {c['commit']} | "
            f"{c['machine']} |"
        )
    bad = [
        c["kernel"]
        for c in cases
        if not c["passed"] or c.get("model_error") is None or abs(c["model_error"]) > TOLERANCE
    ]
    lines += [
        "",
        f"Within {100 * TOLERANCE:.0f}% of the model and bit-exact: "
        f"{len(cases) - len(bad)} of {len(cases)}" + (f" (not: {', '.join(bad)})" if bad else ""),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", action="append", choices=FAMILIES)
    parser.add_argument("--kernel", action="append", help="kernel names (default: all)")
    parser.add_argument("--bags", type=int, default=5_000)
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the store")
    parser.add_argument(
        "--merge", type=Path, nargs="+", default=[], help="other stores to add, then report"
    )
    parser.add_argument("--report", action="store_true", help="only write kernel_cosims.md")
    args = parser.parse_args()
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out must be a folder (the store is kernel_cosims.json in it): {args.out}")
    for other in args.merge:
        if not other.is_file():
            parser.error(f"--merge: no store at {other}")
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "kernel_cosims.json"
    cases = load(store)
    for other in args.merge:
        cases = add(store, load(other))
    if not (args.report or args.merge):
        for family in args.family or FAMILIES:
            for kernel in family_kernels(family):
                label = f"{family}/{kernel.name}"
                if args.kernel and kernel.name not in args.kernel:
                    continue
                if any(key(c) == (label, args.bags, args.simulator) for c in load(store)):
                    print(f"{label}: already in {store}", flush=True)
                    continue
                print(f"{label}: {args.bags} bags on {args.simulator} ...", flush=True)
                with tempfile.TemporaryDirectory() as tmp:
                    r = cosim_sample(
                        kernel,
                        design(kernel),
                        args.bags,
                        Path(tmp),
                        simulator=args.simulator,
                    )
                if "skipped" in r:
                    raise SystemExit(f"{args.simulator}: {r['skipped']}")
                r = {"kernel": label, "requested_bags": args.bags, **r}
                r.update(commit=commit(Path(__file__).parent), machine=machine())
                print(json.dumps(r), flush=True)
                cases = add(store, [r])
    (args.out / "kernel_cosims.md").write_text(report(cases))
    print(report(cases))


if __name__ == "__main__":
    main()
