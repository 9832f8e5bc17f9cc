"""Exact DRAM accounting of an access trace against a memory image.

For every request this module lists the bursts of the image the decoder reads, in address
order, and splits the bytes by cause. It is the reference the performance model and the RTL
co-simulation are checked against, so it follows one fixed access policy, the hybrid row
decoder's:

* every request that reaches DRAM reads the row's directory entry (``entry_width`` bits);
* an **element** request ``(row, col)`` then reads, from the row's payload, only what the
  decoder needs: DENSE, the value; BITMAP, the bitmap bits ``0 .. col`` (RANK needs the bits
  below ``col``, the hit needs bit ``col``), then the value on a hit; COO, all ``nnz``
  coordinates (the SEARCH), then the value on a hit; EMPTY, nothing more;
* a **row** request reads the row's whole payload (index part, then values);
* with a row cache of ``cache_rows`` rows (LRU, ``cache_rows > 0``), a request for a cached row
  reads nothing; a miss reads the directory entry and the whole payload (a row request) and
  caches the row, evicting the least recently used one.

A request reads whole words, and DRAM transfers whole bursts: bursts are ``burst_bytes``
aligned in the image's address space (byte 0 of the image is burst-aligned). The bytes of each
burst are charged to the first cause, in address order, that needs it (:class:`Cause`), so the
causes of a request add up to its bursts times ``burst_bytes``.
"""

from __future__ import annotations

import dataclasses
import enum

import numba
import numpy as np

from rtnerf.params import check_int

from .golden.decode import _entry, _kernel_layout, _locate, check_indices
from .image import MemoryImage, values_start

__all__ = ["Cause", "DramAccount", "account"]


class Cause(enum.IntEnum):
    """Why a burst was read; the column index of :attr:`DramAccount.cause_bytes`."""

    DIRECTORY = 0
    BITMAP = 1
    COORDINATES = 2
    VALUES = 3


@dataclasses.dataclass(frozen=True, eq=False)
class DramAccount:
    """DRAM traffic of a trace, request by request.

    Attributes
    ----------
    burst_bytes, word_bytes : int
        Burst and word size used.
    words : numpy.ndarray
        ``int64`` distinct image words each request reads.
    bursts : numpy.ndarray
        ``int64`` distinct bursts each request reads.
    cache_hit : numpy.ndarray
        ``bool``: the request was served by the row cache (always False without a cache).
    cause_bytes : numpy.ndarray
        ``int64`` of shape ``(requests, 4)``: burst bytes of each request by :class:`Cause`.
    burst_ptr, burst_ids : numpy.ndarray
        ``int64``; the bursts of request ``i``, in increasing order, are
        ``burst_ids[burst_ptr[i]:burst_ptr[i + 1]]`` (byte address ``id * burst_bytes``).
    """

    burst_bytes: int
    word_bytes: int
    words: np.ndarray
    bursts: np.ndarray
    cache_hit: np.ndarray
    cause_bytes: np.ndarray
    burst_ptr: np.ndarray
    burst_ids: np.ndarray

    @property
    def requests(self) -> int:
        """Number of requests."""
        return int(self.words.size)

    @property
    def total_bytes(self) -> int:
        """Bytes transferred: all bursts times ``burst_bytes``."""
        return int(self.bursts.sum()) * self.burst_bytes

    @property
    def total_bursts(self) -> int:
        """Bursts transferred."""
        return int(self.bursts.sum())

    def bytes_by_cause(self) -> dict[str, int]:
        """Total burst bytes per cause, keyed by lower-case :class:`Cause` name."""
        sums = self.cause_bytes.sum(axis=0)
        return {c.name.lower(): int(sums[c]) for c in Cause}

    def bursts_of(self, request: int) -> np.ndarray:
        """Return the burst indices request ``request`` reads, in increasing order."""
        return self.burst_ids[self.burst_ptr[request] : self.burst_ptr[request + 1]]


@numba.njit(cache=True)
def _lru_hits(rows, n_rows, capacity):
    # Exact LRU over row ids as a doubly linked list in arrays: O(1) per access.
    prev = np.full(n_rows, -1, np.int64)
    nxt = np.full(n_rows, -1, np.int64)
    cached = np.zeros(n_rows, np.bool_)
    head, tail, size = -1, -1, 0
    hits = np.zeros(rows.shape[0], np.bool_)
    for q in range(rows.shape[0]):
        r = rows[q]
        if cached[r]:
            hits[q] = True
            if head == r:
                continue
            # unlink
            nxt[prev[r]] = nxt[r]
            if nxt[r] >= 0:
                prev[nxt[r]] = prev[r]
            else:
                tail = prev[r]
        else:
            if size == capacity:
                old = tail
                tail = prev[old]
                if tail >= 0:
                    nxt[tail] = -1
                else:
                    head = -1
                cached[old] = False
                size -= 1
            cached[r] = True
            size += 1
        prev[r] = -1
        nxt[r] = head
        if head >= 0:
            prev[head] = r
        head = r
        if tail < 0:
            tail = r
    return hits


@numba.njit(cache=True)
def _account(
    buf,
    rows,
    cols,
    whole,
    hits,
    lay,
    burst_words,
    burst_bytes,
    write,
    ptr,
    ids,
    words_out,
    bursts_out,
    cause_out,
):
    columns, value_width, word_width, entry_width, coord_width, count_width = lay
    starts = np.empty(3, np.int64)
    ends = np.empty(3, np.int64)
    causes = np.empty(3, np.int64)
    for q in range(rows.shape[0]):
        if hits[q]:
            words_out[q] = 0
            bursts_out[q] = 0
            continue
        r = rows[q]
        fmt, nnz, offset = _entry(buf, r, entry_width, 2, count_width, 2 + count_width)
        base = offset * word_width
        vstart = values_start(fmt, nnz, columns, coord_width)
        index_cause = 1 if fmt == 2 else 2
        starts[0], ends[0], causes[0] = r * entry_width, (r + 1) * entry_width, 0
        n = 1
        if whole[q]:
            if fmt == 1:
                starts[n], ends[n], causes[n] = base, base + columns * value_width, 3
                n += 1
            elif fmt >= 2:
                if vstart > 0:
                    starts[n], ends[n], causes[n] = base, base + vstart, index_cause
                    n += 1
                if nnz > 0:
                    vb = base + vstart
                    starts[n], ends[n], causes[n] = vb, vb + nnz * value_width, 3
                    n += 1
        elif fmt > 0:
            c = cols[q]
            _, _, _, hit, index = _locate(buf, r, c, lay)
            if fmt == 2:
                starts[n], ends[n], causes[n] = base, base + c + 1, 1
                n += 1
            elif fmt == 3 and nnz > 0:
                starts[n], ends[n], causes[n] = base, base + vstart, 2
                n += 1
            if hit:
                vb = base + vstart + index * value_width
                starts[n], ends[n], causes[n] = vb, vb + value_width, 3
                n += 1
        last_word, last_burst, nw, nb = np.int64(-1), np.int64(-1), 0, 0
        k = ptr[q]
        for i in range(n):
            w0 = max(starts[i] // word_width, last_word + 1)
            w1 = (ends[i] - 1) // word_width
            if w1 < w0:
                continue
            nw += w1 - w0 + 1
            last_word = w1
            b0 = max(w0 // burst_words, last_burst + 1)
            b1 = w1 // burst_words
            for b in range(b0, b1 + 1):
                if write:
                    ids[k] = b
                k += 1
                cause_out[q, causes[i]] += burst_bytes
            nb += max(0, b1 - b0 + 1)
            last_burst = max(last_burst, b1)
        words_out[q] = nw
        bursts_out[q] = nb


def account(
    image: MemoryImage,
    rows: object,
    cols: object = None,
    *,
    burst_bytes: int | None = None,
    cache_rows: int = 0,
) -> DramAccount:
    """Count the DRAM words and bursts each request of a trace reads.

    Parameters
    ----------
    image : MemoryImage
        The encoded table, at byte address 0 (burst-aligned).
    rows : array_like of int
        1-D row of each request.
    cols : array_like of int or None
        1-D column of each element request, or ``None`` for whole-row requests; ``-1`` in an
        entry makes that request a whole-row one.
    burst_bytes : int or None
        DRAM burst size in bytes, a power of two from ``word_width / 8`` to 4096; default
        ``image.params.burst_bytes``.
    cache_rows : int
        Capacity of the LRU row cache in rows; 0 (the default) disables it.

    Returns
    -------
    DramAccount
        Per-request words, bursts, cache hits, bytes by cause and burst lists.

    Raises
    ------
    TypeError
        If ``image`` is not a :class:`MemoryImage` or an argument has the wrong type.
    ValueError
        If an index is out of range, ``rows`` and ``cols`` differ in shape, or ``burst_bytes``
        or ``cache_rows`` is out of range.
    """
    if not isinstance(image, MemoryImage):
        raise TypeError(f"`image` must be a MemoryImage, not {type(image).__name__}")
    word_bytes = image.params.word_bytes
    burst_bytes = image.params.burst_bytes if burst_bytes is None else burst_bytes
    check_int("burst_bytes", burst_bytes, minimum=word_bytes, maximum=4096, power_of_two=True)
    check_int("cache_rows", cache_rows, minimum=0)
    r = check_indices("rows", rows, image.shape[0])
    if r.ndim != 1:
        raise ValueError(f"`rows` must be 1-D, not of shape {r.shape}")
    if cols is None:
        c = np.zeros_like(r)
        whole = np.ones(r.size, np.bool_)
    else:
        c = np.asarray(cols)
        if c.shape != r.shape:
            raise ValueError(f"`cols` must have the shape of `rows` {r.shape}, not {c.shape}")
        whole = c == -1
        c = check_indices("cols", np.where(whole, 0, c), image.shape[1])
    if cache_rows > 0:
        hits = _lru_hits(r, image.shape[0], cache_rows)
        whole = np.ones(r.size, np.bool_)
    else:
        hits = np.zeros(r.size, np.bool_)
    n = r.size
    words = np.empty(n, np.int64)
    bursts = np.empty(n, np.int64)
    causes = np.zeros((n, len(Cause)), np.int64)
    burst_words = burst_bytes // word_bytes
    lay = _kernel_layout(image)
    args = (image.u32, r, c, whole, hits, lay, burst_words, burst_bytes)
    zeros = np.zeros(n + 1, np.int64)
    _account(*args, False, zeros, zeros[:0], words, bursts, causes)
    ptr = np.concatenate(([0], np.cumsum(bursts))).astype(np.int64)
    ids = np.empty(int(ptr[-1]), np.int64)
    causes[:] = 0
    _account(*args, True, ptr, ids, words, bursts, causes)
    return DramAccount(burst_bytes, word_bytes, words, bursts, hits, causes, ptr, ids)
