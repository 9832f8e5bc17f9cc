"""Naive hyperbolic references: closure by repeated search, distance and reconstruction by loops."""

import math


def closure(n, edges):
    """Set of (descendant, ancestor) pairs: every node reachable from each node, by search."""
    parents = {v: set() for v in range(n)}
    for c, p in edges:
        parents[c].add(p)
    out = set()
    for v in range(n):
        seen, todo = set(), list(parents[v])
        while todo:
            p = todo.pop()
            if p not in seen:
                seen.add(p)
                todo.extend(parents[p])
        out |= {(v, a) for a in seen if a != v}
    return out


def distance(u, v, eps=1e-5):
    """Poincaré distance of two sequences of floats, squared norms clamped to 1 - eps."""
    sq = sum((a - b) ** 2 for a, b in zip(u, v, strict=True))
    nu = min(sum(a * a for a in u), 1 - eps)
    nv = min(sum(b * b for b in v), 1 - eps)
    return math.acosh(1 + 2 * sq / ((1 - nu) * (1 - nv)))


def reconstruction(n, edges, dist):
    """(mean rank, MAP) by the definitions, ``dist(u, w)`` a function; ties count against.

    For each ``u`` with neighbours ``N_u = {v : (u, v) in edges}``: the rank of ``v`` is 1 plus
    the non-neighbours ``w != u`` with ``d(u, w) <= d(u, v)``; ``AP(u)`` is the mean over ``v``
    of ``|{w in N_u : d(u, w) <= d(u, v)}| / |{w != u : d(u, w) <= d(u, v)}|``.
    """
    nbrs = {}
    for c, p in edges:
        nbrs.setdefault(c, set()).add(p)
    ranks, aps = [], []
    for u, nu in sorted(nbrs.items()):
        d = {w: dist(u, w) for w in range(n) if w != u}
        ap = []
        for v in nu:
            closer = [w for w in d if d[w] <= d[v]]
            ranks.append(1 + sum(w not in nu for w in closer))
            ap.append(sum(w in nu for w in closer) / len(closer))
        aps.append(sum(ap) / len(ap))
    return sum(ranks) / len(ranks), sum(aps) / len(aps)
