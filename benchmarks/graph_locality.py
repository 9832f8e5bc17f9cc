"""Row-cache locality of graph neighbour gathers: natural vertex order vs a random relabelling.

For each real graph of graph-tool's collection (and an R-MAT graph), the access stream is the
neighbour gathers of one FastRP step / full-neighbourhood GraphSAGE mean in CSR row order (the
row ids ``indices``), run through the row cache model ``rtnerf.models.dram.cache_hits`` (LRU;
``sets = 1`` is fully associative). Two graph forms: ``symmetrised`` (both arcs of every stored
arc, reciprocal duplicates kept: the form of the hit-rate table in workloads.md §1.2) and
``simple`` (duplicates and self-loops removed, neighbours sorted). Two vertex orders: the file's
(``natural``) and a uniformly random relabelling (seed ``--seed``). Cache sizes: fully
associative 256, 1,024 and 4,096 rows; 16-way set-associative 1,024, 4,096 and 16,384 rows.

Writes ``benchmarks/results/graph_locality.csv`` (one row per graph, form, order, cache) and
``graph_locality.md`` (the §1.2 comparison). Hit rates do not depend on the machine. Runs in
a few minutes.

    python benchmarks/graph_locality.py [--folder DIR] [--graphs a,b] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rtnerf.models.dram import cache_hits
from rtnerf.workloads import graph as G

#: The collection's graphs with at least 1,000 vertices, largest first.
GRAPHS = (
    "pgp-strong-2009",
    "cond-mat-2005",
    "email-Enron",
    "cond-mat-2003",
    "as-22july06",
    "astro-ph",
    "cond-mat",
    "hep-th",
    "power",
    "netscience",
    "polblogs",
)
#: R-MAT scale of the synthetic graph (2^15 = 32,768 vertices, edge factor 16).
RMAT_SCALE = 15
#: (rows, sets, ways) of each cache.
CACHES = (
    (256, 1, 256),
    (1024, 1, 1024),
    (4096, 1, 4096),
    (1024, 64, 16),
    (4096, 256, 16),
    (16384, 1024, 16),
)
#: workloads.md §1.2, symmetrised, fully associative LRU: {graph: {rows: (natural, random)}}.
PUBLISHED = {
    "cond-mat-2005": {1024: (0.37, 0.07), 4096: (0.50, 0.25)},
    "pgp-strong-2009": {1024: (0.68, 0.43), 4096: (0.75, 0.59)},
    "as-22july06": {1024: (0.48, 0.39), 4096: (0.60, 0.54)},
}
FIELDS = (
    "graph",
    "form",
    "order",
    "vertices [1]",
    "arcs [1]",
    "max degree [1]",
    "top 1% share of arcs [fraction]",
    "cache rows [1]",
    "sets [1]",
    "ways [1]",
    "hit rate [fraction]",
    "workloads.md 1.2 hit rate [fraction]",
)


def top_share(graph: G.Graph) -> float:
    """Share of the arcs held by the 1% highest-degree vertices."""
    deg = np.sort(graph.degree)[::-1]
    return float(deg[: max(1, graph.n // 100)].sum() / max(1, graph.arcs))


def graphs(names: list[str], folder: Path | None, rmat_scale: int):
    for name in names:
        yield G.load_graph(name, folder=folder, simple=False)
    if rmat_scale:
        g = G.rmat(rmat_scale, seed=0).symmetrised()
        # Graph500 permutes vertex ids: its "natural" order is already random. Keep R-MAT's
        # generated order (hubs at low ids) as natural, the permutation as random.
        yield G.Graph(g.n, g.indptr, g.indices, False, f"rmat-{rmat_scale}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, default=None, help="folder of the .gt.gz files")
    ap.add_argument("--graphs", default=",".join(GRAPHS))
    ap.add_argument("--rmat-scale", type=int, default=RMAT_SCALE, help="0: no R-MAT graph")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args()
    names = [n for n in args.graphs.split(",") if n]
    rows_out = []
    start = time.perf_counter()
    cases = [(form, order) for form in ("symmetrised", "simple") for order in ("natural", "random")]
    for graph in graphs(names, args.folder, args.rmat_scale):
        for form, order in tqdm(cases, desc=graph.name, leave=False):
            g = graph.simple() if form == "simple" else graph
            if order == "random":
                g = g.shuffled(np.random.default_rng(args.seed))
            share = top_share(g)
            for rows, sets, ways in CACHES:
                hit = float(cache_hits(g.indices, sets, ways).mean())
                ref = ""
                if form == "symmetrised" and sets == 1:
                    pub = PUBLISHED.get(graph.name, {}).get(rows)
                    ref = "" if pub is None else pub[order == "random"]
                rows_out.append(
                    [graph.name, form, order, g.n, g.arcs, int(g.degree.max()), round(share, 4),
                     rows, sets, ways, round(hit, 4), ref]
                )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "graph_locality.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        w.writerows(rows_out)
    write_markdown(args.out / "graph_locality.md", rows_out, args.seed)
    print(f"{len(rows_out)} rows in {time.perf_counter() - start:.0f} s -> {args.out}")
    print((args.out / "graph_locality.md").read_text())


def write_markdown(path: Path, rows: list[list], seed: int) -> None:
    """Fully associative hit rates, natural / random, with the §1.2 numbers beside them."""
    table: dict[tuple[str, str], dict] = {}
    for r in rows:
        name, form, order, n, arcs, maxdeg, share, size, sets, _ways, hit, ref = r
        entry = table.setdefault((name, form), {"n": n, "arcs": arcs, "maxdeg": maxdeg})
        entry.setdefault("share", share)
        key = f"{size}" if sets == 1 else f"{size}/16w"
        entry.setdefault(key, {})[order] = (hit, ref)
    keys = [f"{r}" for r, s, _ in CACHES if s == 1] + [f"{r}/16w" for r, s, _ in CACHES if s > 1]
    lines = [
        "# Graph neighbour-gather locality: LRU row-cache hit rates",
        "",
        "Access stream: every vertex's neighbour row ids in CSR order (one FastRP step / a",
        "full-neighbourhood mean). Cells: natural / random relabel (seed "
        + str(seed)
        + "); `[ref]` = workloads.md §1.2. Columns `N` = fully associative LRU of N rows,",
        "`N/16w` = 16-way set-associative. `symmetrised` keeps reciprocal duplicate arcs (the",
        "§1.2 form), `simple` removes them and sorts neighbours. Produced by",
        "`benchmarks/graph_locality.py`; hit rates do not depend on the machine.",
        "",
        "| graph | form | N | arcs | max deg | top 1% share | " + " | ".join(keys) + " |",
        "|---" * (6 + len(keys)) + "|",
    ]
    for (name, form), e in table.items():
        cells = []
        for k in keys:
            nat, ref_n = e[k]["natural"]
            rnd, ref_r = e[k]["random"]
            cell = f"{nat:.2f} / {rnd:.2f}"
            if ref_n != "":
                cell += f" [{ref_n:.2f} / {ref_r:.2f}]"
            cells.append(cell)
        lines.append(
            f"| {name} | {form} | {e['n']:,} | {e['arcs']:,} | {e['maxdeg']:,} | "
            f"{e['share']:.0%} | " + " | ".join(cells) + " |"
        )
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
