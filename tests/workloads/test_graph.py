import dataclasses
import gzip
import re
import struct
import sys
import types

import numpy as np
import pytest

from rtnerf.workloads import data
from rtnerf.workloads import graph as G
from rtnerf.workloads.kernel import design, engine_inputs, golden

SEED = 11


def rng(seed=SEED):
    print(f"seed {seed}")
    return np.random.default_rng(seed)


def write_gt(path, n, adjacency, *, directed, big_endian=False, comment=b"test"):
    """A graph-tool binary file: header, adjacency, then zero property maps."""
    e = ">" if big_endian else "<"
    width = next(w for w in (1, 2, 4, 8) if n <= 1 << (8 * w))
    dtype = np.dtype(f"u{width}").newbyteorder(e)
    out = bytearray(b"\xe2\x9b\xbe gt" + bytes([1, int(big_endian)]))
    out += struct.pack(e + "Q", len(comment)) + comment
    out += bytes([int(directed)]) + struct.pack(e + "Q", n)
    for v in range(n):
        nbrs = adjacency.get(v, [])
        out += struct.pack(e + "Q", len(nbrs)) + np.asarray(nbrs, dtype).tobytes()
    out += struct.pack(e + "Q", 0)  # property maps
    data = gzip.compress(bytes(out)) if str(path).endswith(".gz") else bytes(out)
    path.write_bytes(data)


def edge_set(graph):
    return set(zip(graph.sources().tolist(), graph.indices.tolist(), strict=True))


# ---------------------------------------------------------------------------------------------
# Graphs and loaders


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize(("n", "suffix"), [(5, ".gt"), (300, ".gt.gz"), (70000, ".gt.gz")])
def test_read_gt_round_trip(tmp_path, n, suffix, big_endian):
    r = rng()
    adjacency = {int(v): r.integers(0, n, r.integers(0, 4)).tolist() for v in r.integers(0, n, 8)}
    path = tmp_path / f"tiny{suffix}"
    write_gt(path, n, adjacency, directed=True, big_endian=big_endian)
    g = G.read_gt(path)
    assert (g.n, g.directed, g.name) == (n, True, "tiny")
    for v in range(n):
        assert g.indices[g.indptr[v] : g.indptr[v + 1]].tolist() == adjacency.get(v, [])


def test_read_gt_undirected_and_errors(tmp_path):
    path = tmp_path / "u.gt"
    write_gt(path, 3, {0: [1, 2]}, directed=False)
    g = G.read_gt(path, name="u3")
    assert (g.directed, g.name, g.arcs) == (False, "u3", 2)
    assert edge_set(g.symmetrised()) == {(0, 1), (0, 2), (1, 0), (2, 0)}
    bad = tmp_path / "bad.gt"
    bad.write_bytes(b"not a graph at all")
    with pytest.raises(ValueError, match="bad magic"):
        G.read_gt(bad)
    cut = tmp_path / "cut.gt"
    cut.write_bytes(path.read_bytes()[:-15])
    with pytest.raises(ValueError, match="ends inside the adjacency"):
        G.read_gt(cut)


def test_load_graph_from_folder(tmp_path):
    write_gt(tmp_path / "karate.gt.gz", 3, {0: [1, 1, 0], 2: [1]}, directed=True)
    g = G.load_graph("karate", folder=tmp_path)
    assert (g.directed, g.name) == (False, "karate")
    assert edge_set(g) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    raw = G.load_graph("karate", folder=tmp_path, symmetrise=False, simple=False)
    assert raw.arcs == 4
    with pytest.raises(ValueError, match=r"^`name` must be one of .*, not 'nope'$"):
        G.load_graph("nope", folder=tmp_path)


def test_load_graph_default_folder_is_the_graphs_dataset(tmp_path, monkeypatch):
    write_gt(tmp_path / "dolphins.gt.gz", 2, {0: [1]}, directed=False)
    asked = []
    monkeypatch.setattr(data, "path", lambda name: asked.append(name) or tmp_path)
    assert G.load_graph("dolphins").arcs == 2
    assert asked == ["graphs"]


def test_karate_club():
    g = G.karate_club()
    assert (g.n, g.arcs, g.directed) == (34, 156, False)
    assert g.degree.max() == 17 and g.degree[33] == 17
    assert edge_set(g) == {(b, a) for a, b in edge_set(g)}


def test_networkx_graph_with_a_stand_in(monkeypatch):
    class Fake:
        def nodes(self):
            return ["a", "b", "c"]

        def edges(self):
            return [("a", "b"), ("b", "c"), ("c", "c")]

        def is_directed(self):
            return False

    monkeypatch.setitem(sys.modules, "networkx", types.SimpleNamespace(tiny_graph=Fake))
    g = G.networkx_graph("tiny")
    assert edge_set(g) == {(0, 1), (1, 0), (1, 2), (2, 1)}
    with pytest.raises(ValueError, match="`name` must name a networkx generator"):
        G.networkx_graph("missing")


def test_symmetrise_simple_relabel():
    g = G.Graph.from_arcs(4, [0, 0, 0, 2, 3], [1, 1, 0, 3, 2], directed=True, name="t")
    assert g.symmetrised().arcs == 10
    s = g.symmetrised().simple()
    assert edge_set(s) == {(0, 1), (1, 0), (2, 3), (3, 2)}
    assert s.indices.tolist() == [1, 0, 3, 2]
    perm = np.array([2, 0, 3, 1])
    relabelled = g.relabelled(perm)
    assert edge_set(relabelled) == {(perm[a], perm[b]) for a, b in edge_set(g)}
    assert relabelled.degree[perm].tolist() == g.degree.tolist()
    shuffled = G.karate_club().shuffled(rng())
    assert sorted(shuffled.degree) == sorted(G.karate_club().degree)
    with pytest.raises(ValueError, match=r"^`perm` must be a permutation of 0 \.\. 3$"):
        g.relabelled([0, 0, 1, 2])
    with pytest.raises(ValueError, match="`indices` must be vertex ids"):
        G.Graph(2, np.array([0, 1, 1]), np.array([5]), False)


def test_rmat_counts_determinism_and_skew():
    g = G.rmat(12, seed=3)
    assert (g.n, g.arcs, g.directed) == (4096, 16 * 4096, True)
    again = G.rmat(12, seed=3)
    assert np.array_equal(g.indptr, again.indptr) and np.array_equal(g.indices, again.indices)
    assert not np.array_equal(g.indices, G.rmat(12, seed=4).indices)
    # The top bit of (src, dst) picks a quadrant with probabilities a, b, c, d.
    top = (g.sources() >> 11) * 2 + (g.indices >> 11)
    share = np.bincount(top, minlength=4) / g.arcs
    assert np.allclose(share, [0.57, 0.19, 0.19, 0.05], atol=0.01)
    assert g.degree[0] == g.degree.max()
    with pytest.raises(ValueError, match="must be positive"):
        G.rmat(4, a=0.5, b=0.3, c=0.3)


def test_split_bags():
    offsets, owner = G.split_bags(np.array([0, 3, 4, 11]), 3)
    assert offsets.tolist() == [0, 3, 4, 7, 10, 11]
    assert owner.tolist() == [0, 1, 2, 2, 2]
    offsets, owner = G.split_bags(np.array([0, 2, 5]), 64)
    assert offsets.tolist() == [0, 2, 5] and owner.tolist() == [0, 1]


# ---------------------------------------------------------------------------------------------
# Kernels against their direct implementations


@pytest.mark.parametrize("host_mean", [False, True])
def test_fastrp_kernel_matches_direct(host_mean):
    r = rng()
    g = G.karate_club()
    proj = G.fastrp_projection(g.n, 12, r)
    k = G.fastrp_kernel(g, proj, max_bag=5, host_mean=host_mean)
    assert k.kernel.max_bag == 5 and k.kernel.lookups == g.arcs
    assert k.kernel.bags == int(np.ceil(g.degree / 5).sum())
    np.testing.assert_allclose(k.output(), G.fastrp_direct(g, proj), atol=1e-12)
    # A second step on the first step's (dense) output.
    step1 = G.fastrp_direct(g, proj).astype(np.float32)
    k2 = G.fastrp_kernel(g, step1, max_bag=5, host_mean=host_mean)
    np.testing.assert_allclose(k2.output(), G.fastrp_direct(g, step1), atol=1e-6)


def test_fastrp_isolated_vertex_and_projection():
    g = G.Graph.from_arcs(4, [0, 1], [1, 0], directed=False)
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    k = G.fastrp_kernel(g, x)
    assert k.kernel.bags == 2
    np.testing.assert_allclose(k.output(), [[2, 3], [0, 1], [0, 0], [0, 0]])
    proj = G.fastrp_projection(4000, 64, rng(), s=4.0)
    assert set(np.unique(proj)) == {-2.0, 0.0, 2.0}
    assert abs((proj != 0).mean() - 0.25) < 0.01
    assert abs((G.fastrp_projection(10000, 8, rng(), s="sqrt") != 0).mean() - 0.01) < 0.005
    with pytest.raises(ValueError, match=r"^`s` must be a number >= 1 or 'sqrt', not 0.5$"):
        G.fastrp_projection(4, 4, rng(), s=0.5)


def test_fastrp_embedding_rows_are_normalised():
    g = G.karate_club()
    emb = G.fastrp_embedding(g, 8, rng(), weights=(0.0, 1.0))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-5)


def test_sage_kernel_matches_direct():
    r = rng()
    g = G.karate_club()
    targets = np.array([0, 33, 5])
    hop1, hop2 = G.sage_samples(g, targets, r)
    assert hop1.shape == (3, 25) and hop2.shape == (3, 25, 10)
    nbrs = edge_set(g)
    assert all((t, u) in nbrs for t, row in zip(targets, hop1, strict=True) for u in row)
    assert all(
        (u, w) in nbrs
        for u, row in zip(hop1.ravel(), hop2.reshape(-1, 10), strict=True)
        for w in row
    )
    feats = G.fastrp_embedding(g, 16, r)
    k = G.sage_kernel(g, feats, hop1, hop2)
    assert (k.kernel.bags, k.kernel.lookups, k.kernel.max_bag) == (3 * 26, 3 * 275, 25)
    np.testing.assert_allclose(k.output(), G.sage_direct(feats, hop1, hop2), atol=1e-12)
    split = G.sage_kernel(g, feats, hop1, hop2, max_bag=8)
    assert split.kernel.max_bag == 8
    np.testing.assert_allclose(split.output(), k.output(), atol=1e-12)


def test_sage_samples_isolated_vertex_samples_itself():
    g = G.Graph.from_arcs(3, [0, 1], [1, 0], directed=False)
    hop1, hop2 = G.sage_samples(g, [2, 0], rng(), fanouts=(3, 2))
    assert hop1.tolist() == [[2, 2, 2], [1, 1, 1]]
    assert hop2[1].tolist() == [[0, 0]] * 3
    empty = G.Graph.from_arcs(2, [], [], directed=False)
    assert G.sage_samples(empty, [1], rng(), fanouts=(2, 2))[1].tolist() == [[[1, 1], [1, 1]]]
    with pytest.raises(ValueError, match=re.escape("`targets` must be 1-D vertex ids in [0, 3)")):
        G.sage_samples(g, [3], rng())


def test_pbg_kernel_matches_direct():
    r = rng()
    g = G.karate_club()
    table = r.standard_normal((g.n, 8)).astype(np.float32)
    lhs, rhs, negs = G.pbg_edges(g, r, edges=120, chunk=50, negatives=50)
    assert negs.shape == (3, 50)
    assert all((a, b) in edge_set(g) for a, b in zip(lhs, rhs, strict=True))
    k = G.pbg_kernel(g, table, lhs, rhs, negs, chunk=50)
    pairs = 100 * (50 + 50) + 20 * (20 + 50)
    assert (k.kernel.pairwise, k.outputs, k.kernel.lookups) == ("dot", pairs, 2 * pairs)
    assert k.kernel.row[:4].tolist() == [lhs[0], rhs[0], lhs[0], rhs[1]]
    np.testing.assert_allclose(k.output()[:, 0], G.pbg_direct(table, lhs, rhs, negs), atol=1e-9)


# ---------------------------------------------------------------------------------------------
# The fixed-point path


def test_kernels_through_the_golden_model():
    r = rng()
    g = G.karate_club()
    feats = G.fastrp_embedding(g, 8, r)
    pooled = [
        G.fastrp_kernel(g, G.fastrp_projection(g.n, 8, r), max_bag=8),
        G.sage_kernel(g, feats, *G.sage_samples(g, np.arange(4), r)),
    ]
    for k in pooled:
        params = design(k.kernel)
        images, trace = engine_inputs(k.kernel, params)
        got = k.combine(golden(params, images, trace))
        # Error bound: weights rounded to 8 fraction bits, values to half a quantisation step.
        w = k.kernel.weight
        wq = np.rint(w * 256) / 256
        peak = max(float(np.abs(t).max()) for t in k.kernel.tables)
        per = np.abs(w - wq) * peak + np.abs(wq) * images[0].scale / 2
        bound = k.combine(np.add.reduceat(per, k.kernel.offsets[:-1])[:, None])
        assert (np.abs(got - k.output()) <= bound + 1e-9).all(), k.kernel.name
    k = G.pbg_kernel(g, feats, *G.pbg_edges(g, r, edges=60))
    params = design(k.kernel)
    images, trace = engine_inputs(k.kernel, params)
    np.testing.assert_allclose(k.combine(golden(params, images, trace)), k.output(), atol=1e-3)


def test_fastrp_host_mean_is_exact_with_output_headroom():
    g = G.karate_club()
    proj = G.fastrp_projection(g.n, 8, rng())
    k = G.fastrp_kernel(g, proj, max_bag=16, host_mean=True)
    params = design(k.kernel)
    params = dataclasses.replace(params, unit=dataclasses.replace(params.unit, out_width=21))
    images, trace = engine_inputs(k.kernel, params)
    # +-sqrt(3) quantises to +-peak exactly and weight-1 sums are exact integers.
    np.testing.assert_allclose(k.combine(golden(params, images, trace)), k.output(), atol=1e-12)
