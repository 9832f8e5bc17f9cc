"""Bit-exact golden model of the sparse search unit.

The unit answers, for every query column of a row, whether the row's sorted coordinate list holds
it and how many coordinates are smaller (its position on a hit, its insertion point on a miss),
whatever the window and lane widths; those decide only the cycle count. The stream shapes
(windows of K coordinates, groups of P queries) are built by :func:`split_rows`, shared by the
testbench and the tests.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np
from numba import njit

from ...params.sparse_search_unit import SparseSearchUnitParams

__all__ = ["Group", "RowJob", "Window", "evaluate", "split_rows"]


@dataclasses.dataclass(frozen=True)
class RowJob:
    """One COO row and the columns queried in it.

    Parameters
    ----------
    coords : ndarray of uint32
        The row's coordinates, strictly increasing.
    queries : ndarray of uint32
        Query columns, non-decreasing (repeats allowed).
    """

    coords: np.ndarray
    queries: np.ndarray


class Window(NamedTuple):
    """Up to K coordinates of a row, the first at row position ``base``."""

    coords: tuple[int, ...]
    base: int
    last: bool


class Group(NamedTuple):
    """Up to P query columns of a row."""

    queries: tuple[int, ...]
    last: bool


def _check(params: SparseSearchUnitParams, job: RowJob, n: int) -> None:
    top = 1 << params.coord_width
    c, q = np.asarray(job.coords), np.asarray(job.queries)
    if len(c) > params.max_row_length:
        raise ValueError(
            f"row {n}: `coords` may hold at most {params.max_row_length} entries "
            f"(index_width {params.index_width}), not {len(c)}"
        )
    if len(c) and (c.max() >= top or np.any(np.diff(c.astype(np.int64)) <= 0)):
        raise ValueError(f"row {n}: `coords` must be strictly increasing and < {top}")
    if len(q) and (q.max() >= top or np.any(np.diff(q.astype(np.int64)) < 0)):
        raise ValueError(f"row {n}: `queries` must be non-decreasing and < {top}")


def split_rows(
    params: SparseSearchUnitParams, jobs: list[RowJob]
) -> tuple[list[list[Window]], list[list[Group]]]:
    """The window and query-group streams of each row, as the hardware consumes them.

    A row of L coordinates gives ``max(1, ceil(L/K))`` windows (one empty window for an empty
    row); Q queries give ``max(1, ceil(Q/P))`` groups (one empty group for a row with none).

    Raises
    ------
    ValueError
        If a row is not sorted, too long, or has a value wider than ``coord_width``.
    """
    k, p = params.window, params.lanes
    windows, groups = [], []
    for n, job in enumerate(jobs):
        _check(params, job, n)
        c = [int(x) for x in job.coords]
        q = [int(x) for x in job.queries]
        starts = range(0, max(len(c), 1), k)
        windows.append([Window(tuple(c[s : s + k]), s, s + k >= len(c)) for s in starts])
        starts = range(0, max(len(q), 1), p)
        groups.append([Group(tuple(q[s : s + p]), s + p >= len(q)) for s in starts])
    return windows, groups


@njit(cache=True)
def _evaluate(coords, coord_start, queries, query_start):  # pragma: no cover - compiled
    hit = np.zeros(len(queries), np.uint8)
    index = np.zeros(len(queries), np.uint32)
    for r in range(len(coord_start) - 1):
        c = coords[coord_start[r] : coord_start[r + 1]]
        j = 0
        for n in range(query_start[r], query_start[r + 1]):
            q = queries[n]
            while j < len(c) and c[j] < q:  # queries are sorted: one merge pass per row
                j += 1
            index[n] = j
            hit[n] = j < len(c) and c[j] == q
    return hit, index


def evaluate(params: SparseSearchUnitParams, jobs: list[RowJob]) -> tuple[np.ndarray, np.ndarray]:
    """``(hit, index)`` of every query of every row, concatenated in row order.

    Raises
    ------
    ValueError
        As :func:`split_rows`.
    """
    for n, job in enumerate(jobs):
        _check(params, job, n)

    def flat(arrays):
        start = np.zeros(len(arrays) + 1, np.int64)
        start[1:] = np.cumsum([len(a) for a in arrays])
        data = np.concatenate([np.asarray(a, np.uint32) for a in arrays]) if arrays else []
        return np.asarray(data, np.uint32), start

    coords, cstart = flat([j.coords for j in jobs])
    queries, qstart = flat([j.queries for j in jobs])
    return _evaluate(coords, cstart, queries, qstart)
