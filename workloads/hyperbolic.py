"""Hyperbolic embeddings: the WordNet noun hierarchy, Poincaré embeddings and their distance kernel.

Data
    :func:`load_wordnet` reads WordNet 3.0's ``data.noun`` (and ``index.noun`` for NLTK-style
    names ``lemma.n.NN``) into a :class:`Hierarchy` of direct hypernym and instance-hypernym
    edges (child -> parent); :func:`transitive_closure` gives Nickel & Kiela's training set
    (82,115 nodes, 743,241 edges) and :func:`subtree` the closure restricted to the descendants
    of one synset (``mammal.n.01``).

Training
    :func:`train_poincare` fits Poincaré embeddings (Nickel & Kiela 2017) by Riemannian SGD in
    numba: for every closure edge ``(u, v)`` a softmax loss over ``d(u, v)`` and ``d(u, w)`` for
    sampled non-neighbours ``w``, the Euclidean gradient rescaled by the inverse metric
    ``(1 - |x|^2)^2 / 4`` and the point projected back into the ball. *Choice*: plain per-example
    SGD (one positive and its negatives per step), where the reference code averages mini-batches
    of 50 (so its ``lr`` 1.0 is about our 0.02 per example); the burn-in (a few epochs at a
    hundredth of the rate, negatives drawn from the unigram distribution to the power 0.75) is
    the reference code's.

Evaluation
    :func:`reconstruction`: mean rank and MAP of the closure edges (workloads.md §2.4), for every
    node with parents (as the reference code: the neighbours of ``u`` are its ancestors) or a
    sample of them. Ties count against the embedding (a non-neighbour at the same distance ranks
    ahead).

Accelerator workload
    The distance ``d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2)(1 - |v|^2)))`` splits into the
    engine's ``l2`` pairwise stage (single-row bags ``2k, 2k + 1`` = ``u, v`` with weight 1.0
    give ``|u - v|^2, |u|^2, |v|^2`` in fixed point) and an arcosh on the host
    (:func:`distances_from_scores`). :func:`distance_kernel` builds the :class:`BagKernel` of any
    list of pairs; :func:`scan_pairs` (the evaluation scan) and :func:`training_pairs` (positives
    and their negatives) make the pair lists. :func:`reconstruction` with ``quantized=`` runs the
    evaluation on the engine's fixed-point scores (computed here exactly as the pairwise stage
    does) to measure what 16-bit values cost.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numba
import numpy as np

from ..models.quant import Quantized
from ..params import check_int

__all__ = [
    "EPS",
    "MAMMAL",
    "Hierarchy",
    "Reconstruction",
    "distance_kernel",
    "distances_from_scores",
    "load_wordnet",
    "mammal_closure",
    "noun_closure",
    "parse_data_noun",
    "parse_index_noun",
    "poincare_distance",
    "reconstruction",
    "scan_pairs",
    "subtree",
    "train_poincare",
    "training_pairs",
    "transitive_closure",
]

EPS = 1e-5
"""Boundary margin of the ball: squared norms are clamped to ``1 - EPS``, points kept inside."""

MAMMAL = "mammal.n.01"
"""NLTK name of WordNet 3.0's mammal synset (offset 01861778)."""


# ------------------------------------------------------------------------------------------------
# WordNet


@dataclasses.dataclass(frozen=True, eq=False)
class Hierarchy:
    """A directed graph of named nodes with edges child -> parent (or descendant -> ancestor).

    Attributes
    ----------
    names : tuple of str
        Node names (NLTK-style ``lemma.n.NN`` for WordNet).
    offsets : numpy.ndarray
        ``int64`` WordNet synset offsets of the nodes (``-1`` where there is none).
    child, parent : numpy.ndarray
        ``int64`` node indices of the edges, sorted by ``(child, parent)``, no duplicates.
    """

    names: tuple[str, ...]
    offsets: np.ndarray
    child: np.ndarray
    parent: np.ndarray

    def __post_init__(self):
        n = len(self.names)
        if self.offsets.shape != (n,):
            raise ValueError(
                f"`offsets` must have one entry per name ({n}), not {self.offsets.shape}"
            )
        if self.child.shape != self.parent.shape or self.child.ndim != 1:
            raise ValueError("`child` and `parent` must be 1-D arrays of the same length")
        if self.child.size and (
            min(self.child.min(), self.parent.min()) < 0
            or max(self.child.max(), self.parent.max()) >= n
        ):
            raise ValueError(f"edge endpoints must be node indices in [0, {n})")

    @property
    def nodes(self) -> int:
        """Number of nodes."""
        return len(self.names)

    @property
    def edges(self) -> int:
        """Number of edges."""
        return int(self.child.size)

    def index(self, name: str) -> int:
        """Index of the node called ``name``."""
        try:
            return self.names.index(name)
        except ValueError:
            raise ValueError(f"`name` must be a node of the hierarchy, not {name!r}") from None


def _edges(n: int, child: np.ndarray, parent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # Sorted by (child, parent), duplicates and self-loops removed.
    key = np.unique(np.asarray(child, np.int64) * n + np.asarray(parent, np.int64))
    c, p = key // n, key % n
    keep = c != p
    return c[keep], p[keep]


def parse_data_noun(
    lines: Iterable[str],
) -> tuple[np.ndarray, list[tuple[str, ...]], list[tuple[int, int]]]:
    """Synsets and hypernym pointers of a WordNet ``data.noun`` file.

    Parameters
    ----------
    lines : iterable of str
        The file's lines; the licence header (lines starting with a space) is skipped.

    Returns
    -------
    offsets : numpy.ndarray
        ``int64`` synset offsets in file order.
    lemmas : list of tuple of str
        Each synset's lemma names (underscores for spaces, case as in the file).
    hypernyms : list of (int, int)
        ``(child_offset, parent_offset)`` for every ``@`` (hypernym) and ``@i`` (instance
        hypernym) pointer.

    Raises
    ------
    ValueError
        For a line that does not have WordNet's data-file layout.
    """
    offsets, lemmas, hypernyms = [], [], []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line[0] == " ":
            continue
        tok = line.split(" | ", 1)[0].split()
        try:
            offset = int(tok[0])
            words = int(tok[3], 16)
            names = tuple(tok[4 + 2 * i] for i in range(words))
            p = 4 + 2 * words
            pointers = int(tok[p])
            for i in range(pointers):
                symbol, target, pos = tok[p + 1 + 4 * i : p + 4 + 4 * i]
                if symbol in ("@", "@i") and pos == "n":
                    hypernyms.append((offset, int(target)))
        except (IndexError, ValueError):
            raise ValueError(f"line {number} is not a WordNet data line: {line[:60]!r}") from None
        offsets.append(offset)
        lemmas.append(names)
    return np.array(offsets, np.int64), lemmas, hypernyms


def parse_index_noun(lines: Iterable[str]) -> dict[str, list[int]]:
    """Sense order of a WordNet ``index.noun`` file: lemma -> synset offsets, most frequent first.

    Raises
    ------
    ValueError
        For a line that does not have WordNet's index-file layout.
    """
    senses = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line[0] == " ":
            continue
        tok = line.split()
        try:
            count = int(tok[2])
            senses[tok[0]] = [int(t) for t in tok[len(tok) - count :]]
        except (IndexError, ValueError):
            raise ValueError(f"line {number} is not a WordNet index line: {line[:60]!r}") from None
    return senses


def _nltk_names(
    offsets: np.ndarray, lemmas: list[tuple[str, ...]], senses: dict[str, list[int]] | None
) -> tuple[str, ...]:
    # NLTK's synset name: the first lemma, lower case, and its sense number in index.noun.
    names = []
    for offset, words in zip(offsets.tolist(), lemmas, strict=True):
        lemma = words[0].lower()
        order = senses.get(lemma, []) if senses is not None else []
        sense = order.index(offset) + 1 if offset in order else 1
        names.append(f"{lemma}.n.{sense:02d}")
    return tuple(names)


def load_wordnet(folder: str | Path | None = None) -> Hierarchy:
    """WordNet 3.0's nouns with their direct hypernym and instance-hypernym edges.

    Parameters
    ----------
    folder : str or pathlib.Path, optional
        Folder holding ``data.noun`` (and ``index.noun``, for the sense numbers of the names;
        without it every name ends in ``.n.01``). Default: the cached ``wordnet`` dataset.

    Returns
    -------
    Hierarchy
        82,115 synsets and 84,427 edges (child -> parent) for WordNet 3.0.

    Raises
    ------
    rtnerf.workloads.data.DataNotFoundError
        When ``folder`` is not given and the dataset is not cached.
    FileNotFoundError
        When ``folder`` has no ``data.noun``.
    """
    if folder is None:
        from . import data

        folder = data.path("wordnet")
    folder = Path(folder)
    with open(folder / "data.noun", encoding="latin-1") as f:
        offsets, lemmas, hypernyms = parse_data_noun(f)
    senses = None
    if (folder / "index.noun").exists():
        with open(folder / "index.noun", encoding="latin-1") as f:
            senses = parse_index_noun(f)
    order = np.argsort(offsets)
    pairs = np.array(hypernyms, np.int64).reshape(-1, 2)
    where = np.searchsorted(offsets, pairs, sorter=order)
    where = np.minimum(where, offsets.size - 1)
    found = offsets[order[where]] == pairs
    if not found.all():
        raise ValueError(f"data.noun points to a synset it lacks: {pairs[~found][0]}")
    child, parent = _edges(offsets.size, order[where[:, 0]], order[where[:, 1]])
    return Hierarchy(_nltk_names(offsets, lemmas, senses), offsets, child, parent)


def transitive_closure(hierarchy: Hierarchy) -> Hierarchy:
    """Every (descendant, ancestor) pair of a DAG, as a :class:`Hierarchy` over the same nodes.

    Raises
    ------
    ValueError
        If the edges have a cycle.
    """
    n = hierarchy.nodes
    ptr, idx = _csr(n, hierarchy.child, hierarchy.parent)
    ancestors: list[np.ndarray | None] = [None] * n
    state = np.zeros(n, np.int8)  # 0 new, 1 on the stack, 2 done
    for start in range(n):
        if state[start]:
            continue
        stack = [start]
        while stack:
            v = stack[-1]
            if state[v] == 0:
                state[v] = 1
                for p in idx[ptr[v] : ptr[v + 1]]:
                    if state[p] == 1:
                        raise ValueError(
                            f"the hierarchy has a cycle through {hierarchy.names[p]!r}"
                        )
                    if state[p] == 0:
                        stack.append(int(p))
                continue
            stack.pop()
            if state[v] == 2:
                continue
            parts = [idx[ptr[v] : ptr[v + 1]]]
            parts += [ancestors[p] for p in idx[ptr[v] : ptr[v + 1]]]
            ancestors[v] = np.unique(np.concatenate(parts))
            state[v] = 2
    counts = np.array([a.size for a in ancestors], np.int64)
    child = np.repeat(np.arange(n, dtype=np.int64), counts)
    parent = np.concatenate(ancestors) if n else np.zeros(0, np.int64)
    return Hierarchy(hierarchy.names, hierarchy.offsets, child, parent.astype(np.int64))


def subtree(closure: Hierarchy, root: str | int) -> Hierarchy:
    """The closure restricted to ``root`` and its descendants, with nodes renumbered.

    Parameters
    ----------
    closure : Hierarchy
        A transitive closure (from :func:`transitive_closure`).
    root : str or int
        Name or index of the subtree's root.

    Returns
    -------
    Hierarchy
        The nodes ``root`` and every ``u`` with an edge ``u -> root`` (in index order), and the
        closure edges between them.
    """
    r = closure.index(root) if isinstance(root, str) else int(root)
    if not 0 <= r < closure.nodes:
        raise ValueError(f"`root` must be a node index in [0, {closure.nodes}), not {root!r}")
    keep = np.zeros(closure.nodes, np.bool_)
    keep[closure.child[closure.parent == r]] = True
    keep[r] = True
    nodes = np.flatnonzero(keep)
    new = np.full(closure.nodes, -1, np.int64)
    new[nodes] = np.arange(nodes.size)
    edge = keep[closure.child] & keep[closure.parent]
    return Hierarchy(
        tuple(closure.names[i] for i in nodes),
        closure.offsets[nodes],
        new[closure.child[edge]],
        new[closure.parent[edge]],
    )


def noun_closure(folder: str | Path | None = None) -> Hierarchy:
    """Nickel & Kiela's noun closure: 82,115 nodes, 743,241 edges (see :func:`load_wordnet`)."""
    return transitive_closure(load_wordnet(folder))


def mammal_closure(folder: str | Path | None = None) -> Hierarchy:
    """The noun closure restricted to ``mammal.n.01`` and its descendants (no extra filter).

    1,182 nodes and 6,542 edges for WordNet 3.0. The reference repository's Makefile
    (poincare-embeddings ``wordnet/Makefile`` with ``mammals_filter.txt``) gives 1,181 / 6,541:
    it keeps every ancestor edge of the mammals minus a list of names, so it drops
    ``female_mammal.n.01`` and ``tusker.n.01`` (leaves whose one edge goes to ``mammal.n.01``)
    and keeps one edge leaving the subtree, ``packhorse.n.01 -> pack_animal.n.01``.
    """
    return subtree(noun_closure(folder), MAMMAL)


def _csr(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((dst, src))
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    return ptr, np.asarray(dst, np.int64)[order]


# ------------------------------------------------------------------------------------------------
# Poincaré ball


def poincare_distance(u: np.ndarray, v: np.ndarray, eps: float = EPS) -> np.ndarray:
    """Poincaré distance of rows of ``u`` and ``v`` (broadcast), float64.

    ``arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2)(1 - |v|^2)))`` with the squared norms clamped to
    ``1 - eps``, as the reference code.
    """
    u = np.asarray(u, np.float64)
    v = np.asarray(v, np.float64)
    sq = ((u - v) ** 2).sum(axis=-1)
    nu = np.minimum((u * u).sum(axis=-1), 1 - eps)
    nv = np.minimum((v * v).sum(axis=-1), 1 - eps)
    return np.arccosh(1 + 2 * sq / ((1 - nu) * (1 - nv)))


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


@numba.njit(cache=True)
def _linked(ptr, idx, u, w):
    lo, hi = ptr[u], ptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if idx[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return lo < ptr[u + 1] and idx[lo] == w


@numba.njit(cache=True)
def _project(x, r, eps):
    norm = 0.0
    for c in range(x.shape[1]):
        norm += x[r, c] * x[r, c]
    norm = np.sqrt(norm)
    if norm >= 1 - eps:
        f = (1 - eps) / norm
        for c in range(x.shape[1]):
            x[r, c] *= f


@numba.njit(cache=True)
def _train_epoch(x, pos_u, pos_v, order, ptr, idx, cdf, negatives, lr, eps, max_grad, tries, seed):
    # One pass of per-example Riemannian SGD; returns the summed loss. cdf empty: uniform
    # negatives; else negatives drawn by inverse transform of the cumulative distribution.
    np.random.seed(seed)
    n, dim = x.shape
    cand = np.empty(negatives + 1, np.int64)
    dist = np.empty(negatives + 1)
    coef = np.empty(negatives + 1)
    gamma = np.empty(negatives + 1)
    gu = np.empty(dim)
    gw = np.empty((negatives + 1, dim))
    total = 0.0
    for e in order:
        u = pos_u[e]
        cand[0] = pos_v[e]
        k = 1
        for _ in range(negatives):
            for _t in range(tries):
                if cdf.size:
                    w = np.searchsorted(cdf, np.random.random() * cdf[-1], side="right")
                    w = min(w, n - 1)
                else:
                    w = np.random.randint(0, n)
                if w != u and not _linked(ptr, idx, u, w):
                    cand[k] = w
                    k += 1
                    break
        nu = 0.0
        for c in range(dim):
            nu += x[u, c] * x[u, c]
        alpha = 1 - min(nu, 1 - eps)
        dmin = np.inf
        for j in range(k):
            w = cand[j]
            nw, sq = 0.0, 0.0
            for c in range(dim):
                nw += x[w, c] * x[w, c]
                sq += (x[u, c] - x[w, c]) ** 2
            beta = 1 - min(nw, 1 - eps)
            gamma[j] = 1 + 2 * sq / (alpha * beta)
            dist[j] = np.arccosh(gamma[j])
            dmin = min(dmin, dist[j])
        z = 0.0
        for j in range(k):
            coef[j] = np.exp(dmin - dist[j])
            z += coef[j]
        total += dist[0] - dmin + np.log(z)
        # dL/dd_j: softmax weight, minus one for the positive.
        for j in range(k):
            coef[j] = coef[j] / z
        coef[0] -= 1.0
        for c in range(dim):
            gu[c] = 0.0
        for j in range(k):
            w = cand[j]
            nw, dot = 0.0, 0.0
            for c in range(dim):
                nw += x[w, c] * x[w, c]
                dot += x[u, c] * x[w, c]
            beta = 1 - min(nw, 1 - eps)
            root = np.sqrt(max(gamma[j] * gamma[j] - 1, eps))
            a = coef[j] * 4 / (beta * root)
            b = coef[j] * 4 / (alpha * root)
            for c in range(dim):
                gu[c] += a * ((nw - 2 * dot + 1) / alpha**2 * x[u, c] - x[w, c] / alpha)
                gw[j, c] = b * ((nu - 2 * dot + 1) / beta**2 * x[w, c] - x[u, c] / beta)
        # gu, gw hold minus the gradient of the loss (coef[j] is -dL/dd_j): step along them.
        for j in range(-1, k):
            w = u if j < 0 else cand[j]
            norm = 0.0
            for c in range(dim):
                norm += x[w, c] * x[w, c]
            f = (1 - min(norm, 1 - eps)) ** 2 / 4
            g = 0.0
            for c in range(dim):
                v = f * (gu[c] if j < 0 else gw[j, c])
                g += v * v
            g = np.sqrt(g)
            if g > max_grad:
                f *= max_grad / g
            for c in range(dim):
                x[w, c] += lr * f * (gu[c] if j < 0 else gw[j, c])
            _project(x, w, eps)
    return total


def train_poincare(
    hierarchy: Hierarchy,
    *,
    dim: int = 10,
    epochs: int = 100,
    lr: float = 0.1,
    negatives: int = 50,
    burnin: int = 20,
    burnin_factor: float = 0.01,
    init: float = 1e-3,
    max_grad: float = 5.0,
    seed: int = 0,
    progress: bool = False,
    callback=None,
    start: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Poincaré embeddings of a closure's nodes by per-example Riemannian SGD.

    Parameters
    ----------
    hierarchy : Hierarchy
        Training edges ``(u, v)``, usually a transitive closure.
    dim : int
        Dimensions of the ball.
    epochs : int
        Passes over the edges (in a new random order each), burn-in included.
    lr : float
        Learning rate per example.
    negatives : int
        Non-neighbours of ``u`` sampled per edge (a sample that is ``u`` or linked to ``u``
        either way is redrawn up to 10 times, then dropped).
    burnin, burnin_factor : int, float
        The first ``burnin`` epochs run at ``lr * burnin_factor`` with negatives drawn in
        proportion to (node count among the edges) ** 0.75; the others draw them uniformly.
    init : float
        Initial coordinates are uniform in ``[-init, init]``.
    max_grad : float
        Riemannian gradients longer than this are shortened to it.
    seed : int
        Seed of the initialisation, the edge order and the negatives.
    progress : bool
        Show a tqdm bar over the epochs.
    callback : callable, optional
        Called as ``callback(epoch, x, loss)`` after each epoch (``loss``: mean per edge).
    start : numpy.ndarray, optional
        ``(nodes, dim)`` points to continue from (copied, projected into the ball) instead of
        the random initialisation; set ``burnin=0`` to continue without a burn-in.

    Returns
    -------
    x : numpy.ndarray
        float64 ``(nodes, dim)`` points, every norm below ``1 - EPS``.
    losses : numpy.ndarray
        Mean loss per edge of every epoch.
    """
    check_int("dim", dim, minimum=1)
    check_int("epochs", epochs, minimum=0)
    check_int("negatives", negatives, minimum=1)
    check_int("burnin", burnin, minimum=0)
    for name, value in (("lr", lr), ("init", init), ("max_grad", max_grad)):
        if not value > 0:
            raise ValueError(f"`{name}` must be positive, not {value!r}")
    if not 0 < burnin_factor <= 1:
        raise ValueError(f"`burnin_factor` must be in (0, 1], not {burnin_factor!r}")
    if hierarchy.edges == 0:
        raise ValueError("`hierarchy` must have edges to train on")
    n = hierarchy.nodes
    rng = np.random.default_rng(seed)
    x = rng.uniform(-init, init, (n, dim))
    if start is not None:
        if start.shape != (n, dim):
            raise ValueError(f"`start` must have shape ({n}, {dim}), not {start.shape}")
        x = np.array(start, np.float64)
        for r in range(n):
            _project(x, r, EPS)
    ptr, idx = _csr(
        n,
        np.concatenate([hierarchy.child, hierarchy.parent]),
        np.concatenate([hierarchy.parent, hierarchy.child]),
    )
    counts = np.bincount(np.concatenate([hierarchy.child, hierarchy.parent]), minlength=n)
    cdf = np.cumsum(counts.astype(np.float64) ** 0.75)
    uniform = np.zeros(0, np.float64)
    losses = np.empty(epochs)
    epochs_iter = range(epochs)
    if progress:
        from tqdm import tqdm

        epochs_iter = tqdm(epochs_iter, desc=f"poincare d={dim}", unit="epoch")
    for epoch in epochs_iter:
        warm = epoch < burnin
        total = _train_epoch(
            x,
            hierarchy.child,
            hierarchy.parent,
            rng.permutation(hierarchy.edges),
            ptr,
            idx,
            cdf if warm else uniform,
            negatives,
            lr * (burnin_factor if warm else 1.0),
            EPS,
            max_grad,
            10,
            int(rng.integers(1 << 31)),
        )
        losses[epoch] = total / hierarchy.edges
        if progress:
            epochs_iter.set_postfix(loss=f"{losses[epoch]:.4f}")
        if callback is not None:
            callback(epoch, x, losses[epoch])
    return x, losses


# ------------------------------------------------------------------------------------------------
# Reconstruction


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
    ptr, idx = _csr(n, hierarchy.child, hierarchy.parent)
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


# ------------------------------------------------------------------------------------------------
# The accelerator workload


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
    ptr, idx = _csr(
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
        out[i] = u[i] == w[i] or _linked(ptr, idx, u[i], w[i])
    return out


def distance_kernel(table: np.ndarray, u: np.ndarray, v: np.ndarray, name: str = "poincare"):
    """The distance of each pair ``(u[k], v[k])`` as engine work: a ``l2`` :class:`BagKernel`.

    Bags ``2k`` and ``2k + 1`` hold one row each (``u[k]``, ``v[k]``, weight 1.0) from the one
    table; the pairwise stage returns ``|u - v|^2, |u|^2, |v|^2`` and
    :func:`distances_from_scores` finishes the distance on the host.
    """
    from .kernel import pair_kernel

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
