"""Sparse storage of a model's factor tables: pruning, quantisation, encoding, DRAM per frame.

* :func:`prune` magnitude-prunes each factor **plane tensor** (``density_planes[m]`` and
  ``app_planes[m]``, one tensor per (kind, mode)) to a target density: the ``ceil(density *
  size)`` largest ``|values|`` of the tensor are kept. Lines are small (``3 * R * N`` values)
  and stay dense.
* :func:`encode_model` quantises and encodes every table of :meth:`TensorfVM.tables
  <.model.TensorfVM.tables>` (plane tables ``(R * N, N)``, row ``r * N + i1``; line tables
  ``(R, N)``) with :func:`rtnerf.models.image.encode_table` (one scale per table), in one
  storage: ``dense``, ``bitmap``, ``coo`` (forced formats) or ``hybrid`` (cheapest per row).
  :func:`quantized_model` is the model whose tables are the dequantised images' values (what
  the accelerator computes with).
* :func:`frame_dram_bytes`: DRAM bytes of one frame when every burst the frame needs is
  fetched **once** (an on-chip cache that holds the frame's working set): the directory
  entries and whole payloads of the plane-table rows the frame touched (``r * N + i1`` for
  every component ``r`` and every touched ``i1``) and all line-table rows, rounded to whole
  bursts of the image. It is a lower bound on the traffic of a real design; the element-level
  traffic of a design with a given cache comes from the trace-driven accounting
  (:func:`rtnerf.models.dram.account`) of the accelerator side.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...models.image import MemoryImage, encode_table
from ...models.quant import Quantized
from ...params import EncodingParams, EngineParams
from .model import TABLE_NAMES, TensorfVM

__all__ = [
    "STORAGES",
    "EncodedModel",
    "default_encoding",
    "encode_model",
    "frame_dram_bytes",
    "prune",
    "quantized_model",
]

#: Storage names and the ``force_format`` each one sets (``None``: hybrid).
STORAGES = {"dense": "dense", "bitmap": "bitmap", "coo": "coo", "hybrid": None}


def default_encoding(params: EngineParams | None = None) -> EncodingParams:
    """Encoding of the default engine's decoder, with its DRAM burst size."""
    params = EngineParams() if params is None else params
    return params.unit.decoder.encoding(burst_bytes=params.dram.burst_bytes)


def prune(model: TensorfVM, density: float, app_density: float | None = None) -> TensorfVM:
    """Keep the largest-magnitude ``density`` fraction of each factor plane tensor.

    Parameters
    ----------
    model : TensorfVM
        The model.
    density : float
        Fraction of non-zeros kept in each density plane tensor, in ``(0, 1]``.
    app_density : float or None
        Fraction kept in each appearance plane tensor; ``None`` uses ``density``.

    Returns
    -------
    TensorfVM
        A copy with pruned planes (lines, basis and alpha mask unchanged).
    """
    app_density = density if app_density is None else app_density
    for name, value in (("density", density), ("app_density", app_density)):
        if not (isinstance(value, int | float) and 0 < value <= 1):
            raise ValueError(f"`{name}` must be in (0, 1], not {value!r}")
    out = {}
    for kind, frac in (("density", density), ("app", app_density)):
        planes = getattr(model, f"{kind}_planes").copy()
        if frac < 1:
            for m in range(3):
                flat = planes[m].reshape(-1)
                keep = math.ceil(frac * flat.size)
                idx = np.argpartition(np.abs(flat), flat.size - keep)[: flat.size - keep]
                flat[idx] = 0.0
        out[f"{kind}_planes"] = planes
    meta = dict(model.meta, pruned_density=density, pruned_app_density=app_density)
    return dataclasses.replace(model, meta=meta, **out)


@dataclasses.dataclass(frozen=True, eq=False)
class EncodedModel:
    """The memory images of a model's tables in one storage.

    Attributes
    ----------
    storage : str
        ``dense``, ``bitmap``, ``coo`` or ``hybrid``.
    images : dict of str to MemoryImage
        One image per table, keyed and ordered by :data:`~.model.TABLE_NAMES`.
    quantized : dict of str to Quantized
        The quantisation report of each table.
    """

    storage: str
    images: dict[str, MemoryImage]
    quantized: dict[str, Quantized]

    @property
    def nbytes(self) -> int:
        """Bytes of all images."""
        return sum(img.nbytes for img in self.images.values())


def encode_model(
    model: TensorfVM, storage: str = "hybrid", enc: EncodingParams | None = None
) -> EncodedModel:
    """Quantise and encode every table of ``model`` in ``storage`` (see the module docstring)."""
    if storage not in STORAGES:
        raise ValueError(f"`storage` must be one of {sorted(STORAGES)}, not {storage!r}")
    enc = default_encoding() if enc is None else enc
    enc = dataclasses.replace(enc, force_format=STORAGES[storage])
    images, quants = {}, {}
    for name, table in model.tables().items():
        images[name], quants[name] = encode_table(np.ascontiguousarray(table), enc)
    return EncodedModel(storage, images, quants)


def quantized_model(model: TensorfVM, encoded: EncodedModel) -> TensorfVM:
    """``model`` with every table replaced by its dequantised (stored) values."""
    n = model.resolution
    tabs = {k: q.dequantize().astype(np.float32) for k, q in encoded.quantized.items()}
    fields = {}
    for kind in ("density", "app"):
        r = getattr(model, f"{kind}_planes").shape[1]
        fields[f"{kind}_planes"] = np.stack(
            [tabs[f"{kind}_plane{m}"].reshape(r, n, n) for m in range(3)]
        )
        fields[f"{kind}_lines"] = np.stack([tabs[f"{kind}_line{m}"] for m in range(3)])
    return dataclasses.replace(model, **fields)


def _touched_bytes(image: MemoryImage, rows: np.ndarray) -> int:
    """Bytes of the whole bursts holding the directory entries and payloads of ``rows``."""
    lay = image.layout
    word_bytes = lay.word_width // 8
    burst = lay.burst_words * word_bytes
    _, _, offsets = image.directory()
    bits = image.row_bits()
    words = lay.row_words(bits)
    total_bursts = -(-image.nbytes // burst) + 1
    hit = np.zeros(total_bursts, np.bool_)
    entry_byte = rows * (lay.entry_width // 8)
    hit[entry_byte // burst] = True
    r = rows[words[rows] > 0]
    first = offsets[r] * word_bytes // burst
    last = ((offsets[r] + words[r]) * word_bytes - 1) // burst
    span = last - first + 1
    ids = np.repeat(first, span) + (np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span))
    hit[ids] = True
    return int(hit.sum()) * burst


def frame_dram_bytes(encoded: EncodedModel, touched: np.ndarray) -> dict[str, int]:
    """DRAM bytes of one frame per table (and ``total``), each needed burst read once.

    Parameters
    ----------
    encoded : EncodedModel
        The images.
    touched : numpy.ndarray
        bool ``(2, 3, N)`` from :class:`~.render.RenderResult`.

    Returns
    -------
    dict
        Bytes per table name of :data:`~.model.TABLE_NAMES`, plus ``"total"``.
    """
    touched = np.asarray(touched, np.bool_)
    n = touched.shape[-1]
    out: dict[str, int] = {}
    for t, name in enumerate(TABLE_NAMES):
        image = encoded.images[name]
        rows_total = image.shape[0]
        if t < 6:
            kind, m = divmod(t, 3)
            idx = np.flatnonzero(touched[kind, m])
            comps = rows_total // n
            rows = (np.arange(comps)[:, None] * n + idx[None, :]).reshape(-1)
        else:
            kind = (t - 6) // 3
            rows = np.arange(rows_total) if touched[kind].any() else np.zeros(0, np.int64)
        out[name] = _touched_bytes(image, rows.astype(np.int64)) if rows.size else 0
    out["total"] = sum(out.values())
    return out
