"""Golden model of the hybrid row decoder against the table itself, and its input checks."""

from dataclasses import replace

import numpy as np
import pytest
from naive.hybrid_row_decoder import reference

from rtnerf.errors import ConfigError
from rtnerf.models.cases.hybrid_row_decoder import directed_job, random_jobs
from rtnerf.models.golden.hybrid_row_decoder import Query, check_image, evaluate
from rtnerf.models.golden.hybrid_row_decoder import query_cycles as golden_cycles
from rtnerf.models.image import encode
from rtnerf.params import Format, HybridRowDecoderParams

PARAMS = [
    HybridRowDecoderParams(),
    HybridRowDecoderParams(columns=48, value_width=8, word_width=32, entry_width=32, leaves=4),
    HybridRowDecoderParams(columns=256, value_width=8, word_width=128, leaves=16, window=4),
]


@pytest.mark.parametrize("params", PARAMS, ids=lambda p: f"N{p.columns}W{p.leaves}K{p.window}")
def test_golden_beats_equal_the_table(params):
    jobs = [directed_job(params), *random_jobs(params, np.random.default_rng(4), 3000)]
    for job in jobs:
        formats = job.image.directory()[0]
        assert set(Format(int(f)) for f in formats) == set(Format) or job.name == "directed"
        got = evaluate(params, job.image, job.queries)
        want = [reference(job.table, formats, q) for q in job.queries]
        assert got == want, job.name


def test_directed_table_has_every_corner():
    params = PARAMS[0]
    job = directed_job(params)
    formats, nnz, _ = job.image.directory()
    assert set(Format(int(f)) for f in formats) == set(Format)
    coo = nnz[formats == Format.COO]
    # rows searched by the tree (up to W), by the search unit (over W), of exactly K, over K
    assert {1, params.leaves, params.leaves + 1, params.window, params.capacity} <= set(coo)
    assert coo.max() > params.window


def test_check_image_names_the_mismatch():
    params = HybridRowDecoderParams(columns=16, value_width=8, word_width=32, entry_width=32)
    table = np.zeros((3, 16), np.int64)
    table[1, :10] = 5
    with pytest.raises(
        ConfigError, match=r"^image has value_width 16, the decoder is built for 8$"
    ):
        check_image(params, encode(table, replace(params.encoding(), value_width=16)))
    forced = encode(table, params.encoding(force_format="coo"))
    with pytest.raises(ConfigError, match=r"^row 1 is COO with 10 entries; the decoder's coo_cap"):
        evaluate(params, forced, [Query(0, 0, False)])
    narrow = HybridRowDecoderParams(
        columns=16, value_width=8, word_width=32, entry_width=32, row_width=1
    )
    with pytest.raises(ConfigError, match=r"^image has 3 rows; row_width 1 is too narrow$"):
        check_image(narrow, encode(table, params.encoding()))


def test_stated_cycles():
    params = HybridRowDecoderParams(columns=64, value_width=16, word_width=64, leaves=16)
    table = np.zeros((4, 64), np.int64)
    table[1] = np.arange(1, 65)  # DENSE
    table[2, ::3] = 7  # BITMAP, 22 entries
    image = encode(table, params.encoding(burst_bytes=64))
    qs = [Query(0, 5, False), Query(1, 5, False), Query(2, 63, False), Query(1, 0, True)]
    cycles = golden_cycles(params, image, qs, latency=10)
    head = 10 + 1 + 2  # entry: request, latency, one word, decode
    assert cycles[0] == head + 2  # EMPTY: zero beat
    assert cycles[1] == head + 1 + (2 + 10 + 1)  # DENSE: value request, one word
    # BITMAP, column 63: four 16-bit chunks ranked as the word arrives, tree latency 9; the hit's
    # value sits in a later word (bitmap is word 0, value 21 at bit 64 + 21 * 16).
    assert cycles[2] == head + 3 + 10 + 3 + 9 + (2 + 10 + 1)
    assert cycles[3] == head + 2 + 10 + 64  # DENSE row expanded, one value per cycle
    slower = golden_cycles(params, image, qs, latency=11)
    assert list(slower - cycles) == [1, 2, 3, 2]  # memory round trips: entry, index part, value
