"""Quantisation of float tables to signed integers of a given width with one per-table scale.

A float table ``x`` becomes ``q = clip(rint(x / scale), -qmax, qmax)`` with
``qmax = 2**(value_width - 1) - 1`` and ``scale = max|x| / qmax`` (1.0 for an all-zero table).
The range is symmetric (the most negative code is never produced) so that negation is exact;
``rint`` rounds half to even. Zeros map to exactly zero; non-zeros of magnitude at most
``scale / 2`` also become zero (exactly ``scale / 2`` rounds to even, i.e. to zero), which the
report counts. The division is done in float64 whatever the table's float dtype (float16 tables
are widened to float32 first, exactly). A table whose largest magnitude is so small that
``scale`` would not be a normal float64 (below ``2**-1022``) is refused: its values are
subnormal and would all divide to infinity or lose their precision.

An integer table whose values already fit the signed ``value_width``-bit range is taken as
already quantised: scale 1.0 and no error.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

from rtnerf.params import check_int

__all__ = ["Quantized", "check_table", "quantize", "value_dtype"]


def value_dtype(value_width: int) -> np.dtype:
    """Return the narrowest signed numpy dtype holding ``value_width``-bit values."""
    if value_width <= 8:
        return np.dtype(np.int8)
    if value_width <= 16:
        return np.dtype(np.int16)
    return np.dtype(np.int32)


def check_table(table: object, name: str = "table") -> np.ndarray:
    """Check that ``table`` is a finite, non-empty, 2-D real numeric array and return it.

    Parameters
    ----------
    table : object
        The candidate table.
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray
        ``table`` itself (not copied).

    Raises
    ------
    TypeError
        If ``table`` is not a numpy array of a real integer or float dtype.
    ValueError
        If it is not 2-D, has no rows or no columns, or holds NaN or infinity.
    """
    if not isinstance(table, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array, not {type(table).__name__}")
    if table.dtype == np.bool_ or table.dtype.kind not in "iuf":
        raise TypeError(f"`{name}` must have an integer or float dtype, not {table.dtype}")
    if table.dtype.kind == "f" and table.dtype.itemsize > 8:
        raise TypeError(f"`{name}` must be float16, float32 or float64, not {table.dtype}")
    if table.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D array, not a {table.ndim}-D array of shape {table.shape}"
        )
    if table.shape[0] == 0 or table.shape[1] == 0:
        raise ValueError(f"`{name}` must have at least one row and one column, not {table.shape}")
    if table.dtype.kind == "f":
        bad = ~np.isfinite(table)
        if bad.any():
            row, col = (int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"`{name}` must be finite, not {float(table[row, col])!r} at [{row}, {col}] "
                f"({int(bad.sum())} non-finite values)"
            )
    return table


@dataclasses.dataclass(frozen=True, eq=False)
class Quantized:
    """A quantised table and its error report.

    Attributes
    ----------
    values : numpy.ndarray
        2-D signed integers, dtype :func:`value_dtype` of ``value_width``.
    scale : float
        Real value of one integer step: ``table ≈ values * scale``.
    value_width : int
        Bits per value.
    max_abs_error : float
        Largest ``|values * scale - table|``.
    rms_error : float
        Root mean square of ``values * scale - table``.
    flushed : int
        Non-zeros of the input that quantised to zero.
    """

    values: np.ndarray
    scale: float
    value_width: int
    max_abs_error: float
    rms_error: float
    flushed: int

    def dequantize(self) -> np.ndarray:
        """Return ``values * scale`` as float64."""
        return self.values.astype(np.float64) * self.scale


def quantize(table: np.ndarray, value_width: int) -> Quantized:
    """Quantise a table to signed ``value_width``-bit integers with one scale.

    Parameters
    ----------
    table : numpy.ndarray
        Finite 2-D integer or float array.
    value_width : int
        Bits per value, 2 to 32.

    Returns
    -------
    Quantized
        The integers, the scale and the error report.

    Raises
    ------
    TypeError, ValueError
        From :func:`check_table`, or for a ``value_width`` out of range.
    ValueError
        If the table's largest magnitude gives a scale below the smallest normal float64
        (``2**-1022``): all its values are subnormal, or nearly.
    """
    check_int("value_width", value_width, minimum=2, maximum=32)
    check_table(table)
    if table.dtype == np.float16:  # numba has no float16; float32 holds every value exactly
        table = table.astype(np.float32)
    dtype = value_dtype(value_width)
    lo, hi = -(1 << (value_width - 1)), (1 << (value_width - 1)) - 1
    if table.dtype.kind in "iu":
        tmin, tmax = int(table.min()), int(table.max())
        if lo <= tmin and tmax <= hi:
            return Quantized(table.astype(dtype), 1.0, value_width, 0.0, 0.0, 0)
    peak = max(abs(float(table.max())), abs(float(table.min())))
    scale = peak / hi if peak > 0 else 1.0
    tiny = float(np.finfo(np.float64).tiny)
    if scale < tiny:
        raise ValueError(
            f"`table` must have a largest magnitude of at least {tiny * hi:.3g} for a "
            f"{value_width}-bit scale, not {peak!r} (its values are subnormal)"
        )
    values = np.empty(table.shape, dtype)
    max_err, sq_err, flushed = _quantize(table, scale, hi, values)
    rms = float(np.sqrt(sq_err / table.size))
    return Quantized(values, scale, value_width, max_err, rms, int(flushed))


@numba.njit(cache=True)
def _quantize(x, scale, hi, out):
    # One pass: quantise and accumulate the error statistics (no float64 temporaries).
    max_err, sq_err, flushed = 0.0, 0.0, 0
    for r in range(x.shape[0]):
        for c in range(x.shape[1]):
            v = np.float64(x[r, c])
            q = min(max(np.rint(v / scale), -hi), hi)
            out[r, c] = q
            err = q * scale - v
            max_err = max(max_err, abs(err))
            sq_err += err * err
            if q == 0 and v != 0:
                flushed += 1
    return max_err, sq_err, flushed
