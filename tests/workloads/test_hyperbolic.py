import re

import numpy as np
import pytest
from naive import hyperbolic as naive

from rtnerf.models.golden import embedding_lookup_unit as unit_model
from rtnerf.models.golden.decode import expand_rows
from rtnerf.models.quant import quantize
from rtnerf.workloads import hyperbolic as H
from rtnerf.workloads.kernel import design, engine_inputs

SEED = 5

# A made-up excerpt in data.noun's real layout: licence header lines start with a space; the
# word count is hex (``0a`` = 10 lemmas); pointers are ``symbol offset pos source/target``;
# only ``@`` and ``@i`` are hypernyms (``~`` hyponym, ``#m`` holonym, ``+`` derivation, ``;c``
# domain are not); the gloss after `` | `` may hold anything; lines end in two spaces.
DATA_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by
  2 Princeton University under the following license.  By obtaining, using
00000100 03 n 01 entity 0 002 ~ 00000200 n 0000 ~ 00000300 n 0000 | that which is perceived
00000200 03 n 01 animal 0 003 @ 00000100 n 0000 ~ 00000400 n 0000 #m 00000300 n 0000 | a being
00000300 03 n 02 group 0 grouping 0 001 @ 00000100 n 0000 | a number of things @ 00000200 n
00000400 05 n 0a dog 0 domestic_dog 0 Canis_familiaris 0 d1 0 d2 0 d3 0 d4 0 d5 0 d6 0 d7 0 \
003 @ 00000200 n 0000 @ 00000300 n 0000 + 01234567 v 0101 | a domestic animal; "a dog | b"
00000500 18 n 01 Lassie 0 002 @i 00000400 n 0000 ;c 00000300 n 0000 | a fictional dog
00000600 05 n 01 dog 1 001 @ 00000400 n 0000 | a second sense of dog, first in index order
""".replace("\n", "  \n")

INDEX_NOUN = """\
  1 This software and database is being provided to you, the LICENSEE, by
animal n 1 2 @ ~ 1 0 00000200
dog n 2 2 @ ~ 2 1 00000600 00000400
entity n 1 1 ~ 1 0 00000100
""".replace("\n", "  \n")


def rng(seed=SEED):
    print(f"seed {seed}")
    return np.random.default_rng(seed)


def tree(branching=3, depth=3):
    """A complete tree as a Hierarchy of child -> parent edges."""
    child, parent, level = [], [], [0]
    n = 1
    for _ in range(depth):
        nxt = []
        for p in level:
            for _ in range(branching):
                child.append(n)
                parent.append(p)
                nxt.append(n)
                n += 1
        level = nxt
    return H.Hierarchy(
        tuple(f"n{i}" for i in range(n)),
        np.full(n, -1, np.int64),
        np.array(child, np.int64),
        np.array(parent, np.int64),
    )


def edge_set(h):
    return set(zip(h.child.tolist(), h.parent.tolist(), strict=True))


def in_ball(rng, n, dim, radius):
    x = rng.standard_normal((n, dim))
    x *= (radius * rng.random(n) ** (1 / dim) / np.linalg.norm(x, axis=1))[:, None]
    return x


def test_parse_data_noun_reads_synsets_and_hypernyms():
    offsets, lemmas, hypernyms = H.parse_data_noun(DATA_NOUN.splitlines())
    assert offsets.tolist() == [100, 200, 300, 400, 500, 600]
    assert lemmas[2] == ("group", "grouping")
    assert lemmas[3][:3] == ("dog", "domestic_dog", "Canis_familiaris") and len(lemmas[3]) == 10
    assert lemmas[4] == ("Lassie",)
    assert hypernyms == [(200, 100), (300, 100), (400, 200), (400, 300), (500, 400), (600, 400)]


def test_parse_rejects_a_malformed_line():
    with pytest.raises(ValueError, match=r"^line 2 is not a WordNet data line"):
        H.parse_data_noun(["00000100 03 n 01 entity 0 000 | ok", "00000200 03 n zz x"])
    with pytest.raises(ValueError, match=r"^line 1 is not a WordNet index line"):
        H.parse_index_noun(["dog n two"])


def test_load_wordnet_names_senses_like_nltk(tmp_path):
    (tmp_path / "data.noun").write_text(DATA_NOUN, encoding="latin-1")
    (tmp_path / "index.noun").write_text(INDEX_NOUN, encoding="latin-1")
    wn = H.load_wordnet(tmp_path)
    assert wn.names == (
        "entity.n.01",
        "animal.n.01",
        "group.n.01",
        "dog.n.02",  # index.noun lists 00000600 first
        "lassie.n.01",  # not in the index: sense 1
        "dog.n.01",
    )
    assert wn.offsets.tolist() == [100, 200, 300, 400, 500, 600]
    assert edge_set(wn) == {(1, 0), (2, 0), (3, 1), (3, 2), (4, 3), (5, 3)}
    assert wn.index("dog.n.01") == 5
    with pytest.raises(ValueError, match=r"^`name` must be a node of the hierarchy, not 'cat'$"):
        wn.index("cat")


def test_load_wordnet_without_index_names_first_senses(tmp_path):
    (tmp_path / "data.noun").write_text(DATA_NOUN, encoding="latin-1")
    assert H.load_wordnet(tmp_path).names[3] == "dog.n.01"


def test_load_wordnet_rejects_a_dangling_pointer(tmp_path):
    (tmp_path / "data.noun").write_text(
        "00000100 03 n 01 entity 0 001 @ 00000999 n 0000 | x\n", encoding="latin-1"
    )
    with pytest.raises(ValueError, match=r"^data.noun points to a synset it lacks"):
        H.load_wordnet(tmp_path)


def test_closure_of_a_toy_dag_is_every_ancestor():
    # A diamond (4 -> 2, 3 -> 1 -> 0), a shortcut 4 -> 1, a second root 5, a chain 6 -> 4.
    edges = [(1, 0), (2, 1), (3, 1), (4, 2), (4, 3), (4, 1), (6, 4), (6, 5)]
    n = 7
    h = H.Hierarchy(
        tuple(map(str, range(n))),
        np.full(n, -1, np.int64),
        np.array([c for c, _ in edges], np.int64),
        np.array([p for _, p in edges], np.int64),
    )
    closed = H.transitive_closure(h)
    assert edge_set(closed) == naive.closure(n, edges)
    keys = closed.child * n + closed.parent
    assert (np.diff(keys) > 0).all()  # sorted, no duplicates
    sub = H.subtree(closed, "1")
    assert sub.names == ("1", "2", "3", "4", "6")
    named = {(sub.names[c], sub.names[p]) for c, p in edge_set(sub)}
    inside = {1, 2, 3, 4, 6}
    want = {(str(c), str(p)) for c, p in naive.closure(n, edges) if c in inside and p in inside}
    assert named == want


def test_closure_rejects_a_cycle():
    h = H.Hierarchy(("a", "b"), np.full(2, -1, np.int64), np.array([0, 1]), np.array([1, 0]))
    with pytest.raises(ValueError, match=r"^the hierarchy has a cycle through"):
        H.transitive_closure(h)


def test_hierarchy_rejects_bad_edges():
    with pytest.raises(ValueError, match=r"^edge endpoints must be node indices in \[0, 2\)$"):
        H.Hierarchy(("a", "b"), np.full(2, -1, np.int64), np.array([0]), np.array([2]))


def test_distance_matches_the_formula():
    r = rng()
    u, v = in_ball(r, 50, 4, 0.99), in_ball(r, 50, 4, 0.99)
    u[0] = v[0]  # distance 0
    got = H.poincare_distance(u, v)
    want = [naive.distance(a, b) for a, b in zip(u.tolist(), v.tolist(), strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # Points at the boundary are clamped as the reference code does.
    edge = np.array([[1.0, 0.0]])
    assert np.isfinite(H.poincare_distance(edge, -edge)).all()


def test_rsgd_keeps_points_in_the_ball():
    h = H.transitive_closure(tree(4, 3))
    # A rate far too high: every step tries to leave the ball.
    x, losses = H.train_poincare(h, dim=3, epochs=4, lr=50.0, negatives=5, burnin=1, seed=SEED)
    assert np.linalg.norm(x, axis=1).max() <= 1 - H.EPS + 1e-12
    assert np.isfinite(x).all() and np.isfinite(losses).all()


def test_a_tiny_tree_embeds_with_map_one():
    h = H.transitive_closure(tree(3, 3))
    x, losses = H.train_poincare(h, dim=5, epochs=500, negatives=10, burnin=10, seed=SEED)
    assert losses[-1] < losses[10]
    rec = H.reconstruction(h, x)
    print(rec)
    assert rec.queries == h.nodes - 1 and rec.pairs == h.edges
    # Not exactly 1: a few cousins end up as close as a grandparent (seeds 0-4: MAP 0.977-1).
    assert rec.map >= 0.97
    assert rec.mean_rank <= 1.06


def test_training_is_seeded():
    h = H.transitive_closure(tree(2, 3))
    a, _ = H.train_poincare(h, dim=2, epochs=3, negatives=3, burnin=1, seed=1)
    b, _ = H.train_poincare(h, dim=2, epochs=3, negatives=3, burnin=1, seed=1)
    np.testing.assert_array_equal(a, b)


def test_training_continues_from_a_start():
    h = H.transitive_closure(tree(2, 2))
    start = np.zeros((h.nodes, 2))
    start[1] = (3.0, 4.0)  # outside the ball: projected
    x, losses = H.train_poincare(h, dim=2, epochs=0, start=start)
    assert losses.size == 0
    np.testing.assert_allclose(x[1], np.array([0.6, 0.8]) * (1 - H.EPS))
    assert start[1, 0] == 3.0  # copied
    with pytest.raises(ValueError, match=re.escape("`start` must have shape (7, 3), not (7, 2)")):
        H.train_poincare(h, dim=3, start=start)


def test_reconstruction_matches_naive():
    r = rng()
    h = H.transitive_closure(tree(3, 2))
    x = in_ball(r, h.nodes, 3, 0.9)
    x[5] = x[7]  # ties: two points at the same place
    x[2] = x[0]
    rec = H.reconstruction(h, x)
    mean_rank, map_ = naive.reconstruction(
        h.nodes, edge_set(h), lambda a, b: naive.distance(x[a], x[b])
    )
    assert rec.mean_rank == pytest.approx(mean_rank, rel=1e-12)
    assert rec.map == pytest.approx(map_, rel=1e-12)
    some = H.reconstruction(h, x, queries=np.array([0, 4, 5]))  # 0 has no parent: skipped
    assert (some.queries, some.pairs) == (2, 4)


def test_fixed_point_reconstruction_is_the_engine_scores_through_the_host():
    r = rng()
    h = H.transitive_closure(tree(3, 2))
    x = in_ball(r, h.nodes, 4, 0.95).astype(np.float32)
    q = quantize(x, 16)
    rec = H.reconstruction(h, quantized=q)
    u, v = np.meshgrid(np.arange(h.nodes), np.arange(h.nodes), indexing="ij")
    qv = q.values.astype(np.int64)
    scores = np.stack(
        [((qv[u] - qv[v]) ** 2).sum(-1), (qv[u] ** 2).sum(-1), (qv[v] ** 2).sum(-1)], -1
    )
    d = H.distances_from_scores(scores.reshape(-1, 3), q.scale).reshape(h.nodes, h.nodes)
    mean_rank, map_ = naive.reconstruction(h.nodes, edge_set(h), lambda a, b: d[a, b])
    assert rec.mean_rank == pytest.approx(mean_rank, rel=1e-12)
    assert rec.map == pytest.approx(map_, rel=1e-12)
    fl = H.reconstruction(h, x)
    assert abs(rec.map - fl.map) <= 0.02


# Fixed point vs float: 16-bit values with step s = max|x| / 32767 (about 3e-5 here) move a
# squared norm or distance by about 2 s sqrt(dim); the distance moves by that over
# (1 - |x|^2), so for points within radius 0.95 (1 - |x|^2 >= 0.0975) by well under 2e-3.
FIXED_TOLERANCE = 2e-3


def test_engine_distance_path_matches_float():
    r = rng()
    n = 60
    x = in_ball(r, n, 10, 0.95).astype(np.float32)
    u, v = r.integers(0, n, 200), r.integers(0, n, 200)
    kernel = H.distance_kernel(x, u, v, name="test")
    assert (kernel.bags, kernel.max_bag, kernel.pairwise) == (400, 1, "l2")
    want = H.poincare_distance(x[u].astype(np.float64), x[v].astype(np.float64))
    ref = kernel.reference()
    np.testing.assert_allclose(
        np.arccosh(1 + 2 * ref[:, 0] / ((1 - ref[:, 1]) * (1 - ref[:, 2]))), want, rtol=1e-9
    )
    params = design(kernel)
    images, trace = engine_inputs(kernel, params)
    scores = unit_model.scores(params.unit, unit_model.evaluate(params.unit, images, trace))
    # Weight 1.0 pools a row to its stored integers: the scores are exact l2 of those.
    stored = expand_rows(images[0], np.arange(n)).astype(np.int64)
    np.testing.assert_array_equal(scores[:, 0], ((stored[u] - stored[v]) ** 2).sum(1))
    np.testing.assert_array_equal(scores[:, 1], (stored[u] ** 2).sum(1))
    np.testing.assert_array_equal(scores[:, 2], (stored[v] ** 2).sum(1))
    # One quantiser: the engine's image holds exactly quantize's integers.
    q = quantize(x, 16)
    assert images[0].scale == q.scale
    np.testing.assert_array_equal(stored, q.values)
    got = H.distances_from_scores(scores, images[0].scale)
    err = np.abs(got - want).max()
    print(f"max |fixed - float| distance error {err:.2e}")
    assert err <= FIXED_TOLERANCE


def test_distances_from_scores_checks_its_inputs():
    with pytest.raises(
        ValueError, match=re.escape("`scores` must have shape (pairs, 3), not (2,)")
    ):
        H.distances_from_scores(np.zeros(2), 1.0)
    with pytest.raises(ValueError, match=r"^`scale` must be positive, not 0$"):
        H.distances_from_scores(np.zeros((1, 3)), 0)


def test_training_pairs_are_edges_then_non_neighbours():
    h = H.transitive_closure(tree(3, 3))
    u, v = H.training_pairs(h, 30, 7, seed=SEED)
    assert u.shape == v.shape == (30 * 8,)
    edges = edge_set(h)
    linked = edges | {(p, c) for c, p in edges}
    for e in range(30):
        block = slice(8 * e, 8 * e + 8)
        assert (u[block] == u[8 * e]).all()
        assert (u[8 * e], v[8 * e]) in edges
        for w in v[8 * e + 1 : 8 * e + 8]:
            assert w != u[8 * e] and (u[8 * e], w) not in linked
    star = H.Hierarchy(("r", "a"), np.full(2, -1, np.int64), np.array([1]), np.array([0]))
    with pytest.raises(ValueError, match=r"^node 'a' is linked to every node$"):
        H.training_pairs(star, 1, 1)


def test_scan_pairs_cover_every_node():
    u, v = H.scan_pairs(5, np.array([3, 1]))
    assert u.tolist() == [3] * 5 + [1] * 5
    assert v.tolist() == [0, 1, 2, 3, 4] * 2
    with pytest.raises(ValueError, match=r"^`queries` must be node indices in \[0, 5\)$"):
        H.scan_pairs(5, np.array([5]))


def test_train_checks_its_settings():
    h = H.transitive_closure(tree(2, 2))
    with pytest.raises(ValueError, match=r"^`lr` must be positive, not 0$"):
        H.train_poincare(h, lr=0)
    with pytest.raises(ValueError, match=r"^`burnin_factor` must be in \(0, 1\], not 2$"):
        H.train_poincare(h, burnin_factor=2)


def test_load_wordnet_without_the_dataset_says_how_to_fetch_it(tmp_path, monkeypatch):
    from rtnerf.workloads.data import DataNotFoundError

    monkeypatch.setenv("RTNERF_DATA_DIR", str(tmp_path))
    with pytest.raises(DataNotFoundError, match=r"rtnerf data fetch wordnet"):
        H.load_wordnet()
