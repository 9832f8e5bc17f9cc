"""Naive reference of the hybrid row decoder: the beats read straight off the table."""

import numpy as np

from rtnerf.models.golden.hybrid_row_decoder import Beat, Query
from rtnerf.params import Format


def reference(table, formats, q: Query) -> list[Beat]:
    """The beats read straight off the table (the naive reference)."""
    row = table[q.row]
    if not q.expand:
        stored = formats[q.row] == Format.DENSE or row[q.col] != 0
        return [Beat(int(row[q.col]), q.col, bool(stored), True)]
    cols = np.arange(row.size) if formats[q.row] == Format.DENSE else np.flatnonzero(row)
    if cols.size == 0:
        return [Beat(0, 0, False, True)]
    return [Beat(int(row[c]), int(c), True, i == cols.size - 1) for i, c in enumerate(cols)]
