"""Embedding kernels as bags of weighted row reads: the one form every workload family shares.

A :class:`BagKernel` is an embedding-bag over float tables: bag ``b`` is the weighted sum of
the rows its lookups name, ``out[b] = sum_j weight[j] * tables[table[j]][row[j]]`` over
``j in offsets[b]:offsets[b + 1]`` (mean pooling is a weight of ``1 / len``). With
``pairwise`` set, bags ``2k`` and ``2k + 1`` are scored against each other: ``dot`` gives
``u . v``, ``l2`` gives ``(|u - v|^2, |u|^2, |v|^2)`` (the inputs of a Poincare distance).

The same object feeds every consumer:

* software baselines and :meth:`BagKernel.reference` (float64, the naive definition);
* the engine: :func:`design` adapts a design point to the kernel (row id width, column count,
  tables, bag length, pairwise stage), :func:`engine_inputs` quantises the tables into memory
  images (one scale for all tables, so bags that mix tables stay exact) and the weights into
  the trace's fixed point, and :func:`golden` runs the bit-exact golden model and converts its
  integers back to reals.

:func:`balanced` orders a kernel's bags longest first, the host-side schedule that keeps the
engine's units evenly loaded (bags are independent, so any order gives the same results).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..models.golden import embedding_lookup_unit as unit_model
from ..models.image import MemoryImage, encode
from ..models.quant import check_table
from ..models.trace import Op, Trace
from ..params import EngineParams

__all__ = [
    "ENTRY_CACHE_LINES",
    "FAMILIES",
    "PAIRWISE",
    "BagKernel",
    "balanced",
    "design",
    "engine_inputs",
    "engine_trace",
    "golden",
    "pair_kernel",
    "pair_scores",
]

#: Workload families.
FAMILIES = ("hyperbolic", "graph", "text", "nerf")

#: Pairwise scores of bag pairs.
PAIRWISE = ("none", "dot", "l2")


@dataclasses.dataclass(frozen=True, eq=False)
class BagKernel:
    """One embedding kernel as bags of weighted row reads.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"graphsage-mean"``.
    family : str
        One of :data:`FAMILIES`.
    tables : tuple of numpy.ndarray
        Float32 tables ``(rows, dim)``, all with the same ``dim``.
    table : numpy.ndarray
        Table of each lookup (integer, ``0 <= table < len(tables)``).
    row : numpy.ndarray
        Row of each lookup (``int64``, within its table).
    weight : numpy.ndarray
        Real weight of each lookup (``float64``).
    offsets : numpy.ndarray
        ``int64`` bag starts then the number of lookups: bag ``b`` is lookups
        ``offsets[b]:offsets[b + 1]``; every bag has at least one lookup.
    pairwise : str
        ``"none"``, or ``"dot"`` / ``"l2"`` to score bags ``2k`` and ``2k + 1``.
    description : str
        What the kernel computes and on which data (for reports).

    Raises
    ------
    TypeError, ValueError
        Naming the first field that is malformed.
    """

    name: str
    family: str
    tables: tuple[np.ndarray, ...]
    table: np.ndarray
    row: np.ndarray
    weight: np.ndarray
    offsets: np.ndarray
    pairwise: str = "none"
    description: str = ""

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"`family` must be one of {', '.join(FAMILIES)}, not {self.family!r}")
        if self.pairwise not in PAIRWISE:
            raise ValueError(
                f"`pairwise` must be one of {', '.join(PAIRWISE)}, not {self.pairwise!r}"
            )
        if not isinstance(self.tables, tuple) or not self.tables:
            raise TypeError("`tables` must be a non-empty tuple of 2-D float arrays")
        for t, tab in enumerate(self.tables):
            check_table(tab, f"tables[{t}]")
            if tab.dtype != np.float32:
                raise TypeError(f"`tables[{t}]` must be float32, not {tab.dtype}")
            if tab.shape[1] != self.dim:
                raise ValueError(
                    f"`tables[{t}]` has {tab.shape[1]} columns, `tables[0]` {self.dim}"
                )
        n = None
        for field, kind in (("table", "iu"), ("row", "i"), ("weight", "f")):
            arr = getattr(self, field)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype.kind not in kind:
                raise TypeError(
                    f"`{field}` must be a 1-D {'integer' if kind != 'f' else 'float'} array"
                )
            if n is not None and arr.size != n:
                raise ValueError(f"`{field}` has {arr.size} entries, `table` has {n}")
            n = arr.size
        off = self.offsets
        if not isinstance(off, np.ndarray) or off.ndim != 1 or off.dtype.kind != "i":
            raise TypeError("`offsets` must be a 1-D integer array")
        if off.size < 2 or off[0] != 0 or off[-1] != n or (np.diff(off) < 1).any():
            raise ValueError(
                "`offsets` must start at 0, end at the number of lookups and increase strictly "
                "(every bag has a lookup)"
            )
        if self.pairwise != "none" and self.bags % 2:
            raise ValueError(f"a pairwise kernel needs an even number of bags, not {self.bags}")
        if (self.table < 0).any() or (self.table >= len(self.tables)).any():
            raise ValueError(f"`table` must be in [0, {len(self.tables)})")
        rows = np.array([tab.shape[0] for tab in self.tables])
        if (self.row < 0).any() or (self.row >= rows[self.table]).any():
            i = int(np.argmax((self.row < 0) | (self.row >= rows[self.table])))
            raise ValueError(f"lookup {i}: `row` {self.row[i]} is outside table {self.table[i]}")
        if not np.isfinite(self.weight).all():
            raise ValueError("`weight` must be finite")

    @property
    def dim(self) -> int:
        """Columns of every table."""
        return int(self.tables[0].shape[1])

    @property
    def bags(self) -> int:
        """Number of bags."""
        return int(self.offsets.size - 1)

    @property
    def lookups(self) -> int:
        """Number of row reads."""
        return int(self.row.size)

    @property
    def max_bag(self) -> int:
        """Lookups of the longest bag."""
        return int(np.diff(self.offsets).max())

    def useful_bytes(self, bytes_per_value: int = 4) -> int:
        """Bytes of the rows read, at ``bytes_per_value`` per element (fp32: 4)."""
        return self.lookups * self.dim * bytes_per_value

    def pooled(self) -> np.ndarray:
        """Float64 pooled bags ``(bags, dim)`` by the definition (a loop over lookups)."""
        out = np.zeros((self.bags, self.dim))
        bag_of = np.repeat(np.arange(self.bags), np.diff(self.offsets))
        for t, tab in enumerate(self.tables):
            sel = self.table == t
            np.add.at(out, bag_of[sel], tab[self.row[sel]] * self.weight[sel, None])
        return out

    def reference(self) -> np.ndarray:
        """The kernel's float64 result: pooled bags, or ``(pairs, 3)`` pairwise scores.

        Scores are laid out as the engine's pairwise stage: ``dot`` ``(u . v, 0, 0)``, ``l2``
        ``(|u - v|^2, |u|^2, |v|^2)``.
        """
        pooled = self.pooled()
        if self.pairwise == "none":
            return pooled
        return pair_scores(pooled, self.pairwise)


def pair_kernel(
    name: str,
    family: str,
    table: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    pairwise: str,
    description: str = "",
) -> BagKernel:
    """Scores of row pairs ``(u[k], v[k])`` of one table: bags ``2k``, ``2k + 1`` hold one row each.

    Raises
    ------
    ValueError
        If ``u`` and ``v`` are not 1-D arrays of the same length, or as :class:`BagKernel`.
    """
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    if u.shape != v.shape or u.ndim != 1:
        raise ValueError("`u` and `v` must be 1-D arrays of the same length")
    rows = np.empty(2 * u.size, np.int64)
    rows[0::2], rows[1::2] = u, v
    return BagKernel(
        name=name,
        family=family,
        tables=(np.ascontiguousarray(table, np.float32),),
        table=np.zeros(rows.size, np.int64),
        row=rows,
        weight=np.ones(rows.size),
        offsets=np.arange(rows.size + 1, dtype=np.int64),
        pairwise=pairwise,
        description=description,
    )


def pair_scores(pooled: np.ndarray, pairwise: str) -> np.ndarray:
    """``(pairs, 3)`` scores of bags ``2k``, ``2k + 1`` (as :meth:`BagKernel.reference`)."""
    u, v = pooled[0::2], pooled[1::2]
    out = np.zeros((len(u), 3), pooled.dtype)
    if pairwise == "dot":
        out[:, 0] = (u * v).sum(axis=1)
    else:
        out[:, 0] = ((u - v) ** 2).sum(axis=1)
        out[:, 1] = (u * u).sum(axis=1)
        out[:, 2] = (v * v).sum(axis=1)
    return out


def balanced(kernel: BagKernel) -> tuple[BagKernel, np.ndarray]:
    """``kernel`` with its bags longest first, and the order: the engine's balanced schedule.

    The engine deals bag ``b`` to unit ``b mod units`` and returns results in bag order
    (:class:`~rtnerf.rtl.engine.Engine`), so a round of ``units`` bags lasts as long as its
    longest bag: units dealt short bags wait for the next round while the long one drains.
    Bag lengths of power-law data vary widely (FastRP on as-22july06: 1 to 64 lookups, mean
    4.1), and in trace order that imbalance left 19% of the DRAM bandwidth idle. Longest
    first (stable, so equal lengths keep the trace's order) makes every round's bags nearly
    equally long. The host undoes the order when it reads the results (``reference()[order]``
    is the scheduled kernel's reference), as GNN accelerators sort vertices by degree and NLP
    batches bucket sentences by length.

    A pairwise kernel keeps each pair together: pairs are ordered by their two bags' total
    length, and ``order`` indexes pairs.

    Returns
    -------
    tuple
        The scheduled :class:`BagKernel` and ``order`` (``int64``): its bag (or pair) ``i``
        is ``kernel``'s bag (or pair) ``order[i]``.
    """
    sizes = np.diff(kernel.offsets)
    if kernel.pairwise == "none":
        order = np.argsort(-sizes, kind="stable")
        bags = order
    else:
        order = np.argsort(-(sizes[0::2] + sizes[1::2]), kind="stable")
        bags = np.stack([2 * order, 2 * order + 1], axis=1).reshape(-1)
    lengths = sizes[bags]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    # The lookups of bag bags[i] in their trace order: each bag's start plus 0 .. length - 1.
    lookups = np.repeat(kernel.offsets[bags] - offsets[:-1], lengths) + np.arange(offsets[-1])
    scheduled = dataclasses.replace(
        kernel,
        table=kernel.table[lookups],
        row=kernel.row[lookups],
        weight=kernel.weight[lookups],
        offsets=offsets,
    )
    return scheduled, order.astype(np.int64)


#: Entry-cache lines :func:`design` gives a unit whose kernel reads directory entries: on the
#: graph kernels 256 lines take 17-29% of the DRAM bytes per lookup away (64 lines: 16-25%).
ENTRY_CACHE_LINES = 256


def design(kernel: BagKernel, base: EngineParams | None = None) -> EngineParams:
    """``base`` (default: the default design) adapted to run ``kernel``.

    Changes only what the kernel forces: ``unit.decoder.columns`` (the tables' columns),
    ``unit.lanes`` (the largest divisor of ``dim`` not above the base's),
    ``unit.decoder.row_width`` (wide enough for the largest table, never narrower than the
    base's), ``unit.tables``, ``unit.max_bag`` (at
    least the longest bag), ``unit.pairwise`` and ``unit.weight_frac_bits``: as many fraction
    bits as ``weight_width`` allows for the largest weight (14 for weights up to 1 in 16 bits),
    so that small weights such as ``1 / degree`` of a hub keep their precision (with 8
    fraction bits every weight below 1/512 would round to zero); and ``unit.out_width``, never
    narrower than the base's, wide enough for the largest pooled value (in steps of the
    tables' shared quantisation scale, one bit of margin) so that sums do not saturate
    (capped at 32 bits, and so that pairwise scores fit 62 bits); and, when a table is not
    stored all-DENSE (so lookups read directory entries), ``unit.entry_cache_lines``
    (:data:`ENTRY_CACHE_LINES`) unless the base has a directory SRAM or an entry cache.
    """
    base = base or EngineParams()
    u = base.unit
    rows = max(tab.shape[0] for tab in kernel.tables)
    lanes = max(d for d in range(1, u.lanes + 1) if kernel.dim % d == 0)
    peak = float(np.abs(kernel.weight).max())
    whole_bits = max(0, math.ceil(math.log2(peak))) if peak > 0 else 0
    frac = u.weight_width - 2 - whole_bits
    if frac < 0:
        raise ValueError(
            f"kernel {kernel.name!r} has a weight of {peak:g}, which {u.weight_width}-bit "
            "weights cannot hold; use a wider `weight_width`"
        )
    changes = {
        "decoder": {"columns": kernel.dim, "row_width": max(u.row_width, (rows - 1).bit_length())},
        "lanes": lanes,
        "tables": max(u.tables, len(kernel.tables)),
        "max_bag": max(u.max_bag, kernel.max_bag),
        "pairwise": kernel.pairwise,
        "weight_frac_bits": frac,
        "out_width": _out_width(kernel, u.value_width, u.out_width),
    }
    # A table with a zero is not stored all-DENSE, so its rows need their directory entries:
    # an entry cache (256 words) keeps the hot ones on chip, unless the base chose otherwise.
    tables, _ = _quantised(kernel, u.value_width)
    sparse = any((tab == 0).any() for tab in tables)
    if (
        sparse
        and u.directory == "dram"
        and not u.entry_cache_lines
        and u.word_width >= u.entry_width
    ):
        changes["entry_cache_lines"] = ENTRY_CACHE_LINES
    return base.replace(unit=changes)


def _quantised(kernel: BagKernel, value_width: int) -> tuple[list[np.ndarray], float]:
    """The kernel's tables as ``value_width``-bit integers with one shared scale."""
    hi = (1 << (value_width - 1)) - 1
    peak = max(float(np.abs(tab).max()) for tab in kernel.tables)
    scale = peak / hi if peak > 0 else 1.0
    tables = [
        np.clip(np.rint(tab.astype(np.float64) / scale), -hi, hi).astype(np.int64)
        for tab in kernel.tables
    ]
    return tables, scale


def _out_width(kernel: BagKernel, value_width: int, base: int) -> int:
    peak = max(float(np.abs(tab).max()) for tab in kernel.tables)
    if peak == 0:
        return base
    steps = float(np.abs(kernel.pooled()).max()) / peak * ((1 << (value_width - 1)) - 1)
    need = math.ceil(math.log2(steps + 1)) + 2  # sign bit and one bit of margin
    cap = 32 if kernel.pairwise == "none" else (61 - kernel.dim.bit_length()) // 2
    return min(max(base, need), cap)


def engine_inputs(
    kernel: BagKernel,
    params: EngineParams,
    *,
    encoding: str = "hybrid",
    placement: str = "bursts",
) -> tuple[list[MemoryImage], Trace]:
    """The kernel's tables as memory images and its lookups as a trace for ``params``.

    Every table is quantised to ``unit.value_width`` bits with one shared scale (the largest
    magnitude of all tables), so a bag mixing tables sums like-scaled integers; weights are
    rounded to ``unit.weight_frac_bits`` fraction bits (saturated to ``weight_width``).
    ``encoding`` ``dense``, ``bitmap`` or ``coo`` forces that format on every row. Rows are
    placed where they cost the fewest DRAM bursts (``placement``, default ``bursts``; see
    ``docs/memory-image.md``); a table of DENSE rows keeps a fixed stride, so the engine reads
    no directory for it.

    Raises
    ------
    ValueError
        If the kernel needs more than ``params`` offers (columns, tables, rows, bag length,
        pairwise stage): use :func:`design`.
    """
    u = params.unit
    if kernel.dim != u.dim or len(kernel.tables) > u.tables or kernel.pairwise != u.pairwise:
        raise ValueError(
            f"kernel {kernel.name!r} ({kernel.dim} columns, {len(kernel.tables)} tables, "
            f"pairwise {kernel.pairwise}) does not fit the design ({u.dim} columns, {u.tables} "
            f"tables, pairwise {u.pairwise}); adapt it with rtnerf.workloads.kernel.design"
        )
    if encoding not in ("hybrid", "dense", "bitmap", "coo"):
        raise ValueError(f"`encoding` must be hybrid, dense, bitmap or coo, not {encoding!r}")
    enc = u.decoder.encoding(burst_bytes=params.dram.burst_bytes, placement=placement)
    if encoding != "hybrid":
        enc = dataclasses.replace(enc, force_format=encoding)
    tables, scale = _quantised(kernel, u.value_width)
    return [encode(tab, enc, scale) for tab in tables], engine_trace(kernel, params)


def engine_trace(kernel: BagKernel, params: EngineParams) -> Trace:
    """The kernel's lookups as a trace for ``params``: :func:`engine_inputs` without the tables.

    A reordered kernel (:func:`balanced`) has the same tables, so its images need no second
    encoding.
    """
    u = params.unit
    whi = (1 << (u.weight_width - 1)) - 1
    weight = np.clip(np.rint(kernel.weight * (1 << u.weight_frac_bits)), -whi - 1, whi)
    last = np.zeros(kernel.lookups, np.bool_)
    last[kernel.offsets[1:] - 1] = True
    return Trace(
        op=np.full(kernel.lookups, Op.ROW, np.uint8),
        table=kernel.table.astype(np.uint16),
        row=kernel.row.astype(np.int64),
        col=np.full(kernel.lookups, -1, np.int32),
        weight=weight.astype(np.int64),
        last=last,
        weight_frac_bits=u.weight_frac_bits,
        weight_width=u.weight_width,
        name=f"{kernel.family}/{kernel.name}",
    )


def golden(params: EngineParams, images: list[MemoryImage], trace: Trace) -> np.ndarray:
    """The engine's bit-exact result, in reals: pooled bags or pairwise scores.

    Pooled integers are in units of the tables' (shared) scale; scores in its square. The
    integers themselves are :func:`rtnerf.models.golden.embedding_lookup_unit.evaluate` and
    :func:`~rtnerf.models.golden.embedding_lookup_unit.scores`.
    """
    u = params.unit
    pooled = unit_model.evaluate(u, images, trace)
    scale = images[0].scale
    if u.pairwise == "none":
        return pooled * scale
    return unit_model.scores(u, pooled) * scale * scale
