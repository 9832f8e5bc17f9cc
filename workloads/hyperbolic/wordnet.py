"""The WordNet noun hierarchy: parsing, transitive closure, subtrees, adjacency.

:func:`load_wordnet` reads WordNet 3.0's ``data.noun`` (and ``index.noun`` for NLTK-style names
``lemma.n.NN``) into a :class:`Hierarchy` of direct hypernym and instance-hypernym edges (child
-> parent); :func:`transitive_closure` gives Nickel & Kiela's training set (82,115 nodes,
743,241 edges) and :func:`subtree` the closure restricted to the descendants of one synset
(``mammal.n.01``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from pathlib import Path

import numba
import numpy as np

__all__ = [
    "MAMMAL",
    "Hierarchy",
    "adjacency",
    "linked",
    "load_wordnet",
    "mammal_closure",
    "noun_closure",
    "parse_data_noun",
    "parse_index_noun",
    "subtree",
    "transitive_closure",
]

MAMMAL = "mammal.n.01"
"""NLTK name of WordNet 3.0's mammal synset (offset 01861778)."""


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
        from .. import data

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
    ptr, idx = adjacency(n, hierarchy.child, hierarchy.parent)
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


def adjacency(n: int, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CSR adjacency ``(ptr, idx)`` of edges ``src -> dst``, neighbours sorted.

    Node ``u``'s neighbours are ``idx[ptr[u]:ptr[u + 1]]``.
    """
    order = np.lexsort((dst, src))
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=ptr[1:])
    return ptr, np.asarray(dst, np.int64)[order]


@numba.njit(cache=True)
def linked(ptr, idx, u, w):
    """Whether ``w`` is among ``u``'s neighbours in the CSR adjacency ``(ptr, idx)``."""
    lo, hi = ptr[u], ptr[u + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if idx[mid] < w:
            lo = mid + 1
        else:
            hi = mid
    return lo < ptr[u + 1] and idx[lo] == w
