"""Directed corner cases and random query streams for the adder & search tree.

The directed cases carry expected results derived by hand from the definition of each
operation (not from any model), so they check the naive reference, the golden model, the
Amaranth simulation and the cocotb testbench alike.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...params.adder_search_tree import AdderSearchTreeParams, Op
from ..golden.adder_search_tree import QueryBatch

__all__ = ["Case", "directed_cases", "random_batch", "to_batch"]


class Case(NamedTuple):
    """One directed query and its expected result.

    ``word`` is a bitmap as an int (bit ``i`` = column ``i``) for RANK/SELECT, or a tuple of
    coordinates for SEARCH (only the first ``count`` are valid).
    """

    name: str
    op: Op
    word: int | tuple[int, ...]
    key: int
    count: int
    hit: int
    index: int


def directed_cases(params: AdderSearchTreeParams) -> list[Case]:
    """The corner cases for a design point, each with its expected ``hit`` and ``index``."""
    w = params.leaves
    full = (1 << w) - 1
    alt = int("01" * (w // 2), 2)  # bits 0, 2, 4, ... set
    top = (1 << params.coord_width) - 1
    cases = []
    add = cases.append
    for j in (0, 1, w - 1, w):
        add(Case(f"rank empty j={j}", Op.RANK, 0, j, 0, 0, 0))
        add(Case(f"rank full j={j}", Op.RANK, full, j, 0, int(j < w), min(j, w)))
        add(
            Case(
                f"rank alternating j={j}",
                Op.RANK,
                alt,
                j,
                0,
                int(j % 2 == 0 and j < w),
                (min(j, w) + 1) // 2,
            )
        )
    add(Case("rank top bit j=W-1", Op.RANK, 1 << (w - 1), w - 1, 0, 1, 0))
    add(Case("rank bit 0 j=0", Op.RANK, 1, 0, 0, 1, 0))
    add(Case("rank bit 0 j=W-1", Op.RANK, 1, w - 1, 0, 0, 1))
    add(Case("rank key max", Op.RANK, full, (1 << params.key_width) - 1, 0, 0, w))
    add(Case("select empty k=0", Op.SELECT, 0, 0, 0, 0, 0))
    for k in (0, 1, w - 1):
        add(Case(f"select full k={k}", Op.SELECT, full, k, 0, 1, k))
    add(Case("select full k=W (out of range)", Op.SELECT, full, w, 0, 0, w))
    add(Case("select top bit k=0", Op.SELECT, 1 << (w - 1), 0, 0, 1, w - 1))
    add(Case("select top bit k=1 (out of range)", Op.SELECT, 1 << (w - 1), 1, 0, 0, 1))
    for k in (0, 1, w // 2 - 1):
        add(Case(f"select alternating k={k}", Op.SELECT, alt, k, 0, 1, 2 * k))
    add(Case("select alternating k=W/2 (out of range)", Op.SELECT, alt, w // 2, 0, 0, w // 2))
    add(Case("select key max", Op.SELECT, full, (1 << params.key_width) - 1, 0, 0, w))
    zeros = (0,) * w
    add(Case("search length 0", Op.SEARCH, zeros, 0, 0, 0, 0))
    add(Case("search length 0 key max", Op.SEARCH, zeros, top, 0, 0, 0))
    if top >= w:
        ident = tuple(range(w))
        for j in (0, 1, w - 1):
            add(Case(f"search 0..W-1 j={j}", Op.SEARCH, ident, j, w, 1, j))
        add(Case("search 0..W-1 j=W (miss past end)", Op.SEARCH, ident, w, w, 0, w))
        high = tuple(range(top - w + 1, top + 1))
        add(Case("search top W coords j=max", Op.SEARCH, high, top, w, 1, w - 1))
        add(Case("search top W coords j=0 (miss before start)", Op.SEARCH, high, 0, w, 0, 0))
    if top >= 2 * w:
        even = tuple(range(0, 2 * w, 2))
        add(Case("search even j=3 (miss between)", Op.SEARCH, even, 3, w, 0, 2))
        add(Case("search even j=2W-2", Op.SEARCH, even, 2 * w - 2, w, 1, w - 1))
    # Entries past `count` hold garbage that must be ignored, even an exact match.
    add(Case("search count=2 ignores the rest", Op.SEARCH, (0, 1) + (top,) * (w - 2), top, 2, 0, 2))
    add(Case("search count=1 hit", Op.SEARCH, (top,) * w, top, 1, 1, 0))
    return cases


def to_batch(params: AdderSearchTreeParams, cases: list[Case]) -> QueryBatch:
    """Arrays of the queries in ``cases``, in order."""
    w = params.leaves
    words = np.zeros((len(cases), w), np.uint32)
    for n, case in enumerate(cases):
        if case.op == Op.SEARCH:
            words[n] = case.word
        else:
            words[n] = [(case.word >> i) & 1 for i in range(w)]
    return QueryBatch(
        op=np.array([c.op for c in cases], np.uint8),
        words=words,
        key=np.array([c.key for c in cases], np.uint32),
        count=np.array([c.count for c in cases], np.uint32),
    )


def random_batch(
    params: AdderSearchTreeParams, rng: np.random.Generator, per_op: int
) -> QueryBatch:
    """``per_op`` random queries of each operation, shuffled together.

    Bitmaps have a random density per query (from empty to full); RANK keys cover 0..W,
    SELECT keys 0..W+1, so both in-range and out-of-range cases occur. SEARCH lists are sorted
    and duplicate-free with a random length 0..W (entries past ``count`` are random garbage);
    half of their keys are taken from the list (hits), half uniformly (mostly misses).
    """
    w, top = params.leaves, 1 << params.coord_width
    density = rng.random((2 * per_op, 1))
    bits = (rng.random((2 * per_op, w)) < density).astype(np.uint32)
    rank_key = rng.integers(0, w + 1, per_op)
    select_key = rng.integers(0, w + 2, per_op)

    count = rng.integers(0, min(w, top) + 1, per_op)
    coords = rng.integers(0, top, (per_op, w), dtype=np.uint64).astype(np.uint32)
    search_key = rng.integers(0, top, per_op).astype(np.uint32)
    for n in range(per_op):
        row = np.sort(rng.choice(top, size=count[n], replace=False))
        coords[n, : count[n]] = row
        if count[n] and rng.random() < 0.5:
            search_key[n] = row[rng.integers(count[n])]

    op = np.repeat(np.array([Op.RANK, Op.SELECT, Op.SEARCH], np.uint8), per_op)
    batch = QueryBatch(
        op=op,
        words=np.concatenate([bits, coords]),
        key=np.concatenate([rank_key, select_key, search_key]).astype(np.uint32),
        count=np.concatenate([np.zeros(2 * per_op), count]).astype(np.uint32),
    )
    order = rng.permutation(len(op))
    return QueryBatch(batch.op[order], batch.words[order], batch.key[order], batch.count[order])
