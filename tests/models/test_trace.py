"""Request traces: validation messages, file round trip, bags, the Zipf generator."""

import dataclasses
import io
import json

import numpy as np
import pytest

from rtnerf.models.trace import (
    Op,
    Trace,
    TraceFormatError,
    bounded_zipf,
    random_bag_trace,
    read_trace,
    write_trace,
)


def small() -> dict:
    # bag 0: rows 3 and 5 of table 0; bag 1: elements (2, 7) and (2, 8) of table 1
    return {
        "op": np.array([0, 0, 1, 1], np.uint8),
        "table": np.array([0, 0, 1, 1], np.uint16),
        "row": np.array([3, 5, 2, 2], np.int64),
        "col": np.array([-1, -1, 7, 8], np.int32),
        "weight": np.array([256, -256, 64, 192], np.int64),
        "last": np.array([False, True, False, True]),
    }


def test_bags_and_round_trip(tmp_path):
    t = Trace(**small(), weight_frac_bits=8, name="small")
    assert (len(t), t.bags, list(t.bag_starts)) == (4, 2, [0, 2, 4])
    write_trace(t, tmp_path / "t.npz")
    back = read_trace(tmp_path / "t.npz")
    for field in ("op", "table", "row", "col", "weight", "last"):
        assert np.array_equal(getattr(back, field), getattr(t, field))
    assert (back.weight_frac_bits, back.weight_width, back.name) == (8, 16, "small")
    t.check_tables([(6, 4), (3, 9)])
    with pytest.raises(TraceFormatError, match=r"^request 3: `col` 8 is out of range for table 1"):
        t.check_tables([(6, 4), (3, 8)])
    with pytest.raises(TraceFormatError, match=r"^request 2: `table` 1 does not exist"):
        t.check_tables([(6, 4)])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": np.array([0, 0, 2, 1], np.uint8)}, r"request 2: `op` must be 0 \(ROW\) or 1"),
        ({"col": np.array([-1, 0, 7, 8], np.int32)}, r"request 1: `col` must be -1 for a ROW"),
        ({"row": np.array([3, -5, 2, 2], np.int64)}, r"request 1: `row` must be >= 0, not -5"),
        ({"weight": np.array([1 << 15, 0, 0, 0])}, r"request 0: `weight` 32768 does not fit 16"),
        ({"last": np.array([False, True, False, False])}, r"the last request must end a bag"),
        ({"last": np.array([False, False, False, True])}, r"request 2: bag 0 mixes ROW and ELEM"),
        ({"row": np.array([3, 5, 2], np.int64)}, r"`row` has 3 entries, `op` has 4"),
        ({"table": np.array([0, 0, 1, 1], np.int64)}, r"`table` must be a 1-D uint16 array"),
    ],
)
def test_invalid_traces_are_named(change, message):
    with pytest.raises(TraceFormatError, match=message):
        Trace(**{**small(), **change})


def test_bad_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(TraceFormatError, match=r"not an \.npz archive"):
        read_trace(tmp_path / "junk.npz")
    with pytest.raises(TraceFormatError, match="cannot read trace"):
        read_trace(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    with pytest.raises(TraceFormatError, match=r"no `meta`"):
        read_trace(tmp_path / "other.npz")
    t = Trace(**small())
    meta = {**t.meta(), "version": 99}
    np.savez(tmp_path / "v99.npz", meta=np.array(json.dumps(meta)), **small())
    with pytest.raises(TraceFormatError, match=r"trace version 99; this release reads 1"):
        read_trace(tmp_path / "v99.npz")


def npy_bytes(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda path: path.write_bytes(b""), r"t.npz: not an rtnerf trace \(empty file\)$"),
        (
            lambda path: np.savez(path, meta=np.array("[1, 2]"), **small()),
            r"t.npz: not an rtnerf trace \(`meta` must be a JSON object, not list\)$",
        ),
        (
            lambda path: path.write_bytes(npy_bytes(np.zeros(3))),
            r"t.npz: not an rtnerf trace \(not an \.npz archive\)$",
        ),
        (
            lambda path: np.savez(
                path, meta=np.array(json.dumps({**Trace(**small()).meta(), "name": 3})), **small()
            ),
            r"t.npz: `meta.name` must be a string, not 3$",
        ),
        (
            lambda path: np.savez(
                path,
                meta=np.array(json.dumps({"kind": "trace", "version": 1, "weight_width": 16})),
                **small(),
            ),
            r"t.npz: `meta` lacks 'weight_frac_bits'$",
        ),
    ],
)
def test_malformed_files_are_one_error(tmp_path, write, message):
    write(tmp_path / "t.npz")
    with pytest.raises(TraceFormatError, match=message):
        read_trace(tmp_path / "t.npz")


def test_bounded_zipf_matches_its_distribution():
    rng = np.random.default_rng(0)
    ids = bounded_zipf(1000, 1.15, 200_000, rng, permute=False)
    assert ids.min() >= 0 and ids.max() < 1000
    p = np.arange(1, 1001, dtype=float) ** -1.15
    p /= p.sum()
    freq = np.bincount(ids, minlength=1000) / ids.size
    assert abs(freq[0] - p[0]) < 0.005 and abs(freq[9] - p[9]) < 0.003
    shuffled = bounded_zipf(1000, 1.15, 1000, np.random.default_rng(0))
    assert not np.array_equal(shuffled, ids[:1000])  # hot rows scattered


def test_random_bag_trace_shapes():
    rng = np.random.default_rng(1)
    t = random_bag_trace(rng, [(100, 16), (50, 8)], 500, element_fraction=0.3, max_bag=64)
    assert t.bags == 500
    t.check_tables([(100, 16), (50, 8)])
    sizes = np.diff(t.bag_starts)
    assert sizes.min() >= 1 and sizes.max() <= 64
    elem_bags = t.op[t.bag_starts[:-1]] == Op.ELEMENT
    assert 0.2 < elem_bags.mean() < 0.4 and sizes[elem_bags].max() <= 4
    assert dataclasses.replace(t, name="x").name == "x"
