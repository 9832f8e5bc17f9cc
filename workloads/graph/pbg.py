"""PyTorch-BigGraph edge scoring with shared negatives, as pairs of one-row bags (dot)."""

from __future__ import annotations

import numpy as np

from ...params import check_int
from ..kernel import pair_kernel
from .bags import GraphKernel, check_table
from .graphs import Graph

__all__ = ["pbg_direct", "pbg_edges", "pbg_kernel"]


def pbg_edges(
    graph: Graph,
    rng: np.random.Generator,
    *,
    edges: int = 1000,
    chunk: int = 50,
    negatives: int = 50,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positive edges in chunks and each chunk's shared uniform negatives, as PBG draws them.

    Returns
    -------
    lhs, rhs : numpy.ndarray
        ``int64 (edges,)``: arcs drawn uniformly without replacement (with, if ``edges``
        exceeds the arcs), in chunk order.
    negs : numpy.ndarray
        ``int64 (chunks, negatives)``: vertices drawn uniformly, shared by a chunk's edges.
    """
    check_int("edges", edges, minimum=1)
    check_int("chunk", chunk, minimum=1)
    check_int("negatives", negatives, minimum=0)
    if graph.arcs == 0:
        raise ValueError("the graph has no arcs to score")
    pick = rng.choice(graph.arcs, size=edges, replace=edges > graph.arcs)
    chunks = -(-edges // chunk)
    negs = rng.integers(0, graph.n, (chunks, negatives), dtype=np.int64)
    return graph.sources()[pick], graph.indices[pick], negs


def pbg_kernel(
    graph: Graph,
    table: np.ndarray,
    lhs: np.ndarray,
    rhs: np.ndarray,
    negs: np.ndarray,
    *,
    chunk: int = 50,
) -> GraphKernel:
    """PBG edge scores with shared negatives, dot comparator, as pairs of one-row bags.

    For positive edge ``i`` of a chunk of ``m`` edges, in order: ``lhs_i . rhs_i``, then
    ``lhs_i . rhs_j`` for the chunk's other ``m - 1`` edges ``j`` (batch negatives, ascending
    ``j``), then ``lhs_i . neg_k`` for the chunk's ``K`` uniform negatives: ``m + K`` pairs,
    ``2 (m + K)`` = 200 row reads per edge at ``m = K = 50``. Only the right-hand side is
    corrupted, and the relation operator is the identity (one relation).

    A real PBG chunk reads each of its ``m`` lhs, ``m`` rhs and ``K`` negative rows once
    (``(2m + K) / m`` = 3 rows per edge) and scores them as matrix products from on-chip
    memory; the engine's pairwise stage regathers a row for every pair (about 67x the reads).

    Returns
    -------
    GraphKernel
        ``pairwise = "dot"``; ``outputs`` = pairs, one per score, in the order above.
    """
    table = check_table(graph, table, "table")
    lhs = np.asarray(lhs, np.int64)
    rhs = np.asarray(rhs, np.int64)
    negs = np.asarray(negs, np.int64)
    check_int("chunk", chunk, minimum=1)
    chunks = -(-lhs.size // chunk)
    if rhs.shape != lhs.shape or negs.ndim != 2 or negs.shape[0] != chunks:
        raise ValueError(f"`lhs`, `rhs` must match and `negs` have {chunks} rows (one per chunk)")
    left, right = [], []
    for c in range(chunks):
        l_c, r_c = lhs[c * chunk : (c + 1) * chunk], rhs[c * chunk : (c + 1) * chunk]
        m = l_c.size
        others = np.array([np.delete(r_c, i) for i in range(m)]).reshape(m, m - 1)
        other = np.concatenate(
            [r_c[:, None], others, np.broadcast_to(negs[c], (m, negs.shape[1]))], axis=1
        )
        left.append(np.repeat(l_c, other.shape[1]))
        right.append(other.ravel())
    left, right = np.concatenate(left), np.concatenate(right)
    pairs = left.size
    kernel = pair_kernel(
        "pbg-dot",
        "graph",
        table,
        left,
        right,
        "dot",
        f"PBG edge scores on {graph.name}: {lhs.size} positive edges in chunks of {chunk}, "
        f"batch negatives + {negs.shape[1]} shared uniform negatives, dot, {table.shape[1]}-d",
    )
    return GraphKernel(kernel, np.arange(pairs, dtype=np.int64), pairs)


def pbg_direct(
    table: np.ndarray, lhs: np.ndarray, rhs: np.ndarray, negs: np.ndarray, *, chunk: int = 50
) -> np.ndarray:
    """PBG's scores as PBG computes them, chunk by chunk with matrix products.

    Returns the scores in :func:`pbg_kernel`'s pair order, ``float64 (pairs,)``.
    """
    e = np.asarray(table, np.float64)
    out = []
    for c in range(negs.shape[0]):
        lo, hi = c * chunk, min((c + 1) * chunk, len(lhs))
        left, right = e[lhs[lo:hi]], e[rhs[lo:hi]]
        batch = left @ right.T  # (m, m): the diagonal holds the positive scores
        m = hi - lo
        off = batch[~np.eye(m, dtype=bool)].reshape(m, m - 1)
        out.append(np.concatenate([np.diag(batch)[:, None], off, left @ e[negs[c]].T], axis=1))
    return np.concatenate([o.ravel() for o in out])
