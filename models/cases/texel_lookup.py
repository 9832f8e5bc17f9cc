"""Directed and random buffers with quad streams for the texel lookup.

A *job* is one set of 24 images (6 tables x 4 parity classes) loaded into the buffer and a
stream of issue groups (``slots[k, l]``: the quad in lane ``l`` of group ``k``, -1 for none).
The directed job meets every corner of the lanes with automatic format choice: all four
formats in every class (rows 0-7 of every image: EMPTY, DENSE, BITMAP, COO at the lanes'
capacity, COO of one entry in the first and in the last column, a DENSE row of extreme values,
a BITMAP row of the last column only), an all-DENSE table (read by row stride, without a
directory), quads mixing the formats across classes, the same quad in every lane (one read
broadcast), groups whose lanes' rows all start in the same payload bank (conflicts), whose
directory entries sit in different words of one bank (directory conflicts), whose four rows
are all EMPTY, partial and empty groups, and positions at the ends of the cell.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...params.texel_lookup import CLASSES, TABLES, TexelLookupParams
from ..golden.texel_lookup import Buffer, Quads, load, places
from ..image import encode

__all__ = ["Job", "consecutive_slots", "directed_job", "random_jobs", "random_tables"]


class Job(NamedTuple):
    """Integer tables ``tables[t][c]``, the buffer holding them, quads and issue groups."""

    name: str
    tables: list
    buffer: Buffer
    quads: Quads
    slots: np.ndarray


def consecutive_slots(n: int, lanes: int) -> np.ndarray:
    """Issue groups of ``lanes`` consecutive quads (the dispatcher's), the last one partial."""
    groups = -(-n // lanes)
    slots = np.full(groups * lanes, -1, np.int64)
    slots[:n] = np.arange(n)
    return slots.reshape(groups, lanes)


def _values(rng: np.random.Generator, width: int, size: int) -> np.ndarray:
    hi = 1 << (width - 1)
    v = rng.integers(-hi, hi - 1, size=size, endpoint=True)
    v[v == 0] = hi - 1
    return v


def _table(rng, p: TexelLookupParams, t: int, rows: int, dense: bool) -> np.ndarray:
    g = p.columns(t)
    density = np.ones(rows) if dense else np.exp(rng.uniform(np.log(0.02), 0.0, rows))
    if not dense:
        u = rng.random(rows)
        density[u < 0.15] = 0.0
        density[u > 0.85] = 1.0
    out = np.zeros((rows, g), np.int64)
    for r in range(rows):
        k = g if dense else int(rng.binomial(g, density[r]))
        cols = rng.choice(g, size=k, replace=False)
        out[r, cols] = _values(rng, p.value_width, k)
    return out


def random_tables(p: TexelLookupParams, rng: np.random.Generator, rows: int) -> list:
    """Random integer tables ``tables[t][c]`` of about ``rows`` rows each.

    Classes differ by up to two rows; densities are log-uniform from 2% to 100%, with empty and
    full rows; each table is all DENSE (stored by row stride) with probability 1/6.
    """
    out = []
    for t in range(TABLES):
        dense = rng.random() < 1 / 6
        out.append([_table(rng, p, t, max(1, rows - int(rng.integers(0, 3))), dense)
                    for _ in range(CLASSES)])  # fmt: skip
    return out


def _buffer(p: TexelLookupParams, tables: list) -> Buffer:
    enc = p.encoding(burst_bytes=64)
    return load(p, [[encode(tab, enc) for tab in tabs] for tabs in tables])


def _random_quads(p: TexelLookupParams, rng, tables, n: int) -> Quads:
    table = rng.integers(0, TABLES, n)
    limits = np.array([[tab.shape[0] for tab in tabs] for tabs in tables], np.int64)
    rows = (rng.random((n, CLASSES)) * limits[table]).astype(np.int64)
    one = 1 << p.weight_frac
    fx, fy = rng.integers(0, one, n, endpoint=True), rng.integers(0, one, n, endpoint=True)
    ends = rng.random((2, n)) < 0.1
    fx[ends[0]] = rng.choice([0, one], ends[0].sum())
    fy[ends[1]] = rng.choice([0, one], ends[1].sum())
    tag = rng.integers(0, 1 << p.tag_width, n)
    return Quads(table, rows, rng.integers(0, 4, n), fx, fy, tag)


def _random_slots(rng, n: int, lanes: int) -> np.ndarray:
    """Mostly full groups; one in eight partial (lanes left out anywhere) or empty."""
    groups, q = [], 0
    while q < n:
        use = np.ones(lanes, bool)
        if rng.random() < 0.125:
            use = rng.random(lanes) < 0.5
        row = np.full(lanes, -1, np.int64)
        for lane in np.flatnonzero(use):
            if q < n:
                row[lane] = q
                q += 1
        groups.append(row)
    return np.array(groups, np.int64).reshape(-1, lanes)


def random_jobs(p: TexelLookupParams, rng: np.random.Generator, quads: int,
                *, rows: int = 24) -> list[Job]:  # fmt: skip
    """Random buffers with ``quads`` random quads in all, in random issue groups.

    Each job is a buffer of :func:`random_tables` with up to 1,000 quads in groups of
    :func:`_random_slots`.
    """
    jobs, total = [], 0
    while total < quads:
        tables = random_tables(p, rng, rows)
        n = min(1000, quads - total)
        jobs.append(
            Job(
                f"random {len(jobs)}",
                tables,
                _buffer(p, tables),
                _random_quads(p, rng, tables, n),
                _random_slots(rng, n, p.lanes),
            )
        )
        total += n
    return jobs


def _directed_rows(p: TexelLookupParams, rng, t: int, rows: int) -> np.ndarray:
    g = p.columns(t)
    cap = p.coo_capacity(t)
    hi = (1 << (p.value_width - 1)) - 1
    tab = _table(rng, p, t, rows, dense=False)
    tab[0] = 0  # EMPTY
    tab[1] = _values(rng, p.value_width, g)  # DENSE
    tab[2] = 0
    tab[2, ::2] = _values(rng, p.value_width, len(range(0, g, 2)))  # BITMAP (or DENSE if g tiny)
    tab[3] = 0
    spread = np.linspace(0, g - 1, cap).round().astype(np.int64)
    tab[3, spread] = _values(rng, p.value_width, cap)  # COO at capacity
    tab[4] = 0
    tab[4, 0] = -hi - 1  # COO, first column
    tab[5] = 0
    tab[5, g - 1] = hi  # COO, last column
    tab[6] = np.where(np.arange(g) % 2, hi, -hi - 1)  # DENSE, extremes
    tab[7] = 0
    tab[7, g - 1] = -1
    tab[7, g - 2] = 1
    return tab


def directed_job(params: TexelLookupParams) -> Job:
    """The corner job of a design point (see the module docstring)."""
    p = params
    rng = np.random.default_rng(20261201)
    kpc, epw, lanes = p.banks_per_class, p.entries_per_bank_word, p.lanes
    rows = max(16, epw * kpc * lanes + 1)
    tables = [[_directed_rows(p, rng, t, rows) for _ in range(CLASSES)] for t in range(TABLES)]
    tables[2] = [_table(rng, p, 2, rows, dense=True) for _ in range(CLASSES)]  # row stride
    buffer = _buffer(p, tables)
    one = 1 << p.weight_frac
    quads: list[tuple] = []  # (table, rows[4], parity, fx, fy)
    groups: list[list[int]] = []

    def group(items):
        first = len(quads)
        quads.extend(items)
        groups.append(list(range(first, len(quads))) + [-1] * (lanes - len(items)))

    # Every format in every class: rows 0-7 rotated over the classes, all four parities.
    mixed = [(t, [(k + c) % 8 for c in range(CLASSES)], k % 4, (k * one) // 7, one - (k * one) // 7)
             for t in range(TABLES) for k in range(8)]  # fmt: skip
    for i in range(0, len(mixed), lanes):
        group(mixed[i : i + lanes])
    # The same quad in every lane: one read per word, broadcast.
    group([(0, [2, 3, 1, 6], 1, one // 2, one // 3)] * lanes)
    group([(3, [1, 1, 1, 1], 2, 0, one)] * lanes)
    # All four rows EMPTY; then positions at the cell's ends.
    group([(4, [0, 0, 0, 0], 3, one, one)] + [(t % TABLES, [0, 1, 2, 3], 0, 0, 0)
                                        for t in range(lanes - 1)])  # fmt: skip
    # Payload conflicts: per class, rows starting in the same bank at different words.
    table_id = np.repeat(np.arange(TABLES), rows)
    zero = np.zeros(TABLES * rows, np.int64)
    all_rows = np.repeat(np.tile(np.arange(rows), TABLES)[:, None], CLASSES, axis=1)
    pl = places(buffer, Quads(table_id, all_rows, zero, zero, zero, zero))
    for t in (0, 5, 2):
        pick = [[], [], [], []]
        for c in range(CLASSES):
            idx = np.flatnonzero((table_id == t) & (pl.pay_span[:, c] > 0))
            first = pl.pay_first[idx, c]
            _, keep = np.unique(first, return_index=True)  # distinct words
            idx, first = idx[keep], first[keep]
            bank = int(np.bincount(first % kpc).argmax())
            pick[c] = list(idx[first % kpc == bank] % rows)
        n = min(lanes, *(len(x) for x in pick))
        group([(t, [pick[c][j] for c in range(CLASSES)], j % 4, one // 4, one // 5)
               for j in range(n)])  # fmt: skip
    # Directory conflicts: entries in different words of one directory bank.
    stride = epw * kpc
    group([(1, [(j * stride) % rows] * CLASSES, 0, one, 0) for j in range(lanes)])
    group([(4, [(j * stride + 1) % rows, 5, 6, (j * stride) % rows], 2, 7, one - 7)
           for j in range(lanes)])  # fmt: skip
    # Partial and empty groups.
    group([(3, [3, 2, 1, 0], 1, 1, one - 1)])
    group([])
    q = Quads(
        np.array([x[0] for x in quads], np.int64),
        np.array([x[1] for x in quads], np.int64).reshape(-1, CLASSES),
        np.array([x[2] for x in quads], np.int64),
        np.array([x[3] for x in quads], np.int64),
        np.array([x[4] for x in quads], np.int64),
        np.arange(len(quads), dtype=np.int64) % (1 << p.tag_width),
    )
    return Job("directed", tables, buffer, q, np.array(groups, np.int64).reshape(-1, lanes))
