import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtnerf.models.quant import check_table, quantize, value_dtype

SETTINGS = settings(max_examples=40, derandomize=True, deadline=None)


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 20),
    cols=st.integers(1, 40),
    width=st.integers(2, 32),
    density=st.floats(0.0, 1.0),
    magnitude=st.sampled_from([1e-3, 1.0, 1e6]),
)
def test_quantize_properties(seed, rows, cols, width, density, magnitude):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, cols)) * magnitude
    x[rng.random(x.shape) >= density] = 0.0
    q = quantize(x, width)
    hi = (1 << (width - 1)) - 1
    assert q.values.dtype == value_dtype(width)
    assert q.values.min() >= -hi and q.values.max() <= hi
    assert np.array_equal(q.values, np.clip(np.rint(x / q.scale), -hi, hi))
    assert np.all(q.values[x == 0] == 0)  # zeros stay exactly zero
    err = q.dequantize() - x
    assert q.max_abs_error == pytest.approx(np.abs(err).max(), rel=1e-12, abs=1e-300)
    assert q.rms_error == pytest.approx(np.sqrt(np.mean(err**2)), rel=1e-9, abs=1e-300)
    assert q.max_abs_error <= q.scale / 2 * (1 + 1e-9)
    assert q.flushed == np.count_nonzero((q.values == 0) & (x != 0))
    if x.any():
        assert np.abs(q.values).max() == hi  # the peak maps to the top code


def test_rounding_is_half_to_even():
    x = np.array([[0.5, 1.5, 2.5, -2.5, 127.0]])
    q = quantize(x, 8)
    assert q.scale == 1.0
    assert q.values.tolist() == [[0, 2, 2, -2, 127]]


def test_all_zero_table_has_unit_scale():
    q = quantize(np.zeros((3, 4)), 8)
    assert q.scale == 1.0 and not q.values.any() and q.max_abs_error == 0.0


def test_integer_table_that_fits_is_kept():
    x = np.array([[-128, 0, 127]], np.int64)
    q = quantize(x, 8)
    assert q.scale == 1.0 and q.values.dtype == np.int8
    assert q.values.tolist() == x.tolist() and q.rms_error == 0.0


def test_integer_table_that_does_not_fit_is_scaled():
    q = quantize(np.array([[0, 1000]]), 8)
    assert q.values.tolist() == [[0, 127]]
    assert q.scale == pytest.approx(1000 / 127)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_rejected(bad):
    x = np.zeros((3, 4))
    x[1, 2] = bad
    with pytest.raises(
        ValueError, match=r"^`table` must be finite, not .* at \[1, 2\] \(1 non-finite"
    ):
        quantize(x, 8)


@pytest.mark.parametrize("shape", [(4,), (2, 3, 4), ()])
def test_non_2d_rejected(shape):
    with pytest.raises(ValueError, match=r"^`table` must be a 2-D array, not a \d-D array"):
        quantize(np.zeros(shape), 8)


def test_empty_table_rejected():
    with pytest.raises(ValueError, match=r"^`table` must have at least one row and one column"):
        check_table(np.zeros((0, 3)))


@pytest.mark.parametrize("table", [[[1.0]], np.array([[True]]), np.array([[1j]])])
def test_wrong_type_rejected(table):
    with pytest.raises(TypeError, match=r"^`table` must (be a numpy array|have an integer or)"):
        quantize(table, 8)


@pytest.mark.parametrize("width", [1, 33, 0])
def test_value_width_out_of_range(width):
    with pytest.raises(ValueError, match=r"^`value_width` must be an integer from 2 to 32, not"):
        quantize(np.zeros((1, 1)), width)
