"""Graph embedding workloads: real and synthetic graphs, and three kernels as bags of row reads.

Graphs
    :class:`Graph` is a CSR adjacency (``indptr``, ``indices``). Sources: graph-tool's binary
    ``.gt.gz`` files (:func:`read_gt`; :func:`load_graph` reads the 19 graphs of graph-tool's
    collection from the ``graphs`` dataset), the small graphs networkx ships
    (:func:`networkx_graph`, when networkx is installed; it is not a dependency), Zachary's
    karate club written out here (:func:`karate_club`, a real graph the tests can use without
    any data) and a seeded R-MAT generator with the Graph500 parameters (:func:`rmat`).
    :meth:`Graph.symmetrised`, :meth:`Graph.simple` (no self-loops, no duplicate arcs) and
    :meth:`Graph.relabelled` (a vertex permutation: vertex order sets the locality of the row
    reads, so it is a workload parameter) prepare a graph for a kernel.

Kernels (each a :class:`GraphKernel`: a :class:`~rtnerf.workloads.kernel.BagKernel` plus the
host-side step that turns its bags into the kernel's output)
    * :func:`sage_kernel`: GraphSAGE mean aggregation over sampled 2-hop neighbourhoods
      (fan-outs 25 and 10 as in the paper);
    * :func:`fastrp_kernel`: one FastRP propagation step ``D^-1 A R`` (one bag per node of
      its neighbours, weights ``1 / deg``) over the very sparse projection :func:`fastrp_projection`
      or over a previous step's (dense) output;
    * :func:`pbg_kernel`: PyTorch-BigGraph edge scoring with shared negatives (chunks of 50
      positive edges, batch and uniform negatives, dot comparator) as pairs of one-row bags.

    Each has a direct implementation from the graph definition (:func:`sage_direct`,
    :func:`fastrp_direct`, :func:`pbg_direct`) that the tests check the bag form against.

Bag length
    The engine pools at most ``max_bag`` (64 by default) lookups per bag. Longer bags are
    **split** into consecutive partial bags of at most ``max_bag`` lookups, each with the full
    bag's weights, and the host sums the partial bags of an output
    (:meth:`GraphKernel.combine`); nothing is dropped or capped. Only FastRP has long bags (hub
    neighbourhoods); sampled GraphSAGE bags are 25 and 10 long.

Fixed point
    Mean weights ``1 / |bag|`` go to the engine with ``weight_frac_bits`` (8 by default)
    fraction bits: ``1 / 25`` becomes ``10 / 256`` (-2.3 %), and ``1 / deg`` rounds to 0 above
    degree 512, so FastRP on hub-heavy graphs should sum on the engine and divide on the host
    (``fastrp_kernel(..., host_mean=True)``, with output headroom).
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
from pathlib import Path

import numpy as np

from ..params import check_int
from . import data
from .kernel import BagKernel, pair_kernel

__all__ = [
    "GRAPH500",
    "Graph",
    "GraphKernel",
    "fastrp_direct",
    "fastrp_embedding",
    "fastrp_kernel",
    "fastrp_projection",
    "karate_club",
    "load_graph",
    "networkx_graph",
    "pbg_direct",
    "pbg_edges",
    "pbg_kernel",
    "read_gt",
    "rmat",
    "sage_direct",
    "sage_kernel",
    "sage_samples",
    "split_bags",
]

#: Graph500 R-MAT quadrant probabilities ``(a, b, c, d)`` and edge factor.
GRAPH500 = {"a": 0.57, "b": 0.19, "c": 0.19, "d": 0.05, "edge_factor": 16}

_GT_MAGIC = b"\xe2\x9b\xbe gt"


@dataclasses.dataclass(frozen=True, eq=False)
class Graph:
    """A graph as a CSR adjacency: ``v``'s out-neighbours are ``indices[indptr[v]:indptr[v+1]]``.

    Attributes
    ----------
    n : int
        Number of vertices, ``0 .. n - 1``.
    indptr : numpy.ndarray
        ``int64`` of length ``n + 1``, starting at 0 and non-decreasing.
    indices : numpy.ndarray
        ``int64`` neighbour ids, ``indptr[-1]`` of them.
    directed : bool
        Whether arcs are one-way. An undirected graph read from a file may store each edge once;
        :meth:`symmetrised` stores both arcs, which is what the kernels read.
    name : str
        Where the graph came from (for reports).
    """

    n: int
    indptr: np.ndarray
    indices: np.ndarray
    directed: bool
    name: str = ""

    def __post_init__(self) -> None:
        check_int("n", self.n, minimum=0)
        p, i = self.indptr, self.indices
        if not isinstance(p, np.ndarray) or p.dtype != np.int64 or p.shape != (self.n + 1,):
            raise TypeError(f"`indptr` must be an int64 array of length n + 1 = {self.n + 1}")
        if not isinstance(i, np.ndarray) or i.dtype != np.int64 or i.ndim != 1:
            raise TypeError("`indices` must be a 1-D int64 array")
        if p[0] != 0 or p[-1] != i.size or (np.diff(p) < 0).any():
            raise ValueError("`indptr` must start at 0, end at len(indices) and not decrease")
        if i.size and (i.min() < 0 or i.max() >= self.n):
            raise ValueError(f"`indices` must be vertex ids in [0, {self.n})")

    @classmethod
    def from_arcs(
        cls, n: int, src: object, dst: object, *, directed: bool, name: str = ""
    ) -> Graph:
        """The graph of arcs ``src[k] -> dst[k]``; a vertex keeps its arcs in input order."""
        src = np.asarray(src, np.int64)
        dst = np.asarray(dst, np.int64)
        if src.shape != dst.shape or src.ndim != 1:
            raise ValueError("`src` and `dst` must be 1-D and of equal length")
        if src.size and (src.min() < 0 or src.max() >= n):
            raise ValueError(f"`src` must be vertex ids in [0, {n})")
        order = np.argsort(src, kind="stable")
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return cls(n, indptr, dst[order], directed, name)

    @property
    def arcs(self) -> int:
        """Stored arcs (an undirected edge stored both ways counts twice)."""
        return int(self.indices.size)

    @property
    def degree(self) -> np.ndarray:
        """``int64`` out-degree of every vertex."""
        return np.diff(self.indptr)

    def sources(self) -> np.ndarray:
        """``int64`` source vertex of every stored arc (CSR order)."""
        return np.repeat(np.arange(self.n, dtype=np.int64), self.degree)

    def symmetrised(self) -> Graph:
        """The undirected graph with both arcs of every stored arc (duplicates kept)."""
        src = self.sources()
        return Graph.from_arcs(
            self.n,
            np.concatenate([src, self.indices]),
            np.concatenate([self.indices, src]),
            directed=False,
            name=self.name,
        )

    def simple(self) -> Graph:
        """The graph without self-loops and duplicate arcs; neighbours sorted by id."""
        src = self.sources()
        key = np.unique((src * self.n + self.indices)[src != self.indices])
        return Graph.from_arcs(
            self.n,
            key // max(self.n, 1),
            key % max(self.n, 1),
            directed=self.directed,
            name=self.name,
        )

    def relabelled(self, perm: object) -> Graph:
        """The graph with vertex ``v`` renamed ``perm[v]`` (a permutation of ``0 .. n - 1``)."""
        perm = np.asarray(perm, np.int64)
        if perm.shape != (self.n,) or not np.array_equal(np.sort(perm), np.arange(self.n)):
            raise ValueError(f"`perm` must be a permutation of 0 .. {self.n - 1}")
        inverse = np.empty_like(perm)
        inverse[perm] = np.arange(self.n)
        deg = self.degree[inverse]
        indptr = np.zeros(self.n + 1, np.int64)
        np.cumsum(deg, out=indptr[1:])
        # Vertex perm[v] takes v's neighbour list, renamed, in its original order.
        take = np.repeat(self.indptr[inverse] - indptr[:-1], deg) + np.arange(self.arcs)
        return Graph(self.n, indptr, perm[self.indices[take]], self.directed, self.name)

    def shuffled(self, rng: np.random.Generator) -> Graph:
        """The graph under a uniformly random relabelling drawn from ``rng``."""
        return self.relabelled(rng.permutation(self.n))


def read_gt(path: str | Path, *, name: str | None = None) -> Graph:
    """Read a graph-tool binary graph (``.gt``, or gzipped ``.gt.gz``); property maps are ignored.

    The format: the magic (U+26FE in UTF-8, then `` gt``), a version byte (1), an endianness
    byte (0 little, 1 big), a ``uint64`` comment length and the comment, a ``directed`` byte, the
    ``uint64`` vertex count ``N``, then for every vertex a ``uint64`` out-degree and its
    out-neighbours as unsigned integers of the smallest of 1, 2, 4, 8 bytes that holds ``N``
    (``N <= 2^8`` gives 1); property maps follow. An undirected graph stores each edge once.

    Parameters
    ----------
    path : str or pathlib.Path
        The file; a name ending in ``.gz`` is decompressed.
    name : str, optional
        The graph's name (default: the file name without ``.gt``/``.gt.gz``).

    Returns
    -------
    Graph
        The stored arcs, in file order, as a CSR graph.

    Raises
    ------
    ValueError
        If the file is not a graph-tool binary file or ends inside the adjacency.
    """
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    if raw[:6] != _GT_MAGIC or len(raw) < 16:
        raise ValueError(f"{path} is not a graph-tool binary file (bad magic)")
    if raw[6] != 1:
        raise ValueError(f"{path}: graph-tool format version {raw[6]} is not supported (only 1)")
    e = ">" if raw[7] else "<"
    (comment,) = struct.unpack_from(e + "Q", raw, 8)
    p = 16 + comment
    if p + 9 > len(raw):
        raise ValueError(f"{path} ends inside its header")
    directed = bool(raw[p])
    (n,) = struct.unpack_from(e + "Q", raw, p + 1)
    p += 9
    width = next(w for w in (1, 2, 4, 8) if n <= 1 << (8 * w))
    dtype = np.dtype(f"u{width}").newbyteorder(e)
    degree = np.zeros(n, np.int64)
    parts = []
    for v in range(n):
        if p + 8 > len(raw):
            raise ValueError(f"{path} ends inside the adjacency of vertex {v}")
        (k,) = struct.unpack_from(e + "Q", raw, p)
        p += 8
        if p + k * width > len(raw):
            raise ValueError(f"{path} ends inside the adjacency of vertex {v}")
        if k:
            parts.append(np.frombuffer(raw, dtype, k, p))
            degree[v] = k
            p += k * width
    indices = np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)
    if indices.size and indices.max() >= n:
        raise ValueError(f"{path}: a neighbour id is not below the vertex count {n}")
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(degree, out=indptr[1:])
    if name is None:
        name = path.name.removesuffix(".gz").removesuffix(".gt")
    return Graph(int(n), indptr, indices, directed, name)


def load_graph(
    name: str,
    *,
    folder: str | Path | None = None,
    symmetrise: bool = True,
    simple: bool = True,
) -> Graph:
    """A graph of graph-tool's collection, ready for the kernels.

    Parameters
    ----------
    name : str
        One of ``rtnerf.workloads.data.GRAPH_NAMES``.
    folder : str or pathlib.Path, optional
        Where ``<name>.gt.gz`` lies (default: the ``graphs`` dataset,
        ``rtnerf.workloads.data.path("graphs")``, which says how to fetch it when missing).
    symmetrise : bool
        Store both arcs of every edge (:meth:`Graph.symmetrised`); the kernels read
        neighbourhoods of undirected graphs.
    simple : bool
        Drop self-loops and duplicate arcs (:meth:`Graph.simple`).
    """
    if name not in data.GRAPH_NAMES:
        raise ValueError(f"`name` must be one of {', '.join(data.GRAPH_NAMES)}, not {name!r}")
    if folder is None:
        folder = data.path("graphs")
    graph = read_gt(Path(folder) / f"{name}.gt.gz", name=name)
    if symmetrise:
        graph = graph.symmetrised()
    return graph.simple() if simple else graph


# Zachary's karate club (J. Anthropol. Res. 33, 1977): 34 members, 78 friendships, as stored in
# graph-tool's collection (``karate.gt.gz``, the same edges as networkx's karate_club_graph).
_KARATE = (
    "1-0 2-0 2-1 3-0 3-1 3-2 4-0 5-0 6-0 6-4 6-5 7-0 7-1 7-2 7-3 8-0 8-2 9-2 10-0 10-4 10-5 "
    "11-0 12-0 12-3 13-0 13-1 13-2 13-3 16-5 16-6 17-0 17-1 19-0 19-1 21-0 21-1 25-23 25-24 "
    "27-2 27-23 27-24 28-2 29-23 29-26 30-1 30-8 31-0 31-24 31-25 31-28 32-2 32-8 32-14 32-15 "
    "32-18 32-20 32-22 32-23 32-29 32-30 32-31 33-8 33-9 33-13 33-14 33-15 33-18 33-19 33-20 "
    "33-22 33-23 33-26 33-27 33-28 33-29 33-30 33-31 33-32"
)


def karate_club() -> Graph:
    """Zachary's karate club: 34 vertices, 78 undirected edges, stored both ways (156 arcs)."""
    pairs = np.array([e.split("-") for e in _KARATE.split()], np.int64)
    graph = Graph.from_arcs(34, pairs[:, 0], pairs[:, 1], directed=False, name="karate")
    return graph.symmetrised().simple()


def networkx_graph(name: str) -> Graph:
    """A small graph networkx ships: ``karate_club``, ``les_miserables``, ``florentine_families``...

    Calls ``networkx.<name>_graph()`` and numbers its nodes in networkx's node order.
    networkx is optional (not a dependency of rtnerf).

    Raises
    ------
    ImportError
        If networkx is not installed.
    ValueError
        If networkx has no ``<name>_graph`` generator that takes no arguments.
    """
    import networkx

    make = getattr(networkx, f"{name}_graph", None)
    if make is None:
        raise ValueError(f"`name` must name a networkx generator <name>_graph, not {name!r}")
    try:
        g = make()
    except TypeError as exc:
        raise ValueError(f"networkx.{name}_graph needs arguments; not a shipped graph") from exc
    ids = {node: i for i, node in enumerate(g.nodes())}
    edges = np.array([(ids[u], ids[v]) for u, v in g.edges()], np.int64).reshape(-1, 2)
    graph = Graph.from_arcs(len(ids), edges[:, 0], edges[:, 1], directed=g.is_directed(), name=name)
    return graph if graph.directed else graph.symmetrised().simple()


def rmat(
    scale: int,
    *,
    edge_factor: int = GRAPH500["edge_factor"],
    a: float = GRAPH500["a"],
    b: float = GRAPH500["b"],
    c: float = GRAPH500["c"],
    seed: int = 0,
) -> Graph:
    """A Graph500 R-MAT graph: ``2^scale`` vertices, ``edge_factor * 2^scale`` directed arcs.

    Each arc picks, bit by bit from the most significant, one quadrant of the adjacency matrix
    with probabilities ``a, b, c, d = 1 - a - b - c`` (Graph500: 0.57, 0.19, 0.19, 0.05),
    exactly as the Graph500 reference generator (``ii = u > a + b``; ``jj = u' > c / (c + d)``
    when ``ii`` else ``u' > a / (a + b)``). The arcs are raw: self-loops and duplicates kept,
    vertex ids **not** permuted (Graph500 permutes them; use :meth:`Graph.shuffled`, and
    :meth:`Graph.symmetrised` / :meth:`Graph.simple` for the kernels).

    Parameters
    ----------
    scale : int
        ``log2`` of the vertex count, 1 to 30.
    edge_factor : int
        Arcs per vertex (Graph500: 16).
    a, b, c : float
        Quadrant probabilities; ``d = 1 - a - b - c`` must be positive.
    seed : int
        Seed of the generator: the same arguments give the same graph.
    """
    check_int("scale", scale, minimum=1, maximum=30)
    check_int("edge_factor", edge_factor, minimum=1)
    d = 1.0 - a - b - c
    if min(a, b, c) <= 0 or d <= 0:
        raise ValueError(f"`a`, `b`, `c` and 1 - a - b - c must be positive, not {(a, b, c)!r}")
    rng = np.random.default_rng(seed)
    m = edge_factor << scale
    src = np.zeros(m, np.int64)
    dst = np.zeros(m, np.int64)
    ab, a_norm, c_norm = a + b, a / (a + b), c / (c + d)
    for bit in range(scale):
        ii = rng.random(m) > ab
        jj = rng.random(m) > np.where(ii, c_norm, a_norm)
        src |= ii.astype(np.int64) << bit
        dst |= jj.astype(np.int64) << bit
    return Graph.from_arcs(1 << scale, src, dst, directed=True, name=f"rmat-{scale}")


def split_bags(offsets: np.ndarray, max_bag: int) -> tuple[np.ndarray, np.ndarray]:
    """Split bags longer than ``max_bag`` into consecutive partial bags of at most ``max_bag``.

    Returns
    -------
    offsets : numpy.ndarray
        ``int64`` offsets of the split bags (the lookups do not move).
    owner : numpy.ndarray
        ``int64``: the original bag of every split bag.
    """
    check_int("max_bag", max_bag, minimum=1)
    offsets = np.asarray(offsets, np.int64)
    size = np.diff(offsets)
    parts = np.maximum(1, -(-size // max_bag))
    owner = np.repeat(np.arange(size.size, dtype=np.int64), parts)
    first = np.repeat(np.cumsum(parts) - parts, parts)
    start = offsets[owner] + (np.arange(owner.size) - first) * max_bag
    return np.append(start, offsets[-1]).astype(np.int64), owner


@dataclasses.dataclass(frozen=True, eq=False)
class GraphKernel:
    """A graph kernel: the engine's bags and the host step that assembles the output.

    Attributes
    ----------
    kernel : BagKernel
        The row reads, bags of at most the ``max_bag`` the kernel was built for.
    owner : numpy.ndarray
        ``int64``: the output row each bag (pooled kernels) or pair (pairwise kernels) adds into.
    outputs : int
        Rows of the output.
    scale : numpy.ndarray, optional
        ``float64`` factor of every output row, applied on the host after the sum (FastRP's
        ``1 / deg`` when the engine sums with weight 1).
    """

    kernel: BagKernel
    owner: np.ndarray
    outputs: int
    scale: np.ndarray | None = None

    def combine(self, result: np.ndarray) -> np.ndarray:
        """Sum per-bag (or per-pair) ``result`` rows into their output rows, times ``scale``."""
        result = np.asarray(result)
        out = np.zeros((self.outputs, *result.shape[1:]), np.float64)
        np.add.at(out, self.owner, result)
        if self.scale is not None:
            out *= self.scale.reshape(-1, *([1] * (out.ndim - 1)))
        return out

    def output(self) -> np.ndarray:
        """The kernel's float64 output from :meth:`BagKernel.reference`."""
        return self.combine(self.kernel.reference())


def _bag_kernel(
    name: str,
    table: np.ndarray,
    rows: np.ndarray,
    weights: np.ndarray,
    offsets: np.ndarray,
    owner: np.ndarray,
    outputs: int,
    max_bag: int,
    description: str,
    scale: np.ndarray | None = None,
) -> GraphKernel:
    split, part_of = split_bags(offsets, max_bag)
    kernel = BagKernel(
        name=name,
        family="graph",
        tables=(np.ascontiguousarray(table, np.float32),),
        table=np.zeros(rows.size, np.uint16),
        row=rows.astype(np.int64),
        weight=weights.astype(np.float64),
        offsets=split,
        description=description,
    )
    return GraphKernel(kernel, owner[part_of], outputs, scale)


def _check_table(graph: Graph, table: np.ndarray, name: str) -> np.ndarray:
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[0] != graph.n or table.dtype.kind != "f":
        raise ValueError(
            f"`{name}` must be a float array of shape ({graph.n}, dim), not {table.shape}"
        )
    return table


# ---------------------------------------------------------------------------------------------
# GraphSAGE mean aggregation


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
    features = _check_table(graph, features, "features")
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
    return _bag_kernel(
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


# ---------------------------------------------------------------------------------------------
# FastRP


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
    table = _check_table(graph, table, "table")
    deg = graph.degree
    nodes = np.flatnonzero(deg > 0)
    offsets = np.append(graph.indptr[nodes], graph.arcs).astype(np.int64)
    inv = 1.0 / np.maximum(deg, 1)
    weights = np.ones(graph.arcs) if host_mean else np.repeat(inv, deg)
    return _bag_kernel(
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


# ---------------------------------------------------------------------------------------------
# PyTorch-BigGraph edge scoring


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
    table = _check_table(graph, table, "table")
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
