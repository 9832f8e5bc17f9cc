"""Text-embedding workloads: real GloVe rows pooled over real word-frequency token streams.

Data (``rtnerf data fetch glove wordfreq``)
    :func:`load_glove` gives the 400,000 x 50 float32 GloVe 6B table (rows in GloVe's order,
    which is frequency order) and its words; :func:`load_wordfreq` gives wordfreq's English
    ``large_en`` words and unigram probabilities. :func:`text_corpus` joins them into a
    :class:`TextCorpus`: the GloVe table with a probability per row (words missing from GloVe
    are dropped and the rest renormalised; about 98 % of the mass maps onto GloVe rows).

Token streams
    :meth:`TextCorpus.sample` draws i.i.d. tokens (row ids) from the unigram law. Real text is
    burstier (topic reuse), which an i.i.d. stream under-states. GloVe rows are in frequency
    order, so hot rows are contiguous; the kernels take ``permute`` to read the table through a
    fixed random permutation of row ids instead (table rows moved, results unchanged), and both
    orders should be reported (``../shared/reference/workloads.md`` section 1.2).
    :func:`zipf_bags` draws recommendation-style ids: bounded Zipf (FBGEMM's ``alpha`` 1.15 for
    training, 1.09 for inference; 1.05 flatter), fixed bag size, optionally deduplicated and
    sorted within each bag.

Kernels (each returns a :class:`~rtnerf.workloads.kernel.BagKernel` of family ``text``)
    * :func:`embedding_bag_kernel`: sentences (bags of 1 to ``max_len`` tokens) pooled by sum
      (weight 1) or mean (weight ``1 / length``) over the GloVe table;
    * :func:`hashed_kernel`: the hashing trick, ids hashed into a table of ``buckets`` rows
      (:func:`hash_ids`; the table is derived from GloVe by :func:`hashed_table`);
    * :func:`qr_kernel`: quotient-remainder compositional embeddings (Shi et al., KDD 2020)
      with the ``add`` combination, two lookups per token (:func:`qr_tables`);
    * :func:`zipf_kernel`: bounded-Zipf bags over any table (recommendation-style traffic).

    The same seed gives the same sentences to the first three, so their traffic compares
    like for like.

The stand-in kept for the demo, the benchmarks and the engine cases (:func:`text_workload`): a
vocabulary table of normally distributed values, magnitude-pruned per row (so the hybrid
encoding has BITMAP, COO and DENSE rows to choose between), and sentences whose tokens follow
a bounded Zipf law (word frequencies: ``alpha`` about 1). Every sentence is one ROW bag of 1 to
``max_len`` tokens, each weighted ``1 / length`` (rounded to the weights' fixed point), so that
weighted pooling gives the sentence's mean vector (sum and mean pooling ignore the weights).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from ..models.image import MemoryImage, encode_table
from ..models.trace import Op, Trace, bounded_zipf
from ..params import EngineParams, check_int
from .kernel import BagKernel

__all__ = [
    "HASH_PRIME",
    "POOLING",
    "TextCorpus",
    "embedding_bag_kernel",
    "hash_ids",
    "hashed_kernel",
    "hashed_table",
    "load_glove",
    "load_wordfreq",
    "qr_kernel",
    "qr_tables",
    "sentence_trace",
    "sentences",
    "text_corpus",
    "text_workload",
    "vocabulary_table",
    "zipf_bags",
    "zipf_kernel",
]


def vocabulary_table(
    rng: np.random.Generator, vocab: int, dim: int, density: float = 0.5
) -> np.ndarray:
    """``vocab x dim`` float table; row densities uniform in ``[density / 4, 1]`` by magnitude."""
    check_int("vocab", vocab, minimum=1)
    check_int("dim", dim, minimum=1)
    if not 0 < density <= 1:
        raise ValueError(f"`density` must be in (0, 1], not {density!r}")
    table = rng.standard_normal((vocab, dim)).astype(np.float32)
    keep = np.ceil(dim * rng.uniform(density / 4, 1.0, vocab)).astype(np.int64)
    order = np.argsort(-np.abs(table), axis=1)
    pruned = np.arange(dim)[None, :] >= keep[:, None]
    rows = np.repeat(np.arange(vocab), dim).reshape(vocab, dim)
    table[rows[pruned], order[pruned]] = 0.0
    return table


def sentence_trace(
    rng: np.random.Generator,
    vocab: int,
    bags: int,
    *,
    max_len: int = 64,
    alpha: float = 1.0,
    weight_width: int = 16,
    weight_frac_bits: int = 8,
    table: int = 0,
) -> Trace:
    """``bags`` sentences of 1 to ``max_len`` Zipf-distributed tokens from table ``table``."""
    check_int("bags", bags, minimum=1)
    check_int("max_len", max_len, minimum=1)
    if weight_frac_bits > weight_width - 2:
        raise ValueError(
            f"weight 1.0 needs `weight_frac_bits` <= `weight_width` - 2, not {weight_frac_bits}"
        )
    size = rng.integers(1, max_len + 1, bags)
    one = 1 << weight_frac_bits
    weight = np.repeat(np.maximum(1, (one + size // 2) // size), size)
    n = int(size.sum())
    last = np.zeros(n, np.bool_)
    last[np.cumsum(size) - 1] = True
    return Trace(
        op=np.full(n, Op.ROW, np.uint8),
        table=np.full(n, table, np.uint16),
        row=bounded_zipf(vocab, alpha, n, rng),
        col=np.full(n, -1, np.int32),
        weight=weight.astype(np.int64),
        last=last,
        weight_frac_bits=weight_frac_bits,
        weight_width=weight_width,
        name=f"text vocab={vocab} bags={bags} max_len={max_len} alpha={alpha}",
    )


def text_workload(
    params: EngineParams,
    rng: np.random.Generator,
    *,
    vocab: int = 2048,
    bags: int = 200,
    density: float = 0.5,
    max_len: int | None = None,
) -> tuple[list[MemoryImage], Trace]:
    """The vocabulary image (hybrid-encoded for the engine's unit) and a sentence trace."""
    u = params.unit
    enc = u.decoder.encoding(burst_bytes=params.dram.burst_bytes)
    image, _ = encode_table(vocabulary_table(rng, vocab, u.dim, density), enc)
    trace = sentence_trace(
        rng,
        vocab,
        bags,
        max_len=min(u.max_bag, 64) if max_len is None else max_len,
        weight_width=u.weight_width,
        weight_frac_bits=u.weight_frac_bits,
    )
    return [image], trace


# --- real data --------------------------------------------------------------------------------

#: Pooling modes of the text kernels: ``sum`` (weights 1) and ``mean`` (weights ``1 / length``).
POOLING = ("sum", "mean")

#: The prime of :func:`hash_ids` (``2**31 - 1``: products of two ids stay within int64).
HASH_PRIME = (1 << 31) - 1


def load_glove(folder: Path | str | None = None) -> tuple[np.ndarray, list[str]]:
    """The GloVe 6B 50-d table and its words.

    Parameters
    ----------
    folder : path, optional
        Folder holding ``glove_6B_50d_emb.npy`` and ``words.txt``; default the cached
        ``glove`` dataset (:func:`rtnerf.workloads.data.path`).

    Returns
    -------
    table : numpy.ndarray
        Read-only float32 memory map ``(400000, 50)``; row ``i`` is the vector of ``words[i]``.
    words : list of str
        One word per row, in GloVe's (frequency) order.

    Raises
    ------
    rtnerf.workloads.data.DataNotFoundError
        If ``folder`` is not given and the dataset is not fetched.
    ValueError
        If the table and the word list disagree.
    """
    from . import data

    folder = Path(folder) if folder is not None else data.path("glove")
    table = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = data.read_words(folder / "words.txt")
    if table.dtype != np.float32 or table.ndim != 2 or table.shape[0] != len(words):
        raise ValueError(
            f"GloVe table {table.dtype} {table.shape} does not match {len(words)} words"
        )
    return table, words


def load_wordfreq(folder: Path | str | None = None) -> tuple[list[str], np.ndarray]:
    """Wordfreq's English ``large_en`` words and their unigram probabilities.

    Parameters
    ----------
    folder : path, optional
        Folder holding ``large_en.tsv``; default the cached ``wordfreq`` dataset.

    Returns
    -------
    words : list of str
        About 321k words in descending frequency.
    prob : numpy.ndarray
        float64 probabilities (the file's frequencies renormalised to sum to 1).
    """
    from . import data

    folder = Path(folder) if folder is not None else data.path("wordfreq")
    words, freq = [], []
    with (folder / "large_en.tsv").open(encoding="utf-8", newline="") as f:
        for line in f:
            word, value = line.rstrip("\n").split("\t")
            words.append(word)
            freq.append(float(value))
    prob = np.asarray(freq, np.float64)
    if prob.size == 0 or not (prob > 0).all():
        raise ValueError("large_en.tsv must hold positive frequencies")
    return words, prob / prob.sum()


@dataclasses.dataclass(frozen=True, eq=False)
class TextCorpus:
    """A vocabulary table with a unigram law over its rows: what token streams are drawn from.

    Attributes
    ----------
    table : numpy.ndarray
        float32 ``(rows, dim)`` word vectors.
    prob : numpy.ndarray
        float64 ``(rows,)`` probability of each row as a token (0 for words never drawn);
        sums to 1.
    words : list of str
        The word of each row (may be empty when unknown).
    coverage : float
        Share of the source frequency mass kept (words found in the table).
    name : str
        Where the data came from (for reports).
    """

    table: np.ndarray
    prob: np.ndarray
    words: list[str] = dataclasses.field(default_factory=list)
    coverage: float = 1.0
    name: str = ""

    def __post_init__(self) -> None:
        t, p = self.table, self.prob
        if not isinstance(t, np.ndarray) or t.ndim != 2 or t.dtype != np.float32 or t.size == 0:
            raise TypeError("`table` must be a non-empty 2-D float32 array")
        if not isinstance(p, np.ndarray) or p.shape != (t.shape[0],) or p.dtype.kind != "f":
            raise TypeError(f"`prob` must be a float array of {t.shape[0]} entries")
        if not np.isfinite(p).all() or (p < 0).any() or not np.isclose(p.sum(), 1.0):
            raise ValueError("`prob` must be non-negative and sum to 1")
        if self.words and len(self.words) != t.shape[0]:
            raise ValueError(f"`words` has {len(self.words)} entries, `table` {t.shape[0]} rows")

    @property
    def rows(self) -> int:
        """Rows of the table."""
        return int(self.table.shape[0])

    @functools.cached_property
    def _cdf(self) -> np.ndarray:
        cdf = np.cumsum(self.prob)
        return cdf / cdf[-1]

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` i.i.d. tokens (``int64`` row ids) drawn from :attr:`prob`."""
        check_int("n", n, minimum=0)
        rows = np.searchsorted(self._cdf, rng.random(n), side="right")
        return np.minimum(rows, self.rows - 1).astype(np.int64)


def text_corpus(glove: Path | str | None = None, wordfreq: Path | str | None = None) -> TextCorpus:
    """GloVe rows with wordfreq's ``large_en`` probabilities (the real text workload).

    Words of wordfreq missing from GloVe are dropped and the rest renormalised
    (:attr:`TextCorpus.coverage` is the mass kept); GloVe rows absent from wordfreq get 0.
    """
    table, gwords = load_glove(glove)
    fwords, fprob = load_wordfreq(wordfreq)
    index = {w: i for i, w in enumerate(gwords)}
    prob = np.zeros(len(gwords), np.float64)
    rows = np.fromiter((index.get(w, -1) for w in fwords), np.int64, len(fwords))
    found = rows >= 0
    np.add.at(prob, rows[found], fprob[found])
    coverage = float(prob.sum())
    return TextCorpus(
        table=table,
        prob=prob / coverage,
        words=gwords,
        coverage=coverage,
        name="GloVe 6B 50-d x wordfreq large_en",
    )


def _check_lengths(min_len: int, max_len: int) -> None:
    check_int("min_len", min_len, minimum=1)
    check_int("max_len", max_len, minimum=min_len)


def sentences(
    corpus: TextCorpus, rng: np.random.Generator, bags: int, *, min_len: int = 1, max_len: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """``bags`` sentences of ``min_len`` to ``max_len`` (uniform) i.i.d. tokens.

    Returns the tokens (``int64`` row ids of ``corpus.table``) and the ``int64`` offsets
    (sentence ``b`` is ``tokens[offsets[b]:offsets[b + 1]]``).
    """
    check_int("bags", bags, minimum=1)
    _check_lengths(min_len, max_len)
    lengths = rng.integers(min_len, max_len + 1, bags)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return corpus.sample(rng, int(offsets[-1])), offsets


def _pool_weights(offsets: np.ndarray, mode: str, per_token: int = 1) -> np.ndarray:
    """Weight of each lookup: 1 (sum) or ``1 / tokens in the bag`` (mean)."""
    if mode not in POOLING:
        raise ValueError(f"`mode` must be one of {', '.join(POOLING)}, not {mode!r}")
    lengths = np.diff(offsets)
    if mode == "sum":
        return np.ones(int(lengths.sum()) * per_token)
    return np.repeat(1.0 / lengths, lengths * per_token)


def _kernel(
    name: str,
    tables: tuple[np.ndarray, ...],
    table: np.ndarray,
    row: np.ndarray,
    weight: np.ndarray,
    offsets: np.ndarray,
    description: str,
) -> BagKernel:
    return BagKernel(
        name=name,
        family="text",
        tables=tables,
        table=table.astype(np.uint16),
        row=row.astype(np.int64),
        weight=weight.astype(np.float64),
        offsets=offsets.astype(np.int64),
        description=description,
    )


def _permuted(table: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """``out[perm[i]] = table[i]``: the table as stored when row ``i`` lives at ``perm[i]``."""
    out = np.empty(table.shape, np.float32)
    out[perm] = table
    return out


def embedding_bag_kernel(
    corpus: TextCorpus,
    rng: np.random.Generator,
    bags: int,
    *,
    mode: str = "sum",
    min_len: int = 1,
    max_len: int = 32,
    permute: bool = False,
) -> BagKernel:
    """Embedding-bag over sentences: each bag pools its tokens' rows (sum or mean).

    Parameters
    ----------
    corpus : TextCorpus
        Table and unigram law (:func:`text_corpus` for the real data).
    rng : numpy.random.Generator
        Draws the sentences, then the permutation.
    bags : int
        Number of sentences.
    mode : {"sum", "mean"}
        Pooling: weights 1, or ``1 / length``.
    min_len, max_len : int
        Sentence lengths, uniform in ``[min_len, max_len]``.
    permute : bool
        Store the table through a fixed random permutation of row ids (hot rows scattered);
        the pooled results are the same, only the rows read move.
    """
    tokens, offsets = sentences(corpus, rng, bags, min_len=min_len, max_len=max_len)
    weight = _pool_weights(offsets, mode)
    table = np.asarray(corpus.table, np.float32)
    order = "frequency order"
    if permute:
        perm = rng.permutation(corpus.rows)
        table, tokens, order = _permuted(table, perm), perm[tokens], "randomly permuted rows"
    return _kernel(
        f"embedding-bag-{mode}{'-permuted' if permute else ''}",
        (table,),
        np.zeros(tokens.size, np.uint16),
        tokens,
        weight,
        offsets,
        f"{mode} of {bags} sentences ({min_len}-{max_len} i.i.d. tokens) over "
        f"{corpus.name or 'a table'} ({corpus.rows} x {corpus.table.shape[1]}, {order})",
    )


def hash_ids(ids: np.ndarray, buckets: int, a: int, b: int) -> np.ndarray:
    """The hashing trick's bucket of each id: ``((a * id + b) mod p) mod buckets``.

    A Carter-Wegman universal hash with ``p`` = :data:`HASH_PRIME` (``2**31 - 1``), ``1 <= a <
    p``, ``0 <= b < p``; ids must be in ``[0, p)``. Any two distinct ids collide with
    probability about ``1 / buckets`` over the choice of ``(a, b)``.
    """
    check_int("buckets", buckets, minimum=1)
    if not (
        isinstance(a, int) and 1 <= a < HASH_PRIME and isinstance(b, int) and 0 <= b < HASH_PRIME
    ):
        raise ValueError(f"`a` must be in [1, p) and `b` in [0, p), not {a!r}, {b!r}")
    ids = np.asarray(ids, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= HASH_PRIME):
        raise ValueError(f"ids must be in [0, {HASH_PRIME})")
    return ((a * ids + b) % HASH_PRIME) % buckets


def _group_mean(
    table: np.ndarray, groups: np.ndarray, n: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (weighted) mean rows of ``table`` and each group's total weight."""
    w = np.ones(table.shape[0]) if weights is None else weights
    total = np.bincount(groups, weights=w, minlength=n)
    out = np.zeros((n, table.shape[1]), np.float64)
    for c in range(table.shape[1]):
        out[:, c] = np.bincount(groups, weights=w * table[:, c], minlength=n)
    nz = total > 0
    out[nz] /= total[nz, None]
    return out, total


def _weighted_group_mean(
    table: np.ndarray, groups: np.ndarray, n: int, weights: np.ndarray | None
) -> np.ndarray:
    """Per-group weighted mean rows; a group without weight gets its plain mean (or zeros)."""
    if weights is None:
        return _group_mean(table, groups, n)[0]
    weighted, mass = _group_mean(table, groups, n, weights)
    plain, _ = _group_mean(table, groups, n)
    return np.where((mass > 0)[:, None], weighted, plain)


def hashed_table(table: np.ndarray, prob: np.ndarray, buckets: int, a: int, b: int) -> np.ndarray:
    """A ``buckets``-row hashed table derived from ``table``: what a trained one resembles.

    Bucket ``k`` is the mean of the rows hashing to ``k`` (:func:`hash_ids`), weighted by
    their unigram probability ``prob`` (the row a trained hashed table learns is dominated by
    its frequent words); a bucket whose rows all have probability 0 gets their plain mean, an
    empty bucket zeros.
    """
    keys = hash_ids(np.arange(table.shape[0]), buckets, a, b)
    return _weighted_group_mean(table, keys, buckets, prob).astype(np.float32)


def hashed_kernel(
    corpus: TextCorpus,
    rng: np.random.Generator,
    bags: int,
    *,
    buckets: int = 1 << 16,
    mode: str = "sum",
    min_len: int = 1,
    max_len: int = 32,
) -> BagKernel:
    """The hashing trick: sentences pooled over a ``buckets``-row table of hashed ids.

    The same ``rng`` state gives the same sentences as :func:`embedding_bag_kernel`; the hash
    parameters ``(a, b)`` are drawn after them. One lookup per token, row
    ``hash_ids(token, buckets, a, b)``; the table is :func:`hashed_table` of the corpus.
    """
    tokens, offsets = sentences(corpus, rng, bags, min_len=min_len, max_len=max_len)
    a, b = int(rng.integers(1, HASH_PRIME)), int(rng.integers(0, HASH_PRIME))
    table = hashed_table(np.asarray(corpus.table), corpus.prob, buckets, a, b)
    return _kernel(
        f"hashed-{mode}",
        (table,),
        np.zeros(tokens.size, np.uint16),
        hash_ids(tokens, buckets, a, b),
        _pool_weights(offsets, mode),
        offsets,
        f"{mode} of {bags} sentences ({min_len}-{max_len} tokens), ids hashed into "
        f"{buckets} rows by ((a*id + b) mod (2^31 - 1)) mod {buckets} with a={a}, b={b}; "
        f"table derived from {corpus.name or 'a table'} ({corpus.rows} rows)",
    )


def qr_tables(
    table: np.ndarray, ids: np.ndarray, remainder: int, prob: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Quotient and remainder tables fitted to ``table`` (``add`` combination).

    Row ``i`` of ``table`` has id ``ids[i]``, quotient ``q_i = ids[i] // remainder`` and
    remainder ``r_i = ids[i] % remainder``; ``E_q[q_i] + E_r[r_i]`` approximates row ``i``.
    The fit is one backfitting pass of weighted least squares (weights ``prob``, default
    uniform): ``E_q[q]`` is the weighted mean of the rows with quotient ``q``, ``E_r[r]`` the
    weighted mean of their residuals ``row_i - E_q[q_i]`` over the rows with remainder ``r``
    (groups without weight take plain means). Uniform weights on a complete layout give the
    exact least-squares (two-way means) fit. On GloVe with remainder 1024 and permuted ids the
    probability-weighted relative error is about 0.54: a 1,415-row table cannot hold 400k
    vectors, but the frequent words keep their direction.

    Returns ``(E_q, E_r)`` as float32: ``ceil(rows / remainder)`` and ``remainder`` rows.
    """
    check_int("remainder", remainder, minimum=1)
    ids = np.asarray(ids, np.int64)
    table = np.asarray(table, np.float64)
    quotient, rest = ids // remainder, ids % remainder
    e_q = _weighted_group_mean(table, quotient, -(-table.shape[0] // remainder), prob)
    e_r = _weighted_group_mean(table - e_q[quotient], rest, remainder, prob)
    return e_q.astype(np.float32), e_r.astype(np.float32)


def qr_kernel(
    corpus: TextCorpus,
    rng: np.random.Generator,
    bags: int,
    *,
    remainder: int = 1024,
    mode: str = "sum",
    min_len: int = 1,
    max_len: int = 32,
    permute: bool = True,
) -> BagKernel:
    """Quotient-remainder compositional embedding (Shi et al., KDD 2020), ``add`` combination.

    Token ``i`` reads ``E_q[i // remainder]`` (table 0) and ``E_r[i % remainder]`` (table 1),
    both with the token's pooling weight, so a bag pools ``sum_i w_i (E_q[q_i] + E_r[r_i])``:
    two lookups per token, bags twice as long. The tables are :func:`qr_tables` of the corpus
    (weighted by its unigram law).
    With ``permute`` the ids are a fixed random permutation of the rows first (categorical ids
    carry no frequency order; GloVe's do). The same ``rng`` state gives the same sentences as
    :func:`embedding_bag_kernel`.

    Only ``add`` (and ``concat``, as zero-padded halves) is a weighted sum of rows, which is
    what the engine pools; the paper's best variant, the element-wise product ``E_q[q] *
    E_r[r]``, multiplies two gathered rows and cannot be expressed as one.
    """
    tokens, offsets = sentences(corpus, rng, bags, min_len=min_len, max_len=max_len)
    ids = rng.permutation(corpus.rows) if permute else np.arange(corpus.rows)
    e_q, e_r = qr_tables(corpus.table, ids, remainder, corpus.prob)
    tid = ids[tokens]
    row = np.stack([tid // remainder, tid % remainder], axis=1).reshape(-1)
    table = np.tile(np.array([0, 1], np.uint16), tokens.size)
    return _kernel(
        f"qr-add-{mode}",
        (e_q, e_r),
        table,
        row,
        _pool_weights(offsets, mode, per_token=2),
        offsets * 2,
        f"{mode} of {bags} sentences ({min_len}-{max_len} tokens), quotient-remainder "
        f"embedding (add) with remainder {remainder}: {e_q.shape[0]} + {remainder} rows fitted "
        f"to {corpus.name or 'a table'} ({corpus.rows} rows{', ids permuted' if permute else ''})",
    )


def zipf_bags(
    rng: np.random.Generator,
    rows: int,
    bags: int,
    *,
    alpha: float = 1.09,
    bag_size: int = 20,
    dedupe: bool = False,
    permute: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Recommendation-style bags: ``bag_size`` bounded-Zipf ids over ``rows`` rows per bag.

    ``alpha``: FBGEMM recommends 1.15 for training and 1.09 for inference traces; 1.05 is
    flatter. With ``permute`` ranks map to rows through one fixed random permutation (hot rows
    scattered), otherwise rank ``k`` is row ``k - 1``. With ``dedupe`` (FBGEMM's generator) each
    bag draws ``3 * bag_size`` ids, keeps the first ``bag_size`` distinct ones (fewer if the
    draw has fewer) and sorts them; FBGEMM keeps the *smallest* distinct ranks instead, which
    biases bags further towards hot rows.

    Returns the ``int64`` row ids and the ``int64`` offsets.
    """
    check_int("bags", bags, minimum=1)
    check_int("bag_size", bag_size, minimum=1)
    draws = 3 * bag_size if dedupe else bag_size
    ids = bounded_zipf(rows, alpha, bags * draws, rng, permute=permute).reshape(bags, draws)
    if not dedupe:
        offsets = np.arange(0, bags * bag_size + 1, bag_size, dtype=np.int64)
        return ids.reshape(-1).astype(np.int64), offsets
    parts = []
    for bag in ids:
        _, first = np.unique(bag, return_index=True)
        parts.append(np.sort(bag[np.sort(first)[:bag_size]]))
    lengths = np.array([p.size for p in parts])
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    return np.concatenate(parts).astype(np.int64), offsets


def zipf_kernel(
    table: np.ndarray,
    rng: np.random.Generator,
    bags: int,
    *,
    alpha: float = 1.09,
    bag_size: int = 20,
    dedupe: bool = False,
    mode: str = "sum",
    name: str = "",
) -> BagKernel:
    """Embedding-bag over ``table`` with :func:`zipf_bags` ids (permuted ranks).

    ``table`` is any float table (e.g. the GloVe rows, so values stay real); ``name`` says
    which in the description.
    """
    rows, offsets = zipf_bags(
        rng, table.shape[0], bags, alpha=alpha, bag_size=bag_size, dedupe=dedupe
    )
    return _kernel(
        f"zipf-{alpha}-{mode}{'-dedupe' if dedupe else ''}",
        (np.asarray(table, np.float32),),
        np.zeros(rows.size, np.uint16),
        rows,
        _pool_weights(offsets, mode),
        offsets,
        f"{mode} of {bags} bags of {bag_size} bounded-Zipf ids (alpha {alpha}"
        f"{', deduplicated and sorted' if dedupe else ''}) over {name or 'a table'} "
        f"({table.shape[0]} x {table.shape[1]}, ranks permuted)",
    )
