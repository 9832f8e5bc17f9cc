"""Text-embedding bags: sentences of Zipf-distributed tokens pooled over a vocabulary table.

The stand-in until the real corpora (GloVe rows, ``wordfreq`` token streams) are wired in: a
vocabulary table of normally distributed values, magnitude-pruned per row (so the hybrid
encoding has BITMAP, COO and DENSE rows to choose between), and sentences whose tokens follow
a bounded Zipf law (word frequencies: ``alpha`` about 1). Every sentence is one ROW bag of 1 to
``max_len`` tokens, each weighted ``1 / length`` (rounded to the weights' fixed point), so that
weighted pooling gives the sentence's mean vector (sum and mean pooling ignore the weights).
"""

from __future__ import annotations

import numpy as np

from ..models.image import MemoryImage, encode_table
from ..models.trace import Op, Trace, bounded_zipf
from ..params import EngineParams, check_int

__all__ = ["sentence_trace", "text_workload", "vocabulary_table"]


def vocabulary_table(
    rng: np.random.Generator, vocab: int, dim: int, density: float = 0.5
) -> np.ndarray:
    """``vocab x dim`` float table; row densities uniform in ``[density / 4, 1]`` by magnitude."""
    check_int("vocab", vocab, minimum=1)
    check_int("dim", dim, minimum=1)
    if not 0 < density <= 1:
        raise ValueError(f"`density` must be in (0, 1], not {density!r}")
    table = rng.standard_normal((vocab, dim)).astype(np.float32)
    keep = np.ceil(dim * rng.uniform(density / 4, 1.0, vocab)).astype(np.int64)
    order = np.argsort(-np.abs(table), axis=1)
    pruned = np.arange(dim)[None, :] >= keep[:, None]
    rows = np.repeat(np.arange(vocab), dim).reshape(vocab, dim)
    table[rows[pruned], order[pruned]] = 0.0
    return table


def sentence_trace(
    rng: np.random.Generator,
    vocab: int,
    bags: int,
    *,
    max_len: int = 64,
    alpha: float = 1.0,
    weight_width: int = 16,
    weight_frac_bits: int = 8,
    table: int = 0,
) -> Trace:
    """``bags`` sentences of 1 to ``max_len`` Zipf-distributed tokens from table ``table``."""
    check_int("bags", bags, minimum=1)
    check_int("max_len", max_len, minimum=1)
    if weight_frac_bits > weight_width - 2:
        raise ValueError(
            f"weight 1.0 needs `weight_frac_bits` <= `weight_width` - 2, not {weight_frac_bits}"
        )
    size = rng.integers(1, max_len + 1, bags)
    one = 1 << weight_frac_bits
    weight = np.repeat(np.maximum(1, (one + size // 2) // size), size)
    n = int(size.sum())
    last = np.zeros(n, np.bool_)
    last[np.cumsum(size) - 1] = True
    return Trace(
        op=np.full(n, Op.ROW, np.uint8),
        table=np.full(n, table, np.uint16),
        row=bounded_zipf(vocab, alpha, n, rng),
        col=np.full(n, -1, np.int32),
        weight=weight.astype(np.int64),
        last=last,
        weight_frac_bits=weight_frac_bits,
        weight_width=weight_width,
        name=f"text vocab={vocab} bags={bags} max_len={max_len} alpha={alpha}",
    )


def text_workload(
    params: EngineParams,
    rng: np.random.Generator,
    *,
    vocab: int = 2048,
    bags: int = 200,
    density: float = 0.5,
    max_len: int | None = None,
) -> tuple[list[MemoryImage], Trace]:
    """The vocabulary image (hybrid-encoded for the engine's unit) and a sentence trace."""
    u = params.unit
    enc = u.decoder.encoding(burst_bytes=params.dram.burst_bytes)
    image, _ = encode_table(vocabulary_table(rng, vocab, u.dim, density), enc)
    trace = sentence_trace(
        rng,
        vocab,
        bags,
        max_len=min(u.max_bag, 64) if max_len is None else max_len,
        weight_width=u.weight_width,
        weight_frac_bits=u.weight_frac_bits,
    )
    return [image], trace
