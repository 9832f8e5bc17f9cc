"""Directed corner tables and random tables with query streams for the hybrid row decoder.

A *job* is one memory image and the queries run against it. The directed table is built row by
row so that every corner the decoder has is met with automatic format choice: empty and full
rows, DENSE rows, BITMAP rows with the queried column in the first, a middle and the last
chunk, COO rows of 1, ``leaves`` (the longest the tree searches) and ``leaves + 1``
coordinates, exactly ``window`` and longer than ``window`` coordinates, first and last columns,
and repeated queries. Its expected answers are the table itself: element ``(r, c)`` is
``table[r, c]``; row ``r`` expands to its non-zeros (all columns for DENSE rows).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...params.hybrid_row_decoder import HybridRowDecoderParams
from ..golden.hybrid_row_decoder import Query
from ..image import MemoryImage, encode

__all__ = ["Job", "directed_job", "random_jobs", "random_table"]


class Job(NamedTuple):
    """A table, its memory image and the queries to run against it."""

    name: str
    table: np.ndarray
    image: MemoryImage
    queries: list[Query]


def _nonzero_values(rng: np.random.Generator, value_width: int, size: int) -> np.ndarray:
    hi = 1 << (value_width - 1)
    v = rng.integers(-hi, hi - 1, size=size, endpoint=True)
    v[v == 0] = hi - 1  # the extremes of the range are in the draws
    return v


def _row(rng, p: HybridRowDecoderParams, cols) -> np.ndarray:
    row = np.zeros(p.columns, np.int64)
    cols = np.asarray(cols, np.int64)
    row[cols] = _nonzero_values(rng, p.value_width, cols.size)
    return row


def directed_job(params: HybridRowDecoderParams, burst_bytes: int | None = None) -> Job:
    """The corner table of a design point, every element and row of it queried.

    Rows whose corner needs more columns than the table has (a COO row longer than the window
    in a narrow table) are left out.
    """
    p, n = params, params.columns
    rng = np.random.default_rng(12345)
    cap = p.capacity
    rows = [
        ("empty", _row(rng, p, [])),
        ("full", _row(rng, p, range(n))),
        ("first column only", _row(rng, p, [0])),
        ("last column only", _row(rng, p, [n - 1])),
        ("first and last", _row(rng, p, [0, n - 1])),
        ("bitmap, every other column", _row(rng, p, range(0, n, 2))),
        ("bitmap, last chunk only", _row(rng, p, range(max(0, n - p.leaves), n))),
    ]
    spread = lambda k: np.linspace(0, n - 1, k).round().astype(np.int64)  # noqa: E731
    for name, k in [
        ("coo of leaves", p.leaves),
        ("coo of leaves + 1", p.leaves + 1),
        ("coo of exactly window", p.window),
        ("coo longer than window", 2 * p.window + 1),
        ("coo at capacity", cap),
    ]:
        if 1 <= k <= cap and len(np.unique(spread(k))) == k:
            rows.append((name, _row(rng, p, spread(k))))
    table = np.stack([r for _, r in rows])
    enc = params.encoding(burst_bytes=burst_bytes or params.word_width // 8)
    image = encode(table, enc)
    queries: list[Query] = []
    for r in range(table.shape[0]):
        queries += [Query(r, c, False) for c in range(n)]
        queries += [Query(r, 0, False), Query(r, 0, False), Query(r, n - 1, False)]  # repeats
        queries.append(Query(r, 0, True))
        queries.append(Query(r, 0, True))
    return Job("directed", table, image, queries)


def random_table(params: HybridRowDecoderParams, rng: np.random.Generator, rows: int) -> np.ndarray:
    """A table of ``rows`` rows whose densities range log-uniformly from 0.1% to 100%.

    About one row in eight is empty and one in eight full; COO rows never exceed the decoder's
    capacity (denser draws are kept as they are: the encoder stores them as BITMAP or DENSE).
    """
    n = params.columns
    density = np.exp(rng.uniform(np.log(1e-3), 0.0, rows))
    u = rng.random(rows)
    density[u < 0.125] = 0.0
    density[u > 0.875] = 1.0
    table = np.zeros((rows, n), np.int64)
    for r in range(rows):
        k = int(rng.binomial(n, density[r]))
        cols = rng.choice(n, size=k, replace=False)
        table[r, cols] = _nonzero_values(rng, params.value_width, k)
    return table


def random_jobs(
    params: HybridRowDecoderParams,
    rng: np.random.Generator,
    queries: int,
    *,
    rows: int = 64,
    expand_fraction: float = 0.1,
) -> list[Job]:
    """Random tables (all four formats mixed) and query streams of ``queries`` queries in all.

    Each job is a table of ``rows`` rows (:func:`random_table`) with up to 2,000 queries: rows
    uniform, columns half uniform and half at stored elements (hits), ``expand_fraction`` of
    them whole-row expansions.
    """
    jobs = []
    total = 0
    while total < queries:
        table = random_table(params, rng, rows)
        image = encode(table, params.encoding(burst_bytes=params.word_width // 8))
        n = min(2000, queries - total)
        r = rng.integers(0, rows, n)
        c = rng.integers(0, params.columns, n)
        for i in np.flatnonzero(rng.random(n) < 0.5):
            nz = np.flatnonzero(table[r[i]])
            if nz.size:
                c[i] = nz[rng.integers(0, nz.size)]
        expand = rng.random(n) < expand_fraction
        jobs.append(
            Job(
                f"random {len(jobs)}",
                table,
                image,
                [Query(int(a), int(b), bool(x)) for a, b, x in zip(r, c, expand, strict=True)],
            )
        )
        total += n
    return jobs
