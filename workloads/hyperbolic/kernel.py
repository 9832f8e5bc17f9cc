"""The Poincaré distance as accelerator work: pair lists, the ``l2`` kernel, distances back.

The distance ``d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2)(1 - |v|^2)))`` splits into the
engine's ``l2`` pairwise stage (single-row bags ``2k, 2k + 1`` = ``u, v`` with weight 1.0 give
``|u - v|^2, |u|^2, |v|^2`` in fixed point) and an arcosh on the host
(:func:`distances_from_scores`). :func:`distance_kernel` builds the :class:`BagKernel` of any
list of pairs; :func:`scan_pairs` (the evaluation scan) and :func:`training_pairs` (positives
and their negatives) make the pair lists.
"""

from __future__ import annotations

import numba
import numpy as np

from ...params import check_int
from .training import EPS
from .wordnet import Hierarchy, adjacency, linked

__all__ = ["distance_kernel", "distances_from_scores", "scan_pairs", "training_pairs"]


def distances_from_scores(scores: np.ndarray, scale: float, eps: float = EPS) -> np.ndarray:
    """Poincaré distances from the engine's ``l2`` pairwise scores.

    Parameters
    ----------
    scores : numpy.ndarray
        Integers of shape ``(pairs, 3)``: ``|u - v|^2, |u|^2, |v|^2`` of the pooled fixed-point
        rows (:func:`rtnerf.models.golden.embedding_lookup_unit.scores`).
    scale : float
        The table's quantisation scale (:attr:`rtnerf.models.quant.Quantized.scale`): one
        integer step of a value. With single-row bags of weight 1.0 the pooled values are the
        table's integers, so a score times ``scale**2`` is the float quantity.
    eps : float
        Boundary margin: squared norms are clamped to ``[0, 1 - eps]``.

    Returns
    -------
    numpy.ndarray
        float64 distances, one per pair.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2 or scores.shape[1] != 3:
        raise ValueError(f"`scores` must have shape (pairs, 3), not {scores.shape}")
    if not scale > 0:
        raise ValueError(f"`scale` must be positive, not {scale!r}")
    s = scores.astype(np.float64) * (float(scale) ** 2)
    nu = np.clip(s[:, 1], 0.0, 1 - eps)
    nv = np.clip(s[:, 2], 0.0, 1 - eps)
    return np.arccosh(1 + 2 * s[:, 0] / ((1 - nu) * (1 - nv)))


def scan_pairs(nodes: int, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The evaluation scan's pairs: ``(u, w)`` for every query ``u`` and every node ``w``."""
    check_int("nodes", nodes, minimum=1)
    queries = np.asarray(queries, np.int64)
    if queries.size and (queries.min() < 0 or queries.max() >= nodes):
        raise ValueError(f"`queries` must be node indices in [0, {nodes})")
    return np.repeat(queries, nodes), np.tile(np.arange(nodes, dtype=np.int64), queries.size)


def training_pairs(
    hierarchy: Hierarchy, edges: int, negatives: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs training scores: random edges, each followed by pairs with its negatives.

    Parameters
    ----------
    hierarchy : Hierarchy
        The training edges.
    edges : int
        Edges ``(u, v)`` drawn uniformly (with replacement).
    negatives : int
        Pairs ``(u, w)`` after each edge, ``w`` uniform among the nodes neither ``u`` nor
        linked to ``u`` either way.
    seed : int
        Seed of the draws.

    Returns
    -------
    u, v : numpy.ndarray
        ``int64`` pairs, ``edges * (negatives + 1)`` of them, edge by edge.
    """
    check_int("edges", edges, minimum=1)
    check_int("negatives", negatives, minimum=0)
    if hierarchy.edges == 0:
        raise ValueError("`hierarchy` must have edges")
    rng = np.random.default_rng(seed)
    n = hierarchy.nodes
    ptr, idx = adjacency(
        n,
        np.concatenate([hierarchy.child, hierarchy.parent]),
        np.concatenate([hierarchy.parent, hierarchy.child]),
    )
    degree = np.diff(ptr)
    pick = rng.integers(0, hierarchy.edges, edges)
    full = pick[degree[hierarchy.child[pick]] >= n - 1]
    if negatives and full.size:
        raise ValueError(
            f"node {hierarchy.names[hierarchy.child[full[0]]]!r} is linked to every node"
        )
    u = np.repeat(hierarchy.child[pick], negatives + 1)
    v = np.empty_like(u)
    v[0 :: negatives + 1] = hierarchy.parent[pick]
    neg = np.ones(u.size, np.bool_)
    neg[0 :: negatives + 1] = False
    todo = np.flatnonzero(neg)
    while todo.size:
        v[todo] = rng.integers(0, n, todo.size)
        todo = todo[_linked_many(ptr, idx, u[todo], v[todo])]
    return u, v


@numba.njit(cache=True)
def _linked_many(ptr, idx, u, w):
    out = np.empty(u.size, np.bool_)
    for i in range(u.size):
        out[i] = u[i] == w[i] or linked(ptr, idx, u[i], w[i])
    return out


def distance_kernel(table: np.ndarray, u: np.ndarray, v: np.ndarray, name: str = "poincare"):
    """The distance of each pair ``(u[k], v[k])`` as engine work: a ``l2`` :class:`BagKernel`.

    Bags ``2k`` and ``2k + 1`` hold one row each (``u[k]``, ``v[k]``, weight 1.0) from the one
    table; the pairwise stage returns ``|u - v|^2, |u|^2, |v|^2`` and
    :func:`distances_from_scores` finishes the distance on the host.
    """
    from ..kernel import pair_kernel

    table = np.asarray(table, np.float32)
    return pair_kernel(
        name,
        "hyperbolic",
        table,
        u,
        v,
        "l2",
        f"Poincaré distance of {np.size(u)} pairs of {table.shape[1]}-d rows from a "
        f"{table.shape[0]}-row table: |u-v|^2, |u|^2, |v|^2 on the engine, arcosh on the host",
    )
