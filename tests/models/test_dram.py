from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import decode as naive

from rtnerf.models.dram import Cause, account, cache_hits
from rtnerf.models.image import encode
from rtnerf.params import EncodingParams, Format

SETTINGS = settings(max_examples=50, derandomize=True, deadline=None)


def naive_account(image, rows, cols, burst_bytes, cache_rows, directory=None, whole=False):
    """Per-request (burst ids, cause per burst, words, hit), straight from the policy.

    Burst ids are listed memory request by memory request (entry; payload part; value).
    ``directory`` (per request, default all) says which requests read their entry; ``whole``:
    element requests on BITMAP and COO rows read the whole payload (the request slots').
    """
    lay = image.layout
    w = lay.word_width
    burst_words = burst_bytes // (w // 8)
    cache = OrderedDict()
    out = []
    for q, r in enumerate(rows):
        r = int(r)
        c = -1 if cols is None else int(cols[q])
        if cache_rows:
            if r in cache:
                cache.move_to_end(r)
                out.append(([], [], 0, True, []))
                continue
            cache[r] = True
            if len(cache) > cache_rows:
                cache.popitem(last=False)
            c = -1
        fmt, nnz, offset = naive.entry(image, r)
        if whole and fmt in (Format.BITMAP, Format.COO):
            c = -1
        base = offset * w
        vstart = {Format.BITMAP: lay.columns, Format.COO: nnz * lay.coord_width}.get(fmt, 0)
        bv = lay.value_width
        # (start bit, end bit, cause, memory request)
        ranges = [(r * lay.entry_width, (r + 1) * lay.entry_width, Cause.DIRECTORY, 0)]
        if directory is not None and not directory[q]:
            ranges = []
        index_cause = Cause.BITMAP if fmt == Format.BITMAP else Cause.COORDINATES
        if c < 0:
            ranges.append((base, base + vstart, index_cause, 1))
            n_values = lay.columns if fmt == Format.DENSE else nnz if fmt else 0
            ranges.append((base + vstart, base + vstart + n_values * bv, Cause.VALUES, 1))
        elif fmt == Format.DENSE:
            ranges.append((base + c * bv, base + (c + 1) * bv, Cause.VALUES, 2))
        elif fmt in (Format.BITMAP, Format.COO):
            if fmt == Format.BITMAP:
                ranges.append((base, base + c + 1, Cause.BITMAP, 1))
                row = naive.expand_row(image, r)
                hit = row[c] != 0
                index = sum(1 for v in row[:c] if v != 0)
            else:
                ranges.append((base, base + vstart, Cause.COORDINATES, 1))
                coords = [j for j, v in enumerate(naive.expand_row(image, r)) if v != 0]
                hit = c in coords
                index = coords.index(c) if hit else None
            if hit:
                vb = base + vstart + index * bv
                ranges.append((vb, vb + bv, Cause.VALUES, 2))
        # A word is read once per request; each memory request transfers its bursts.
        words, bursts, reqs = set(), {}, {}
        for start, end, cause, req in ranges:
            for word in range(start // w, (end - 1) // w + 1) if end > start else ():
                if word not in words:
                    words.add(word)
                    bursts.setdefault((req, word // burst_words), cause)
                    reqs.setdefault(req, []).append(word)
        ids = sorted(bursts)
        memory = [(min(reqs[k]), len(reqs[k])) for k in sorted(reqs)]
        out.append(([b for _, b in ids], [bursts[b] for b in ids], len(words), False, memory))
    return out


@st.composite
def cases(draw):
    word_width = draw(st.sampled_from([32, 64, 128, 512]))
    p = EncodingParams(
        value_width=draw(st.sampled_from([8, 16, 5])),
        word_width=word_width,
        burst_bytes=draw(st.sampled_from([1, 2, 4])) * word_width // 8,
        align_rows=draw(st.booleans()),
        placement=draw(st.sampled_from(["packed", "bursts"])),
        force_format=draw(st.sampled_from([None, None, "dense", "bitmap", "coo"])),
        entry_width=draw(st.sampled_from([32, 64])),
    )
    rows = draw(st.integers(1, 10))
    columns = draw(st.sampled_from([1, 5, 16, 64, 100, 300]))
    density = draw(st.sampled_from([0.0, 0.02, 0.1, 0.3, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    hi = 1 << (p.value_width - 1)
    values = rng.integers(-hi, hi, size=(rows, columns))
    values[rng.random(values.shape) >= density] = 0
    n = draw(st.integers(1, 30))
    qrows = rng.integers(0, rows, n)
    qcols = rng.integers(-1, columns, n) if draw(st.booleans()) else None
    burst = draw(st.sampled_from([None, p.word_bytes, 64 if p.word_bytes <= 64 else None]))
    cache_rows = draw(st.sampled_from([0, 0, 1, 3]))
    directory = draw(st.sampled_from([None, "none", "some"]))
    if directory == "none":
        directory = np.zeros(n, bool)
    elif directory == "some":
        directory = rng.random(n) < 0.5
    whole = draw(st.booleans())
    return encode(values, p), qrows, qcols, burst, cache_rows, directory, whole


@SETTINGS
@given(case=cases())
def test_account_matches_naive_policy(case):
    image, rows, cols, burst, cache_rows, directory, whole = case
    flags = {} if directory is None else {"directory": directory}
    acc = account(
        image, rows, cols, burst_bytes=burst, cache_rows=cache_rows, sparse_whole=whole, **flags
    )
    burst_bytes = burst or image.params.burst_bytes
    expected = naive_account(image, rows, cols, burst_bytes, cache_rows, directory, whole)
    assert acc.requests == len(rows) and acc.burst_bytes == burst_bytes
    for q, (ids, causes, words, hit, memory) in enumerate(expected):
        assert acc.bursts_of(q).tolist() == ids
        lo, hi = acc.request_ptr[q], acc.request_ptr[q + 1]
        got = list(
            zip(acc.request_start[lo:hi].tolist(), acc.request_words[lo:hi].tolist(), strict=True)
        )
        assert got == memory and acc.memory_requests[q] == len(memory)
        assert acc.words[q] == words and acc.bursts[q] == len(ids)
        assert acc.cache_hit[q] == hit
        want = np.bincount(np.array(causes, int), minlength=4) * burst_bytes
        assert acc.cause_bytes[q].tolist() == want.tolist()
    assert acc.total_bytes == acc.cause_bytes.sum() == sum(acc.bytes_by_cause().values())


def test_dense_row_directed():
    # 4 rows of 16 dense 16-bit values: 256 bits = 4 words of 64 bits per row; 64-byte bursts.
    p = EncodingParams(value_width=16, word_width=64, burst_bytes=64, entry_width=64)
    image = encode(np.ones((4, 16), np.int64), p)
    assert image.layout.payload_base == 4  # 4 entries x 64 bits
    acc = account(image, [0, 3, 3], [0, 15, -1])
    # request 0: entry word 0 and value word 4 share burst 0, read by two memory requests
    assert acc.bursts_of(0).tolist() == [0, 0] and acc.words.tolist()[0] == 2
    assert acc.cause_bytes[0].tolist() == [64, 0, 0, 64]
    assert acc.memory_requests.tolist() == [2, 2, 2]
    # request 1: entry word 3 (burst 0), row 3 = words 16..19, value 15 in word 19 (burst 2)
    assert acc.bursts_of(1).tolist() == [0, 2]
    assert acc.cause_bytes[1].tolist() == [64, 0, 0, 64]
    # request 2: the whole row 3 (words 16..19, burst 2)
    assert acc.bursts_of(2).tolist() == [0, 2] and acc.words[2] == 5


def test_bitmap_miss_reads_no_value_and_prefix_only():
    p = EncodingParams(
        value_width=8, word_width=32, burst_bytes=4, force_format="bitmap", entry_width=32
    )
    values = np.zeros((1, 128), np.int64)
    values[0, 100] = 5
    image = encode(values, p)  # entry word 0, bitmap words 1..4, value word 5
    acc = account(image, [0, 0, 0], [3, 100, 40])
    assert acc.bursts_of(0).tolist() == [0, 1]
    assert acc.bursts_of(1).tolist() == [0, 1, 2, 3, 4, 5]
    assert acc.bursts_of(2).tolist() == [0, 1, 2]
    assert acc.bytes_by_cause() == {"directory": 12, "bitmap": 28, "coordinates": 0, "values": 4}
    assert acc.memory_requests.tolist() == [2, 3, 2]


def test_empty_row_reads_only_its_entry():
    image = encode(np.zeros((3, 8), np.int64), EncodingParams())
    acc = account(image, [1, 2], [3, -1])
    assert acc.words.tolist() == [1, 1]
    assert acc.bytes_by_cause()["directory"] == 128


def test_lru_cache_hits_and_evictions():
    image = encode(np.eye(8, dtype=np.int64), EncodingParams(value_width=8))
    trace = [0, 1, 0, 2, 1, 0, 0]
    acc = account(image, trace, cache_rows=2)
    # LRU of 2: 0 m, 1 m, 0 h, 2 m (evicts 1), 1 m (evicts 0), 0 m (evicts 2), 0 h
    assert acc.cache_hit.tolist() == [False, False, True, False, False, False, True]
    assert acc.bursts[acc.cache_hit].sum() == 0
    no_cache = account(image, trace)
    assert acc.total_bytes < no_cache.total_bytes


def naive_cache_hits(keys, sets, ways):
    cache = [OrderedDict() for _ in range(sets)]
    hits = []
    for k in keys:
        line = cache[k % sets]
        hits.append(k in line)
        line[k] = True
        line.move_to_end(k, last=False)
        if len(line) > ways:
            line.popitem()
    return hits


@pytest.mark.parametrize(("sets", "ways"), [(1, 1), (1, 4), (2, 2), (8, 1), (4, 3)])
def test_set_associative_cache_matches_naive(sets, ways):
    seed = 100 * sets + ways
    rng = np.random.default_rng(seed)
    keys = rng.integers(0, 40, 3000)
    assert cache_hits(keys, sets, ways).tolist() == naive_cache_hits(keys, sets, ways), seed


def test_given_hits_read_whole_rows():
    image = encode(np.eye(8, dtype=np.int64), EncodingParams(value_width=8))
    hits = [False, True, False]
    acc = account(image, [0, 0, 3], [2, 5, 1], hits=hits)
    assert acc.cache_hit.tolist() == hits and acc.words[1] == 0
    assert acc.words[2] == account(image, [3]).words[0]  # a miss reads the whole row
    with pytest.raises(ValueError, match=r"^give `hits` or `cache_rows`, not both$"):
        account(image, [0], hits=[True], cache_rows=2)
    with pytest.raises(ValueError, match=r"^`hits` must have the shape of `rows` \(1,\)"):
        account(image, [0], hits=[True, False])
    with pytest.raises(ValueError, match=r"^`sets` must be a power of two"):
        cache_hits([1], 3, 1)


def test_aligned_rows_never_share_bursts():
    p = EncodingParams(value_width=16, word_width=64, burst_bytes=64, align_rows=True)
    rng = np.random.default_rng(3)
    values = rng.integers(-5, 5, size=(20, 50))
    image = encode(values, p)
    acc = account(image, np.arange(20))
    directory = set(range(image.layout.payload_base // p.burst_words))
    assert directory == {0, 1, 2}  # 20 entries x 8 bytes
    payload = [set(acc.bursts_of(q).tolist()) - directory for q in range(20)]
    for a in range(20):
        for b in range(a + 1, 20):
            assert not payload[a] & payload[b]


@pytest.mark.parametrize(
    ("kwargs", "exc", "message"),
    [
        (
            {"burst_bytes": 48},
            ValueError,
            r"^`burst_bytes` must be a power of two from 8 to 4096, not 48$",
        ),
        (
            {"burst_bytes": 4},
            ValueError,
            r"^`burst_bytes` must be a power of two from 8 to 4096, not 4$",
        ),
        ({"cache_rows": -1}, ValueError, r"^`cache_rows` must be an integer >= 0, not -1$"),
        ({"cache_rows": 1.5}, TypeError, r"^`cache_rows` must be an integer, not 1.5$"),
        ({"rows": [9]}, ValueError, r"^`rows` must be from 0 to 1, not 9$"),
        ({"rows": [[0]]}, ValueError, r"^`rows` must be 1-D, not of shape \(1, 1\)$"),
        (
            {"cols": [0, 1]},
            ValueError,
            r"^`cols` must have the shape of `rows` \(1,\), not \(2,\)$",
        ),
        ({"cols": [-2]}, ValueError, r"^`cols` must be from 0 to 3, not -2$"),
    ],
)
def test_bad_arguments_rejected(kwargs, exc, message):
    image = encode(np.ones((2, 4), np.int64), EncodingParams())
    args = {"rows": [0], "cols": [0], **kwargs}
    rows, cols = args.pop("rows"), args.pop("cols")
    with pytest.raises(exc, match=message):
        account(image, rows, cols, **args)
