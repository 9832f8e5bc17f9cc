"""Naive texel lookup: the texels are the encoded tables' own rows; exact rational weights."""

from fractions import Fraction
from math import floor

from naive.nerf_datapath import schedule


def texels(tables, table, rows, parity):
    """Corner ``k`` of a quad: row ``rows[k ^ parity]`` of the table's class ``k ^ parity``."""
    return [list(tables[table][k ^ parity][rows[k ^ parity]]) for k in range(4)]


def interpolate(corners, fx, fy, frac, interp_frac):
    """``round_half_up(2**E * sum_k w_k v_k)`` with the exact bilinear weights of ``fx / 2**F``."""
    x, y = Fraction(fx, 1 << frac), Fraction(fy, 1 << frac)
    weights = [(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y]
    out = []
    for j in range(len(corners[0])):
        value = sum(w * int(c[j]) for w, c in zip(weights, corners, strict=True))
        out.append(floor(value * (1 << interp_frac) + Fraction(1, 2)))
    return out


def group_steps(images, bank_width, banks, quads, slots):
    """Pipeline steps of issue groups, from the images' own directories.

    Positions: per class the tables' directories, then payloads, each from a bank word; an
    all-DENSE image has no directory. Step ``k`` = ``max(1, D_k, P_{k-2})``.
    """
    kpc = banks // 4
    where = {}
    for c in range(4):
        dir_base = pay_base = 0
        for t in range(6):
            im = images[t][c]
            lay = im.layout
            per = bank_width // lay.word_width
            formats, nnz, offsets = im.directory()
            dense = all(int(f) == 1 for f in formats)
            for r in range(lay.rows):
                n, bv, cw = int(nnz[r]), lay.value_width, lay.coord_width
                bits = {0: 0, 1: lay.columns * bv, 2: lay.columns + n * bv, 3: n * (cw + bv)}
                bits = bits[int(formats[r])]
                words = -(-bits // lay.word_width)
                first = pay_base * per + int(offsets[r]) - lay.payload_base
                dword = None if dense else dir_base + r * lay.entry_width // bank_width
                where[t, c, r] = (dword, sorted({(first + i) // per for i in range(words)}))
            if not dense:
                dir_base += -(-lay.payload_base // per)
            pay_base += -(-(im.n_words - lay.payload_base) // per)
    d_cyc, p_cyc = [], []
    for row in slots:
        d = p = 0
        for c in range(4):
            dirs, pays = [], []
            for s in row:
                if s < 0:
                    dirs.append([])
                    pays.append([])
                    continue
                dword, words = where[int(quads.table[s]), c, int(quads.rows[s][c])]
                dirs.append([] if dword is None else [dword])
                pays.append(words)
            d = max(d, schedule(dirs, kpc))
            p = max(p, schedule(pays, kpc))
        d_cyc.append(d)
        p_cyc.append(p)
    n = len(slots)
    return [max(1, d_cyc[k] if k < n else 0, p_cyc[k - 2] if k >= 2 else 0) for k in range(n + 2)]
