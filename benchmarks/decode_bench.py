"""Throughput of the golden decoder, the encoder and the DRAM accounting, with numpy baselines.

In one run, on one machine:

* element lookups/s of ``golden.decode.lookup`` on the hybrid image, next to numpy fancy
  indexing ``dense[rows, cols]`` of the same (quantised) table held dense in memory;
* row expansions/s of ``golden.decode.expand_rows`` next to ``dense[rows]``;
* encoder throughput (quantise + encode) on a 1,000,000 x 64 float32 table;
* DRAM-accounting requests/s of ``models.dram.account``.

JIT compilation is excluded (a warm-up call on a small table first); each timing is the best of
``--repeat`` runs. Writes ``benchmarks/results/decode_bench.csv`` and ``decode_bench.md``.

    python benchmarks/decode_bench.py [--rows 1000000] [--density 0.1] [--queries 1000000]
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

from rtnerf.models.dram import account
from rtnerf.models.golden.decode import expand_rows, lookup
from rtnerf.models.image import encode, encode_table
from rtnerf.models.quant import quantize
from rtnerf.params import EncodingParams, Format

COLUMNS = 64


def best_of(repeat: int, fn) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def make_table(rows: int, density: float, rng) -> np.ndarray:
    x = rng.standard_normal((rows, COLUMNS), dtype=np.float32)
    # per-row densities spread around the mean, so every format occurs
    row_density = np.clip(rng.gamma(2.0, density / 2.0, size=(rows, 1)), 0, 1)
    x[rng.random((rows, COLUMNS), dtype=np.float32) >= row_density] = 0
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--queries", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    params = EncodingParams(value_width=16, word_width=64)

    # warm-up: compile every kernel on a small table
    small, _ = encode_table(make_table(100, args.density, rng), params)
    lookup(small, [0, 1], [0, 1])
    expand_rows(small, [0, 1])
    account(small, [0, 1], [0, 1])
    account(small, [0, 1], cache_rows=1)

    table = make_table(args.rows, args.density, rng)
    t_quant, q = best_of(args.repeat, lambda: quantize(table, params.value_width))
    t_encode, image = best_of(args.repeat, lambda: encode(q.values, params, q.scale))
    dense = q.values
    formats = np.bincount(image.directory()[0], minlength=len(Format))

    qr = rng.integers(0, args.rows, args.queries)
    qc = rng.integers(0, COLUMNS, args.queries)
    t_lookup, got = best_of(args.repeat, lambda: lookup(image, qr, qc))
    t_numpy, want = best_of(args.repeat, lambda: dense[qr, qc])
    if not np.array_equal(got, want):
        raise SystemExit("golden lookup disagrees with the dense table")

    n_expand = min(args.queries, 200_000)
    er = qr[:n_expand]
    t_expand, rows_got = best_of(args.repeat, lambda: expand_rows(image, er))
    t_numpy_rows, rows_want = best_of(args.repeat, lambda: dense[er])
    if not np.array_equal(rows_got, rows_want):
        raise SystemExit("golden row expansion disagrees with the dense table")

    t_account, acc = best_of(args.repeat, lambda: account(image, qr, qc))
    t_account_cache, _ = best_of(args.repeat, lambda: account(image, qr, cache_rows=4096))

    machine = (
        f"{platform.platform()}; {platform.processor() or platform.machine()}; "
        f"{os.cpu_count()} CPUs; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__}"
    )
    mb = table.nbytes / 1e6
    metrics = [
        ("lookup", "golden lookup", args.queries / t_lookup, "lookup/s"),
        ("lookup", "numpy dense[rows, cols]", args.queries / t_numpy, "lookup/s"),
        ("lookup", "golden / numpy", t_numpy / t_lookup, "ratio"),
        ("expand", "golden expand_rows", n_expand / t_expand, "row/s"),
        ("expand", "numpy dense[rows]", n_expand / t_numpy_rows, "row/s"),
        ("expand", "golden / numpy", t_numpy_rows / t_expand, "ratio"),
        ("encoder", "quantise", args.rows / t_quant, "row/s"),
        ("encoder", "encode (format choice + packing)", args.rows / t_encode, "row/s"),
        ("encoder", "quantise + encode", args.rows / (t_quant + t_encode), "row/s"),
        ("encoder", "quantise + encode", mb / (t_quant + t_encode), "MB/s of float32 input"),
        ("dram", "account element trace", args.queries / t_account, "request/s"),
        ("dram", "account row trace, 4096-row LRU", args.queries / t_account_cache, "request/s"),
    ]
    with (args.out / "decode_bench.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["group", "metric", "value", "unit", "machine"])
        for group, name, value, unit in metrics:
            w.writerow([group, name, f"{value:.6g}", unit, machine])

    density = np.count_nonzero(dense) / dense.size
    lines = [
        "# Golden decoder and encoder throughput",
        "",
        f"Machine: {machine}.",
        (
            f"Table: {args.rows:,} x {COLUMNS} float32 ({mb:.0f} MB), density {100 * density:.1f}% "
            f"(per-row densities gamma-spread), {params.value_width}-bit values, "
            f"{params.word_width}-bit words; rows EMPTY/DENSE/BITMAP/COO = "
            f"{'/'.join(str(int(n)) for n in formats)}; image {image.nbytes / 1e6:.1f} MB vs dense "
            f"{dense.nbytes / 1e6:.1f} MB. Best of {args.repeat}, single thread, JIT excluded."
        ),
        "",
        "| group | metric | value | unit |",
        "|---|---|---|---|",
        *(f"| {g} | {n} | {v:,.3g} | {u} |" for g, n, v, u in metrics),
        "",
        (
            f"Golden lookups run at {t_numpy / t_lookup:.2f} x the speed of numpy fancy indexing "
            f"on the dense table ({args.queries / t_lookup / 1e6:.1f} M vs "
            f"{args.queries / t_numpy / 1e6:.1f} M lookups/s), while reading a compressed image. "
            f"Encoder: {args.rows / (t_quant + t_encode) / 1e6:.2f} M rows/s "
            f"({args.rows / t_encode / 1e6:.2f} M rows/s for encoding alone)."
        ),
        (
            f"DRAM accounting of the element trace: {acc.total_bytes / args.queries:.1f} bytes per "
            f"lookup at {params.burst_bytes}-byte bursts."
        ),
    ]
    (args.out / "decode_bench.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
