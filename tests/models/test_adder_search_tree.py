"""Golden model of the adder & search tree against hand-derived cases and the naive reference."""

import numpy as np
import pytest
from naive.adder_search_tree import ref_query

from rtnerf.models.cases.adder_search_tree import directed_cases, random_batch, to_batch
from rtnerf.models.golden.adder_search_tree import QueryBatch, evaluate
from rtnerf.params import AdderSearchTreeParams, Op

DESIGNS = [
    AdderSearchTreeParams(leaves=4),
    AdderSearchTreeParams(leaves=8, coord_width=3),  # coordinates narrower than the index
    AdderSearchTreeParams(leaves=32, coord_width=6),
    AdderSearchTreeParams(leaves=256),
]


@pytest.mark.parametrize("params", DESIGNS, ids=lambda p: f"W{p.leaves}c{p.coord_width}")
def test_directed_golden_and_naive(params):
    cases = directed_cases(params)
    hit, index = evaluate(params, to_batch(params, cases))
    for n, case in enumerate(cases):
        expected = (case.hit, case.index)
        assert (int(hit[n]), int(index[n])) == expected, f"golden: {case.name}"
        got = ref_query(case.op, case.word, case.key, case.count, params.leaves)
        assert got == expected, f"naive: {case.name}"


@pytest.mark.parametrize("params", DESIGNS, ids=lambda p: f"W{p.leaves}c{p.coord_width}")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_golden_vs_naive(params, seed):
    batch = random_batch(params, np.random.default_rng(seed), per_op=300)
    hit, index = evaluate(params, batch)
    for n in range(len(batch)):
        got = ref_query(
            int(batch.op[n]),
            batch.words[n].tolist(),
            int(batch.key[n]),
            int(batch.count[n]),
            params.leaves,
        )
        assert (int(hit[n]), int(index[n])) == got, f"seed={seed} query {n}: {batch.op[n]}"


def test_random_batch_covers_hits_and_misses():
    params = AdderSearchTreeParams(leaves=16)
    batch = random_batch(params, np.random.default_rng(0), per_op=1000)
    hit, _ = evaluate(params, batch)
    for op in Op:
        sel = batch.op == op
        assert sel.sum() == 1000
        assert 0.1 < hit[sel].mean() < 0.9, op.name


def _one(params, **overrides):
    w = params.leaves
    fields = {
        "op": np.zeros(1, np.uint8),
        "words": np.zeros((1, w), np.uint32),
        "key": np.zeros(1, np.uint32),
        "count": np.zeros(1, np.uint32),
    }
    fields.update(overrides)
    return QueryBatch(**fields)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"op": np.array([3], np.uint8)}, r"^`op` must hold values of Op"),
        ({"words": np.zeros((1, 5), np.uint32)}, r"^`words` must have shape \(1, 4\)"),
        (
            {"words": np.full((1, 4), 2, np.uint32)},
            r"^`words` of RANK/SELECT queries must hold bits",
        ),
        ({"key": np.array([1 << 16], np.uint32)}, r"^`key` must be < 2\*\*key_width \(65536\)"),
        ({"count": np.array([8], np.uint32)}, r"^`count` must be < 2\*\*index_width \(8\)"),
    ],
)
def test_golden_rejects_bad_queries(overrides, message):
    params = AdderSearchTreeParams(leaves=4)
    with pytest.raises(ValueError, match=message):
        evaluate(params, _one(params, **overrides))
