"""benchmarks/results/soak.md: the record of a full Verilator soak of every (block, corner) pair.

``nox -s soak`` in CI soaks one rotating (block, corner) pair per run; the full soak runs all
of them at 100,000 random transactions per operation (``RTNERF_COSIM_SHARE=0/1``) with a new
seed and keeps each test's cosim folder under pytest's ``--basetemp``::

    RTNERF_COSIM_COUNT=100000 RTNERF_COSIM_SEED=$SEED RTNERF_COSIM_SHARE=0/1 \\
        python -m pytest -p no:benchmark tests/sim/test_cosim.py -m cosim -k verilator \\
        --basetemp=/tmp/soak
    python benchmarks/soak_report.py /tmp/soak --seed $SEED --wall-min MINUTES

This script reads every ``summary.json`` the cosims wrote there (one per testbench test: block,
params, seed, count, transactions, mismatches, cycles, wall time, pass), names each params'
corner by comparing it with ``configs/blocks/<block>/*.yaml``, and writes ``soak.md`` and
``soak.json`` into ``--out`` (default benchmarks/results). It exits 1 if a test failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtnerf.registry import get_block
from rtnerf.runfolder import commit

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "configs" / "blocks"
RESULTS = Path(__file__).parent / "results"


def corners() -> dict[tuple[str, str], str]:
    """``(block, params JSON)`` -> corner name, over every config the cosim suite uses."""
    out = {}
    for folder in sorted(CONFIGS.iterdir()):
        if not folder.is_dir():
            continue
        block = get_block(folder.name)
        for path in sorted(folder.glob("*.yaml")):
            params = block.load_params(path)
            out[(folder.name, json.dumps(params.to_dict(), sort_keys=True))] = path.stem
    return out


def collect(base: Path) -> list[dict]:
    names = corners()
    rows = []
    for path in sorted(base.rglob("summary.json")):
        s = json.loads(path.read_text())
        if s.get("simulator") != "verilator" or "block" not in s:
            continue
        key = (s["block"], json.dumps(s["params"], sort_keys=True))
        rec = (s.get("records") or [{}])[0]
        rows.append(
            {
                "block": s["block"],
                "corner": names.get(key, "?"),
                "test": rec.get("test", "?"),
                "seed": s["seed"],
                "count": s["count"],
                "transactions": s["transactions"],
                "mismatches": s["mismatches"],
                "cycles": s["cycles"],
                "passed": bool(s["passed"]),
                "wall_s": s["wall_s"],
                "machine": s.get("machine", "?"),
            }
        )
    return rows


def report(
    rows: list[dict], seed: int | None, wall_min: float | None, commit: str, note: str = ""
) -> str:
    machines = sorted({r["machine"] for r in rows})
    pairs: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        pairs.setdefault((r["block"], r["corner"]), []).append(r)
    lines = [
        "# Full Verilator soak of every block at every corner",
        "",
        f"Seed {seed if seed is not None else '?'}, commit {commit}, machine "
        f"{', '.join(machines)}"
        + (f", {wall_min:.0f} minutes of wall time" if wall_min else "")
        + ". Written by `python benchmarks/soak_report.py` (its docstring has the commands).",
        "Each test checks every result bit-exactly against the golden model.",
        *([note] if note else []),
        "",
        "| block | corner | tests | transactions | cycles | mismatches | passed | sim s |",
        "|---|---|---:|---:|---:|---:|---|---:|",
    ]
    for (block, corner), rs in sorted(pairs.items()):
        lines.append(
            f"| {block} | {corner} | {len(rs)} | {sum(r['transactions'] for r in rs):,} | "
            f"{sum(r['cycles'] for r in rs):,} | {sum(r['mismatches'] for r in rs)} | "
            f"{'all' if all(r['passed'] for r in rs) else 'NO'} | "
            f"{sum(r['wall_s'] for r in rs):.0f} |"
        )
    total = sum(r["transactions"] for r in rows)
    failed = [r for r in rows if not r["passed"]]
    lines += [
        "",
        (
            f"{len(rows)} tests over {len(pairs)} (block, corner) pairs, {total:,} "
            f"transactions, {len(failed)} failed."
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("basetemp", type=Path, help="pytest's --basetemp of the soak run")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--wall-min", type=float, help="wall time of the whole run, minutes")
    parser.add_argument("--note", default="", help="a line for the header (e.g. a partial run)")
    parser.add_argument("--commit", help="the commit the soak ran (default: this checkout's)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = collect(args.basetemp)
    if not rows:
        print(f"no Verilator cosim summaries under {args.basetemp}", file=sys.stderr)
        return 1
    text = report(rows, args.seed, args.wall_min, args.commit or commit(ROOT), args.note)
    (args.out / "soak.md").write_text(text)
    (args.out / "soak.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(text)
    return 1 if any(not r["passed"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
