"""Reconstruction quality of an embedding: mean rank and MAP of the closure edges.

:func:`reconstruction` (workloads.md §2.4), for every node with parents (as the reference code:
the neighbours of ``u`` are its ancestors) or a sample of them. Ties count against the embedding
(a non-neighbour at the same distance ranks ahead). With ``quantized=`` it runs on the engine's
fixed-point scores (computed here exactly as the pairwise stage does) to measure what 16-bit
values cost.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

from ...models.quant import Quantized
from .training import EPS
from .wordnet import Hierarchy, adjacency

__all__ = ["Reconstruction", "reconstruction"]


@dataclasses.dataclass(frozen=True)
class Reconstruction:
    """Reconstruction quality of an embedding (workloads.md §2.4).

    Attributes
    ----------
    mean_rank : float
        Mean over every evaluated edge ``(u, v)`` of ``1 +`` the non-neighbours ``w`` of ``u``
        with ``d(u, w) <= d(u, v)``.
    map : float
        Mean over the evaluated nodes of their average precision.
    queries : int
        Nodes evaluated (nodes with at least one neighbour).
    pairs : int
        Edges evaluated.
    """

    mean_rank: float
    map: float
    queries: int
    pairs: int


@numba.njit(cache=True)
def _rank_row(dist, u, nbr, hist):
    # Sum of the ranks of u's neighbours and u's average precision, from d(u, .) in dist.
    k = nbr.size
    nd = np.sort(dist[nbr])
    hist[: k + 1] = 0
    j = 0
    for w in range(dist.size):
        if w == u:
            continue
        # nbr is sorted: skip the neighbours while scanning.
        if j < k and nbr[j] == w:
            j += 1
            continue
        hist[np.searchsorted(nd, dist[w], side="left")] += 1
    ranks, ap, before = 0.0, 0.0, 0
    for i in range(k):
        before += hist[i]
        # Neighbours at a distance <= nd[i] (ties included).
        m = i + 1
        while m < k and nd[m] == nd[i]:
            m += 1
        ranks += 1 + before
        ap += m / (m + before)
    return ranks, ap / k


@numba.njit(cache=True, parallel=True)
def _reconstruct_float(x, queries, ptr, idx, eps, ranks, aps):
    n, dim = x.shape
    norms = np.empty(n)
    for w in range(n):
        s = 0.0
        for c in range(dim):
            s += x[w, c] * x[w, c]
        norms[w] = 1 - min(s, 1 - eps)
    for q in numba.prange(queries.size):
        u = queries[q]
        dist = np.empty(n)
        hist = np.empty(ptr[u + 1] - ptr[u] + 1, np.int64)
        for w in range(n):
            sq = 0.0
            for c in range(dim):
                sq += (x[u, c] - x[w, c]) ** 2
            dist[w] = np.arccosh(1 + 2 * sq / (norms[u] * norms[w]))
        ranks[q], aps[q] = _rank_row(dist, u, idx[ptr[u] : ptr[u + 1]], hist)


@numba.njit(cache=True, parallel=True)
def _reconstruct_fixed(values, scale2, queries, ptr, idx, eps, ranks, aps):
    # The engine's l2 pairwise scores (exact integers) turned into distances on the host.
    n, dim = values.shape
    sq_norm = np.empty(n, np.int64)
    for w in range(n):
        s = np.int64(0)
        for c in range(dim):
            s += np.int64(values[w, c]) * np.int64(values[w, c])
        sq_norm[w] = s
    norms = np.empty(n)
    for w in range(n):
        norms[w] = 1 - min(max(sq_norm[w] * scale2, 0.0), 1 - eps)
    for q in numba.prange(queries.size):
        u = queries[q]
        dist = np.empty(n)
        hist = np.empty(ptr[u + 1] - ptr[u] + 1, np.int64)
        for w in range(n):
            sq = np.int64(0)
            for c in range(dim):
                t = np.int64(values[u, c]) - np.int64(values[w, c])
                sq += t * t
            dist[w] = np.arccosh(1 + 2 * (sq * scale2) / (norms[u] * norms[w]))
        ranks[q], aps[q] = _rank_row(dist, u, idx[ptr[u] : ptr[u + 1]], hist)


def reconstruction(
    hierarchy: Hierarchy,
    x: np.ndarray | None = None,
    *,
    quantized: Quantized | None = None,
    queries: np.ndarray | None = None,
    eps: float = EPS,
) -> Reconstruction:
    """Mean rank and MAP of ``hierarchy``'s edges under the Poincaré distance of an embedding.

    Parameters
    ----------
    hierarchy : Hierarchy
        The edges to reconstruct; the neighbours of ``u`` are its parents (ancestors in a
        closure), as in the reference code.
    x : numpy.ndarray, optional
        Float ``(nodes, dim)`` embedding.
    quantized : rtnerf.models.quant.Quantized, optional
        Instead of ``x``: a quantised table, scored as the engine does (exact integer
        ``|u - v|^2, |u|^2, |v|^2`` times ``scale**2``, arcosh on the host).
    queries : numpy.ndarray, optional
        The nodes ``u`` to evaluate (default: every node with a neighbour); nodes without a
        neighbour are skipped.
    eps : float
        Boundary margin of the squared norms.

    Returns
    -------
    Reconstruction
    """
    if (x is None) == (quantized is None):
        raise ValueError("give exactly one of `x` and `quantized`")
    table = x if x is not None else quantized.values
    if table.ndim != 2 or table.shape[0] != hierarchy.nodes:
        raise ValueError(
            f"the embedding must have shape ({hierarchy.nodes}, dim), not {table.shape}"
        )
    n = hierarchy.nodes
    ptr, idx = adjacency(n, hierarchy.child, hierarchy.parent)
    if queries is None:
        queries = np.arange(n)
    queries = np.asarray(queries, np.int64)
    queries = queries[np.diff(ptr)[queries] > 0]
    ranks = np.zeros(queries.size)
    aps = np.zeros(queries.size)
    if queries.size:
        if x is not None:
            _reconstruct_float(np.asarray(x, np.float64), queries, ptr, idx, eps, ranks, aps)
        else:
            _reconstruct_fixed(
                quantized.values, float(quantized.scale) ** 2, queries, ptr, idx, eps, ranks, aps
            )
    pairs = int(np.diff(ptr)[queries].sum())
    return Reconstruction(
        mean_rank=float(ranks.sum() / pairs) if pairs else float("nan"),
        map=float(aps.mean()) if queries.size else float("nan"),
        queries=int(queries.size),
        pairs=pairs,
    )
