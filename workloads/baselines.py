"""Software baselines of a :class:`~rtnerf.workloads.kernel.BagKernel`, timed side by side.

Three implementations compute what :meth:`BagKernel.reference` defines (pooled bags, or the
pair scores of bags ``2k`` and ``2k + 1``), each the way software would on a CPU, in float32
(the tables' type) with float32 accumulation:

* ``numpy``: vectorised; the rows of a block of bags are gathered (``table[rows]``), scaled by
  their weights and summed per bag with ``np.add.reduceat``; blocks of about
  :data:`NUMPY_BLOCK` lookups bound the temporaries;
* ``numba``: a parallel loop over bags (``prange``), or over pairs for a pairwise score (both
  bags pooled into per-thread scratch rows and scored at once); no ``fastmath``;
* ``torch`` (optional, ``pip install rtnerf[baselines]``):
  ``torch.nn.functional.embedding_bag(mode="sum", per_sample_weights=...)``, then the scores
  with tensor ops.

Tables of a multi-table kernel are concatenated once, before timing (one row space, the
lookups' rows offset by their table's start). :func:`time_kernel` times the implementations
in one run, interleaved repeat by repeat (so that the load of a shared machine hits them
alike), and checks each against the float64 reference: the largest absolute error over the
largest magnitude of the reference must not exceed :data:`TOLERANCE`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from collections.abc import Callable, Sequence

import numba
import numpy as np

from .kernel import BagKernel, pair_scores

__all__ = [
    "IMPLEMENTATIONS",
    "NUMPY_BLOCK",
    "TOLERANCE",
    "Timing",
    "available",
    "prepare",
    "relative_error",
    "time_kernel",
]

#: Every software baseline, in report order.
IMPLEMENTATIONS = ("numpy", "numba", "torch")

#: Largest error of a float32 baseline, relative to the reference's largest magnitude.
TOLERANCE = 1e-4

#: Lookups per block of the numpy baseline (bounds its gathered temporary to a few MB).
NUMPY_BLOCK = 1 << 15


def available() -> tuple[str, ...]:
    """The implementations that can run here (``torch`` only when it is importable)."""
    return tuple(
        name for name in IMPLEMENTATIONS if name != "torch" or importlib.util.find_spec("torch")
    )


def _flat(kernel: BagKernel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One float32 table (C-contiguous), global row ids (int64) and float32 weights."""
    if len(kernel.tables) == 1:
        table = np.ascontiguousarray(kernel.tables[0])
        rows = kernel.row.astype(np.int64, copy=False)
    else:
        table = np.concatenate(kernel.tables)
        starts = np.cumsum([0] + [t.shape[0] for t in kernel.tables[:-1]]).astype(np.int64)
        rows = starts[kernel.table] + kernel.row
    return table, rows, kernel.weight.astype(np.float32)


def _blocks(offsets: np.ndarray, block: int) -> list[tuple[int, int]]:
    """Bag ranges ``[b0, b1)`` of at most ``block`` lookups (or one bag)."""
    out, b0, bags = [], 0, offsets.size - 1
    while b0 < bags:
        b1 = int(np.searchsorted(offsets, offsets[b0] + block, side="right")) - 1
        b1 = max(b1, b0 + 1)
        out.append((b0, b1))
        b0 = b1
    return out


def _numpy(kernel: BagKernel) -> Callable[[], np.ndarray]:
    table, rows, weight = _flat(kernel)
    offsets = kernel.offsets
    blocks = _blocks(offsets, NUMPY_BLOCK)
    singles = kernel.lookups == kernel.bags

    def run() -> np.ndarray:
        if singles:  # every bag one row (pair scores of rows): no reduction
            pooled = table[rows]
            pooled *= weight[:, None]
            return pooled if kernel.pairwise == "none" else pair_scores(pooled, kernel.pairwise)
        pooled = np.empty((kernel.bags, kernel.dim), np.float32)
        for b0, b1 in blocks:
            lo, hi = offsets[b0], offsets[b1]
            gathered = table[rows[lo:hi]]
            gathered *= weight[lo:hi, None]
            pooled[b0:b1] = np.add.reduceat(gathered, offsets[b0:b1] - lo, axis=0)
        return pooled if kernel.pairwise == "none" else pair_scores(pooled, kernel.pairwise)

    return run


@numba.njit(parallel=True, cache=True)
def _pool(table, rows, weight, offsets, out):
    for b in numba.prange(out.shape[0]):
        for j in range(offsets[b], offsets[b + 1]):
            r, w = rows[j], weight[j]
            for c in range(out.shape[1]):
                out[b, c] += w * table[r, c]


@numba.njit(cache=True)
def _pool_one(table, rows, weight, lo, hi, acc):
    acc[:] = 0.0
    for j in range(lo, hi):
        r, w = rows[j], weight[j]
        for c in range(acc.shape[0]):
            acc[c] += w * table[r, c]


@numba.njit(parallel=True, cache=True)
def _pair_scores(table, rows, weight, offsets, l2, scratch, out):
    # Both bags of a pair pooled into the thread's scratch rows, then scored: no pooled array.
    for p in numba.prange(out.shape[0]):
        u = scratch[numba.get_thread_id(), 0]
        v = scratch[numba.get_thread_id(), 1]
        _pool_one(table, rows, weight, offsets[2 * p], offsets[2 * p + 1], u)
        _pool_one(table, rows, weight, offsets[2 * p + 1], offsets[2 * p + 2], v)
        s0 = np.float32(0.0)
        s1 = np.float32(0.0)
        s2 = np.float32(0.0)
        for c in range(u.shape[0]):
            if l2:
                s0 += (u[c] - v[c]) * (u[c] - v[c])
                s1 += u[c] * u[c]
                s2 += v[c] * v[c]
            else:
                s0 += u[c] * v[c]
        out[p, 0] = s0
        out[p, 1] = s1
        out[p, 2] = s2


def _numba(kernel: BagKernel) -> Callable[[], np.ndarray]:
    table, rows, weight = _flat(kernel)
    offsets = kernel.offsets.astype(np.int64, copy=False)

    def run() -> np.ndarray:
        if kernel.pairwise == "none":
            pooled = np.zeros((kernel.bags, kernel.dim), np.float32)
            _pool(table, rows, weight, offsets, pooled)
            return pooled
        scratch = np.empty((numba.get_num_threads(), 2, kernel.dim), np.float32)
        out = np.empty((kernel.bags // 2, 3), np.float32)
        _pair_scores(table, rows, weight, offsets, kernel.pairwise == "l2", scratch, out)
        return out

    return run


def _torch(kernel: BagKernel) -> Callable[[], np.ndarray]:
    import torch

    table, rows, weight = _flat(kernel)
    # from_numpy shares memory and warns on read-only arrays (memory-mapped tables): copy those.
    t_table = torch.from_numpy(np.require(table, requirements=["C", "W"]))
    t_rows = torch.from_numpy(np.require(rows, np.int64, ["C", "W"]))
    t_weight = torch.from_numpy(np.require(weight, requirements=["C", "W"]))
    t_offsets = torch.from_numpy(np.require(kernel.offsets[:-1], np.int64, ["C", "W"]))
    embedding_bag = torch.nn.functional.embedding_bag

    def run() -> np.ndarray:
        with torch.inference_mode():
            pooled = embedding_bag(
                t_rows, t_table, t_offsets, mode="sum", per_sample_weights=t_weight
            )
            if kernel.pairwise == "none":
                return pooled.numpy()
            u, v = pooled[0::2], pooled[1::2]
            out = torch.zeros((u.shape[0], 3), dtype=pooled.dtype)
            if kernel.pairwise == "dot":
                out[:, 0] = (u * v).sum(dim=1)
            else:
                out[:, 0] = ((u - v) ** 2).sum(dim=1)
                out[:, 1] = (u * u).sum(dim=1)
                out[:, 2] = (v * v).sum(dim=1)
            return out.numpy()

    return run


_PREPARE = {"numpy": _numpy, "numba": _numba, "torch": _torch}


def prepare(kernel: BagKernel, implementation: str) -> Callable[[], np.ndarray]:
    """A function computing ``kernel`` with ``implementation``, its set-up done.

    The set-up (concatenating tables, converting arrays) is left out of what the returned
    function does, so that timing it times the kernel. The function returns float32 results
    shaped as :meth:`BagKernel.reference`'s.

    Raises
    ------
    TypeError
        If ``kernel`` is not a :class:`BagKernel`.
    ValueError
        If ``implementation`` is not one of :data:`IMPLEMENTATIONS`, or cannot run here.
    """
    if not isinstance(kernel, BagKernel):
        raise TypeError(f"`kernel` must be a BagKernel, not {type(kernel).__name__}")
    if implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"`implementation` must be one of {', '.join(IMPLEMENTATIONS)}, not {implementation!r}"
        )
    if implementation not in available():
        raise ValueError(
            f"`implementation` {implementation!r} is not installed here "
            "(pip install rtnerf[baselines])"
        )
    return _PREPARE[implementation](kernel)


def relative_error(result: np.ndarray, reference: np.ndarray) -> float:
    """Largest absolute error of ``result`` over the largest magnitude of ``reference``."""
    result = np.asarray(result, np.float64)
    if result.shape != reference.shape:
        raise ValueError(f"`result` has shape {result.shape}, the reference {reference.shape}")
    scale = float(np.abs(reference).max(initial=0.0)) or 1.0
    return float(np.abs(result - reference).max(initial=0.0)) / scale


@dataclasses.dataclass(frozen=True)
class Timing:
    """One implementation timed on one kernel.

    Attributes
    ----------
    implementation : str
        One of :data:`IMPLEMENTATIONS`.
    kernel : str
        The kernel's ``family/name``.
    seconds : tuple of float
        Wall time of each timed repeat (after the warm-up).
    lookups, bags : int
        Of the kernel.
    useful_bytes : int
        Bytes of the rows read (float32: ``lookups * dim * 4``).
    error : float
        :func:`relative_error` against the float64 reference.
    threads : int
        Threads the implementation may use.
    """

    implementation: str
    kernel: str
    seconds: tuple[float, ...]
    lookups: int
    bags: int
    useful_bytes: int
    error: float
    threads: int

    @property
    def median_s(self) -> float:
        """Median time of a run."""
        return float(np.median(self.seconds))

    @property
    def lookups_per_s(self) -> float:
        """Row reads per second (at the median time)."""
        return self.lookups / self.median_s

    @property
    def bags_per_s(self) -> float:
        """Bags per second (at the median time)."""
        return self.bags / self.median_s

    @property
    def effective_gb_per_s(self) -> float:
        """Useful bytes of rows read per second, in 1e9 bytes."""
        return self.useful_bytes / self.median_s / 1e9

    @property
    def agrees(self) -> bool:
        """The result is within :data:`TOLERANCE` of the reference."""
        return self.error <= TOLERANCE

    def to_dict(self) -> dict:
        """JSON-ready summary (times in seconds, rates per second)."""
        return {
            "implementation": self.implementation,
            "kernel": self.kernel,
            "median_s": self.median_s,
            "seconds": list(self.seconds),
            "lookups": self.lookups,
            "bags": self.bags,
            "lookups_per_s": self.lookups_per_s,
            "bags_per_s": self.bags_per_s,
            "useful_bytes": self.useful_bytes,
            "effective_gb_per_s": self.effective_gb_per_s,
            "error": self.error,
            "tolerance": TOLERANCE,
            "agrees": self.agrees,
            "threads": self.threads,
        }


def _threads(implementation: str) -> int:
    if implementation == "numba":
        return int(numba.get_num_threads())
    if implementation == "torch":
        import torch

        return int(torch.get_num_threads())
    return 1  # numpy's gather and reduceat run on one thread


def time_kernel(
    kernel: BagKernel,
    implementations: Sequence[str] | None = None,
    *,
    repeats: int = 5,
    warmup: int = 1,
    reference: np.ndarray | None = None,
) -> list[Timing]:
    """Time the software baselines on ``kernel`` side by side; check them against the reference.

    Each implementation runs ``warmup`` untimed times (numba compiles, caches fill; the first
    run's result is checked against ``reference``, default :meth:`BagKernel.reference`), then
    the implementations take turns ``repeats`` times.

    Parameters
    ----------
    kernel : BagKernel
        The kernel.
    implementations : sequence of str, optional
        Default: every :func:`available` one.
    repeats, warmup : int
        Timed and untimed runs of each implementation (at least 1 each).
    reference : numpy.ndarray, optional
        The kernel's float64 result, if already computed.

    Returns
    -------
    list of Timing
        One per implementation, in the order given.

    Raises
    ------
    ValueError
        As :func:`prepare`; or ``repeats`` or ``warmup`` < 1.
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"`repeats` must be a positive integer, not {repeats!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or warmup < 1:
        raise ValueError(f"`warmup` must be a positive integer, not {warmup!r}")
    names = list(available() if implementations is None else implementations)
    runs = {name: prepare(kernel, name) for name in names}
    ref = kernel.reference() if reference is None else reference
    errors = {}
    for name, run in runs.items():
        errors[name] = relative_error(run(), ref)
        for _ in range(warmup - 1):
            run()
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - start)
    label = f"{kernel.family}/{kernel.name}"
    return [
        Timing(
            implementation=name,
            kernel=label,
            seconds=tuple(seconds[name]),
            lookups=kernel.lookups,
            bags=kernel.bags,
            useful_bytes=kernel.useful_bytes(4),
            error=errors[name],
            threads=_threads(name),
        )
        for name in names
    ]
