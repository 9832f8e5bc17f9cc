"""Bit-exact golden model of the adder & search tree.

It computes what the RTL computes, from the hardware's definition (leaf valid bits, leaf
coordinates, a count of smaller coordinates and an OR of equal ones), not from the tree's
structure, so it checks the tree's wiring rather than repeating it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numba import njit

from ...params.adder_search_tree import AdderSearchTreeParams, Op

__all__ = ["QueryBatch", "evaluate"]


@dataclasses.dataclass(frozen=True)
class QueryBatch:
    """A batch of adder & search tree queries as arrays (one row per query).

    Parameters
    ----------
    op : ndarray of uint8, shape (Q,)
        :class:`~rtnerf.params.adder_search_tree.Op` values.
    words : ndarray of uint32, shape (Q, W)
        Bitmap bits (0 or 1; column ``i`` in ``words[:, i]``) for RANK/SELECT, coordinates for
        SEARCH.
    key : ndarray of uint32, shape (Q,)
        Column ``j`` (RANK, SEARCH) or ``k`` (SELECT).
    count : ndarray of uint32, shape (Q,)
        Valid coordinates (SEARCH); ignored by RANK and SELECT.
    """

    op: np.ndarray
    words: np.ndarray
    key: np.ndarray
    count: np.ndarray

    def __len__(self) -> int:
        return len(self.op)

    @classmethod
    def concat(cls, batches: list[QueryBatch]) -> QueryBatch:
        """Join batches in order."""
        return cls(
            *(
                np.concatenate([getattr(b, f.name) for b in batches])
                for f in dataclasses.fields(cls)
            )
        )

    def validate(self, params: AdderSearchTreeParams) -> None:
        """Check shapes and field ranges against ``params``.

        Raises
        ------
        ValueError
            Naming the first field that is out of range for the design point.
        """
        q = len(self.op)
        if self.words.shape != (q, params.leaves):
            raise ValueError(
                f"`words` must have shape ({q}, {params.leaves}), not {self.words.shape}"
            )
        for name in ("key", "count"):
            if getattr(self, name).shape != (q,):
                raise ValueError(
                    f"`{name}` must have shape ({q},), not {getattr(self, name).shape}"
                )
        if q == 0:
            return
        if not np.isin(self.op, [int(o) for o in Op]).all():
            raise ValueError(f"`op` must hold values of Op {[int(o) for o in Op]}")
        bitmap_rows = self.words[self.op != Op.SEARCH]
        if bitmap_rows.size and bitmap_rows.max() > 1:
            raise ValueError("`words` of RANK/SELECT queries must hold bits (0 or 1)")
        if self.words.size and self.words.max() >= 1 << params.coord_width:
            raise ValueError(
                f"`words` coordinates must be < 2**coord_width ({1 << params.coord_width})"
            )
        if self.key.max() >= 1 << params.key_width:
            raise ValueError(f"`key` must be < 2**key_width ({1 << params.key_width})")
        if self.count.max() >= 1 << params.index_width:
            raise ValueError(f"`count` must be < 2**index_width ({1 << params.index_width})")


@njit(cache=True)
def _evaluate(op, words, key, count):  # pragma: no cover - compiled
    q, w = words.shape
    hit = np.zeros(q, np.uint8)
    index = np.zeros(q, np.uint32)
    for n in range(q):
        o = op[n]
        k = np.int64(key[n])
        smaller = 0
        total = 0
        equal = False
        for i in range(w):
            if o == 2:  # SEARCH: leaf i holds coordinate i when i < count
                v = i < count[n]
                c = np.int64(words[n, i])
            else:  # RANK / SELECT: leaf i is bitmap bit i at column i
                v = words[n, i] != 0
                c = np.int64(i)
            if v:
                total += 1
                if c < k:
                    smaller += 1
                if c == k:
                    equal = True
        if o == 1:  # SELECT
            if k < total:
                hit[n] = 1
                seen = 0
                for i in range(w):
                    if words[n, i] != 0:
                        if seen == k:
                            index[n] = i
                            break
                        seen += 1
            else:
                index[n] = total
        else:
            hit[n] = equal
            index[n] = smaller
    return hit, index


def evaluate(params: AdderSearchTreeParams, batch: QueryBatch) -> tuple[np.ndarray, np.ndarray]:
    """Results of the adder & search tree for a batch of queries.

    Parameters
    ----------
    params : AdderSearchTreeParams
        The design point.
    batch : QueryBatch
        The queries; validated against ``params``.

    Returns
    -------
    hit : ndarray of uint8, shape (Q,)
    index : ndarray of uint32, shape (Q,)

    Raises
    ------
    ValueError
        If a query does not fit the design point.
    """
    batch.validate(params)
    return _evaluate(
        np.ascontiguousarray(batch.op, np.uint8),
        np.ascontiguousarray(batch.words, np.uint32),
        np.ascontiguousarray(batch.key, np.uint32),
        np.ascontiguousarray(batch.count, np.uint32),
    )
