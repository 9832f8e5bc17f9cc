"""Directed and random client requests for the memory port, and the memory they read.

Expected results follow from the memory itself: a request ``(addr, len)`` returns words
``addr .. addr + len - 1``, the last one flagged; its bursts are
:meth:`~rtnerf.params.MemoryPortParams.bursts`, checked independently by the tests.
"""

from __future__ import annotations

import numpy as np

from ...params.memory_port import MemoryPortParams

__all__ = ["directed_requests", "memory_words", "random_requests"]


def memory_words(params: MemoryPortParams, rng: np.random.Generator) -> list[int]:
    """Random memory contents: four boundaries' worth of words, or more for long requests."""
    n = max(4 * params.boundary_words, 4 * params.max_request, 256)
    n = min(n, 1 << params.address_width)
    raw = rng.integers(0, 1 << 32, size=(n, params.word_width // 32), dtype=np.uint64)
    return [sum(int(x) << (32 * i) for i, x in enumerate(row)) for row in raw]


def directed_requests(params: MemoryPortParams, words: int) -> list[tuple[str, int, int]]:
    """``(name, addr, len)`` corner requests within a memory of ``words`` words."""
    b, bw, top = params.max_burst, params.boundary_words, params.max_request
    out = [
        ("one word at 0", 0, 1),
        ("one word, last of memory", words - 1, 1),
        ("exactly max_burst", 0, min(b, top)),
        ("max_burst + 1", bw, min(b + 1, top)),
        ("ends on a boundary", bw - min(3, bw), min(3, bw, top)),
        ("crosses a boundary", bw - 1, min(2, top)),
        ("longest request", 0, top),
        ("longest request, unaligned", bw - 1, top),
        ("repeat of the first word", 0, 1),
    ]
    return [(name, a, n) for name, a, n in out if a >= 0 and a + n <= words and n >= 1]


def random_requests(
    params: MemoryPortParams, rng: np.random.Generator, count: int, words: int
) -> list[tuple[int, int]]:
    """``count`` random ``(addr, len)``: lengths log-uniform in ``1 .. max_request``."""
    top = min(params.max_request, words)
    lengths = np.exp(rng.uniform(0, np.log(top + 1), count)).astype(np.int64).clip(1, top)
    addrs = (rng.random(count) * (words - lengths + 1)).astype(np.int64)
    return list(zip(addrs.tolist(), lengths.tolist(), strict=True))
