"""Tables and bag traces for the embedding lookup unit: directed corners and random runs.

The directed run drives the arithmetic to its corners: the largest values and weights in long
bags (accumulator overflow: saturation or wrap-around), negative weights, values that land
exactly half-way for rounding, bags of one request and of ``max_bag``, empty and full rows.
Its expected output is computed independently in ``tests/naive/embedding_lookup_unit.py``.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numpy as np

from ...params.embedding_lookup_unit import EmbeddingLookupUnitParams
from ..image import MemoryImage, encode
from ..trace import Trace, random_bag_trace
from .hybrid_row_decoder import random_table

__all__ = ["Run", "directed_run", "random_run", "slots_run"]


class Run(NamedTuple):
    """Tables, their images and a trace over them."""

    name: str
    tables: list[np.ndarray]
    images: list[MemoryImage]
    trace: Trace


def _images(params: EmbeddingLookupUnitParams, tables) -> list[MemoryImage]:
    """Images of the tables; the last of two or more is stored all-DENSE (a stride table)."""
    enc = params.decoder.encoding(burst_bytes=params.word_width // 8)
    forced = dataclasses.replace(enc, force_format="dense")
    last = len(tables) - 1
    return [encode(t, forced if 0 < i == last else enc) for i, t in enumerate(tables)]


def directed_run(params: EmbeddingLookupUnitParams) -> Run:
    """The corner tables and bags of a design point."""
    d, bv = params.dim, params.value_width
    hi, lo = (1 << (bv - 1)) - 1, -(1 << (bv - 1))
    whi, wlo = (1 << (params.weight_width - 1)) - 1, -(1 << (params.weight_width - 1))
    table = np.zeros((6, d), np.int64)
    table[1] = hi  # full row of the largest value
    table[2] = lo  # full row of the most negative value
    table[3, ::3] = np.arange(1, len(table[3, ::3]) + 1)  # sparse ramp
    table[4, 0], table[4, d - 1] = 1, -1  # first and last column only
    table[5] = np.arange(d) % 5 - 2  # small values, halves after scaling
    e = d - 1  # ELEMENT requests: (row, weight, column)
    bags = [
        [(1, whi)] * params.max_bag,  # overflow upwards
        [(2, whi)] * params.max_bag,  # overflow downwards
        [(1, wlo)] * params.max_bag,  # negative weights
        [(0, whi)],  # empty row, bag of one
        [(3, 1)],  # smallest weight: rounding of tiny products
        [(5, min(whi, 1 << max(0, params.weight_frac_bits - 1)))],  # half weights: half-way values
        [(4, whi), (4, wlo), (3, -3)],
        [(5, 3), (3, -2), (1, 1), (2, 1), (0, 5)],
        [(4, whi, 0), (4, whi, e), (4, 5, 1), (0, 7, e)],  # ELEMENT: first, last, zero, empty
        [(1, whi, e)] * params.max_bag,  # ELEMENT overflow
        [(3, 1, 0)],  # ELEMENT bag of one, tiny weight
        [(1, wlo, 0), (2, wlo, e), (3, 2, 3 % d)],  # interpolation-like footprint
        [(3, 1), (3, -1)],  # a ROW bag straight after ELEMENT ones
        [(3, 2), (5, -1), (1, 1)],  # on the DENSE copy (row stride) with two tables or more
        [(3, 1, 3 % d), (4, 1, e), (2, 1, 0)],  # ELEMENT on the DENSE copy
    ]
    copy = params.tables >= 2
    on_copy = {len(bags) - 2, len(bags) - 1} if copy else set()
    which = [int(i in on_copy) for i in range(len(bags))]
    if params.pairwise != "none":  # pairs of ROW bags
        keep = [i for i, bag in enumerate(bags) if len(bag[0]) == 2]
        keep = keep + keep[-1:] if len(keep) % 2 else keep
        bags, which = [bags[i] for i in keep], [which[i] for i in keep]
    reqs = [r if len(r) == 3 else (*r, -1) for bag in bags for r in bag]
    table_of = [t for bag, t in zip(bags, which, strict=True) for _ in bag]
    rows = [r for r, _, _ in reqs]
    weights = [w for _, w, _ in reqs]
    cols = [c for _, _, c in reqs]
    last = [i == len(bag) - 1 for bag in bags for i in range(len(bag))]
    trace = Trace(
        op=(np.array(cols) >= 0).astype(np.uint8),
        table=np.array(table_of, np.uint16),
        row=np.array(rows, np.int64),
        col=np.array(cols, np.int32),
        weight=np.array(weights, np.int64),
        last=np.array(last),
        weight_frac_bits=params.weight_frac_bits,
        weight_width=params.weight_width,
        name="directed",
    )
    tables = [table, table] if copy else [table]
    return Run("directed", tables, _images(params, tables), trace)


def random_run(
    params: EmbeddingLookupUnitParams,
    rng: np.random.Generator,
    requests: int,
    rows: int = 48,
    *,
    max_bag: int = 16,
    element_fraction: float = 0.25,
    bags: int | None = None,
) -> Run:
    """Random tables (all formats mixed) and bags of at least ``requests`` requests in all.

    One table per ``params.tables`` (the last of two or more stored all-DENSE); Zipf rows; ROW bags
    of 1 to ``max_bag`` requests (at most the unit's), ``element_fraction`` of the bags ELEMENT bags
    of 1 to 4 requests. With ``bags``, exactly that many bags instead (``requests`` is ignored). For
    a design with a pairwise stage, ROW bags only, an even number of them.
    """
    dec = params.decoder
    tables = [random_table(dec, rng, rows) for _ in range(params.tables)]
    bag = min(params.max_bag, max_bag)
    pairs = params.pairwise != "none"
    if pairs:  # pairs of ROW bags
        element_fraction = 0.0
    mean = (1 - element_fraction) * (bag + 1) / 2 + element_fraction * 2.5
    exact = bags is not None
    bags = bags if exact else max(1, int(requests / mean))
    bags += bags % 2 if pairs else 0
    while True:  # bag sizes are random: draw until the requests are enough
        trace = random_bag_trace(
            rng,
            [t.shape for t in tables],
            bags,
            max_bag=bag,
            element_fraction=element_fraction,
            weight_width=params.weight_width,
            weight_frac_bits=params.weight_frac_bits,
            name="random",
        )
        if exact or len(trace) >= requests:
            break
        bags += 2 * max(1, bags // 16)
    return Run("random", tables, _images(params, tables), trace)


def slots_run(params: EmbeddingLookupUnitParams, rng: np.random.Generator) -> Run:
    """Directed bags for the request slots and the row cache.

    The slots wrap around many times (more single-request bags than ``inflight`` times
    four), fill up (bags of ``max_bag`` whole rows), and see the same row back to back; with a
    row cache, a row misses, hits twice, is evicted by ``cache_ways`` other rows of its set,
    misses again and hits, with ELEMENT requests among them (a hit answered from the cached
    row, a miss that fills it). The tables are random (every format, Zipf rows are not used).
    """
    sets, ways = params.cache_sets, max(1, params.cache_ways)
    rows = max(48, (ways + 2) * sets)
    dec = params.decoder
    tables = [random_table(dec, rng, rows) for _ in range(params.tables)]
    n_tables = len(tables)
    bags: list[list[tuple[int, int, int, int]]] = []  # (table, row, col, weight)
    for i in range(4 * params.inflight + 3):  # single requests: the slots wrap around
        bags.append([(i % n_tables, int(rng.integers(rows)), -1, 1 + i % 3)])
    row = int(rng.integers(rows))
    same = [(0, row, -1, 2)] * min(params.max_bag, 2 * params.inflight + 1)
    bags.append(same)  # the same row back to back (misses, then hits with a cache)
    r = row % sets
    evict = [(0, r + sets * (k + 1), -1, 1) for k in range(ways) if r + sets * (k + 1) < rows]
    c = int(rng.integers(params.dim))
    bags += [
        [(0, r, -1, 1), (0, r, -1, -1), (0, r, -1, 3)][: params.max_bag],  # miss, hit, hit
        evict[: params.max_bag],  # the set's other rows push `r` out
        [(0, r, c, 5), (0, r, (c + 1) % params.dim, 7)][: params.max_bag],  # ELEMENT miss, hit
        [(0, r, -1, 1)],  # a hit after the ELEMENT fill
    ]
    for _ in range(3):  # full slots: long bags of random whole rows
        size = params.max_bag
        bags.append(
            [(int(rng.integers(n_tables)), int(rng.integers(rows)), -1, 1) for _ in range(size)]
        )
    if params.pairwise != "none":  # pairs of ROW bags only
        bags = [b for b in bags if all(col < 0 for _, _, col, _ in b)]
        bags = bags + bags[-1:] if len(bags) % 2 else bags
    reqs = [r for bag in bags for r in bag]
    last = [i == len(bag) - 1 for bag in bags for i in range(len(bag))]
    cols = np.array([col for _, _, col, _ in reqs], np.int32)
    trace = Trace(
        op=(cols >= 0).astype(np.uint8),
        table=np.array([t for t, _, _, _ in reqs], np.uint16),
        row=np.array([r for _, r, _, _ in reqs], np.int64),
        col=cols,
        weight=np.array([w for _, _, _, w in reqs], np.int64),
        last=np.array(last),
        weight_frac_bits=params.weight_frac_bits,
        weight_width=params.weight_width,
        name="slots",
    )
    return Run("slots", tables, _images(params, tables), trace)
