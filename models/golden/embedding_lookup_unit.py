"""Bit-exact golden model of the embedding lookup unit: pooled bags from a trace.

Rows come from the golden decoder (:func:`~rtnerf.models.golden.decode.expand_rows`); the
fixed-point pooling is defined in :class:`~rtnerf.params.EmbeddingLookupUnitParams`.
"""

from __future__ import annotations

import numba
import numpy as np

from ...errors import ConfigError
from ...params.embedding_lookup_unit import EmbeddingLookupUnitParams
from ..image import MemoryImage
from ..trace import Op, Trace
from .decode import expand_rows, lookup
from .hybrid_row_decoder import check_image

__all__ = ["check_trace", "evaluate", "overflow", "scores"]


@numba.njit(cache=True)
def overflow(x, width, saturate):
    """``x`` saturated or wrapped to a signed ``width``-bit integer."""
    hi = (np.int64(1) << (width - 1)) - 1
    lo = -hi - 1
    if saturate:
        return min(max(x, lo), hi)
    return ((x - lo) & ((np.int64(1) << width) - 1)) + lo


@numba.njit(cache=True)
def _pool(values, weights, starts, scales, acc_width, out_width, shift, saturate, nearest, out):
    dim = values.shape[1]
    acc = np.zeros(dim, np.int64)
    for b in range(starts.size - 1):
        acc[:] = 0
        for q in range(starts[b], starts[b + 1]):
            for c in range(dim):
                acc[c] = overflow(acc[c] + values[q, c] * weights[q], acc_width, saturate)
        for c in range(dim):
            y = acc[c] * scales[b]
            if nearest and shift > 0:
                y += np.int64(1) << (shift - 1)
            out[b, c] = overflow(y >> shift, out_width, saturate)


def check_trace(params: EmbeddingLookupUnitParams, images: list[MemoryImage], trace: Trace) -> None:
    """Check that the unit can run ``trace`` over ``images``.

    Raises
    ------
    ConfigError Naming what does not fit: an image the decoder cannot read, more tables than the
    unit has, a table with more rows than the directory SRAM holds, another weight format, a bag
    longer than ``max_bag``, or a request outside its table.
    """
    if not 1 <= len(images) <= params.tables:
        raise ConfigError(f"{len(images)} tables given; the unit has `tables` {params.tables}")
    for t, image in enumerate(images):
        check_image(params.decoder, image)
        rows = image.shape[0]
        if params.directory == "sram" and not image.row_stride and rows > params.directory_rows:
            raise ConfigError(
                f"table {t} has {rows} rows; the directory SRAM holds `directory_rows` "
                f"{params.directory_rows} (use `directory: dram`, more rows, or an all-DENSE "
                f"image, which needs no directory)"
            )
    if (
        trace.weight_frac_bits != params.weight_frac_bits
        or trace.weight_width > params.weight_width
    ):
        raise ConfigError(
            f"trace weights are {trace.weight_width} bits with {trace.weight_frac_bits} fraction "
            f"bits; the unit takes {params.weight_width} with {params.weight_frac_bits}"
        )
    if params.pairwise != "none":
        if trace.bags % 2:
            raise ConfigError(
                f"the pairwise stage scores bags in pairs; the trace has {trace.bags}"
            )
        if (trace.op != Op.ROW).any():
            raise ConfigError("the pairwise stage scores ROW bags; the trace has ELEMENT requests")
    longest = int(np.diff(trace.bag_starts).max(initial=0))
    if longest > params.max_bag:
        raise ConfigError(f"a bag of {longest} requests; the unit's `max_bag` is {params.max_bag}")
    trace.check_tables([im.shape for im in images])


def evaluate(
    params: EmbeddingLookupUnitParams, images: list[MemoryImage], trace: Trace
) -> np.ndarray:
    """Pooled output of every bag, ``int64`` of shape ``(bags, dim)``.

    An ELEMENT bag's scalar is in column 0, the rest of its row 0 (the unit's output beat
    carries the first ``lanes`` columns).

    Raises
    ------
    ConfigError
        As :func:`check_trace`.
    """
    check_trace(params, images, trace)
    values = np.zeros((len(trace), params.dim), np.int64)
    element = trace.op == Op.ELEMENT
    for t, image in enumerate(images):
        sel = np.flatnonzero((trace.table == t) & ~element)
        if sel.size:
            values[sel] = expand_rows(image, trace.row[sel])
        sel = np.flatnonzero((trace.table == t) & element)
        if sel.size:
            values[sel, 0] = lookup(image, trace.row[sel], trace.col[sel])
    weights = trace.weight.astype(np.int64)
    if params.pooling != "weighted":
        weights[~element] = 1 << params.weight_frac_bits
    starts = trace.bag_starts
    scales = np.ones(trace.bags, np.int64)
    if params.pooling == "mean":
        scales[:] = [params.reciprocal(int(n)) for n in np.diff(starts)]
        scales[element[starts[:-1]]] = 1 << params.weight_frac_bits
    out = np.empty((trace.bags, params.dim), np.int64)
    _pool(
        values,
        weights,
        starts,
        scales,
        params.acc_width,
        params.out_width,
        params.shift,
        params.overflow == "saturate",
        params.rounding == "nearest",
        out,
    )
    return out


def scores(params: EmbeddingLookupUnitParams, pooled: np.ndarray) -> np.ndarray:
    """The pairwise stage's scores of pooled bags (from :func:`evaluate`), shape ``(pairs, 3)``.

    ``dot``: ``(u . v, 0, 0)``; ``l2``: ``(|u - v|^2, |u|^2, |v|^2)`` for ``u, v`` = bags
    ``2k, 2k + 1`` (exact: ``score_width`` bits hold every result).
    """
    u, v = pooled[0::2], pooled[1::2]
    out = np.zeros((len(u), 3), np.int64)
    if params.pairwise == "dot":
        out[:, 0] = (u * v).sum(axis=1)
    elif params.pairwise == "l2":
        out[:, 0] = ((u - v) ** 2).sum(axis=1)
        out[:, 1] = (u * u).sum(axis=1)
        out[:, 2] = (v * v).sum(axis=1)
    else:
        raise ValueError("the design has no pairwise stage (`pairwise` is none)")
    return out
