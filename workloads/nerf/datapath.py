"""Whole frames of a scene on the sparse-embedding datapath (issue 15): the model side.

:func:`estimate` puts one frame through :func:`rtnerf.models.perf.nerf.datapath_frame` without
ray-subset scaling: every evaluated sample of the frame (:func:`.accel.frame_samples`, the
renderer's exact set and order, computed on the 16-bit quantised planes the datapath stores)
becomes its quads; the texel images (:mod:`.texel`) give every row's banks and bursts. When the
model's plane images and lines do not fit ``params.sram_bytes`` (or ``stream`` is forced) the
frame is streamed visit by visit (:mod:`.stream`). The front end's work comes from the
renderer's counters (:class:`.render.RenderStats`).
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ...models.golden.texel_lookup import Quads
from ...models.perf.nerf import (
    DatapathFrame,
    DatapathParams,
    datapath_frame,
    lookup_stage,
    touched_bytes,
)
from ...models.quant import quantize
from .accel import FrameSamples, frame_samples
from .camera import Camera
from .model import MAT_MODE, TensorfVM
from .render import RenderStats, render
from .stream import StreamParams, bookkeeping_bytes, buffer_slots, visits
from .texel import CLASSES, TexelStore, class_order, class_shape, encode_texels

__all__ = ["FrameEstimate", "estimate", "quantized", "sample_cells", "texel_quads"]


def quantized(model: TensorfVM, value_width: int = 16) -> TensorfVM:
    """``model`` with every plane and line tensor quantised (one scale per tensor) and back.

    The integers are those of both plane layouts (:func:`.texel.encode_texels`,
    :func:`.storage.encode_model`): what the datapath computes with.
    """
    n = model.resolution
    fields = {}
    for kind in ("density", "app"):
        for part in ("planes", "lines"):
            arr = getattr(model, f"{kind}_{part}")
            out = np.empty_like(arr)
            for m in range(3):
                q = quantize(arr[m].reshape(-1, n), value_width)
                out[m] = (q.values * q.scale).reshape(arr[m].shape)
            fields[f"{kind}_{part}"] = out
    return dataclasses.replace(model, **fields)


def sample_cells(model: TensorfVM, points: np.ndarray) -> np.ndarray:
    """``int64`` ``(S, 3, 2)``: per sample and plane ``m`` the quad's ``(i0, i1)``.

    The cell of the normalised point along ``MAT_MODE[m]``'s axes, clamped to ``[0, N - 2]``
    as the renderers' interpolation does.
    """
    n = model.resolution
    u = (np.asarray(points, np.float64) + 1.0) * 0.5 * (n - 1)
    cell = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
    axes = np.array(MAT_MODE, np.int64)
    return np.ascontiguousarray(cell[:, axes])


def texel_quads(
    store: TexelStore, points: np.ndarray, appearance: np.ndarray, weight_frac: int,
    tag_width: int = 8,
) -> Quads:  # fmt: skip
    """The quads of samples in the lookup stage's issue order, for the RTL texel lookup.

    Per sample the 3 density planes' quads (``groups`` each), then, when its appearance is read,
    the 3 appearance planes': exactly the stream :func:`~rtnerf.models.perf.nerf.lookup_stage`
    cuts into issue groups. A quad of plane ``m`` names the rows of the texels around the
    sample's cell along ``MAT_MODE[m]`` in each class image, the parity of the cell's corner
    and the position in the cell, ``fx``, ``fy`` = ``rint(frac * 2**weight_frac)``; tags count
    the quads modulo ``2**tag_width``.
    """
    n = store.resolution
    u = (np.asarray(points, np.float64) + 1.0) * 0.5 * (n - 1)
    cell = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
    pos = np.rint(np.clip(u - cell, 0.0, 1.0) * (1 << weight_frac)).astype(np.int64)
    orders = [class_order(n, c, store.tile) for c in range(CLASSES)]
    shapes = [class_shape(n, c) for c in range(CLASSES)]
    app = np.asarray(appearance, bool)
    out: list[tuple] = []
    for s in range(cell.shape[0]):
        for kind in (0, 1) if app[s] else (0,):
            for m, (a0, a1) in enumerate(MAT_MODE):
                t = 3 * kind + m
                i0, i1 = int(cell[s, a0]), int(cell[s, a1])
                for g in range(store.groups[t]):
                    rows = []
                    for c in range(CLASSES):
                        x = i0 + ((i0 ^ c) & 1)
                        y = i1 + ((i1 ^ (c >> 1)) & 1)
                        w, h = shapes[c]
                        rows.append(g * w * h + int(orders[c][(y >> 1) * w + (x >> 1)]))
                    parity = (i0 & 1) + 2 * (i1 & 1)
                    out.append((t, rows, parity, pos[s, a0], pos[s, a1]))
    count = len(out)
    return Quads(
        np.array([q[0] for q in out], np.int64),
        np.array([q[1] for q in out], np.int64).reshape(count, CLASSES),
        np.array([q[2] for q in out], np.int64),
        np.array([q[3] for q in out], np.int64),
        np.array([q[4] for q in out], np.int64),
        np.arange(count, dtype=np.int64) % (1 << tag_width),
    )


@dataclasses.dataclass(frozen=True)
class FrameEstimate:
    """One frame's estimate and what it took.

    Attributes
    ----------
    frame : DatapathFrame
        The cycles per stage, frames/s and counters.
    store : TexelStore
        The images the buffer holds (or streams).
    fits : bool
        Whether the plane images plus lines fit ``sram_bytes``.
    lower_bound_bytes : int
        The compressed touched-bytes lower bound of the frame (each burst once).
    tile_buffer_bytes : int
        Streaming: the on-chip bytes of the streamed rows. Policy ``"visit"``: the
        double-buffered tile buffer (twice the largest visit's bytes); ``"lru"``: the retaining
        buffer's slots and their bookkeeping (:func:`.stream.bookkeeping_bytes`).
    pixel_state_bytes : int
        Streaming: one screen tile's pixel state.
    visits : int
        Streaming: visits of the frame.
    policy : str
        Streaming: the buffer policy (:attr:`.stream.StreamParams.policy`); ``""`` on chip.
    buffer_slots : int
        Streaming with ``"lru"``: bursts the retaining buffer holds (0 otherwise).
    per_visit_bytes : int
        Streaming: DRAM bytes of the same visits with a tile buffer (each burst once per visit),
        for comparison (equal to the frame's under ``"visit"``).
    stats : RenderStats
        The renderer's counters of the frame.
    seconds : float
        Wall time of the estimate (samples, lookup stage, renderer counters).
    """

    frame: DatapathFrame
    store: TexelStore
    fits: bool
    lower_bound_bytes: int
    tile_buffer_bytes: int
    pixel_state_bytes: int
    visits: int
    stats: RenderStats
    seconds: float
    policy: str = ""
    buffer_slots: int = 0
    per_visit_bytes: int = 0

    def to_dict(self) -> dict:
        """Flat numbers for a CSV row."""
        return {
            **self.frame.to_dict(),
            "fits_on_chip": self.fits,
            "plane_bytes": self.store.nbytes,
            "sram_model_bytes": self.store.sram_bytes,
            "lower_bound_bytes": self.lower_bound_bytes,
            "tile_buffer_bytes": self.tile_buffer_bytes,
            "pixel_state_bytes": self.pixel_state_bytes,
            "visits": self.visits,
            "stream_policy": self.policy,
            "buffer_slots": self.buffer_slots,
            "per_visit_bytes": self.per_visit_bytes,
            "estimate_seconds": self.seconds,
        }


def estimate(
    model: TensorfVM,
    cam: Camera,
    params: DatapathParams | None = None,
    *,
    pipeline: str = "rtnerf",
    storage: str = "hybrid",
    group: int | None = None,
    stream: StreamParams | bool | None = None,
    store: TexelStore | None = None,
    samples: FrameSamples | None = None,
    stats: RenderStats | None = None,
) -> FrameEstimate:
    """One whole frame of ``model`` from ``cam`` on the datapath (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        The (pruned or refitted) float model; it is quantised here.
    cam : Camera
        The view.
    params : DatapathParams or None
        The design point (default :class:`DatapathParams`).
    pipeline : str
        ``rtnerf`` or ``uniform``.
    storage : str
        ``hybrid`` or ``dense`` (or ``bitmap``, ``coo``) texel images.
    group : int or None
        Components per texel row (``None``: all).
    stream : StreamParams, bool or None
        ``None``: stream only when the model does not fit ``sram_bytes``; ``False``: never
        (on chip whatever the size); ``True`` or a :class:`StreamParams`: always. With the
        ``"lru"`` policy the retaining buffer has ``sram_bytes`` less the pixel state and the
        lines (:func:`.stream.buffer_slots`), at least two visits' bursts.
    store, samples, stats : optional
        Reuse the texel images, the frame's samples (of the quantised model) or the renderer's
        counters from an earlier call on the same model, view and pipeline.

    Returns
    -------
    FrameEstimate
        The frame.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    params = DatapathParams() if params is None else params
    t0 = time.perf_counter()
    store = encode_texels(model, storage, group=group) if store is None else store
    fits = store.sram_bytes <= params.sram_bytes
    streaming = (not fits) if stream is None else stream is not False
    sp = stream if isinstance(stream, StreamParams) else StreamParams()
    qmodel = quantized(model) if samples is None or stats is None else None
    if samples is None:
        samples = frame_samples(qmodel, cam, pipeline)
    if stats is None:
        stats = render(qmodel, cam, pipeline, colour=False).stats
    if samples.samples != stats.samples_evaluated:
        raise ValueError("`samples` and `stats` must be of the same frame")
    bm = store.bank_map(params.banks, params.bank_width)
    cells = sample_cells(model, samples.points)
    app = samples.appearance
    lower = touched_bytes(cells, app, bm)
    tile_buffer, pixel_state, count, slots, per_visit = 0, 0, 0, 0, 0
    if streaming:
        v = visits(model, cam, samples, sp)
        cells, app = cells[v.order], app[v.order]
        pixel_state, count = v.pixel_state_bytes, v.count
        if sp.policy == "visit":
            lookup = lookup_stage(cells, app, bm, params.lanes, v.visit)
            tile_buffer = 2 * int(lookup.visit_bytes.max(initial=0))
            per_visit = lookup.dram_bytes
        else:
            once = lookup_stage(cells, app, bm, params.lanes, v.visit, simulate=False)
            per_visit = once.dram_bytes
            free = params.sram_bytes - pixel_state - store.line_bytes
            least = 2 * int(once.visit_bytes.max(initial=0)) // bm.burst_bytes
            slots = max(buffer_slots(free, bm.dram_bursts, bm.burst_bytes), least)
            lookup = lookup_stage(cells, app, bm, params.lanes, v.visit, capacity=slots)
            tile_buffer = slots * bm.burst_bytes + bookkeeping_bytes(slots, bm.dram_bursts)
    else:
        lookup = lookup_stage(cells, app, bm, params.lanes)
    work = stats.samples_generated + stats.cube_pixel_pairs
    frame = datapath_frame(
        lookup,
        params,
        samples=samples.samples,
        appearance_samples=samples.appearance_samples,
        front_end_work=work,
        density_components=model.density_components,
        app_components=model.app_components,
        load_bytes=store.sram_bytes,
        streaming=streaming,
    )
    return FrameEstimate(
        frame=frame,
        store=store,
        fits=fits,
        lower_bound_bytes=lower,
        tile_buffer_bytes=tile_buffer,
        pixel_state_bytes=pixel_state,
        visits=count,
        stats=stats,
        seconds=time.perf_counter() - t0,
        policy=sp.policy if streaming else "",
        buffer_slots=slots,
        per_visit_bytes=per_visit,
    )
