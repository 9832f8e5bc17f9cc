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
* a **row** request reads the row's whole payload (index part, then values).

A request reads whole words, and DRAM transfers whole bursts: bursts are ``burst_bytes``
aligned in the image's address space (byte 0 of the image is burst-aligned). The decoder reads
a request in up to three memory requests, in order: the directory entry; the payload part
(element requests: the bitmap prefix or the coordinates; row requests: the whole payload);
the value (element requests on a hit). A word is read once per request (the value never
re-reads the last index word), but every memory request transfers the bursts it touches, so a
burst shared by two of them (a small table's entry and payload, say) counts twice, as it does
on the DRAM bus. The bytes of each burst of a memory request are charged to the first cause,
in address order, that needs it (:class:`Cause`), so the causes of a request add up to its
bursts times ``burst_bytes``.

A row cache (``cache`` = ``(sets, ways)``, LRU within a set, :func:`cache_hits`) is checked
before DRAM: a hit reads nothing; a miss reads the entry and the whole row (a row request) and
caches it.
"""

from __future__ import annotations

import dataclasses
import enum

import numba
import numpy as np

from rtnerf.params import Format, check_int

from .golden.decode import _entry, _kernel_layout, _locate, check_indices
from .image import MemoryImage, values_start

__all__ = ["Cause", "DramAccount", "account", "cache_hits"]


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
        ``int64`` bursts each request transfers (a burst once per memory request reading it).
    memory_requests : numpy.ndarray
        ``int64`` memory requests (word ranges) the decoder makes for each request.
    cache_hit : numpy.ndarray
        ``bool``: the request was served by the row cache (always False without a cache).
    cause_bytes : numpy.ndarray
        ``int64`` of shape ``(requests, 4)``: burst bytes of each request by :class:`Cause`.
    burst_ptr, burst_ids : numpy.ndarray
        ``int64``; the bursts of request ``i``, memory request by memory request, are
        ``burst_ids[burst_ptr[i]:burst_ptr[i + 1]]`` (byte address ``id * burst_bytes``).
    request_ptr, request_start, request_words : numpy.ndarray
        ``int64``; the memory requests of request ``i``, in order, start at the image words
        ``request_start[request_ptr[i]:request_ptr[i + 1]]`` and read ``request_words[...]``
        words each (what the decoder puts on its read port, before the table's base).
    """

    burst_bytes: int
    word_bytes: int
    words: np.ndarray
    bursts: np.ndarray
    memory_requests: np.ndarray
    cache_hit: np.ndarray
    cause_bytes: np.ndarray
    burst_ptr: np.ndarray
    burst_ids: np.ndarray
    request_ptr: np.ndarray
    request_start: np.ndarray
    request_words: np.ndarray

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

    @property
    def total_memory_requests(self) -> int:
        """Memory requests the decoder made."""
        return int(self.memory_requests.sum())

    def bursts_of(self, request: int) -> np.ndarray:
        """Return the burst indices request ``request`` transfers, in transfer order."""
        return self.burst_ids[self.burst_ptr[request] : self.burst_ptr[request + 1]]


@numba.njit(cache=True)
def _cache_hits(keys, sets, ways):
    # order[s] lists set s's keys, most recently used first; -1 marks an empty way.
    order = np.full((sets, ways), -1, np.int64)
    hits = np.zeros(keys.shape[0], np.bool_)
    for q in range(keys.shape[0]):
        k = keys[q]
        line = order[k & (sets - 1)]
        p = ways - 1  # a miss drops the least recently used key
        for i in range(ways):
            if line[i] == k:
                hits[q] = True
                p = i
                break
        for i in range(p, 0, -1):
            line[i] = line[i - 1]
        line[0] = k
    return hits


def cache_hits(keys: object, sets: int, ways: int) -> np.ndarray:
    """Hits of a set-associative LRU cache on a sequence of keys.

    Key ``k`` lives in set ``k mod sets``, which holds the ``ways`` most recently used keys
    of that set; ``sets = 1`` is a fully associative LRU cache of ``ways`` entries.

    Parameters
    ----------
    keys : array_like of int
        1-D non-negative keys (row ids; the engine adds the table id above the row bits).
    sets : int
        Number of sets, a power of two from 1.
    ways : int
        Entries per set, at least 1.

    Returns
    -------
    numpy.ndarray
        ``bool``: whether each access hit.
    """
    check_int("sets", sets, minimum=1, power_of_two=True)
    check_int("ways", ways, minimum=1)
    k = np.asarray(keys, np.int64)
    if k.ndim != 1 or (k < 0).any():
        raise ValueError("`keys` must be 1-D and non-negative")
    return _cache_hits(k, sets, ways)


@numba.njit(cache=True)
def _account(
    buf,
    rows,
    cols,
    whole,
    hits,
    lay,
    directory,
    sparse_whole,
    burst_words,
    burst_bytes,
    write,
    ptr,
    ids,
    rptr,
    rstart,
    rwords,
    words_out,
    bursts_out,
    reqs_out,
    cause_out,
):
    columns, value_width, word_width, entry_width, coord_width, count_width = lay
    starts = np.empty(3, np.int64)
    ends = np.empty(3, np.int64)
    causes = np.empty(3, np.int64)
    joined = np.zeros(3, np.bool_)  # section i is in the same memory request as section i - 1
    for q in range(rows.shape[0]):
        words_out[q] = 0
        bursts_out[q] = 0
        reqs_out[q] = 0
        if hits[q]:
            continue
        r = rows[q]
        fmt, nnz, offset = _entry(buf, r, entry_width, 2, count_width, 2 + count_width)
        base = offset * word_width
        vstart = values_start(fmt, nnz, columns, coord_width)
        index_cause = Cause.BITMAP if fmt == Format.BITMAP else Cause.COORDINATES
        n = 0
        if directory[q]:
            starts[0], ends[0], causes[0] = r * entry_width, (r + 1) * entry_width, Cause.DIRECTORY
            n = 1
        first = n  # the first payload section
        if whole[q] or (sparse_whole and fmt >= Format.BITMAP):
            if fmt == Format.DENSE:
                starts[n], ends[n], causes[n] = base, base + columns * value_width, Cause.VALUES
                n += 1
            elif fmt >= Format.BITMAP:
                if vstart > 0:
                    starts[n], ends[n], causes[n] = base, base + vstart, index_cause
                    n += 1
                if nnz > 0:
                    vb = base + vstart
                    starts[n], ends[n], causes[n] = vb, vb + nnz * value_width, Cause.VALUES
                    joined[n] = n > first  # one request for the whole payload
                    n += 1
        elif fmt != Format.EMPTY:
            c = cols[q]
            _, _, _, hit, index = _locate(buf, r, c, lay)
            if fmt == Format.BITMAP:
                starts[n], ends[n], causes[n] = base, base + c + 1, Cause.BITMAP
                n += 1
            elif fmt == Format.COO and nnz > 0:
                starts[n], ends[n], causes[n] = base, base + vstart, Cause.COORDINATES
                n += 1
            if hit:
                vb = base + vstart + index * value_width
                starts[n], ends[n], causes[n] = vb, vb + value_width, Cause.VALUES
                n += 1
        last_word, last_burst, nw, nb, nr = np.int64(-1), np.int64(-1), 0, 0, 0
        k = ptr[q]
        cur = rptr[q] - 1  # the memory request being filled
        for i in range(n):
            w0 = max(starts[i] // word_width, last_word + 1)
            w1 = (ends[i] - 1) // word_width
            joined_i = joined[i]
            joined[i] = False
            if w1 < w0:
                continue
            nw += w1 - w0 + 1
            last_word = w1
            if not joined_i:  # a new memory request transfers all its bursts
                last_burst = -1
                nr += 1
                cur += 1
                if write:
                    rstart[cur] = w0
                    rwords[cur] = 0
            if write:
                rwords[cur] += w1 - w0 + 1
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
        reqs_out[q] = nr


def account(
    image: MemoryImage,
    rows: object,
    cols: object = None,
    *,
    burst_bytes: int | None = None,
    cache_rows: int = 0,
    hits: object = None,
    directory: object = True,
    sparse_whole: bool = False,
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
        Capacity of a fully associative LRU row cache in rows; 0 (the default) disables it.
    hits : array_like of bool or None
        The row cache's hit of each request, from a cache model the caller ran
        (:func:`cache_hits`; the engine's caches are per unit and span tables). Not with
        ``cache_rows``.
    directory : bool or array_like of bool
        Whether each request reads its row's directory entry (True, the decoder's policy), for
        all requests or per request (a unit's entry cache hits read none); False for a unit
        that has the entry on chip (``directory: sram``) or computes it (a
        table addressed by row stride).
    sparse_whole : bool
        Element requests on BITMAP and COO rows read the row's whole payload in one memory
        request instead of the index part and then the value (the lookup unit's request
        slots, which fetch before the decoder ranks; DENSE element requests still read only
        the value).

    Returns
    -------
    DramAccount
        Per-request words, bursts, memory requests, cache hits, bytes by cause and bursts.

    Raises
    ------
    TypeError
        If ``image`` is not a :class:`MemoryImage` or an argument has the wrong type.
    ValueError
        If an index is out of range, ``rows``, ``cols`` and ``hits`` differ in shape, or
        ``burst_bytes`` or ``cache_rows`` is out of range.
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
    if hits is not None:
        if cache_rows:
            raise ValueError("give `hits` or `cache_rows`, not both")
        hits = np.asarray(hits, np.bool_)
        if hits.shape != r.shape:
            raise ValueError(f"`hits` must have the shape of `rows` {r.shape}, not {hits.shape}")
    elif cache_rows > 0:
        hits = cache_hits(r, 1, cache_rows)
    if hits is not None:
        whole = np.ones(r.size, np.bool_)  # a cached unit reads whole rows
    else:
        hits = np.zeros(r.size, np.bool_)
    n = r.size
    words = np.empty(n, np.int64)
    bursts = np.empty(n, np.int64)
    reqs = np.empty(n, np.int64)
    causes = np.zeros((n, len(Cause)), np.int64)
    burst_words = burst_bytes // word_bytes
    lay = _kernel_layout(image)
    entry = np.broadcast_to(np.asarray(directory, np.bool_), r.shape)
    if entry.shape != r.shape:
        raise ValueError(f"`directory` must be a bool or of the shape of `rows` {r.shape}")
    args = (image.u32, r, c, whole, hits, lay, entry, sparse_whole, burst_words, burst_bytes)
    zeros = np.zeros(n + 1, np.int64)
    none = zeros[:0]
    _account(*args, False, zeros, none, zeros, none, none, words, bursts, reqs, causes)
    ptr = np.concatenate(([0], np.cumsum(bursts))).astype(np.int64)
    ids = np.empty(int(ptr[-1]), np.int64)
    rptr = np.concatenate(([0], np.cumsum(reqs))).astype(np.int64)
    rstart = np.empty(int(rptr[-1]), np.int64)
    rwords = np.empty(int(rptr[-1]), np.int64)
    causes[:] = 0
    _account(*args, True, ptr, ids, rptr, rstart, rwords, words, bursts, reqs, causes)
    return DramAccount(
        burst_bytes, word_bytes, words, bursts, reqs, hits, causes, ptr, ids, rptr, rstart, rwords
    )
