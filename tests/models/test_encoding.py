import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtnerf.models.encoding import choose_formats, format_bits, index_width, row_nnz
from rtnerf.params import Format

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None)


@pytest.mark.parametrize(
    ("columns", "width"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (64, 6), (65, 7), (1024, 10)]
)
def test_index_width(columns, width):
    assert index_width(columns) == width


def test_format_bits_formulas():
    bits = format_bits(np.array([0, 1, 10, 64]), 64, 16, 6)
    assert bits[:, Format.EMPTY].tolist() == [0, -1, -1, -1]
    assert bits[:, Format.DENSE].tolist() == [1024] * 4
    assert bits[:, Format.BITMAP].tolist() == [64, 80, 224, 1088]
    assert bits[:, Format.COO].tolist() == [0, 22, 220, 1408]


@pytest.mark.parametrize(
    ("nnz", "columns", "bv", "bi", "expected"),
    [
        (0, 64, 16, 6, Format.EMPTY),  # EMPTY beats a zero-bit COO row
        (15, 16, 16, 4, Format.DENSE),  # DENSE 256 == BITMAP 16 + 240: tie -> DENSE
        (4, 16, 16, 4, Format.BITMAP),  # BITMAP 16 + 64 == COO 4 * 20: tie -> BITMAP
        (3, 16, 16, 4, Format.COO),
        (5, 16, 16, 4, Format.BITMAP),
        (16, 16, 16, 4, Format.DENSE),
        (1, 1, 8, 1, Format.DENSE),  # DENSE 8 < COO 9
    ],
)
def test_choice_and_ties(nnz, columns, bv, bi, expected):
    formats, bits = choose_formats(np.array([nnz]), columns, bv, bi)
    assert Format(formats[0]) == expected
    assert bits[0] == format_bits(np.array([nnz]), columns, bv, bi)[0, expected]


@SETTINGS
@given(
    nnz_seed=st.integers(0, 2**32 - 1),
    columns=st.integers(1, 2048),
    bv=st.integers(2, 32),
)
def test_hybrid_never_exceeds_any_single_format(nnz_seed, columns, bv):
    nnz = np.random.default_rng(nnz_seed).integers(0, columns + 1, 50)
    bi = index_width(columns)
    formats, bits = choose_formats(nnz, columns, bv, bi)
    for fmt in (Format.DENSE, Format.BITMAP, Format.COO):
        forced_fmt, forced = choose_formats(nnz, columns, bv, bi, force=fmt)
        assert np.all(forced_fmt == fmt)
        assert np.all(bits <= forced)
    assert np.all((formats == Format.EMPTY) == (nnz == 0))


@pytest.mark.parametrize("columns", [64, 128, 256, 512, 1024])
def test_bitmap_coo_crossover_is_one_over_index_width(columns):
    bi = index_width(columns)
    nnz = np.arange(1, columns + 1)
    formats, _ = choose_formats(nnz, columns, 16, bi)
    coo = nnz[formats == Format.COO]
    # COO wins exactly while nnz * bi < N, i.e. below density 1/bi.
    assert coo.max() == -(-columns // bi) - 1
    assert np.all(nnz[formats == Format.BITMAP] * bi >= columns)


def test_force_empty_rejected():
    with pytest.raises(ValueError, match=r"^`force` must be DENSE, BITMAP or COO, not"):
        choose_formats(np.array([0]), 4, 8, 2, force=Format.EMPTY)


def test_force_keeps_zero_rows_in_the_forced_format():
    formats, bits = choose_formats(np.array([0, 0]), 8, 8, 3, force=Format.BITMAP)
    assert formats.tolist() == [Format.BITMAP] * 2 and bits.tolist() == [8, 8]


def test_row_nnz():
    assert row_nnz(np.array([[0, 1, -2], [0, 0, 0]])).tolist() == [2, 0]
