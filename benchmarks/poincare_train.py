"""Poincaré embeddings of WordNet (Nickel & Kiela 2017): training, reconstruction, fixed point.

Trains :func:`rtnerf.workloads.hyperbolic.train_poincare` on the mammal subtree or the whole noun
closure for each ``--dims``, evaluates reconstruction mean rank and MAP every ``--eval-every``
epochs and at the end, then evaluates the final table once more as the engine would score it:
values quantised to ``--value-widths`` bits (16 is the engine's default), ``|u - v|^2, |u|^2,
|v|^2`` exact in integers, arcosh on the host. Writes
``benchmarks/results/poincare_<closure>.json`` (and the tables to ``runs/poincare/``).

    python benchmarks/poincare_train.py mammals [--dims 2 5 10] [--epochs 300] [--lr 0.1]
    python benchmarks/poincare_train.py nouns --dims 10 --epochs 100 --eval-queries 2000

``--eval-queries N`` evaluates a fixed random sample of ``N`` nodes during training (the noun
closure's full evaluation is 82,115 x 82,115 distances); 0 evaluates every node.
``--final-queries`` does the same for the final evaluation and the fixed-point ones (default:
every node). ``--resume`` continues each dimension's run of the results file from its table
in ``runs/poincare/`` (no burn-in; the earlier run is kept in the new one as ``previous``).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from rtnerf.models.quant import quantize
from rtnerf.workloads import hyperbolic as H

#: Nickel & Kiela 2017, Table 1, WordNet nouns reconstruction (mean rank, MAP); workloads.md
#: marks them [R] (recalled, not re-checked).
PUBLISHED_NOUNS = {5: (4.9, 0.823), 10: (4.02, 0.851), 20: (3.84, 0.855), 50: (3.98, 0.86)}

ROOT = Path(__file__).resolve().parent.parent


def evaluate(h, x, queries) -> dict:
    start = time.perf_counter()
    rec = H.reconstruction(h, x, queries=queries)
    return {
        "mean_rank": rec.mean_rank,
        "map": rec.map,
        "queries": rec.queries,
        "pairs": rec.pairs,
        "eval_s": round(time.perf_counter() - start, 2),
    }


def sample(h, count: int, seed: int) -> np.ndarray | None:
    """``count`` random nodes that have parents (sorted), or None for every node."""
    if not count:
        return None
    has_parent = np.unique(h.child)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(has_parent, min(count, has_parent.size), replace=False))


def fixed_point(h, x, queries, widths, pairs=100_000, seed=0) -> list[dict]:
    out = []
    table = x.astype(np.float32)
    norm2 = (x * x).sum(axis=1)
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, h.nodes, (2, pairs))
    exact = H.poincare_distance(table[u].astype(np.float64), table[v].astype(np.float64))
    for width in widths:
        q = quantize(table, width)
        rec = H.reconstruction(h, quantized=q, queries=queries)
        qv = q.values.astype(np.int64)
        scores = np.stack(
            [((qv[u] - qv[v]) ** 2).sum(1), (qv[u] ** 2).sum(1), (qv[v] ** 2).sum(1)], axis=1
        )
        err = np.abs(H.distances_from_scores(scores, q.scale) - exact)
        qn2 = (q.values.astype(np.float64) ** 2).sum(axis=1) * q.scale**2
        out.append(
            {
                "value_width": width,
                "scale": q.scale,
                "max_abs_error": q.max_abs_error,
                "mean_rank": rec.mean_rank,
                "map": rec.map,
                # |d_fixed - d_float| over random pairs (engine scores, arcosh on the host).
                "distance_error": {
                    "pairs": pairs,
                    "median": float(np.median(err)),
                    "p99": float(np.quantile(err, 0.99)),
                    "max": float(err.max()),
                    "median_distance": float(np.median(exact)),
                },
                # Nodes whose quantised squared norm reaches the clamp 1 - eps (float: how many
                # the float table has there).
                "clamped_nodes": int((qn2 >= 1 - H.EPS).sum()),
                "clamped_nodes_float": int((norm2 >= 1 - H.EPS).sum()),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("closure", choices=("mammals", "nouns"))
    parser.add_argument("--dims", type=int, nargs="+", default=[10])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--negatives", type=int, default=50)
    parser.add_argument("--burnin", type=int, default=20)
    parser.add_argument("--burnin-factor", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-queries", type=int, default=0)
    parser.add_argument("--final-queries", type=int, default=0)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--value-widths", type=int, nargs="+", default=[16, 12, 8])
    parser.add_argument("--data", type=Path, default=None, help="WordNet folder (data.noun)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    start = time.perf_counter()
    nouns = H.noun_closure(args.data)
    h = nouns if args.closure == "nouns" else H.subtree(nouns, H.MAMMAL)
    load_s = time.perf_counter() - start
    queries = sample(h, args.eval_queries, args.seed)
    final_queries = sample(h, args.final_queries, args.seed)
    doc = {
        "version": 1,
        "benchmark": "poincare_train",
        "closure": args.closure,
        "nodes": h.nodes,
        "edges": h.edges,
        "load_s": round(load_s, 2),
        "machine": f"2-core VM, shared ({platform.machine()}, {platform.python_version()})",
        "settings": {
            "optimizer": "per-example Riemannian SGD (numba), metric rescaling (1-|x|^2)^2/4, "
            "projection to |x| <= 1-1e-5, rescaled gradient clipped to norm 5",
            "epochs": args.epochs,
            "lr": args.lr,
            "negatives": args.negatives,
            "burnin": args.burnin,
            "burnin_factor": args.burnin_factor,
            "burnin_negatives": "unigram^0.75",
            "negatives_after_burnin": "uniform, not linked to u either way",
            "init": 1e-3,
            "seed": args.seed,
            "eval_queries": "all" if queries is None else int(queries.size),
            "final_queries": "all" if final_queries is None else int(final_queries.size),
            "ties": "count against (non-neighbours at the same distance rank ahead)",
        },
        "published_nouns": {
            str(d): dict(zip(("mean_rank", "map"), v, strict=True))
            for d, v in PUBLISHED_NOUNS.items()
        },
        "runs": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"poincare_{args.closure}.json"
    previous = {}
    if args.resume:
        before = json.loads(out.read_text())
        previous = {
            r["dim"]: {**r, "settings": before["settings"]} for r in before["runs"] if r["complete"]
        }
    tables = ROOT / "runs" / "poincare"
    tables.mkdir(parents=True, exist_ok=True)
    for dim in args.dims:
        # The run is written after every evaluation, so that a long run stopped early leaves
        # its history ("complete": false).
        run = {"dim": dim, "epochs": args.epochs, "complete": False, "history": []}
        start = None
        if args.resume:
            run["previous"] = previous[dim]
            run["epochs"] += previous[dim]["epochs"]
            start = np.load(tables / f"{args.closure}_d{dim}.npy")
        doc["runs"].append(run)
        train_s = [0.0]
        clock = [time.perf_counter()]

        def callback(epoch, x, loss, run=run, train_s=train_s, clock=clock):
            train_s[0] += time.perf_counter() - clock[0]
            if (epoch + 1) % args.eval_every == 0 and epoch + 1 < args.epochs:
                done = run["epochs"] - args.epochs + epoch + 1
                row = {"epoch": done, "loss": float(loss), "train_s": round(train_s[0], 1)}
                row.update(evaluate(h, x, queries))
                run["history"].append(row)
                tqdm_write(row)
                out.write_text(json.dumps(doc, indent=2) + "\n")
            clock[0] = time.perf_counter()

        x, losses = H.train_poincare(
            h,
            dim=dim,
            epochs=args.epochs,
            lr=args.lr,
            negatives=args.negatives,
            burnin=args.burnin,
            burnin_factor=args.burnin_factor,
            seed=args.seed,
            progress=True,
            callback=callback,
            start=start,
        )
        np.save(tables / f"{args.closure}_d{dim}.npy", x)
        final = {"epoch": run["epochs"], "loss": float(losses[-1]), "train_s": round(train_s[0], 1)}
        final.update(evaluate(h, x, final_queries))
        run["history"].append(final)
        tqdm_write(final)
        run.update(
            train_s=final["train_s"],
            mean_rank=final["mean_rank"],
            map=final["map"],
            max_norm=float(np.sqrt((x * x).sum(axis=1)).max()),
            fixed_point=fixed_point(h, x, final_queries, args.value_widths),
            complete=True,
        )
        for f in run["fixed_point"]:
            tqdm_write({k: f[k] for k in ("value_width", "mean_rank", "map", "clamped_nodes")})
        out.write_text(json.dumps(doc, indent=2) + "\n")
    print(f"wrote {out}")


def tqdm_write(row: dict) -> None:
    from tqdm import tqdm

    tqdm.write(
        ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items())
    )


if __name__ == "__main__":
    main()
