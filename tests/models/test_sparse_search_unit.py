"""Golden model of the sparse search unit against hand-derived cases and the naive reference."""

import numpy as np
import pytest
from naive.sparse_search_unit import ref_row

from rtnerf.models.cases.sparse_search_unit import directed_cases, random_jobs
from rtnerf.models.golden.sparse_search_unit import RowJob, evaluate, split_rows
from rtnerf.params import SparseSearchUnitParams

DESIGNS = [
    SparseSearchUnitParams(lanes=1, window=4, coord_width=10, index_width=8),
    SparseSearchUnitParams(),
    SparseSearchUnitParams(lanes=8, window=32),
    SparseSearchUnitParams(lanes=3, window=5, coord_width=4, index_width=4),
]


def ids(p):
    return f"P{p.lanes}K{p.window}c{p.coord_width}"


@pytest.mark.parametrize("params", DESIGNS, ids=ids)
def test_directed(params):
    cases = directed_cases(params)
    hit, index = evaluate(params, [c.job for c in cases])
    n = 0
    for case in cases:
        got = [(int(hit[n + i]), int(index[n + i])) for i in range(len(case.job.queries))]
        n += len(case.job.queries)
        assert tuple(got) == case.expected, f"golden: {case.name}"
        assert tuple(ref_row(case.job.coords, case.job.queries)) == case.expected, case.name


@pytest.mark.parametrize("params", DESIGNS, ids=ids)
@pytest.mark.parametrize("seed", [1, 2])
def test_random_golden_vs_naive(params, seed):
    jobs = random_jobs(params, np.random.default_rng(seed), 1500)
    hit, index = evaluate(params, jobs)
    expected = [r for job in jobs for r in ref_row(job.coords, job.queries)]
    assert list(zip(hit.tolist(), index.tolist(), strict=True)) == expected, f"seed={seed}"
    assert 0.2 < hit.mean() < 0.8


def test_split_rows_shapes():
    params = SparseSearchUnitParams(lanes=2, window=3)
    job = RowJob(np.arange(7, dtype=np.uint32), np.array([1, 1, 5], np.uint32))
    (windows,), (groups,) = split_rows(params, [job])
    assert [(w.base, w.last, len(w.coords)) for w in windows] == [
        (0, False, 3),
        (3, False, 3),
        (6, True, 1),
    ]
    assert [(g.queries, g.last) for g in groups] == [((1, 1), False), ((5,), True)]
    empty_w, empty_g = split_rows(params, [RowJob(job.coords[:0], job.queries[:0])])
    assert empty_w == [[((), 0, True)]] and empty_g == [[((), True)]]
    assert params.row_cycles(len(windows), len(groups)) == 4


@pytest.mark.parametrize(
    ("coords", "queries", "message"),
    [
        ([3, 3], [1], r"row 0: `coords` must be strictly increasing and < 65536"),
        ([5, 4], [1], r"row 0: `coords` must be strictly increasing"),
        ([1 << 16], [1], r"`coords` must be strictly increasing and < 65536"),
        ([1, 2], [2, 1], r"row 0: `queries` must be non-decreasing and < 65536"),
    ],
)
def test_rejects_bad_rows(coords, queries, message):
    job = RowJob(np.array(coords, np.uint32), np.array(queries, np.uint32))
    with pytest.raises(ValueError, match=message):
        evaluate(SparseSearchUnitParams(), [job])


def test_rejects_rows_too_long_for_index_width():
    params = SparseSearchUnitParams(index_width=2)
    job = RowJob(np.arange(4, dtype=np.uint32), np.zeros(1, np.uint32))
    with pytest.raises(ValueError, match=r"`coords` may hold at most 3 entries \(index_width 2\)"):
        split_rows(params, [job])
