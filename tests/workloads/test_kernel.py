import dataclasses
import re

import numpy as np
import pytest

from rtnerf.params import EngineParams
from rtnerf.workloads.kernel import BagKernel, design, engine_inputs, golden, pair_kernel

SEED = 7


def base(**unit):
    """The default engine with the unit fields ``design`` may change set to known values."""
    return EngineParams().replace(unit=unit)


def make(pairwise="none", bags=10, rows=(40, 12), dim=6, seed=SEED):
    rng = np.random.default_rng(seed)
    print(f"seed {seed}")
    tables = tuple(rng.standard_normal((r, dim)).astype(np.float32) for r in rows)
    sizes = rng.integers(1, 5, bags)
    n = int(sizes.sum())
    table = rng.integers(0, len(tables), n)
    row = np.array([rng.integers(0, rows[t]) for t in table], np.int64)
    return BagKernel(
        name="k",
        family="text",
        tables=tables,
        table=table,
        row=row,
        weight=rng.uniform(-1, 1, n),
        offsets=np.concatenate(([0], np.cumsum(sizes))).astype(np.int64),
        pairwise=pairwise,
    )


def naive(k):
    out = []
    for b in range(k.bags):
        acc = np.zeros(k.dim)
        for j in range(k.offsets[b], k.offsets[b + 1]):
            acc += k.weight[j] * k.tables[k.table[j]][k.row[j]].astype(np.float64)
        out.append(acc)
    out = np.array(out)
    if k.pairwise == "none":
        return out
    scores = []
    for u, v in zip(out[0::2], out[1::2], strict=True):
        if k.pairwise == "dot":
            scores.append((u @ v, 0, 0))
        else:
            scores.append(((u - v) @ (u - v), u @ u, v @ v))
    return np.array(scores)


@pytest.mark.parametrize("pairwise", ["none", "dot", "l2"])
def test_reference_is_the_definition(pairwise):
    k = make(pairwise)
    np.testing.assert_allclose(k.reference(), naive(k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pairwise", ["none", "dot", "l2"])
def test_golden_engine_matches_reference_to_fixed_point(pairwise):
    k = make(pairwise)
    params = design(k, base(lanes=4))
    # lanes: the largest divisor of dim (6) not above the base's (4).
    assert params.unit.dim == 6 and params.unit.lanes == 3 and params.unit.pairwise == pairwise
    images, trace = engine_inputs(k, params)
    got = golden(params, images, trace)
    ref = k.reference()
    # 16-bit values and 8-bit weights: relative error of a few 2^-8 of the largest result.
    tol = 4 * 2.0**-8 * np.abs(ref).max() * (4 if pairwise != "none" else 1)
    assert np.abs(got - ref).max() <= tol


def test_forced_encodings_give_the_same_results():
    k = make()
    params = design(k)
    results = [golden(params, *engine_inputs(k, params, encoding=e)) for e in ("hybrid", "dense")]
    np.testing.assert_array_equal(*results)


def test_design_widens_rows_and_bags():
    k = make(rows=(70000, 3), bags=4)
    p = design(k, base(decoder={"row_width": 16}))
    assert p.unit.row_width == 17 and p.unit.tables == 2 and p.unit.max_bag == 64
    assert p.unit.weight_frac_bits == 14  # weights within [-1, 1]


def test_sums_do_not_saturate():
    k = make()
    big = dataclasses.replace(k, weight=np.full(k.lookups, 1.0), offsets=np.array([0, k.lookups]))
    params = design(big)
    assert params.unit.out_width > 16
    got = golden(params, *engine_inputs(big, params))
    np.testing.assert_allclose(got, big.reference(), atol=1e-3 * np.abs(big.reference()).max())


def test_small_weights_keep_their_precision():
    k = make()
    hub = dataclasses.replace(k, weight=np.full(k.lookups, 1 / 2000))
    params = design(hub)
    _, trace = engine_inputs(hub, params)
    assert (trace.weight == 8).all()  # round(2**14 / 2000)
    with pytest.raises(ValueError, match="weights cannot hold"):
        design(dataclasses.replace(k, weight=np.full(k.lookups, 1e5)))


def test_engine_inputs_rejects_a_design_that_does_not_fit():
    with pytest.raises(ValueError, match=re.escape("does not fit the design (64 columns")):
        engine_inputs(make(), EngineParams())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"family": "audio"}, "`family` must be one of"),
        ({"pairwise": "cos"}, "`pairwise` must be one of"),
        ({"offsets": np.array([0, 0, 3])}, "`offsets` must start at 0"),
        ({"row": None}, "`row` must be a 1-D integer array"),
    ],
)
def test_bad_fields_are_named(change, message):
    k = make()
    fields = {f: getattr(k, f) for f in ("name", "family", "tables", "table", "row", "weight")}
    fields |= {"offsets": k.offsets, **change}
    with pytest.raises((TypeError, ValueError), match=re.escape(message)):
        BagKernel(**fields)


def test_out_of_range_row_is_named():
    k = make()
    row = k.row.copy()
    row[3] = 10**6
    with pytest.raises(ValueError, match=r"lookup 3: `row` 1000000 is outside table"):
        BagKernel("k", "text", k.tables, k.table, row, k.weight, k.offsets)


def test_pair_kernel_puts_each_pair_in_two_single_row_bags():
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    k = pair_kernel("p", "graph", table, np.array([0, 2]), np.array([1, 3]), "dot")
    assert k.bags == 4 and k.row.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(
        k.reference()[:, 0], [0 * 3 + 1 * 4 + 2 * 5, 6 * 9 + 7 * 10 + 8 * 11]
    )
    with pytest.raises(ValueError, match="`u` and `v` must be 1-D arrays of the same length"):
        pair_kernel("p", "graph", table, np.array([0]), np.array([1, 2]), "dot")
