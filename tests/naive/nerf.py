"""Naive per-sample NeRF compute with a MAC counter: the reference for the MAC-array model.

One sample's work after the embedding lookups, written as loops that count every
multiply-accumulate (the plane values come from the lookup engine and cost nothing here, or,
with ``bilinear``, are interpolated from four texels here).
"""

import numpy as np


class Counter:
    """Counts multiply-accumulates ``acc + a * b``."""

    def __init__(self):
        self.macs = 0

    def mac(self, acc, a, b):
        self.macs += 1
        return acc + a * b


def _plane(c, rng, bilinear):
    """A plane value: from the lookup engine (free), or interpolated from 4 texels here."""
    if not bilinear:
        return rng.random()
    texels, weights = rng.random(4), rng.random(4)
    acc = 0.0
    for v, w in zip(texels, weights, strict=True):
        acc = c.mac(acc, w, v)
    return acc


def sample_macs(rs, rc, appearance, decoder="sh", app_dim=27, hidden=128, fea_pe=2, view_pe=2,
                bilinear=False):  # fmt: skip
    """MACs of one sample by evaluating it with counted loops on random values."""
    rng = np.random.default_rng(0)
    c = Counter()
    sigma = 0.0
    for _m in range(3):
        for _r in range(rs):
            plane = _plane(c, rng, bilinear)
            lo, hi, f = rng.random(3)
            line = c.mac(c.mac(0.0, 1.0 - f, lo), f, hi)  # linear interpolation, on-chip line
            sigma = c.mac(sigma, plane, line)
    sd = c.mac(0.0, sigma, 0.01)  # sigma * delta
    alpha = 1.0 - np.exp(-sd)
    t = 0.9
    w = c.mac(0.0, t, alpha)
    t = c.mac(0.0, t, 1.0 - alpha)
    if not appearance:
        return c.macs
    feat = []
    for _m in range(3):
        for _r in range(rc):
            plane = _plane(c, rng, bilinear)
            lo, hi, f = rng.random(3)
            line = c.mac(c.mac(0.0, 1.0 - f, lo), f, hi)
            feat.append(c.mac(0.0, plane, line))
    basis = rng.random((len(feat), app_dim))
    a = [0.0] * app_dim
    for i, x in enumerate(feat):
        for k in range(app_dim):
            a[k] = c.mac(a[k], x, basis[i, k])
    if decoder == "sh":
        sh = rng.random(9)
        rgb = [0.0] * 3
        for ch in range(3):
            for k in range(9):
                rgb[ch] = c.mac(rgb[ch], sh[k], a[9 * ch + k])
    else:
        width = app_dim + 3 + 2 * app_dim * fea_pe + 6 * view_pe
        x = list(rng.random(width))
        for n_out in (hidden, hidden, 3):
            wts = rng.random((len(x), n_out))
            y = [0.0] * n_out
            for i, xi in enumerate(x):
                for o in range(n_out):
                    y[o] = c.mac(y[o], xi, wts[i, o])
            x = y
        rgb = x
    color = [0.0] * 3
    for ch in range(3):
        color[ch] = c.mac(color[ch], w, rgb[ch])
    c.mac(0.0, w, 1.0)  # acc += w
    return c.macs
