"""A frame's embedding reads as lookup-engine traces: the accelerator side of the NeRF workload.

Every evaluated sample reads its TensoRF factors (:mod:`.model`). This module turns the samples
of a frame (or of a tile, or of a random subset of rays) into **ELEMENT bags** of the engine's
trace format (:mod:`rtnerf.models.trace`), one bag per (sample, plane, component):

* **Tables** are the model's six plane tables in :data:`~.model.TABLE_NAMES` order: table ``m``
  is ``density_plane{m}``, table ``3 + m`` is ``app_plane{m}``, each ``planes[m]`` ``(R, N, N)``
  reshaped to ``(R * N, N)``: row ``r * N + i1`` (component ``r``, index ``i1`` along
  ``MAT_MODE[m][1]``), column ``i0`` (along ``MAT_MODE[m][0]``). Every row is one hybrid-encoded
  row of ``N`` values, so the engine's ``unit.decoder.columns`` is ``N``, ``unit.tables`` 6
  and ``unit.decoder.row_width`` must hold ``R_c * N`` rows (:func:`design`).
* **A bag** is one bilinear plane read: 4 requests ``(r N + i1, i0)``, ``(r N + i1, i0 + 1)``,
  ``(r N + i1 + 1, i0)``, ``(r N + i1 + 1, i0 + 1)`` with weights ``(1 - f0)(1 - f1)``,
  ``f0 (1 - f1)``, ``(1 - f0) f1``, ``f0 f1`` (``grid_sample`` with ``align_corners``, the cell
  clamped to ``[0, N - 2]`` as :func:`~.model.query_points`); its pooled scalar is the
  interpolated plane value. All 4 requests are issued even when a weight is 0 (a fixed
  datapath).
* **Order**: sample by sample in the order given (the renderer's evaluation order); per
  sample its ``3 R_sigma`` density bags (plane-major, as TensoRF concatenates), then, if the
  sample's appearance is evaluated, its ``3 R_c`` appearance bags.
* **Lines are on chip** (rtnerf-notes §3.4): the vector factors are ``3 (R_sigma + R_c) N``
  values (48 KB at VM-64, N = 128, 16 bits), so the design keeps them in SRAM next to the MAC
  array and their linear reads (2 per bag) are *not* in the trace and move no DRAM bytes; they
  are counted as :attr:`Queries.line_reads` (on-chip SRAM reads) and their interpolation and
  products as MACs (:mod:`rtnerf.models.perf.nerf`).
* **Weights** are fixed point with ``weight_frac_bits`` 14 and ``weight_width`` 16 at the NeRF
  design point (:func:`design`): a weight in ``[0, 1]`` rounds to the nearest ``2**-14``, so an
  interpolated value differs from the float interpolation of the same quantised texels by at
  most ``sum |v| 2**-15 + 1/2`` (weight rounding, then the unit's round-half-up output).

Frames too large for the perf model are measured on a uniformly random subset of the rays
that evaluate at least one sample (:func:`sample_rays`) and scaled by the ratio of the frame's
bags to the subset's (a ratio estimator: the frame's bag count is known exactly).
"""

from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np

from ...models.image import MemoryImage, encode_table
from ...models.quant import Quantized
from ...models.trace import Op, Trace
from ...params import EngineParams
from .camera import Camera, camera_rays, ray_t_min
from .model import _MAT, _VEC, ALPHA_THRESHOLD, MAT_MODE, TensorfVM
from .render import TILE, TRANSMITTANCE_SKIP
from .shading import locate_sample, sample_features

__all__ = [
    "PIPELINES",
    "WEIGHT_FRAC_BITS",
    "WEIGHT_WIDTH",
    "FrameSamples",
    "Queries",
    "busy_pixels",
    "design",
    "engine_tables",
    "frame_samples",
    "queries",
    "sample_rays",
]

#: Fraction bits of the bilinear weights at the NeRF design point.
WEIGHT_FRAC_BITS = 14
#: Bits of a weight (signed): 1.0 = 2**14 fits.
WEIGHT_WIDTH = 16
#: Rendering pipelines whose samples :func:`frame_samples` records.
PIPELINES = ("uniform", "rtnerf")


def design(model: TensorfVM, base: EngineParams | None = None) -> EngineParams:
    """``base`` (default: the default engine) adapted to read ``model``'s planes.

    Changes ``unit.decoder.columns`` to ``N``, ``unit.lanes`` to the largest divisor of ``N``
    not above the base's, ``unit.tables`` to 6 at least, ``unit.decoder.row_width`` to hold
    ``max(R) * N`` rows, and the weights to ``WEIGHT_WIDTH`` bits with ``WEIGHT_FRAC_BITS``
    fraction bits; every other field (units, DRAM, port, cache) stays the base's.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    base = base or EngineParams()
    u = base.unit
    n = model.resolution
    rows = max(model.density_components, model.app_components) * n
    changes = {
        "decoder": {"columns": n, "row_width": max(u.row_width, (rows - 1).bit_length())},
        "lanes": max(d for d in range(1, u.lanes + 1) if n % d == 0),
        "tables": max(u.tables, 6),
        "weight_width": WEIGHT_WIDTH,
        "weight_frac_bits": WEIGHT_FRAC_BITS,
        "max_bag": max(u.max_bag, 4),
    }
    return base.replace(unit=changes)


def engine_tables(
    model: TensorfVM, params: EngineParams, *, encoding: str = "hybrid"
) -> tuple[list[MemoryImage], list[Quantized]]:
    """The six plane tables quantised (each with its own scale) and encoded for ``params``.

    ``encoding`` ``hybrid`` lets the encoder choose each row's format; ``dense``, ``bitmap``
    or ``coo`` forces one. The planes are taken as they are in ``model`` (prune first).
    """
    if encoding not in ("hybrid", "dense", "bitmap", "coo"):
        raise ValueError(f"`encoding` must be hybrid, dense, bitmap or coo, not {encoding!r}")
    if params.unit.dim != model.resolution:
        raise ValueError(
            f"the design reads {params.unit.dim} columns, the model's planes have "
            f"{model.resolution}; adapt it with rtnerf.workloads.nerf.accel.design"
        )
    enc = params.unit.decoder.encoding(burst_bytes=params.dram.burst_bytes)
    if encoding != "hybrid":
        enc = dataclasses.replace(enc, force_format=encoding)
    images, quantized = [], []
    tables = model.tables()
    for kind in ("density", "app"):
        for m in range(3):
            image, q = encode_table(tables[f"{kind}_plane{m}"], enc)
            images.append(image)
            quantized.append(q)
    return images, quantized


@dataclasses.dataclass(frozen=True, eq=False)
class Queries:
    """The bilinear plane reads of a set of samples: one bag of 4 texels per read.

    Attributes
    ----------
    sample : numpy.ndarray
        ``int64`` per bag: the sample (index into the points given to :func:`queries`).
    table : numpy.ndarray
        ``int64`` per bag: 0-2 density planes, 3-5 appearance planes.
    component : numpy.ndarray
        ``int64`` per bag: the component ``r``.
    row, col : numpy.ndarray
        ``int64`` ``(bags, 4)``: the texels' table rows and columns.
    weight : numpy.ndarray
        ``float64`` ``(bags, 4)``: the bilinear weights.
    samples, appearance_samples : int
        Samples given, and those whose appearance is read.
    """

    sample: np.ndarray
    table: np.ndarray
    component: np.ndarray
    row: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    samples: int
    appearance_samples: int

    @property
    def bags(self) -> int:
        """Plane reads (ELEMENT bags)."""
        return int(self.sample.size)

    @property
    def requests(self) -> int:
        """Texel reads (trace requests): 4 per bag."""
        return 4 * self.bags

    @property
    def line_reads(self) -> int:
        """On-chip line texel reads: 2 per bag (the linear read paired with each plane read)."""
        return 2 * self.bags

    def trace(self, params: EngineParams, name: str = "nerf") -> Trace:
        """The reads as an ELEMENT trace in ``params``' weight fixed point (nearest rounding)."""
        u = params.unit
        hi = (1 << (u.weight_width - 1)) - 1
        w = np.clip(np.rint(self.weight * (1 << u.weight_frac_bits)), -hi - 1, hi)
        last = np.zeros((self.bags, 4), np.bool_)
        last[:, 3] = True
        return Trace(
            op=np.full(self.requests, Op.ELEMENT, np.uint8),
            table=np.repeat(self.table, 4).astype(np.uint16),
            row=self.row.ravel().astype(np.int64),
            col=self.col.ravel().astype(np.int32),
            weight=w.ravel().astype(np.int64),
            last=last.ravel(),
            weight_frac_bits=u.weight_frac_bits,
            weight_width=u.weight_width,
            name=name,
        )

    def interpolate(self, tables: list[np.ndarray]) -> np.ndarray:
        """``float64`` per bag: the float bilinear interpolation of ``tables[table]``.

        ``tables`` are the six plane tables (float, or the quantised integers to compare with
        the engine's golden model).
        """
        out = np.zeros(self.bags)
        for t, tab in enumerate(tables):
            sel = np.flatnonzero(self.table == t)
            if sel.size:
                vals = np.asarray(tab, np.float64)[self.row[sel], self.col[sel]]
                out[sel] = (vals * self.weight[sel]).sum(axis=1)
        return out

    def select(self, bags: np.ndarray) -> Queries:
        """The queries of the bags where ``bags`` (bool per bag) is set, in order."""
        keep = np.asarray(bags, np.bool_)
        kept = np.unique(self.sample[keep])
        app = np.unique(self.sample[keep & (self.table >= 3)])
        return Queries(
            sample=self.sample[keep],
            table=self.table[keep],
            component=self.component[keep],
            row=self.row[keep],
            col=self.col[keep],
            weight=self.weight[keep],
            samples=int(kept.size),
            appearance_samples=int(app.size),
        )


def _cell(xh: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell index and fraction of normalised coordinates (``align_corners``; as ``_coord``)."""
    u = (xh + 1.0) * 0.5 * (n - 1)
    i = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
    return i, u - i


def queries(model: TensorfVM, points: np.ndarray, appearance: np.ndarray) -> Queries:
    """The plane reads of samples at normalised points ``x̂`` (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        Gives ``N``, ``R_sigma`` and ``R_c``.
    points : numpy.ndarray
        ``(S, 3)`` normalised sample positions in ``[-1, 1]``
        (:meth:`~.model.TensorfVM.normalize` of the world positions), in evaluation order.
    appearance : numpy.ndarray
        bool ``(S,)``: the samples whose appearance is evaluated (weight above the threshold).

    Returns
    -------
    Queries
        ``3 R_sigma`` bags per sample plus ``3 R_c`` per appearance sample.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    xh = np.asarray(points, np.float64)
    if xh.ndim != 2 or xh.shape[1] != 3:
        raise ValueError(f"`points` must be of shape (S, 3), not {xh.shape}")
    if not (np.isfinite(xh).all() and (np.abs(xh) <= 1.0 + 1e-9).all()):
        raise ValueError("`points` must be finite normalised coordinates in [-1, 1]")
    app = np.asarray(appearance, np.bool_)
    if app.shape != (xh.shape[0],):
        raise ValueError(f"`appearance` must be a bool array of shape ({xh.shape[0]},)")
    n, rs, rc = model.resolution, model.density_components, model.app_components
    per = 3 * rs + 3 * rc * app.astype(np.int64)
    sample = np.repeat(np.arange(xh.shape[0], dtype=np.int64), per)
    k = np.arange(sample.size) - np.repeat(np.cumsum(per) - per, per)
    dens = k < 3 * rs
    ka = k - 3 * rs
    table = np.where(dens, k // rs, 3 + ka // rc)
    component = np.where(dens, k % rs, ka % rc)
    m = table % 3
    axes = np.array(MAT_MODE, np.int64)
    i0, f0 = _cell(xh[sample, axes[m, 0]], n)
    i1, f1 = _cell(xh[sample, axes[m, 1]], n)
    base = component * n + i1
    row = np.stack([base, base, base + 1, base + 1], axis=1)
    col = np.stack([i0, i0 + 1, i0, i0 + 1], axis=1)
    weight = np.stack([(1 - f0) * (1 - f1), f0 * (1 - f1), (1 - f0) * f1, f0 * f1], axis=1)
    return Queries(
        sample=sample,
        table=table,
        component=component,
        row=row,
        col=col,
        weight=weight,
        samples=int(xh.shape[0]),
        appearance_samples=int(app.sum()),
    )


def sample_rays(
    ray: np.ndarray, rays: int, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """A uniformly random subset of the rays that evaluate samples.

    Parameters
    ----------
    ray : numpy.ndarray
        Integer per sample: the ray (pixel) that evaluates it.
    rays : int
        Rays to keep (all of them when there are fewer).
    rng : numpy.random.Generator
        The source of the choice.

    Returns
    -------
    keep : numpy.ndarray
        bool per sample: the samples of the chosen rays.
    chosen, busy : int
        Rays chosen, and rays with at least one sample (the population).
    """
    ray = np.asarray(ray)
    if ray.ndim != 1 or ray.dtype.kind not in "iu":
        raise TypeError("`ray` must be a 1-D integer array")
    if isinstance(rays, bool) or not isinstance(rays, int | np.integer) or rays < 1:
        raise ValueError(f"`rays` must be a positive integer, not {rays!r}")
    busy = np.unique(ray)
    chosen = busy if rays >= busy.size else rng.choice(busy, size=rays, replace=False)
    return np.isin(ray, chosen), int(chosen.size), int(busy.size)


# -- the samples of a frame ------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def _march(o, d, tmin, pixels, lo, scale2, n, cubes, n_samples, step, dplanes, dlines, shift,
           dscale, mat, vec, t_skip, fill, stop, offsets, counts, out_k, out_xh, out_cell,
           out_app, out_live):  # fmt: skip
    """The valid samples of each pixel's ray (``counts``; with ``fill`` also their data).

    The same validity test and density arithmetic as the renderers (``shading.locate_sample``,
    ``shading.sample_features``): a sample is valid inside the aabb in a non-zero cube; ``out_app``
    when its weight ``T alpha > 1e-4``, ``out_live`` when ``T > t_skip`` before it (RT-NeRF
    evaluates it). With ``stop`` a ray ends at its first sample that is not live (both passes
    then compute the density), so only RT-NeRF's samples are counted and filled. Parallel over
    chunks of pixels; each pixel writes only its own slots.
    """
    chunk = 256
    chunks = (pixels.size + chunk - 1) // chunk
    density = fill or stop
    for ch in numba.prange(chunks):
        xh = np.empty(3)
        cell = np.empty(3, np.int64)
        iw = np.empty(6)
        # Touched rows are not needed here; a private scratch keeps the threads apart.
        touched = np.zeros((2, 3, n), np.bool_)
        empty = np.empty(0)
        for q in range(ch * chunk, min((ch + 1) * chunk, pixels.size)):
            pix = pixels[q]
            t_ray = 1.0
            c = 0
            started = False
            for k in range(n_samples):
                t = tmin[pix] + k * step
                if not locate_sample(o[pix], d[pix], t, lo, scale2, n, xh, cell):
                    if started:
                        break
                    continue
                started = True
                if not cubes[cell[0], cell[1], cell[2]]:
                    continue
                live = t_ray > t_skip
                if stop and not live:
                    break
                if density:
                    x = sample_features(dplanes, dlines, xh, mat, vec, touched, 0, iw, empty)
                    x += shift
                    sigma = x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))
                    dist = step if k < n_samples - 1 else 0.0
                    alpha = 1.0 - math.exp(-sigma * dist * dscale)
                    if fill:
                        e = offsets[q] + c
                        out_k[e] = k
                        out_xh[e] = xh
                        out_cell[e] = cell
                        out_live[e] = live
                        out_app[e] = alpha * t_ray > ALPHA_THRESHOLD
                    t_ray = t_ray * (1.0 - alpha + 1e-10)
                c += 1
            counts[q] = c


def _march_args(model: TensorfVM, cam: Camera) -> tuple:
    o, d = camera_rays(cam)
    tmin = ray_t_min(model, o, d)
    return (
        o,
        d,
        tmin,
        np.ascontiguousarray(model.aabb[0]),
        np.ascontiguousarray(2.0 / model.aabb_size),
        model.resolution,
        model.cubes,
        model.n_samples,
        model.step_size,
        model.density_planes,
        model.density_lines,
        float(model.density_shift),
        float(model.distance_scale),
        _MAT,
        _VEC,
    )


def _run_march(args: tuple, pixels: np.ndarray, t_skip: float, fill: bool, stop: bool = False):
    """Per-pixel valid-sample counts, then (``fill``) the samples' data (``stop``: live only)."""
    o, d, tmin, *rest = args

    def run(flag, offsets, counts, size):
        out = (
            np.zeros(size, np.int64),
            np.zeros((size, 3)),
            np.zeros((size, 3), np.int64),
            np.zeros(size, np.bool_),
            np.zeros(size, np.bool_),
        )
        _march(o, d, tmin, pixels, *rest, float(t_skip), flag, stop, offsets, counts, *out)
        return out

    counts = np.zeros(pixels.size, np.int64)
    run(False, counts, counts, 0)
    if not fill:
        return counts, None
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    return counts, run(True, offsets, np.zeros_like(counts), int(counts.sum()))


def busy_pixels(model: TensorfVM, cam: Camera) -> np.ndarray:
    """Pixels (row-major ids) whose ray has at least one valid sample (evaluated by both)."""
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    pixels = np.arange(cam.width * cam.height, dtype=np.int64)
    counts, _ = _run_march(_march_args(model, cam), pixels, TRANSMITTANCE_SKIP, False)
    return pixels[counts > 0]


@dataclasses.dataclass(frozen=True, eq=False)
class FrameSamples:
    """The samples a pipeline evaluates for some pixels of a frame, in its evaluation order.

    Attributes
    ----------
    points : numpy.ndarray
        ``(S, 3)`` normalised positions.
    appearance : numpy.ndarray
        bool ``(S,)``: appearance evaluated (weight above ``1e-4``).
    ray : numpy.ndarray
        ``int64`` ``(S,)``: the pixel (row-major id) of each sample.
    pipeline : str
        ``uniform`` or ``rtnerf``.
    """

    points: np.ndarray
    appearance: np.ndarray
    ray: np.ndarray
    pipeline: str

    @property
    def samples(self) -> int:
        """Density evaluations."""
        return int(self.ray.size)

    @property
    def appearance_samples(self) -> int:
        """Appearance evaluations."""
        return int(self.appearance.sum())


def frame_samples(
    model: TensorfVM,
    cam: Camera,
    pipeline: str,
    pixels: np.ndarray | None = None,
    *,
    t_skip: float = TRANSMITTANCE_SKIP,
    tile: int = TILE,
) -> FrameSamples:
    """The samples ``pipeline`` evaluates on ``pixels`` (default all), in its order.

    Sample sets are the renderers' (:mod:`.render`: the same lattice, validity test and
    density arithmetic; ``uniform`` evaluates every valid sample, ``rtnerf`` those before its
    pixel's transmittance falls to ``t_skip``). Order: ``uniform`` pixel by pixel (row-major),
    each ray front to back; ``rtnerf`` screen tile by tile (row-major ``tile`` x ``tile``
    tiles), within a tile cube by cube in Manhattan-shell order around the camera's cell (ties
    in cube index order), within a cube pixel by pixel and front to back, as
    :func:`~.render.render_rtnerf` walks them.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    if pipeline not in PIPELINES:
        raise ValueError(f"`pipeline` must be one of {', '.join(PIPELINES)}, not {pipeline!r}")
    if pixels is None:
        pixels = np.arange(cam.width * cam.height, dtype=np.int64)
    pixels = np.unique(np.asarray(pixels, np.int64))
    if pixels.size and (pixels[0] < 0 or pixels[-1] >= cam.width * cam.height):
        raise ValueError(f"`pixels` must be in [0, {cam.width * cam.height})")
    rtnerf = pipeline == "rtnerf"
    args = _march_args(model, cam)
    counts, (_, xh, cell, app, _) = _run_march(args, pixels, t_skip, True, stop=rtnerf)
    ray = np.repeat(pixels, counts)
    if rtnerf:
        cs = model.cell_size
        cam_cell = np.floor((cam.position - model.aabb[0]) / cs).astype(np.int64)
        shell = np.abs(cell - cam_cell).sum(axis=1)
        m = model.resolution - 1
        cube = (cell[:, 0] * m + cell[:, 1]) * m + cell[:, 2]
        py, px = ray // cam.width, ray % cam.width
        tiles_x = -(-cam.width // tile)
        tile_id = (py // tile) * tiles_x + px // tile
        # The march emits samples by ray, then front to back, so a stable sort on (tile, shell,
        # cube) keeps (ray, k) order within a cube: the renderer's order.
        lo = int(shell.min(initial=0))
        span = int(shell.max(initial=0)) - lo + 1
        key = (tile_id * span + (shell - lo)) * m**3 + cube
        order = np.argsort(key, kind="stable")
        ray, xh, app = ray[order], xh[order], app[order]
    return FrameSamples(points=xh, appearance=app, ray=ray, pipeline=pipeline)
