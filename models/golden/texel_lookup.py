"""Golden model of the texel lookup: buffer contents, the texels of each quad, interpolation.

The sparse embedding buffer holds the texel-layout plane images
(:mod:`rtnerf.workloads.nerf.texel`): per parity class ``c`` a **directory array** and a
**payload array** of bank words, each image's directory and payload starting on a bank word, in
table order -- exactly :meth:`~rtnerf.workloads.nerf.texel.TexelStore.bank_map`'s layout, which
the performance model reads. A table descriptor per (table, class) says where: ``strided`` (an
all-DENSE image: no directory, row ``r`` at payload word ``origin + r * row_words``),
``dir_base`` (the bank word of its entry 0), ``origin`` (the payload array's image word of the
image's word 0, so that a row at directory offset ``o`` starts at word ``origin + o``).

A **quad** names a table, the row of each class (``rows[c]``), the parity ``(i0 & 1) + 2 (i1 &
1)`` of its corner texel and its position in the cell, ``fx``, ``fy`` in ``0 .. 2**F``. Corner
``k = dx + 2 dy`` (texel ``(i0 + dx, i1 + dy)``) is in class ``k ^ parity``. Results per quad:
the four texels' ``G``-vectors by corner, decoded from the buffer's words as the lanes do, and
their bilinear interpolation in fixed point, per component ``j``::

    w_k = (dx ? fx : 2**F - fx) * (dy ? fy : 2**F - fy)
    out_j = (sum_k w_k v_kj + 2**(s - 1)) >> s,   s = 2 F - E     (floor shift)

``E`` = ``interp_frac``: ``out_j / 2**E`` is the interpolation (``sum_k w_k = 2**(2F)``), exact
up to the final rounding, and always fits ``value_width + E`` signed bits (no saturation).

The cycles of each issue group come from :func:`rtnerf.models.perf.nerf.group_cycles`, the
schedule the performance model runs over whole frames.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import numba
import numpy as np

from ...errors import ConfigError
from ...params.encoding import Format
from ...params.texel_lookup import CLASSES, TABLES, TexelLookupParams
from ..image import MemoryImage, get_bits
from ..perf.nerf import GroupCycles, group_cycles
from .decode import _sign_extend

__all__ = [
    "Buffer",
    "Places",
    "Quads",
    "array_words",
    "check_images",
    "evaluate",
    "interpolate",
    "load",
    "places",
    "schedule",
]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _strided(image: MemoryImage) -> bool:
    return bool((image.directory()[0] == 1).all())


def array_words(images, bank_width: int) -> tuple[list[int], list[int]]:
    """Bank words of each class's directory array and payload array for ``images[t][c]``."""
    dirs, pays = [], []
    for c in range(CLASSES):
        d = p = 0
        for t in range(TABLES):
            im = images[t][c]
            per = bank_width // im.layout.word_width
            if not _strided(im):
                d += _cdiv(im.layout.payload_base, per)
            p += _cdiv(im.n_words - im.layout.payload_base, per)
        dirs.append(d)
        pays.append(p)
    return dirs, pays


def check_images(params: TexelLookupParams, images) -> None:
    """Check that the buffer built from ``params`` can hold and decode ``images[t][c]``.

    Raises
    ------
    TypeError
        If ``images`` is not 6 lists of 4 :class:`~rtnerf.models.image.MemoryImage`.
    ConfigError
        Naming the first image field that does not match the block, a row the lanes cannot
        decode (longer than a DENSE row, or a COO row over the capacity: forced formats), an
        image with more rows than ``row_width`` addresses, or arrays deeper than the banks.
    """
    if len(images) != TABLES or any(len(ims) != CLASSES for ims in images):
        raise TypeError("`images` must be 6 lists (tables) of 4 MemoryImages (classes)")
    p = params
    for t in range(TABLES):
        for c in range(CLASSES):
            im = images[t][c]
            if not isinstance(im, MemoryImage):
                raise TypeError(
                    f"`images[{t}][{c}]` must be a MemoryImage, not {type(im).__name__}"
                )
            lay, where = im.layout, f"image ({t}, {c})"
            want = {
                "columns": p.columns(t),
                "value_width": p.value_width,
                "word_width": p.word_width,
                "entry_width": p.entry_width,
                "coord_width": p.coord_bits(t),
            }
            for key, value in want.items():
                if getattr(lay, key) != value:
                    raise ConfigError(
                        f"{where} has {key} {getattr(lay, key)}, the block is built for {value}"
                    )
            if lay.rows > 1 << p.row_width:
                raise ConfigError(
                    f"{where} has {lay.rows} rows; row_width {p.row_width} is too narrow"
                )
            formats, nnz, _ = im.directory()
            if _strided(im) and im.row_stride != p.row_words(t):
                raise ConfigError(
                    f"{where} is all DENSE at row stride {im.row_stride}; the block addresses "
                    f"such images at {p.row_words(t)} words per row"
                )
            if lay.align_rows:
                raise ConfigError(
                    f"{where} pads rows to bursts (align_rows); the buffer packs rows"
                )
            words = -(-im.row_bits() // lay.word_width)
            bad = np.flatnonzero(words > p.row_words(t))
            if bad.size:
                raise ConfigError(
                    f"{where} row {bad[0]} takes {words[bad[0]]} words, more than a DENSE row's "
                    f"{p.row_words(t)} (a forced format)"
                )
            coo = np.flatnonzero((formats == Format.COO) & (nnz > p.coo_capacity(t)))
            if coo.size:
                raise ConfigError(
                    f"{where} row {coo[0]} is COO with {nnz[coo[0]]} entries; the lanes expand "
                    f"at most {p.coo_capacity(t)}"
                )
    dirs, pays = array_words(images, p.bank_width)
    for name, used, have in (("directory", dirs, p.directory_words),
                             ("payload", pays, p.payload_words)):  # fmt: skip
        if max(used) > have:
            c = int(np.argmax(used))
            raise ConfigError(
                f"class {c}'s {name} array needs {used[c]} bank words; the buffer has {have}"
            )


@dataclasses.dataclass(frozen=True, eq=False)
class Buffer:
    """The buffer's contents for a set of images (see the module docstring).

    Attributes
    ----------
    params : TexelLookupParams
        The block.
    images : list of list of MemoryImage
        ``images[t][c]``.
    directory, payload : numpy.ndarray
        ``uint32`` ``(4, L)``: each class's array, bank word ``w`` in ``[w B, (w + 1) B)``
        (``B = bank_width / 32``), zero beyond the words used, with a spare word at the end.
    directory_words, payload_words : tuple of int
        Bank words used per class.
    strided : numpy.ndarray
        bool ``(6, 4)``: all-DENSE images (no directory).
    dir_base, origin : numpy.ndarray
        ``int64`` ``(6, 4)``: the descriptors.
    """

    params: TexelLookupParams
    images: list
    directory: np.ndarray
    payload: np.ndarray
    directory_words: tuple[int, ...]
    payload_words: tuple[int, ...]
    strided: np.ndarray
    dir_base: np.ndarray
    origin: np.ndarray

    def fill(self) -> list[tuple[int, int, int, int]]:
        """The fill stream: ``(cls, directory, word, data)`` per used bank word.

        Class by class, the directory array, then the payload array; ``data`` is the bank word
        as an integer.
        """
        b = self.params.bank_width // 32
        beats = []
        for c in range(CLASSES):
            for directory, arr, n in ((1, self.directory, self.directory_words[c]),
                                      (0, self.payload, self.payload_words[c])):  # fmt: skip
                for w in range(n):
                    chunk = arr[c, w * b : (w + 1) * b].astype(np.uint64)
                    data = sum(int(x) << (32 * i) for i, x in enumerate(chunk))
                    beats.append((c, directory, w, data))
        return beats

    @property
    def fill_bytes(self) -> int:
        """Bytes of the fill stream (whole bank words)."""
        words = sum(self.directory_words) + sum(self.payload_words)
        return words * self.params.bank_width // 8

    def descriptors(self) -> list[dict[str, int]]:
        """The 24 table descriptors: ``table``, ``cls``, ``strided``, ``dir_base``, ``origin``."""
        return [
            {
                "table": t,
                "cls": c,
                "strided": int(self.strided[t, c]),
                "dir_base": int(self.dir_base[t, c]),
                "origin": int(self.origin[t, c]),
            }
            for t in range(TABLES)
            for c in range(CLASSES)
        ]


def load(params: TexelLookupParams, images) -> Buffer:
    """The buffer holding ``images[t][c]`` (checked by :func:`check_images`)."""
    if not isinstance(params, TexelLookupParams):
        raise TypeError(f"`params` must be TexelLookupParams, not {type(params).__name__}")
    check_images(params, images)
    per = params.words_per_bank_word
    u = params.word_width // 32  # uint32 per image word
    b = params.bank_width // 32
    dirs, pays = array_words(images, params.bank_width)
    directory = np.zeros((CLASSES, max(dirs) * b + 1), np.uint32)
    payload = np.zeros((CLASSES, max(pays) * b + 1), np.uint32)
    strided = np.zeros((TABLES, CLASSES), np.bool_)
    dir_base = np.zeros((TABLES, CLASSES), np.int64)
    origin = np.zeros((TABLES, CLASSES), np.int64)
    for c in range(CLASSES):
        d = p = 0
        for t in range(TABLES):
            im = images[t][c]
            pb = im.layout.payload_base
            words = im.u32[: im.n_words * u]
            strided[t, c] = _strided(im)
            dir_base[t, c] = d
            origin[t, c] = p * per - (0 if strided[t, c] else pb)
            if not strided[t, c]:
                directory[c, d * b : d * b + pb * u] = words[: pb * u]
                d += _cdiv(pb, per)
            payload[c, p * b : p * b + (im.n_words - pb) * u] = words[pb * u :]
            p += _cdiv(im.n_words - pb, per)
    return Buffer(
        params=params,
        images=images,
        directory=directory,
        payload=payload,
        directory_words=tuple(dirs),
        payload_words=tuple(pays),
        strided=strided,
        dir_base=dir_base,
        origin=origin,
    )


class Quads(NamedTuple):
    """A stream of quads (arrays over quads ``q``).

    ``table`` ``(Q,)``; ``rows`` ``(Q, 4)``, the row of each class; ``parity`` ``(Q,)``,
    ``(i0 & 1) + 2 (i1 & 1)``; ``fx``, ``fy`` ``(Q,)`` in ``0 .. 2**F``; ``tag`` ``(Q,)``.
    """

    table: np.ndarray
    rows: np.ndarray
    parity: np.ndarray
    fx: np.ndarray
    fy: np.ndarray
    tag: np.ndarray


def _check_quads(buffer: Buffer, quads: Quads) -> Quads:
    p = buffer.params
    q = Quads(*(np.ascontiguousarray(a, np.int64) for a in quads))
    n = q.table.shape[0]
    if q.rows.shape != (n, CLASSES) or any(a.shape != (n,) for a in q[2:] + q[:1]):
        raise ValueError("`quads` arrays must be of shape (Q,), with `rows` (Q, 4)")
    if n == 0:
        return q
    checks = [
        ("table", q.table, 0, TABLES - 1),
        ("parity", q.parity, 0, 3),
        ("fx", q.fx, 0, 1 << p.weight_frac),
        ("fy", q.fy, 0, 1 << p.weight_frac),
        ("tag", q.tag, 0, (1 << p.tag_width) - 1),
    ]
    for name, arr, lo, hi in checks:
        if arr.min() < lo or arr.max() > hi:
            raise ValueError(f"`{name}` must be from {lo} to {hi}")
    limits = np.array([[im.shape[0] for im in ims] for ims in buffer.images], np.int64)
    bad = (q.rows < 0) | (q.rows >= limits[q.table])
    if bad.any():
        i, c = np.argwhere(bad)[0]
        raise ValueError(
            f"quad {i}: row {q.rows[i, c]} of class {c} is outside table {q.table[i]}'s "
            f"{limits[q.table[i], c]} rows"
        )
    return q


def _layout(params: TexelLookupParams) -> tuple[np.ndarray, ...]:
    cols = np.array([params.columns(t) for t in range(TABLES)], np.int64)
    coords = np.array([params.coord_bits(t) for t in range(TABLES)], np.int64)
    row_words = np.array([params.row_words(t) for t in range(TABLES)], np.int64)
    return cols, coords, row_words


@numba.njit(cache=True)
def _entry(directory, strided, dir_base, origin, cols, coords, row_words, t, c, r, lay):
    """``(format, nnz, flat payload word)`` of row ``r`` of table ``t``, class ``c``."""
    entry_width, epw = lay[3], lay[5]
    if strided[t, c]:
        return 1, cols[t], origin[t, c] + r * row_words[t]
    e = dir_base[t, c] * epw + r
    raw = np.uint64(get_bits(directory[c], e * entry_width, 32))
    if entry_width == 64:
        raw |= np.uint64(get_bits(directory[c], e * entry_width + 32, 32)) << np.uint64(32)
    fmt = np.int64(raw & np.uint64(3))
    cw1 = coords[t] + 1
    nnz = np.int64((raw >> np.uint64(2)) & ((np.uint64(1) << np.uint64(cw1)) - np.uint64(1)))
    offset = np.int64(raw >> np.uint64(2 + cw1))
    return fmt, nnz, origin[t, c] + offset


@numba.njit(cache=True)
def _words(fmt, nnz, g, cw, value_width, word_width):
    if fmt == Format.DENSE:
        bits = g * value_width
    elif fmt == Format.BITMAP:
        bits = g + nnz * value_width
    elif fmt == Format.COO:
        bits = nnz * (cw + value_width)
    else:
        bits = 0
    return (bits + word_width - 1) // word_width


@numba.njit(cache=True)
def _places(directory, strided, dir_base, origin, cols, coords, row_words, table, rows, lay,
            dir_word, pay_first, pay_span):  # fmt: skip
    _, value_width, word_width, _, per, epw = lay
    for q in range(table.shape[0]):
        t = table[q]
        for c in range(4):
            r = rows[q, c]
            fmt, nnz, flat = _entry(directory, strided, dir_base, origin, cols, coords,
                                    row_words, t, c, r, lay)  # fmt: skip
            dir_word[q, c] = -1 if strided[t, c] else dir_base[t, c] + r // epw
            words = _words(fmt, nnz, cols[t], coords[t], value_width, word_width)
            pay_first[q, c] = flat // per
            pay_span[q, c] = (flat % per + words + per - 1) // per if words else 0


@numba.njit(cache=True)
def _texels(directory, payload, strided, dir_base, origin, cols, coords, row_words, table, rows,
            parity, lay, out):  # fmt: skip
    _, bv, ww, _, _, _ = lay
    for q in range(table.shape[0]):
        t = table[q]
        g = cols[t]
        cw = coords[t]
        for k in range(4):
            c = k ^ parity[q]
            fmt, nnz, flat = _entry(directory, strided, dir_base, origin, cols, coords,
                                    row_words, t, c, rows[q, c], lay)  # fmt: skip
            base = flat * ww
            if fmt == Format.DENSE:
                for j in range(g):
                    out[q, k, j] = _sign_extend(get_bits(payload[c], base + j * bv, bv), bv)
            elif fmt == Format.BITMAP:
                slot = 0
                for j in range(g):
                    if get_bits(payload[c], base + j, 1):
                        raw = get_bits(payload[c], base + g + slot * bv, bv)
                        out[q, k, j] = _sign_extend(raw, bv)
                        slot += 1
            elif fmt == Format.COO:
                for i in range(nnz):
                    j = get_bits(payload[c], base + i * cw, cw)
                    raw = get_bits(payload[c], base + nnz * cw + i * bv, bv)
                    out[q, k, j] = _sign_extend(raw, bv)


@numba.njit(cache=True)
def _interpolate(texels, fx, fy, cols, table, frac, shift, out):
    one = np.int64(1) << frac
    half = np.int64(1) << (shift - 1) if shift > 0 else np.int64(0)
    for q in range(texels.shape[0]):
        wx0 = one - fx[q]
        wy0 = one - fy[q]
        w0 = wx0 * wy0
        w1 = fx[q] * wy0
        w2 = wx0 * fy[q]
        w3 = fx[q] * fy[q]
        for j in range(cols[table[q]]):
            acc = (w0 * texels[q, 0, j] + w1 * texels[q, 1, j] + w2 * texels[q, 2, j]
                   + w3 * texels[q, 3, j])  # fmt: skip
            out[q, j] = (acc + half) >> shift


def _kernel_layout(params: TexelLookupParams) -> tuple[int, ...]:
    return (
        0,
        params.value_width,
        params.word_width,
        params.entry_width,
        params.words_per_bank_word,
        params.entries_per_bank_word,
    )


class Places(NamedTuple):
    """Where a quad's rows are, per quad and class (``(Q, 4)`` ``int64`` each).

    ``dir_word``: the directory bank word (-1: none); ``pay_first``: the payload's first bank
    word; ``pay_span``: the bank words it spans (0: EMPTY).
    """

    dir_word: np.ndarray
    pay_first: np.ndarray
    pay_span: np.ndarray


def places(buffer: Buffer, quads: Quads) -> Places:
    """Where each quad's rows are in the buffer's arrays (from the buffer's own entries)."""
    q = _check_quads(buffer, quads)
    cols, coords, row_words = _layout(buffer.params)
    n = q.table.shape[0]
    out = Places(*(np.zeros((n, CLASSES), np.int64) for _ in range(3)))
    _places(buffer.directory, buffer.strided, buffer.dir_base, buffer.origin, cols, coords,
            row_words, q.table, q.rows, _kernel_layout(buffer.params), *out)  # fmt: skip
    return out


def interpolate(params: TexelLookupParams, texels: np.ndarray, quads: Quads) -> np.ndarray:
    """The fixed-point bilinear interpolation of ``texels`` ``(Q, 4, G)`` (by corner)."""
    frac = params.weight_frac
    shift = 2 * frac - params.interp_frac
    cols, _, _ = _layout(params)
    t = np.ascontiguousarray(texels, np.int64)
    out = np.zeros((t.shape[0], params.max_columns), np.int64)
    _interpolate(t, np.asarray(quads.fx, np.int64), np.asarray(quads.fy, np.int64), cols,
                 np.asarray(quads.table, np.int64), frac, shift, out)  # fmt: skip
    return out


def evaluate(buffer: Buffer, quads: Quads) -> tuple[np.ndarray, np.ndarray]:
    """The lanes' results for ``quads``.

    Returns
    -------
    texels : numpy.ndarray
        ``int64`` ``(Q, 4, max_columns)``: the four texels by corner ``dx + 2 dy``, columns
        beyond the table's ``G`` zero.
    interp : numpy.ndarray
        ``int64`` ``(Q, max_columns)``: the interpolated values (module docstring).

    Raises
    ------
    ValueError
        If a quad's field is out of range or a row is outside its image.
    """
    p = buffer.params
    q = _check_quads(buffer, quads)
    cols, coords, row_words = _layout(p)
    texels = np.zeros((q.table.shape[0], 4, p.max_columns), np.int64)
    _texels(buffer.directory, buffer.payload, buffer.strided, buffer.dir_base, buffer.origin,
            cols, coords, row_words, q.table, q.rows, q.parity, _kernel_layout(p),
            texels)  # fmt: skip
    return texels, interpolate(p, texels, q)


def schedule(buffer: Buffer, quads: Quads, slots: np.ndarray) -> GroupCycles:
    """The cycles of issue groups (:func:`rtnerf.models.perf.nerf.group_cycles`).

    ``slots[k, l]`` is the quad in lane ``l`` of group ``k`` (-1: none).
    """
    s = np.asarray(slots, np.int64)
    if s.ndim != 2 or s.shape[1] != buffer.params.lanes:
        raise ValueError(f"`slots` must be of shape (groups, {buffer.params.lanes})")
    pl = places(buffer, quads)
    n, lanes = s.shape
    arrays = []
    for arr, empty in ((pl.dir_word, -1), (pl.pay_first, 0), (pl.pay_span, 0)):
        out = np.full((n, CLASSES, lanes), empty, np.int64)
        have = s >= 0
        out.transpose(0, 2, 1)[have] = arr[s[have]]
        arrays.append(out)
    return group_cycles(*arrays, buffer.params.banks)
