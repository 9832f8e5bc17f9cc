"""Hyperbolic embeddings: the WordNet noun hierarchy, Poincaré embeddings and their distance kernel.

Split by concern: :mod:`.wordnet` (the data), :mod:`.training` (the ball and Riemannian SGD),
:mod:`.evaluation` (reconstruction) and :mod:`.kernel` (the accelerator workload); everything
public imports from here.

Data
    :func:`load_wordnet` reads WordNet 3.0's ``data.noun`` (and ``index.noun`` for NLTK-style
    names ``lemma.n.NN``) into a :class:`Hierarchy` of direct hypernym and instance-hypernym
    edges (child -> parent); :func:`transitive_closure` gives Nickel & Kiela's training set
    (82,115 nodes, 743,241 edges) and :func:`subtree` the closure restricted to the descendants
    of one synset (``mammal.n.01``).

Training
    :func:`train_poincare` fits Poincaré embeddings (Nickel & Kiela 2017) by Riemannian SGD in
    numba: for every closure edge ``(u, v)`` a softmax loss over ``d(u, v)`` and ``d(u, w)`` for
    sampled non-neighbours ``w``, the Euclidean gradient rescaled by the inverse metric
    ``(1 - |x|^2)^2 / 4`` and the point projected back into the ball. *Choice*: plain per-example
    SGD (one positive and its negatives per step), where the reference code averages mini-batches
    of 50 (so its ``lr`` 1.0 is about our 0.02 per example); the burn-in (a few epochs at a
    hundredth of the rate, negatives drawn from the unigram distribution to the power 0.75) is
    the reference code's.

Evaluation
    :func:`reconstruction`: mean rank and MAP of the closure edges (workloads.md §2.4), for every
    node with parents (as the reference code: the neighbours of ``u`` are its ancestors) or a
    sample of them. Ties count against the embedding (a non-neighbour at the same distance ranks
    ahead).

Accelerator workload
    The distance ``d(u, v) = arcosh(1 + 2 |u - v|^2 / ((1 - |u|^2)(1 - |v|^2)))`` splits into the
    engine's ``l2`` pairwise stage (single-row bags ``2k, 2k + 1`` = ``u, v`` with weight 1.0
    give ``|u - v|^2, |u|^2, |v|^2`` in fixed point) and an arcosh on the host
    (:func:`distances_from_scores`). :func:`distance_kernel` builds the :class:`BagKernel` of any
    list of pairs; :func:`scan_pairs` (the evaluation scan) and :func:`training_pairs` (positives
    and their negatives) make the pair lists. :func:`reconstruction` with ``quantized=`` runs the
    evaluation on the engine's fixed-point scores (computed here exactly as the pairwise stage
    does) to measure what 16-bit values cost.
"""

from __future__ import annotations

from .evaluation import Reconstruction, reconstruction
from .kernel import distance_kernel, distances_from_scores, scan_pairs, training_pairs
from .training import EPS, poincare_distance, train_poincare
from .wordnet import (
    MAMMAL,
    Hierarchy,
    load_wordnet,
    mammal_closure,
    noun_closure,
    parse_data_noun,
    parse_index_noun,
    subtree,
    transitive_closure,
)

__all__ = [
    "EPS",
    "MAMMAL",
    "Hierarchy",
    "Reconstruction",
    "distance_kernel",
    "distances_from_scores",
    "load_wordnet",
    "mammal_closure",
    "noun_closure",
    "parse_data_noun",
    "parse_index_noun",
    "poincare_distance",
    "reconstruction",
    "scan_pairs",
    "subtree",
    "train_poincare",
    "training_pairs",
    "transitive_closure",
]
