"""Directed corner cases and random rows for the sparse search unit.

Directed rows use coordinates ``0, 2, 4, ...`` (``2*i`` for ``i < L``), so the expected result
of a query ``q`` follows by hand: ``index = min(ceil(q/2), L)``, ``hit = q even and q/2 < L``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...params.sparse_search_unit import SparseSearchUnitParams
from ..golden.sparse_search_unit import RowJob

__all__ = ["Case", "directed_cases", "random_jobs"]


class Case(NamedTuple):
    """A directed row: its job and the expected ``(hit, index)`` of each query."""

    name: str
    job: RowJob
    expected: tuple[tuple[int, int], ...]


def _even_row(name: str, length: int, queries: list[int]) -> Case:
    coords = np.arange(length, dtype=np.uint32) * 2
    expected = tuple(
        (int(q % 2 == 0 and q // 2 < length), min((q + 1) // 2, length)) for q in queries
    )
    return Case(name, RowJob(coords, np.array(queries, np.uint32)), expected)


def directed_cases(params: SparseSearchUnitParams) -> list[Case]:
    """Corner rows for a design point.

    Empty rows, rows of exactly K and longer than K, first and last columns, repeated queries,
    rows without queries, more queries than lanes.
    """
    k, p = params.window, params.lanes
    top = (1 << params.coord_width) - 1
    cases = []
    if top >= 4 * k + 4:
        cases += [
            _even_row("empty row", 0, [0, 1, 5]),
            _even_row("row of exactly K, first/last/past", k, [0, 2 * k - 2, 2 * k - 1, 2 * k]),
            _even_row("row longer than K", 3 * k + 1, [1, 2 * k, 2 * k + 1, 6 * k, 6 * k + 1]),
            _even_row("repeated queries", 2 * k, [2 * k - 2] * (p + 1) + [2 * k + 4] * 2),
            _even_row("no queries in a long row", 2 * k + 1, []),
            _even_row("queries before the row", k + 1, [0, 0]),
            _even_row("many queries, one window", min(k, (top + 1) // 2), list(range(3 * p))),
        ]
    ends = np.array([0, top], np.uint32)
    cases.append(Case("first and last column", RowJob(ends, ends.copy()), ((1, 0), (1, 1))))
    cases.append(Case("single coordinate, misses", RowJob(ends[1:], ends[:1]), ((0, 0),)))
    return cases


def random_jobs(
    params: SparseSearchUnitParams, rng: np.random.Generator, queries: int
) -> list[RowJob]:
    """Random rows until at least ``queries`` queries are drawn.

    Row lengths range from 0 to 4K (about one row in eight is exactly K or K+1 long); each row
    gets 0 to 3P queries, half taken from its coordinates (hits), half uniform.
    """
    k, p = params.window, params.lanes
    top = 1 << params.coord_width
    longest = min(4 * k, top, params.max_row_length)
    jobs, total = [], 0
    while total < queries:
        u = rng.random()
        length = min(k + int(u < 0.06), longest) if u < 0.12 else int(rng.integers(0, longest + 1))
        coords = np.sort(rng.choice(top, size=length, replace=False)).astype(np.uint32)
        n = int(rng.integers(0, 3 * p + 1))
        picked = coords[rng.integers(0, length, n)] if length else np.zeros(0, np.uint32)
        uniform = rng.integers(0, top, n, dtype=np.uint64).astype(np.uint32)
        q = np.where(rng.random(n) < 0.5, picked, uniform) if length else uniform
        jobs.append(RowJob(coords, np.sort(q).astype(np.uint32)))
        total += n
    return jobs
