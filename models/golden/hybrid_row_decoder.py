"""Golden model of the hybrid row decoder: the beats it returns and the words it reads.

The values come from the golden decoders (:func:`~rtnerf.models.golden.decode.lookup`,
:func:`~rtnerf.models.golden.decode.locate`, :func:`~rtnerf.models.golden.decode.expand_rows`),
the words read from the DRAM accounting (:func:`rtnerf.models.dram.account`), so the block is
checked against the same functions every other consumer of the memory image uses. Only the
beat framing (one beat per element query; one per stored element of an expanded row) and the
cycle count (:meth:`~rtnerf.params.HybridRowDecoderParams.query_cycles`) are the block's own.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...errors import ConfigError
from ...params.encoding import Format
from ...params.hybrid_row_decoder import HybridRowDecoderParams
from ..dram import account
from ..image import MemoryImage
from .decode import expand_rows, locate, lookup

__all__ = [
    "Beat",
    "Query",
    "check_image",
    "evaluate",
    "query_cycles",
    "query_requests",
    "query_words",
]


class Query(NamedTuple):
    """One decoder query: an element ``(row, col)``, or the whole row when ``expand``."""

    row: int
    col: int
    expand: bool


class Beat(NamedTuple):
    """One beat of the decoder's value stream."""

    value: int
    column: int
    hit: bool
    last: bool


def check_image(params: HybridRowDecoderParams, image: MemoryImage) -> None:
    """Check that the decoder built from ``params`` can read ``image``.

    Raises
    ------
    ConfigError
        Naming the first field of the image that does not match the decoder, a COO row longer
        than the decoder's coordinate buffer, or an image too big for its row or address width.
    """
    lay = image.layout
    wanted = {
        "columns": (params.columns, lay.columns),
        "value_width": (params.value_width, lay.value_width),
        "word_width": (params.word_width, lay.word_width),
        "entry_width": (params.entry_width, lay.entry_width),
        "coord_width": (params.coord_bits, lay.coord_width),
    }
    for name, (mine, theirs) in wanted.items():
        if mine != theirs:
            raise ConfigError(f"image has {name} {theirs}, the decoder is built for {mine}")
    if lay.rows > 1 << params.row_width:
        raise ConfigError(f"image has {lay.rows} rows; row_width {params.row_width} is too narrow")
    if image.n_words > 1 << params.address_width:
        raise ConfigError(
            f"image has {image.n_words} words; address_width {params.address_width} is too narrow"
        )
    formats, nnz, _ = image.directory()
    long = (formats == Format.COO) & (nnz > params.capacity)
    if long.any():
        r = int(np.argmax(long))
        raise ConfigError(
            f"row {r} is COO with {int(nnz[r])} entries; the decoder's coo_capacity is "
            f"{params.capacity}"
        )


def _arrays(queries: list[Query]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = np.array([q.row for q in queries], np.int64)
    cols = np.array([q.col for q in queries], np.int64)
    expand = np.array([q.expand for q in queries], np.bool_)
    return rows, cols, expand


def evaluate(
    params: HybridRowDecoderParams, image: MemoryImage, queries: list[Query]
) -> list[list[Beat]]:
    """Return the beats the decoder answers each query with.

    Raises
    ------
    ConfigError
        If the decoder cannot read ``image`` (:func:`check_image`).
    ValueError
        If a row or column is out of range.
    """
    check_image(params, image)
    rows, cols, expand = _arrays(queries)
    values = lookup(image, rows, cols)
    where = locate(image, rows, cols)
    dense = expand_rows(image, rows[expand]) if expand.any() else None
    out: list[list[Beat]] = []
    k = 0
    for i, q in enumerate(queries):
        if not q.expand:
            out.append([Beat(int(values[i]), q.col, bool(where["hit"][i]), True)])
            continue
        row = dense[k]
        k += 1
        fmt = int(where["format"][i])
        stored = np.arange(params.columns) if fmt == Format.DENSE else np.flatnonzero(row)
        if stored.size == 0:
            out.append([Beat(0, 0, False, True)])
        else:
            last = stored.size - 1
            out.append([Beat(int(row[c]), int(c), True, j == last) for j, c in enumerate(stored)])
    return out


def query_words(image: MemoryImage, queries: list[Query]) -> np.ndarray:
    """Distinct memory words each query reads (the DRAM accounting's ``words``)."""
    rows, cols, expand = _arrays(queries)
    return account(image, rows, np.where(expand, -1, cols)).words


def query_requests(image: MemoryImage, queries: list[Query]) -> list[tuple[int, int]]:
    """The decoder's memory requests ``(word address, words)`` for the queries, in order."""
    rows, cols, expand = _arrays(queries)
    acc = account(image, rows, np.where(expand, -1, cols))
    return list(zip(acc.request_start.tolist(), acc.request_words.tolist(), strict=True))


def query_cycles(
    params: HybridRowDecoderParams, image: MemoryImage, queries: list[Query], latency: int
) -> np.ndarray:
    """Cycles each query takes at full rate (:meth:`HybridRowDecoderParams.query_cycles`)."""
    rows, cols, expand = _arrays(queries)
    where = locate(image, rows, cols)
    bitmap_rows = np.flatnonzero(expand & (where["format"] == Format.BITMAP))
    chunk_counts = {}
    if bitmap_rows.size:
        dense = expand_rows(image, rows[bitmap_rows]) != 0
        pad = params.chunks * params.leaves - params.columns
        dense = np.pad(dense, ((0, 0), (0, pad)))
        counts = dense.reshape(len(bitmap_rows), params.chunks, params.leaves).sum(axis=2)
        chunk_counts = {int(i): tuple(int(c) for c in counts[k]) for k, i in enumerate(bitmap_rows)}
    out = np.empty(len(queries), np.int64)
    known: dict[tuple, int] = {}  # the formula once per distinct argument set
    for i in range(len(queries)):
        key = (
            int(where["format"][i]),
            int(where["nnz"][i]),
            int(cols[i]),
            int(where["index"][i]),
            bool(where["hit"][i]),
            bool(expand[i]),
            chunk_counts.get(i, ()),
        )
        if key not in known:
            fmt, nnz, col, index, hit, exp, chunks = key
            known[key] = params.query_cycles(
                fmt,
                nnz,
                latency=latency,
                col=col,
                index=index,
                hit=hit,
                expand=exp,
                chunk_counts=chunks,
            )
        out[i] = known[key]
    return out
