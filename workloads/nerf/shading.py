"""The per-sample numba kernels shared by the renderers and the trace builder.

One definition of where a sample lies (:func:`locate_sample`), how its VM features are read and
interpolated (:func:`sample_features`), how a valid sample is shaded and composited
(:func:`shade_sample`: density, ``alpha``, the weight ``T alpha``, appearance only where the
weight exceeds ``1e-4``) and how a pixel is finished on the white background
(:func:`finish_pixel`). :mod:`.render` and :mod:`.accel` call these, so their sample sets and
arithmetic are the same by construction. They are jitted kernels without argument checks:
callers validate.
"""

from __future__ import annotations

import math

import numba

from .model import ALPHA_THRESHOLD

__all__ = ["finish_pixel", "locate_sample", "sample_features", "shade_sample"]

_WEIGHT_THRESHOLD = ALPHA_THRESHOLD


@numba.njit(cache=True)
def locate_sample(o, d, t, lo, scale2, n, xh, cell):
    """Normalise the point ``o + t d`` into ``xh``; its cell into ``cell``; False outside."""
    for a in range(3):
        x = o[a] + t * d[a]
        v = (x - lo[a]) * scale2[a] - 1.0
        if v < -1.0 or v > 1.0:
            return False
        xh[a] = v
        u = (v + 1.0) * 0.5 * (n - 1)
        i = math.floor(u)
        cell[a] = min(i, n - 2)
    return True


@numba.njit(cache=True)
def _plane_read(planes, m, r, i0, i1, w00, w01, w10, w11):
    return (
        w00 * planes[m, r, i1, i0]
        + w01 * planes[m, r, i1, i0 + 1]
        + w10 * planes[m, r, i1 + 1, i0]
        + w11 * planes[m, r, i1 + 1, i0 + 1]
    )


@numba.njit(cache=True)
def _weights(xh, n, mat, vec, m, iw):
    """Cell indices (i0, i1, i2) into ``iw[:3]`` and weights into ``iw[3:]``."""
    u0 = (xh[mat[m, 0]] + 1.0) * 0.5 * (n - 1)
    u1 = (xh[mat[m, 1]] + 1.0) * 0.5 * (n - 1)
    u2 = (xh[vec[m]] + 1.0) * 0.5 * (n - 1)
    i0 = min(max(math.floor(u0), 0), n - 2)
    i1 = min(max(math.floor(u1), 0), n - 2)
    i2 = min(max(math.floor(u2), 0), n - 2)
    iw[0] = i0
    iw[1] = i1
    iw[2] = i2
    iw[3] = u0 - i0
    iw[4] = u1 - i1
    iw[5] = u2 - i2


@numba.njit(cache=True)
def sample_features(planes, lines, xh, mat, vec, touched, kind, iw, out):
    """Mode-major ``plane * line`` products at ``xh`` into ``out``; marks touched rows."""
    n = planes.shape[-1]
    rc = planes.shape[1]
    acc = 0.0
    for m in range(3):
        _weights(xh, n, mat, vec, m, iw)
        i0 = int(iw[0])
        i1 = int(iw[1])
        i2 = int(iw[2])
        f0 = iw[3]
        f1 = iw[4]
        f2 = iw[5]
        touched[kind, m, i1] = True
        touched[kind, m, i1 + 1] = True
        w00 = (1.0 - f0) * (1.0 - f1)
        w01 = f0 * (1.0 - f1)
        w10 = (1.0 - f0) * f1
        w11 = f0 * f1
        for r in range(rc):
            p = _plane_read(planes, m, r, i0, i1, w00, w01, w10, w11)
            li = (1.0 - f2) * lines[m, r, i2] + f2 * lines[m, r, i2 + 1]
            v = p * li
            if out.size:
                out[m * rc + r] = v
            acc += v
    return acc


@numba.njit(cache=True)
def shade_sample(
    k,
    n_samples,
    step,
    xh,
    dplanes,
    dlines,
    aplanes,
    alines,
    basis,
    shift,
    dscale,
    mat,
    vec,
    sh,
    touched,
    iw,
    feat,
    state,
    counts,
):
    """Density, compositing and (weight > 1e-4) appearance of one valid sample ``k``.

    ``state`` = ``[T, r, g, b, acc]`` of the pixel; ``counts[0]`` density evaluations,
    ``counts[1]`` appearance evaluations. An empty ``feat`` counts the appearance evaluation
    without computing it (a counters-only frame: the transmittance does not depend on colour).
    """
    empty = feat[:0]
    sigma_feat = sample_features(dplanes, dlines, xh, mat, vec, touched, 0, iw, empty)
    x = sigma_feat + shift
    sigma = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
    dist = step if k < n_samples - 1 else 0.0
    alpha = 1.0 - math.exp(-sigma * dist * dscale)
    t = state[0]
    w = alpha * t
    counts[0] += 1
    if w > _WEIGHT_THRESHOLD:
        counts[1] += 1
    if w > _WEIGHT_THRESHOLD and feat.size:
        sample_features(aplanes, alines, xh, mat, vec, touched, 1, iw, feat)
        for c in range(3):
            s = 0.0
            for kk in range(9):
                a = 0.0
                j = 9 * c + kk
                for i in range(feat.size):
                    a += feat[i] * basis[i, j]
                s += sh[kk] * a
            rgb = s + 0.5
            if rgb < 0.0:
                rgb = 0.0
            state[1 + c] += w * rgb
    state[4] += w
    state[0] = t * (1.0 - alpha + 1e-10)


@numba.njit(cache=True)
def finish_pixel(state, image, pix):
    """Blend pixel ``pix``'s ``state`` ``[T, r, g, b, acc]`` on white into ``image[pix]``."""
    bg = 1.0 - state[4]
    for c in range(3):
        v = state[1 + c] + bg
        image[pix, c] = min(max(v, 0.0), 1.0)
