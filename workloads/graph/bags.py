"""A graph kernel's bags: splitting long bags, and the host step that combines them.

The engine pools at most ``max_bag`` lookups per bag. Longer bags are split into consecutive
partial bags of at most ``max_bag`` lookups, each with the full bag's weights
(:func:`split_bags`), and the host sums the partial bags of an output
(:meth:`GraphKernel.combine`); nothing is dropped or capped.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...params import check_int
from ..kernel import BagKernel
from .graphs import Graph

__all__ = ["GraphKernel", "bag_kernel", "check_table", "split_bags"]


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


def bag_kernel(
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
    """A :class:`GraphKernel` of one float32 table, its bags split to at most ``max_bag``.

    ``offsets`` delimit the kernel's whole bags; ``owner`` gives each whole bag's output row.
    """
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


def check_table(graph: Graph, table: np.ndarray, name: str) -> np.ndarray:
    """``table`` as an array, checked to be float with one row per vertex of ``graph``.

    Raises
    ------
    ValueError
        Naming ``name``, if it is not.
    """
    table = np.asarray(table)
    if table.ndim != 2 or table.shape[0] != graph.n or table.dtype.kind != "f":
        raise ValueError(
            f"`{name}` must be a float array of shape ({graph.n}, dim), not {table.shape}"
        )
    return table
