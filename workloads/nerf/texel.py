"""Texel-vector storage of the factor planes: one row per texel, four parity-class images.

Today's layout (:meth:`.model.TensorfVM.tables`, ``layout="component"``) stores a plane tensor
``planes[m]`` ``(R, N, N)`` as ``(R N, N)``: one row per (component, ``i1``), so a bilinear read
of one plane is ``4 R`` element queries. The **texel layout** stores it with one row per texel
``(i0, i1)`` holding that texel's components -- all ``R`` of them, or fixed groups of ``G``
(``ceil(R / G)`` rows per texel, group ``g`` holding components ``g G .. g G + G - 1``, the last
group zero-padded) -- so a bilinear read of one plane is **one 2 x 2 quad** per group: the rows
of ``(i0, i1)``, ``(i0 + 1, i1)``, ``(i0, i1 + 1)``, ``(i0 + 1, i1 + 1)``.

**Parity classes.** The four texels of any quad have the four different parities
``c = 2 (i1 & 1) + (i0 & 1)``, so each plane is stored as four images, one per class, and a quad
reads exactly one row from each (four banks, never a conflict within a quad). In the image of
class ``c = (a, b)`` (``a = i0 & 1``, ``b = i1 & 1``), texel ``(i0, i1)`` of group ``g`` is row
``g * W_c H_c + order_c[(i1 >> 1) * W_c + (i0 >> 1)]`` with ``W_c = (N - a + 1) // 2`` and
``H_c = (N - b + 1) // 2``; the row has ``G`` columns (component ``g G + j`` in column ``j``).
``order_c`` (:func:`class_order`) is tile-major by default: blocks of 4 x 4 class texels (the
8 x 8 texels an 8³ cube group spans on a plane) are contiguous, which keeps a streamed visit's
rows in few DRAM bursts; ``tile=None`` gives row-major order.

**Directories.** An image whose rows are all DENSE (``storage="dense"``) needs no directory:
row ``r`` starts at ``payload_base + r * words`` (the engine's row stride for all-DENSE tables),
so its directory is neither stored on chip, nor read from DRAM, nor read by the lanes.

**One memory-image format.** Each (plane, class) image is an ordinary
:class:`rtnerf.models.image.MemoryImage` (hybrid-encoded per row: EMPTY / DENSE / BITMAP / COO,
directory entry per row): a texel row is just a row of ``G`` columns. Each plane tensor is
quantised once (:func:`rtnerf.models.quant.quantize`, one scale per tensor, as the component
layout does), so both layouts hold the same integers. Lines stay dense on chip (``3 (R_sigma +
R_c) N`` values).

:func:`encode_texels` builds the images; :class:`TexelStore` gives their bytes and the bank map
the performance model reads (:func:`TexelStore.bank_map`); :func:`storage_study` compares the
layouts (bytes, SRAM, queries per sample).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...models.golden.decode import expand_rows
from ...models.image import MemoryImage, encode
from ...models.perf.nerf import BankMap
from ...models.quant import quantize
from ...params import EncodingParams, check_int
from .model import TensorfVM
from .storage import STORAGES, encode_model

__all__ = [
    "CLASSES",
    "LAYOUTS",
    "TEXEL_ENCODING",
    "TILE",
    "TexelStore",
    "class_order",
    "class_shape",
    "encode_texels",
    "storage_study",
    "texel_rows",
]

#: Parity classes ``c = 2 (i1 & 1) + (i0 & 1)``.
CLASSES = 4
#: Plane layouts of the storage study.
LAYOUTS = ("component", "texel")
#: Default tile-major row order: 4 x 4 class texels = the 8 x 8 texels a cube group of 8
#: cells spans on a plane (:func:`class_order`).
TILE = 4
#: Encoding of the texel images: 16-bit values, 32-bit words and 32-bit directory entries (the
#: rows are short, so word padding and entries are a large share of a row), 64-byte bursts.
TEXEL_ENCODING = EncodingParams(value_width=16, word_width=32, entry_width=32, burst_bytes=64)


def class_shape(n: int, c: int) -> tuple[int, int]:
    """``(W_c, H_c)``: texels of class ``c`` along ``i0`` and along ``i1`` on an ``N x N`` plane."""
    a, b = c & 1, c >> 1
    return (n - a + 1) // 2, (n - b + 1) // 2


def class_order(n: int, c: int, tile: int | None = None) -> np.ndarray:
    """``int64`` ``(H_c W_c,)``: the row (within a group's block) of class texel ``(x, y)``.

    Indexed by ``y W_c + x`` with ``x = i0 >> 1``, ``y = i1 >> 1``. ``tile`` ``None``: row-major,
    the identity. Otherwise **tile-major**: ``tile`` x ``tile`` blocks of class texels in
    row-major block order, row-major inside each block (edge blocks narrower), so that the rows
    a cube group touches are contiguous in DRAM.
    """
    w, h = class_shape(n, c)
    if tile is None:
        return np.arange(w * h, dtype=np.int64)
    y, x = np.divmod(np.arange(w * h, dtype=np.int64), w)
    order = np.lexsort((x % tile, y % tile, x // tile, y // tile))
    rank = np.empty(w * h, np.int64)
    rank[order] = np.arange(w * h)
    return rank


def texel_rows(plane: np.ndarray, group: int, tile: int | None = None) -> list[np.ndarray]:
    """The four class tables of one plane tensor ``(R, N, N)`` (``[r, i1, i0]``).

    Returns
    -------
    list of numpy.ndarray
        ``tables[c]`` of shape ``(ceil(R / group) * W_c * H_c, group)``, rows as in the module
        docstring, in :func:`class_order` within each group's block (the same dtype as
        ``plane``; padding components are 0).
    """
    r, n, _ = plane.shape
    groups = -(-r // group)
    padded = np.zeros((groups * group, n, n), plane.dtype)
    padded[:r] = plane
    out = []
    for c in range(CLASSES):
        a, b = c & 1, c >> 1
        sub = padded[:, b::2, a::2]  # (G groups * group, H_c, W_c)
        h, w = sub.shape[1:]
        rows = sub.reshape(groups, group, h * w).transpose(0, 2, 1)
        placed = np.empty_like(rows)
        placed[:, class_order(n, c, tile)] = rows
        out.append(np.ascontiguousarray(placed.reshape(groups * h * w, group)))
    return out


@dataclasses.dataclass(frozen=True, eq=False)
class TexelStore:
    """The texel-layout images of a model's six plane tensors.

    Attributes
    ----------
    images : list of list of MemoryImage
        ``images[t][c]``: plane table ``t`` (0-2 density planes, 3-5 appearance planes, the
        :data:`~.model.TABLE_NAMES` order) and parity class ``c``.
    scales : numpy.ndarray
        ``float64`` ``(6,)``: the quantisation scale of each plane tensor.
    groups : tuple of int
        Rows per texel of each table (``ceil(R / group)``).
    group_size : tuple of int
        Components per row of each table.
    resolution : int
        ``N``.
    tile : int or None
        The rows' :func:`class_order` (``None``: row-major).
    line_bytes : int
        Bytes of the dense line factors (on chip in every design).
    storage : str
        ``dense``, ``bitmap``, ``coo`` or ``hybrid``.
    """

    images: list[list[MemoryImage]]
    scales: np.ndarray
    groups: tuple[int, ...]
    group_size: tuple[int, ...]
    resolution: int
    tile: int | None
    line_bytes: int
    storage: str

    @property
    def directory_bytes(self) -> int:
        """Bytes of the stored directories (whole words per image; none for row-stride images)."""
        return sum(_directory_bytes(im) for ims in self.images for im in ims if not strided(im))

    @property
    def nbytes(self) -> int:
        """Bytes of all plane images as stored: payloads plus the directories that are needed."""
        return sum(
            im.nbytes - strided(im) * _directory_bytes(im) for ims in self.images for im in ims
        )

    @property
    def payload_bytes(self) -> int:
        """Bytes of the row payloads."""
        return self.nbytes - self.directory_bytes

    @property
    def sram_bytes(self) -> int:
        """On-chip bytes of a buffer holding the whole model: plane images plus dense lines."""
        return self.nbytes + self.line_bytes

    def formats(self) -> dict[str, int]:
        """Rows per format (``EMPTY``, ``DENSE``, ``BITMAP``, ``COO``) over all images."""
        counts = np.zeros(4, np.int64)
        for ims in self.images:
            for im in ims:
                counts += np.bincount(im.directory()[0], minlength=4)
        return dict(zip(("EMPTY", "DENSE", "BITMAP", "COO"), (int(x) for x in counts), strict=True))

    def values(self, t: int) -> np.ndarray:
        """The stored integers of plane table ``t`` as ``(R, N, N)`` (decoded from the images)."""
        n = self.resolution
        groups, g = self.groups[t], self.group_size[t]
        out = np.zeros((groups * g, n, n), np.int64)
        for c in range(CLASSES):
            w, h = class_shape(n, c)
            im = self.images[t][c]
            rows = expand_rows(im, np.arange(im.shape[0])).astype(np.int64)
            rows = rows.reshape(groups, h * w, g)[:, class_order(n, c, self.tile)]
            a, b = c & 1, c >> 1
            out[:, b::2, a::2] = (
                rows.reshape(groups, h, w, g).transpose(0, 3, 1, 2).reshape(groups * g, h, w)
            )
        return out

    def bank_map(self, banks: int, bank_width: int) -> BankMap:
        """Where every texel row's directory entry and payload sit in the banked SRAM.

        Per class, the six tables' directories are concatenated (each starting on a bank word)
        in a directory array and their payloads likewise in a payload array; bank word ``w`` of
        either array is in bank ``w % (banks / 4)`` of the class (see
        :class:`rtnerf.models.perf.nerf.BankMap`).
        """
        check_int("banks", banks, minimum=4)
        if banks % CLASSES:
            raise ValueError(f"`banks` must be a multiple of 4 (one set per class), not {banks}")
        word = self.images[0][0].layout.word_width
        if bank_width % word or bank_width < word:
            raise ValueError(
                f"`bank_width` must be a multiple of the images' {word}-bit words, not {bank_width}"
            )
        per = bank_width // word
        wb = word // 8
        burst = self.images[0][0].params.burst_bytes
        n_tables = len(self.images)
        base = np.zeros((n_tables, CLASSES), np.int64)
        fields: dict[str, list[np.ndarray]] = {
            k: []
            for k in ("dir_word", "pay_first", "pay_last", "dram_dir", "dram_first", "dram_last")
        }
        offset, dram_base = 0, 0
        for c in range(CLASSES):
            dir_base, pay_base = 0, 0
            for t in range(n_tables):
                im = self.images[t][c]
                lay = im.layout
                _, _, offsets = im.directory()
                words = lay.row_words(im.row_bits())
                empty = words == 0
                base[t, c] = offset
                offset += lay.rows
                entry_bit = np.arange(lay.rows, dtype=np.int64) * lay.entry_width
                stride = strided(im)
                none = np.full(lay.rows, -1, np.int64)
                fields["dir_word"].append(none if stride else dir_base + entry_bit // word // per)
                first = offsets - lay.payload_base
                fields["pay_first"].append(np.where(empty, -1, pay_base + first // per))
                fields["pay_last"].append(
                    np.where(empty, -2, pay_base + (first + words - 1) // per)
                )
                if not stride:
                    dir_base += -(-lay.payload_base // per)
                pay_base += -(-(im.n_words - lay.payload_base) // per)
                # In DRAM the images follow one another, each from a burst boundary (a
                # row-stride image without its directory).
                skip = lay.payload_base * wb if stride else 0
                fields["dram_dir"].append(none if stride else (dram_base + entry_bit // 8) // burst)
                start = dram_base + offsets * wb - skip
                fields["dram_first"].append(np.where(empty, -1, start // burst))
                fields["dram_last"].append(np.where(empty, -2, (start + words * wb - 1) // burst))
                dram_base += -(-(im.nbytes - skip) // burst) * burst
        shapes = np.array([class_shape(self.resolution, c) for c in range(CLASSES)], np.int64)
        orders = [class_order(self.resolution, c, self.tile) for c in range(CLASSES)]
        return BankMap(
            banks=banks,
            bank_width=bank_width,
            base=base,
            **{k: np.concatenate(v).astype(np.int64) for k, v in fields.items()},
            dram_bursts=dram_base // burst,
            burst_bytes=burst,
            class_shape=shapes,
            groups=np.array(self.groups, np.int64),
            resolution=self.resolution,
            row_of=np.concatenate(orders),
            row_base=np.cumsum([0] + [o.size for o in orders[:-1]]).astype(np.int64),
        )


def strided(image: MemoryImage) -> bool:
    """Whether every row of ``image`` is DENSE: addressed by row stride, no directory needed."""
    return bool((image.directory()[0] == 1).all())


def _directory_bytes(image: MemoryImage) -> int:
    return image.layout.payload_base * image.layout.word_width // 8


def encode_texels(
    model: TensorfVM,
    storage: str = "hybrid",
    enc: EncodingParams | None = None,
    *,
    group: int | None = None,
    tile: int | None = TILE,
) -> TexelStore:
    """Quantise each plane tensor and encode it in the texel layout (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        The model (prune or refit first).
    storage : str
        ``dense``, ``bitmap``, ``coo`` (forced formats) or ``hybrid`` (cheapest per row).
    enc : EncodingParams or None
        The image encoding (default :data:`TEXEL_ENCODING`); its ``force_format`` is replaced.
    group : int or None
        Components per row (``None``: all ``R`` of the tensor in one row).
    tile : int or None
        Row order within each image (:func:`class_order`; default :data:`TILE`).

    Returns
    -------
    TexelStore
        The 24 images (6 tensors x 4 classes).
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    if storage not in STORAGES:
        raise ValueError(f"`storage` must be one of {sorted(STORAGES)}, not {storage!r}")
    if group is not None:
        check_int("group", group, minimum=1)
    if tile is not None:
        check_int("tile", tile, minimum=1)
    enc = TEXEL_ENCODING if enc is None else enc
    if not isinstance(enc, EncodingParams):
        raise TypeError(f"`enc` must be EncodingParams, not {type(enc).__name__}")
    enc = dataclasses.replace(enc, force_format=STORAGES[storage])
    n = model.resolution
    images, scales, groups, sizes = [], [], [], []
    for kind in ("density", "app"):
        planes = getattr(model, f"{kind}_planes")
        r = planes.shape[1]
        g = r if group is None else min(group, r)
        for m in range(3):
            q = quantize(planes[m].reshape(r * n, n), enc.value_width)
            ints = q.values.reshape(r, n, n)
            images.append([encode(tab, enc, q.scale) for tab in texel_rows(ints, g, tile)])
            scales.append(q.scale)
            groups.append(-(-r // g))
            sizes.append(g)
    lines = 3 * (model.density_components + model.app_components) * n
    return TexelStore(
        images=images,
        scales=np.array(scales),
        groups=tuple(groups),
        group_size=tuple(sizes),
        resolution=n,
        tile=tile,
        line_bytes=lines * enc.value_width // 8,
        storage=storage,
    )


def storage_study(
    model: TensorfVM,
    *,
    groups: tuple[int | None, ...] = (None, 16),
    storages: tuple[str, ...] = ("dense", "hybrid"),
    enc: EncodingParams | None = None,
) -> list[dict[str, object]]:
    """Bytes, SRAM and queries per sample of the component and texel layouts.

    One row per (layout, group, storage): ``entry_width`` (``enc``'s, or 64 where a component
    table's image overflows a 32-bit entry), ``plane_bytes`` (images: payloads plus the directories
    that are needed, none for all-DENSE images), ``directory_bytes``, ``sram_bytes`` (plane
    images plus the dense lines: an on-chip buffer holding the model),
    ``queries_per_density_sample`` and ``queries_per_app_sample`` (element queries of the
    component layout, ``4 R`` per plane; quads of the texel layout, ``ceil(R / G)`` per plane)
    and ``rows_per_density_sample`` / ``rows_per_app_sample`` (table rows read).
    """
    enc = TEXEL_ENCODING if enc is None else enc
    rs, rc = model.density_components, model.app_components
    lines = 3 * (rs + rc) * model.resolution * enc.value_width // 8
    out: list[dict[str, object]] = []
    for storage in storages:
        try:
            comp = encode_model(model, storage, enc)
        except ValueError:
            # A component table of a large grid overflows a 32-bit entry's offset field.
            comp = encode_model(model, storage, dataclasses.replace(enc, entry_width=64))
        plane = sum(
            comp.images[f"{k}_plane{m}"].nbytes for k in ("density", "app") for m in range(3)
        )
        directory = sum(
            comp.images[f"{k}_plane{m}"].layout.payload_base * enc.word_bytes
            for k in ("density", "app")
            for m in range(3)
        )
        out.append(
            {
                "layout": "component",
                "group": 1,
                "storage": storage,
                "entry_width": comp.images["density_plane0"].layout.entry_width,
                "plane_bytes": plane,
                "directory_bytes": directory,
                "sram_bytes": plane + lines,
                "queries_per_density_sample": 3 * 4 * rs,
                "queries_per_app_sample": 3 * 4 * rc,
                "rows_per_density_sample": 3 * 4 * rs,
                "rows_per_app_sample": 3 * 4 * rc,
            }
        )
        for g in groups:
            st = encode_texels(model, storage, enc, group=g)
            gd, ga = st.groups[0], st.groups[3]
            out.append(
                {
                    "layout": "texel",
                    "group": "R" if g is None else g,
                    "storage": storage,
                    "entry_width": st.images[0][0].layout.entry_width,
                    "plane_bytes": st.nbytes,
                    "directory_bytes": st.directory_bytes,
                    "sram_bytes": st.sram_bytes,
                    "queries_per_density_sample": 3 * gd,
                    "queries_per_app_sample": 3 * ga,
                    "rows_per_density_sample": 3 * 4 * gd,
                    "rows_per_app_sample": 3 * 4 * ga,
                }
            )
    return out
