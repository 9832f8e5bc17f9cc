"""Graphs: a CSR adjacency, graph-tool's binary files, the karate club, networkx graphs, R-MAT.

:class:`Graph` is a CSR adjacency (``indptr``, ``indices``). Sources: graph-tool's binary
``.gt.gz`` files (:func:`read_gt`; :func:`load_graph` reads the 19 graphs of graph-tool's
collection from the ``graphs`` dataset), the small graphs networkx ships (:func:`networkx_graph`,
when networkx is installed; it is not a dependency), Zachary's karate club written out here
(:func:`karate_club`, a real graph the tests can use without any data) and a seeded R-MAT
generator with the Graph500 parameters (:func:`rmat`).
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
from pathlib import Path

import numpy as np

from ...params import check_int
from .. import data

__all__ = ["GRAPH500", "Graph", "karate_club", "load_graph", "networkx_graph", "read_gt", "rmat"]

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
