"""Poincaré embeddings (Nickel & Kiela 2017) by Riemannian SGD in numba, and the ball's distance.

:func:`train_poincare`: for every closure edge ``(u, v)`` a softmax loss over ``d(u, v)`` and
``d(u, w)`` for sampled non-neighbours ``w``, the Euclidean gradient rescaled by the inverse
metric ``(1 - |x|^2)^2 / 4`` and the point projected back into the ball. *Choice*: plain
per-example SGD (one positive and its negatives per step), where the reference code averages
mini-batches of 50 (so its ``lr`` 1.0 is about our 0.02 per example); the burn-in (a few epochs
at a hundredth of the rate, negatives drawn from the unigram distribution to the power 0.75) is
the reference code's.
"""

from __future__ import annotations

import numba
import numpy as np

from ...params import check_int
from .wordnet import Hierarchy, adjacency, linked

__all__ = ["EPS", "poincare_distance", "train_poincare"]

EPS = 1e-5
"""Boundary margin of the ball: squared norms are clamped to ``1 - EPS``, points kept inside."""


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
                if w != u and not linked(ptr, idx, u, w):
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
    ptr, idx = adjacency(
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
