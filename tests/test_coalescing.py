"""The coalescing study's counter (benchmarks/coalescing.py) on a hand-checked case."""

import numpy as np
from conftest import benchmark_script


def test_repeats_by_hand():
    # requests 0 and 1 read row A (bursts 10, 11), 2 row B (11, 12, 12 again: one request's
    # duplicate is not a repeat), 3 row C (burst 10)
    request = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    burst = np.array([10, 11, 10, 11, 11, 12, 12, 10])
    row = np.array([1, 1, 2, 3])[request]  # rows A, A, B, C
    repeats = benchmark_script("coalescing").repeats
    # window 1: 1 repeats 0's bursts (same row), 2 repeats 1's burst 11 (another row)
    assert repeats(request, burst, request, row, 1) == (2, 1)
    # window 2: and 3 repeats 1's burst 10, two requests back
    assert repeats(request, burst, request, row, 2) == (2, 2)
    assert repeats(request, burst, request, row, 0) == (0, 0)
    assert repeats(request[:0], burst[:0], request[:0], row[:0], 4) == (0, 0)
