"""FastRP: one propagation step ``D^-1 A R`` as bags of neighbours, weights ``1 / deg``."""

from __future__ import annotations

import numpy as np

from ...params import check_int
from .bags import GraphKernel, bag_kernel, check_table
from .graphs import Graph

__all__ = ["fastrp_direct", "fastrp_embedding", "fastrp_kernel", "fastrp_projection"]


def fastrp_projection(
    n: int, dim: int, rng: np.random.Generator, s: float | str = 3.0
) -> np.ndarray:
    """FastRP's very sparse random projection ``R``, ``sqrt(s) * {+1, 0, -1}``.

    The three values have probabilities ``1 / 2s``, ``1 - 1 / s`` and ``1 / 2s``.

    Parameters
    ----------
    n, dim : int
        Shape ``(n, dim)``.
    rng : numpy.random.Generator
        Source of the draws.
    s : float or ``"sqrt"``
        Sparsity: a row element is non-zero with probability ``1 / s``. ``3`` (the default) is
        Achlioptas' constant, close to the small constants of Neo4j's and TigerGraph's FastRP;
        ``"sqrt"`` gives ``s = sqrt(n)``, the FastRP reference code's density ``1 / sqrt(n)``
        (most rows of a 64-wide table are then empty).

    Returns
    -------
    numpy.ndarray
        ``float32 (n, dim)``.
    """
    check_int("n", n, minimum=1)
    check_int("dim", dim, minimum=1)
    if s == "sqrt":
        s = float(np.sqrt(n))
    if isinstance(s, str) or not s >= 1:
        raise ValueError(f"`s` must be a number >= 1 or 'sqrt', not {s!r}")
    u = rng.random((n, dim))
    r = np.where(u < 0.5 / s, 1.0, np.where(u < 1.0 / s, -1.0, 0.0)) * np.sqrt(s)
    return r.astype(np.float32)


def fastrp_kernel(
    graph: Graph, table: np.ndarray, *, max_bag: int = 64, host_mean: bool = False
) -> GraphKernel:
    """One FastRP propagation step ``D^-1 A X`` over ``X = table``, as bags.

    One bag per vertex with neighbours: its neighbours' rows (CSR order), weight ``1 / deg``;
    neighbourhoods longer than ``max_bag`` are split into partial bags that the host sums.
    Vertices without neighbours get no bag (their output row is 0). The first step's table is
    :func:`fastrp_projection` (naturally sparse: the hybrid encoding's case), later steps take
    the previous step's output (dense).

    Parameters
    ----------
    graph : Graph
        A symmetrised graph (``A``), neighbourhoods read as stored.
    table : numpy.ndarray
        ``X``, ``(graph.n, dim)``.
    max_bag : int
        Longest bag the engine pools.
    host_mean : bool
        Weight 1 on the engine (a sum) and ``1 / deg`` on the host, instead of ``1 / deg`` in
        the bag weights: with 8 fraction bits the weight ``1 / deg`` rounds to 0 above degree
        512 (and is coarse well below). Sums need output headroom: ``unit.out_width`` at least
        ``value_width + log2(max_bag)`` (23 for 16-bit values and bags of 64), or they saturate.
    """
    table = check_table(graph, table, "table")
    deg = graph.degree
    nodes = np.flatnonzero(deg > 0)
    offsets = np.append(graph.indptr[nodes], graph.arcs).astype(np.int64)
    inv = 1.0 / np.maximum(deg, 1)
    weights = np.ones(graph.arcs) if host_mean else np.repeat(inv, deg)
    return bag_kernel(
        "fastrp-step",
        table,
        graph.indices,
        weights,
        offsets,
        nodes,
        graph.n,
        max_bag,
        f"FastRP propagation D^-1 A X on {graph.name}: {graph.n} vertices, {graph.arcs} arcs, "
        f"{table.shape[1]}-d",
        inv * (deg > 0) if host_mean else None,
    )


def fastrp_direct(graph: Graph, table: np.ndarray) -> np.ndarray:
    """``D^-1 A X`` by the definition: scatter-add every arc's row, then divide by the degree."""
    x = np.asarray(table, np.float64)
    out = np.zeros((graph.n, x.shape[1]))
    np.add.at(out, graph.sources(), x[graph.indices])
    return out / np.maximum(graph.degree, 1)[:, None]


def fastrp_embedding(
    graph: Graph,
    dim: int,
    rng: np.random.Generator,
    *,
    s: float | str = 3.0,
    weights: tuple[float, ...] = (0.0, 1.0, 1.0),
) -> np.ndarray:
    """FastRP node embeddings ``sum_i weights[i] * normalize(N_i)``, ``N_i = (D^-1 A)^i R``.

    Rows of every ``N_i`` are L2-normalised (as the FastRP reference code); ``weights`` defaults
    to Neo4j's ``iterationWeights`` ``[0, 1, 1]``; no degree normalisation of ``R``. Real
    features derived from the graph, e.g. for :func:`sage_kernel`.

    Returns
    -------
    numpy.ndarray
        ``float32 (graph.n, dim)``.
    """
    n_i = fastrp_projection(graph.n, dim, rng, s).astype(np.float64)
    out = np.zeros_like(n_i)
    for w in weights:
        n_i = fastrp_direct(graph, n_i)
        norm = np.linalg.norm(n_i, axis=1, keepdims=True)
        out += w * n_i / np.where(norm > 0, norm, 1.0)
    return out.astype(np.float32)
