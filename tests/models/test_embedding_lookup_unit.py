"""Golden pooling of the lookup unit against the naive Python-integer reference."""

import numpy as np
import pytest
from naive.embedding_lookup_unit import ref_pool

from rtnerf.errors import ConfigError
from rtnerf.models.cases.embedding_lookup_unit import directed_run, random_run
from rtnerf.models.golden.embedding_lookup_unit import evaluate, scores
from rtnerf.params import EmbeddingLookupUnitParams

PARAMS = {
    "default": EmbeddingLookupUnitParams(),
    "mean truncate saturate": EmbeddingLookupUnitParams().replace(
        decoder={"columns": 16, "value_width": 8, "word_width": 32, "entry_width": 32,
                 "leaves": 4, "window": 2},
        tables=3, weight_width=8, weight_frac_bits=4, acc_width=16, out_width=8, pooling="mean",
        rounding="truncate", max_bag=8, lanes=2,
    ),
    "sum nearest wrap": EmbeddingLookupUnitParams().replace(
        decoder={"columns": 48}, pooling="sum", overflow="wrap", acc_width=20, out_width=12,
        lanes=8,
    ),
}  # fmt: skip


@pytest.mark.parametrize("params", PARAMS.values(), ids=PARAMS.keys())
def test_golden_matches_naive(params):
    for run in [directed_run(params), random_run(params, np.random.default_rng(2), 600)]:
        got = evaluate(params, run.images, run.trace)
        assert got.tolist() == ref_pool(params, run.tables, run.trace), run.name


def test_directed_run_overflows():
    params = PARAMS["mean truncate saturate"]
    run = directed_run(params)
    out = evaluate(params, run.images, run.trace)
    assert out[0].max() == 127 and out[1].min() == -128  # saturated at out_width


def test_check_trace_errors():
    params = PARAMS["default"]
    run = random_run(params, np.random.default_rng(0), 50)
    with pytest.raises(ConfigError, match=r"^3 tables given; the unit has `tables` 2$"):
        evaluate(params, run.images + run.images[:1], run.trace)
    long = EmbeddingLookupUnitParams(max_bag=2)
    with pytest.raises(ConfigError, match=r"^a bag of \d+ requests; the unit's `max_bag` is 2$"):
        evaluate(long, run.images, run.trace)


@pytest.mark.parametrize("mode", ["dot", "l2"])
def test_pairwise_scores_match_naive(mode):
    params = EmbeddingLookupUnitParams().replace(
        decoder={"columns": 16}, lanes=4, out_width=12, pairwise=mode
    )
    run = random_run(params, np.random.default_rng(5), 300)
    assert run.trace.bags % 2 == 0 and not run.trace.op.any()
    pooled = ref_pool(params, run.tables, run.trace)
    want = []
    for u, v in zip(pooled[0::2], pooled[1::2], strict=True):
        if mode == "dot":
            want.append([sum(a * b for a, b in zip(u, v, strict=True)), 0, 0])
        else:
            d = sum((a - b) ** 2 for a, b in zip(u, v, strict=True))
            want.append([d, sum(a * a for a in u), sum(b * b for b in v)])
    assert scores(params, evaluate(params, run.images, run.trace)).tolist() == want
    bound = 1 << (params.score_width - 1)
    assert all(-bound <= x < bound for row in want for x in row)


def test_pairwise_needs_pairs_of_row_bags():
    params = EmbeddingLookupUnitParams(pairwise="dot")
    plain = EmbeddingLookupUnitParams()
    rng = np.random.default_rng(0)
    odd = random_run(plain, rng, 0, element_fraction=0.0, bags=3)
    with pytest.raises(
        ConfigError, match=r"^the pairwise stage scores bags in pairs; the trace has 3$"
    ):
        evaluate(params, odd.images, odd.trace)
    elements = random_run(plain, rng, 0, element_fraction=1.0, bags=2)
    with pytest.raises(ConfigError, match=r"^the pairwise stage scores ROW bags"):
        evaluate(params, elements.images, elements.trace)
    with pytest.raises(ValueError, match=r"^`out_width` 32 is too wide for the pairwise stage"):
        EmbeddingLookupUnitParams(out_width=32, pairwise="l2")


@pytest.mark.parametrize("dim", [2, 3, 4, 7, 50, 64])
@pytest.mark.parametrize("word_width", [32, 64, 128])
@pytest.mark.parametrize("burst_bytes", [16, 64, 256])
def test_stride_descriptor_fits_the_base_layout(dim, word_width, burst_bytes):
    """A bursts-placed DENSE table's stride (rows padded toward whole bursts) fits i_base.

    Regression: GloVe's 50 x 16-bit rows take 7 words of 128 bits (len_width 3) but are placed
    8 words apart; the stride field had len_width bits.
    """
    from rtnerf.models.golden.engine import table_descriptor
    from rtnerf.models.image import encode
    from rtnerf.rtl.embedding_lookup_unit import layouts
    from rtnerf.sim.layout import pack

    decoder = {"columns": dim, "word_width": word_width, "entry_width": min(64, word_width)}
    p = EmbeddingLookupUnitParams().replace(decoder=decoder, lanes=1)
    enc = p.decoder.encoding(burst_bytes=burst_bytes, placement="bursts")
    values = np.arange(1, 4 * dim + 1, dtype=np.int64).reshape(4, dim)
    image = encode(values, enc)
    assert image.row_stride >= image.layout.row_words(dim * 16)
    _, base_layout, _ = layouts(p)
    pack(base_layout, {"table": 0, "addr": 0, **table_descriptor(image)})  # raises if too wide
