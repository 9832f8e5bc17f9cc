"""GraphSAGE mean aggregation over sampled 2-hop neighbourhoods (fan-outs 25 and 10)."""

from __future__ import annotations

import numpy as np

from ...params import check_int
from .bags import GraphKernel, bag_kernel, check_table
from .graphs import Graph

__all__ = ["sage_direct", "sage_kernel", "sage_samples"]


def sage_samples(
    graph: Graph,
    targets: object,
    rng: np.random.Generator,
    fanouts: tuple[int, int] = (25, 10),
) -> tuple[np.ndarray, np.ndarray]:
    """GraphSAGE's 2-hop neighbour samples, drawn uniformly **with replacement**.

    Sampling with replacement gives every node exactly ``S_k`` samples whatever its degree, as
    GraphSAGE's reference code does (it resamples short adjacency lists to a fixed length). A
    vertex without neighbours samples itself.

    Returns
    -------
    hop1 : numpy.ndarray
        ``int64 (targets, S1)``: neighbours of each target.
    hop2 : numpy.ndarray
        ``int64 (targets, S1, S2)``: neighbours of each hop-1 sample.
    """
    s1, s2 = fanouts
    check_int("fanouts[0]", s1, minimum=1)
    check_int("fanouts[1]", s2, minimum=1)
    targets = np.asarray(targets, np.int64)
    if targets.ndim != 1 or (targets < 0).any() or (targets >= graph.n).any():
        raise ValueError(f"`targets` must be 1-D vertex ids in [0, {graph.n})")

    def sample(nodes: np.ndarray, k: int) -> np.ndarray:
        deg = graph.degree[nodes]
        if graph.arcs == 0:
            return np.repeat(nodes[:, None], k, axis=1)
        pick = (rng.random((nodes.size, k)) * deg[:, None]).astype(np.int64)
        got = graph.indices[np.minimum(graph.indptr[nodes, None] + pick, graph.arcs - 1)]
        return np.where(deg[:, None] > 0, got, nodes[:, None])

    hop1 = sample(targets, s1)
    hop2 = sample(hop1.ravel(), s2).reshape(targets.size, s1, s2)
    return hop1, hop2


def sage_kernel(
    graph: Graph,
    features: np.ndarray,
    hop1: np.ndarray,
    hop2: np.ndarray,
    *,
    max_bag: int = 64,
) -> GraphKernel:
    """GraphSAGE's layer-1 mean aggregations over the raw feature table, as bags.

    Per target ``v`` (in order): one bag of its ``S1`` hop-1 samples, then for each hop-1
    sample ``u`` one bag of ``u``'s ``S2`` hop-2 samples; weights ``1 / S`` (mean). That is
    ``S1 + S1 * S2`` = 275 row reads and ``1 + S1`` = 26 bags per target at the paper's
    fan-outs. The concat variant also needs ``h_v`` and every ``h_u`` itself (1 + 25 more
    one-row reads per target, not included: the ``u`` rows are the hop-1 bag's rows).

    Parameters
    ----------
    graph : Graph
        The graph (used for sizes only; the samples come from :func:`sage_samples`).
    features : numpy.ndarray
        Node features ``(graph.n, dim)``, e.g. :func:`fastrp_embedding` or random values.
    hop1, hop2 : numpy.ndarray
        Samples from :func:`sage_samples`.
    max_bag : int
        Longest bag the engine pools; longer bags are split (see the module docstring).

    Returns
    -------
    GraphKernel
        ``outputs = targets * (1 + S1)`` rows, ordered as the bags above.
    """
    features = check_table(graph, features, "features")
    hop1 = np.asarray(hop1, np.int64)
    hop2 = np.asarray(hop2, np.int64)
    t, s1 = hop1.shape
    if hop2.shape[:2] != (t, s1) or hop2.ndim != 3:
        raise ValueError(f"`hop2` must have shape ({t}, {s1}, S2), not {hop2.shape}")
    s2 = hop2.shape[2]
    # Per target: its S1 hop-1 samples (one bag), then S1 bags of S2 hop-2 samples.
    rows = np.concatenate([hop1, hop2.reshape(t, s1 * s2)], axis=1).ravel()
    sizes = np.tile(np.array([s1] + [s2] * s1, np.int64), t)
    offsets = np.zeros(sizes.size + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    weights = np.repeat(1.0 / sizes, sizes)
    return bag_kernel(
        "graphsage-mean",
        features,
        rows,
        weights,
        offsets,
        np.arange(sizes.size, dtype=np.int64),
        sizes.size,
        max_bag,
        f"GraphSAGE mean aggregation on {graph.name}: {t} targets, fan-outs {s1}/{s2}, "
        f"{features.shape[1]}-d features",
    )


def sage_direct(features: np.ndarray, hop1: np.ndarray, hop2: np.ndarray) -> np.ndarray:
    """GraphSAGE layer-1 means, ``(targets * (1 + S1), dim)`` in :func:`sage_kernel`'s order.

    Computed with fancy indexing and ``mean`` over the sample axes (not bags).
    """
    f = np.asarray(features, np.float64)
    agg1 = f[hop1].mean(axis=1)  # (t, dim): mean over each target's hop-1 samples
    agg2 = f[hop2].mean(axis=2)  # (t, S1, dim): mean over each hop-1 sample's hop-2 samples
    return np.concatenate([agg1[:, None, :], agg2], axis=1).reshape(-1, f.shape[1])
