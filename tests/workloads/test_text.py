"""rtnerf.workloads.text: loaders, token streams and the text kernels on tiny made-up tables."""

import dataclasses

import numpy as np
import pytest

from rtnerf.workloads import data, text
from rtnerf.workloads.kernel import design, engine_inputs, golden

SEED = 11


def corpus(rows=12, dim=4, seed=SEED):
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0, 1, rows)
    prob[3] = 0.0
    return text.TextCorpus(
        table=rng.standard_normal((rows, dim)).astype(np.float32),
        prob=prob / prob.sum(),
        words=[f"w{i}" for i in range(rows)],
        name="tiny",
    )


def naive_pool(vectors, offsets, mode):
    out = []
    for b in range(len(offsets) - 1):
        v = np.asarray(vectors[offsets[b] : offsets[b + 1]], np.float64)
        out.append(v.sum(0) if mode == "sum" else v.mean(0))
    return np.array(out)


# --- loaders and corpus -----------------------------------------------------------------------


def write_glove(folder, table, words):
    folder.mkdir(parents=True)
    np.save(folder / "glove_6B_50d_emb.npy", table)
    (folder / "words.txt").write_text("".join(w + "\n" for w in words), encoding="utf-8")


def test_loaders_and_text_corpus(tmp_path):
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    write_glove(tmp_path / "g", table, ["the", "of", "caf\u00e9", "zz"])
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "large_en.tsv").write_text(
        "the\t0.5\nmissing\t0.25\ncaf\u00e9\t0.125\nof\t0.125\n", encoding="utf-8"
    )
    emb, words = text.load_glove(tmp_path / "g")
    assert isinstance(emb, np.memmap) and emb.shape == (4, 3) and words[2] == "caf\u00e9"
    fwords, prob = text.load_wordfreq(tmp_path / "f")
    assert fwords == ["the", "missing", "caf\u00e9", "of"]
    np.testing.assert_allclose(prob, [0.5, 0.25, 0.125, 0.125])

    c = text.text_corpus(tmp_path / "g", tmp_path / "f")
    assert c.coverage == pytest.approx(0.75)
    np.testing.assert_allclose(c.prob, [0.5 / 0.75, 0.125 / 0.75, 0.125 / 0.75, 0.0])
    assert c.rows == 4 and c.words[0] == "the"


def test_load_glove_mismatch(tmp_path):
    write_glove(tmp_path / "g", np.zeros((3, 2), np.float32), ["a", "b"])
    with pytest.raises(ValueError, match="does not match 2 words"):
        text.load_glove(tmp_path / "g")


def test_loaders_without_data(tmp_path, monkeypatch):
    monkeypatch.setenv("RTNERF_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataNotFoundError, match="rtnerf data fetch glove"):
        text.load_glove()
    with pytest.raises(data.DataNotFoundError, match="rtnerf data fetch wordfreq"):
        text.load_wordfreq()


def test_corpus_checks():
    t = np.zeros((3, 2), np.float32)
    with pytest.raises(TypeError, match="`table` must be a non-empty 2-D float32 array"):
        text.TextCorpus(table=t.astype(np.float64), prob=np.full(3, 1 / 3))
    with pytest.raises(TypeError, match="`prob` must be a float array of 3 entries"):
        text.TextCorpus(table=t, prob=np.full(2, 0.5))
    with pytest.raises(ValueError, match="sum to 1"):
        text.TextCorpus(table=t, prob=np.full(3, 0.5))
    with pytest.raises(ValueError, match="`words` has 1 entries"):
        text.TextCorpus(table=t, prob=np.full(3, 1 / 3), words=["a"])


def test_sample_follows_prob():
    c = corpus()
    tokens = c.sample(np.random.default_rng(SEED), 200_000)
    assert tokens.dtype == np.int64
    counts = np.bincount(tokens, minlength=c.rows) / tokens.size
    assert counts[3] == 0
    np.testing.assert_allclose(counts, c.prob, atol=0.005)


# --- kernels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_kernel(mode):
    c = corpus()
    k = text.embedding_bag_kernel(c, np.random.default_rng(SEED), 30, mode=mode, max_len=6)
    tokens, offsets = text.sentences(c, np.random.default_rng(SEED), 30, max_len=6)
    assert k.family == "text" and k.name == f"embedding-bag-{mode}"
    np.testing.assert_array_equal(k.row, tokens)
    np.testing.assert_array_equal(k.offsets, offsets)
    assert 1 <= k.max_bag <= 6
    np.testing.assert_allclose(k.reference(), naive_pool(c.table[tokens], offsets, mode))

    p = text.embedding_bag_kernel(
        c, np.random.default_rng(SEED), 30, mode=mode, max_len=6, permute=True
    )
    assert p.name.endswith("-permuted") and not np.array_equal(p.row, k.row)
    np.testing.assert_allclose(p.reference(), k.reference(), rtol=1e-12)


def test_pooling_mode_checked():
    with pytest.raises(ValueError, match="`mode` must be one of sum, mean, not 'max'"):
        text.embedding_bag_kernel(corpus(), np.random.default_rng(SEED), 3, mode="max")
    with pytest.raises(ValueError, match="max_len"):
        text.sentences(corpus(), np.random.default_rng(SEED), 3, min_len=4, max_len=2)


def test_hash_ids():
    ids = np.arange(1000)
    a, b = 48271, 12345
    keys = text.hash_ids(ids, 37, a, b)
    assert keys.tolist() == [((a * i + b) % (2**31 - 1)) % 37 for i in range(1000)]
    big = text.hash_ids(np.array([2**31 - 2]), 1 << 16, 2**31 - 2, 2**31 - 2)
    assert big[0] == ((2**31 - 2) ** 2 + 2**31 - 2) % (2**31 - 1) % (1 << 16)
    assert np.bincount(keys, minlength=37).min() > 10  # spread over the buckets
    with pytest.raises(ValueError, match="`a` must be in"):
        text.hash_ids(ids, 37, 0, 1)
    with pytest.raises(ValueError, match="ids must be in"):
        text.hash_ids(np.array([-1]), 37, 1, 1)


def test_hashed_table():
    table = np.array([[1, 0], [3, 0], [0, 4], [0, 8]], np.float32)
    prob = np.array([0.25, 0.75, 0.0, 0.0])
    a, b = 1, 0  # h(i) = i mod buckets
    # one bucket: the probability-weighted mean (rows 2 and 3 weigh 0)
    np.testing.assert_allclose(text.hashed_table(table, prob, 1, a, b), [[2.5, 0]])
    # buckets {0, 2}, {1, 3}: the probable row wins
    np.testing.assert_allclose(text.hashed_table(table, prob, 2, a, b), [[1, 0], [3, 0]])
    # buckets {0}, {1}, {2}, {3}, {}: zero-probability rows alone keep their plain mean
    out = text.hashed_table(table, prob, 5, a, b)
    np.testing.assert_allclose(out, [[1, 0], [3, 0], [0, 4], [0, 8], [0, 0]])
    out = text.hashed_table(table, prob, 3, a, b)  # buckets {0, 3}, {1}, {2}
    np.testing.assert_allclose(out, [[1, 0], [3, 0], [0, 4]])


def test_hashed_kernel():
    c = corpus()
    k = text.hashed_kernel(c, np.random.default_rng(SEED), 20, buckets=5, mode="mean")
    tokens, offsets = text.sentences(c, np.random.default_rng(SEED), 20)
    np.testing.assert_array_equal(k.offsets, offsets)
    a, b = (int(x) for x in k.description.split("a=")[1].split(";")[0].split(", b="))
    np.testing.assert_array_equal(k.row, text.hash_ids(tokens, 5, a, b))
    assert k.tables[0].shape == (5, 4) and k.tables[0].dtype == np.float32
    np.testing.assert_allclose(
        k.reference(), naive_pool(k.tables[0][k.row], offsets, "mean"), rtol=1e-12
    )


def test_qr_tables_exact_for_additive_tables():
    rng = np.random.default_rng(SEED)
    q, r = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    ids = np.arange(20)
    table = (q[ids // 4] + r[ids % 4]).astype(np.float32)
    e_q, e_r = text.qr_tables(table, ids, 4)
    assert e_q.shape == (5, 3) and e_r.shape == (4, 3)
    np.testing.assert_allclose(e_q[ids // 4] + e_r[ids % 4], table, atol=1e-5)
    perm = rng.permutation(20)  # row i (the vector of id perm[i]) has id perm[i]
    e_q, e_r = text.qr_tables(table[perm], perm, 4)
    np.testing.assert_allclose(e_q[ids // 4] + e_r[ids % 4], table, atol=1e-5)


def test_qr_tables_weighted():
    rng = np.random.default_rng(SEED)
    table = rng.standard_normal((20, 3)).astype(np.float32)
    prob = np.zeros(20)
    prob[[5, 10]] = 0.5  # quotients 1 and 2, remainders 1 and 2: each alone in its groups
    ids = np.arange(20)
    e_q, e_r = text.qr_tables(table, ids, 4, prob)
    fit = e_q[ids // 4] + e_r[ids % 4]
    np.testing.assert_allclose(fit[[5, 10]], table[[5, 10]], atol=1e-6)
    assert np.abs(fit - table).max() > 0.1  # the other rows are only approximated


@pytest.mark.parametrize("permute", [False, True])
def test_qr_kernel(permute):
    c = corpus(rows=13)
    k = text.qr_kernel(c, np.random.default_rng(SEED), 15, remainder=4, permute=permute)
    _, offsets = text.sentences(c, np.random.default_rng(SEED), 15)
    np.testing.assert_array_equal(k.offsets, offsets * 2)
    assert [t.shape[0] for t in k.tables] == [4, 4]
    np.testing.assert_array_equal(k.table, np.tile([0, 1], k.lookups // 2))
    q, r = k.row[0::2], k.row[1::2]
    vectors = k.tables[0][q].astype(np.float64) + k.tables[1][r]
    np.testing.assert_allclose(k.reference(), naive_pool(vectors, offsets, "sum"), rtol=1e-12)
    assert (q * 4 + r < 13).all()


def test_zipf_bags():
    rng = np.random.default_rng(SEED)
    rows, offsets = text.zipf_bags(rng, 1000, 50, alpha=1.15, bag_size=8, permute=False)
    assert rows.dtype == offsets.dtype == np.int64
    np.testing.assert_array_equal(np.diff(offsets), 8)
    assert np.bincount(rows).argmax() == 0  # rank 1 is row 0 without the permutation

    rows, offsets = text.zipf_bags(rng, 1000, 50, alpha=1.05, bag_size=8, dedupe=True)
    for b in range(50):
        bag = rows[offsets[b] : offsets[b + 1]]
        assert 1 <= bag.size <= 8 and (np.diff(bag) > 0).all()

    distinct = [
        np.unique(text.zipf_bags(np.random.default_rng(SEED), 10_000, 500, alpha=a)[0]).size
        for a in (1.05, 1.09, 1.15)
    ]
    assert distinct[0] > distinct[1] > distinct[2]


def test_zipf_kernel():
    table = np.random.default_rng(SEED).standard_normal((300, 4)).astype(np.float32)
    k = text.zipf_kernel(table, np.random.default_rng(SEED), 10, bag_size=5, mode="mean")
    assert k.name == "zipf-1.09-mean" and k.bags == 10 and k.lookups == 50
    np.testing.assert_allclose(k.reference(), naive_pool(table[k.row], k.offsets, "mean"))


def test_text_kernels_on_the_engine_golden_model():
    c = corpus(rows=40, dim=8)
    for k in (
        text.embedding_bag_kernel(c, np.random.default_rng(SEED), 6, mode="mean", max_len=5),
        text.qr_kernel(c, np.random.default_rng(SEED), 6, remainder=8, max_len=5),
    ):
        params = design(k)
        # sums of full-scale rows need headroom: out_width 16 (= value_width) saturates them
        params = dataclasses.replace(params, unit=dataclasses.replace(params.unit, out_width=24))
        images, trace = engine_inputs(k, params)
        np.testing.assert_allclose(golden(params, images, trace), k.reference(), atol=0.05)
