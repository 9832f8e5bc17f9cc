"""Memory port params: burst splitting against the naive walk, throughput statement, errors."""

import numpy as np
import pytest
from naive.memory_port import ref_bursts

from rtnerf.models.cases.memory_port import directed_requests, memory_words, random_requests
from rtnerf.params import MemoryPortParams


@pytest.mark.parametrize(
    "params",
    [
        MemoryPortParams(),
        MemoryPortParams(word_width=32, max_burst=4, boundary_bytes=64, outstanding=1),
        MemoryPortParams(word_width=256, max_burst=64, len_width=10, outstanding=16),
        MemoryPortParams(word_width=512, max_burst=256, len_width=12, boundary_bytes=64),
    ],
    ids=["default", "o1", "w256", "w512-one-word-boundary"],
)
def test_bursts_match_the_naive_walk(params):
    rng = np.random.default_rng(0)
    words = len(memory_words(params, rng))
    requests = [(a, n) for _, a, n in directed_requests(params, words)]
    requests += random_requests(params, rng, 2000, words)
    for addr, n in requests:
        got = params.bursts(addr, n)
        assert got == ref_bursts(addr, n, params.max_burst, params.boundary_words)
        assert sum(b for _, b in got) == n
        for a, b in got:  # never across a boundary, never too long
            assert 1 <= b <= params.max_burst
            assert a // params.boundary_words == (a + b - 1) // params.boundary_words
            assert a // params.max_burst == (a + b - 1) // params.max_burst


def test_sustained_throughput_statement():
    p = MemoryPortParams(max_burst=4, outstanding=2)
    assert p.sustained_words_per_cycle(latency=10) == pytest.approx(8 / 15)
    assert MemoryPortParams().sustained_words_per_cycle(latency=24) == 1.0  # 8 x 16 > 41


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"boundary_bytes": 4},
            r"^`boundary_bytes` must be a power of two from 16 to 4096, not 4$",
        ),
        ({"max_burst": 12}, r"^`max_burst` must be a power of two from 1 to 256, not 12$"),
        ({"outstanding": 0}, r"^`outstanding` must be an integer from 1 to 256, not 0$"),
    ],
)
def test_params_reject(fields, message):
    with pytest.raises(ValueError, match=message):
        MemoryPortParams(**fields)
