"""The two numba renderers of a :class:`~.model.TensorfVM`: uniform marching and RT-NeRF.

Cameras and rays come from :mod:`.camera` (re-exported here), the per-sample kernels from
:mod:`.shading`, the storage accounting of a frame's touched rows from :mod:`.storage` and the
run summary of ``rtnerf render`` from :mod:`.study`.

Both renderers take the same per-pixel rays and the same sample lattice (TensoRF's
``t = t_min + k * step_size``, ``k = 0 .. n_samples - 1``, ``t_min`` the ray's entry into the
aabb clamped to ``[near, far]``), decide a sample's validity by the same test (inside the aabb
and its grid cell -- ``floor`` of the continuous index, the last cell closed -- is a non-zero
cube of the alpha mask) and evaluate a valid sample by the same code, so their sample sets are
identical and only the order and the skipping differ:

* :func:`render_uniform` -- TensoRF's ``sample_ray`` + ``alphaMask`` + compositing, image order
  (parallel over image rows): every sample of every ray is generated and tested against the
  mask; valid ones get their density; appearance only where the weight ``T * alpha > 1e-4``;
  no early termination (TensoRF has none).
* :func:`render_rtnerf` -- the RT-NeRF pipeline reconstructed in ``rtnerf-notes.md`` §2.2, object
  order: the non-zero cubes are bucketed by Manhattan shell ``|i - c|_1`` around the camera's
  cell (an exact front-to-back order for every ray), binned to 16 x 16 pixel screen tiles by the
  bounding box of their 8 projected corners (plus one pixel), and each tile (in parallel) walks
  its cubes in shell order: a cube whose pixels in the tile all have transmittance ``T <=
  1e-4`` is dropped whole (coarse-grained skipping of invisible cubes); otherwise per covered
  pixel a slab test gives ``[t_in, t_out]``, the lattice indices ``k`` in it (widened by 1e-6
  step for rounding) are generated, a sample is kept when its cell is this cube, and skipped
  without any embedding read when the pixel's ``T <= 1e-4``.

The two images differ only by the skipped samples' contributions, each weight ``<= T <=
1e-4``; without skipping they would be bit-identical (same arithmetic in the same order).

Counters (:class:`RenderStats`) and the rows of the factor tables a frame touches (for DRAM
bytes per frame, :mod:`.storage`) come back with the image. Background is white.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numba
import numpy as np

from ...params import check_int
from .camera import Camera, camera_rays, orbit_cameras, ray_t_min
from .model import _MAT, _VEC, TensorfVM, _sh2_one
from .shading import finish_pixel, locate_sample, shade_sample

__all__ = [
    "TILE",
    "TRANSMITTANCE_SKIP",
    "Camera",
    "RenderResult",
    "RenderStats",
    "camera_rays",
    "orbit_cameras",
    "psnr",
    "ray_t_min",
    "render",
    "render_rtnerf",
    "render_uniform",
]

#: Screen tile edge of the RT-NeRF pipeline, pixels.
TILE = 16
#: Transmittance at or below which RT-NeRF skips a sample (TensoRF's weight threshold).
TRANSMITTANCE_SKIP = 1e-4


@dataclasses.dataclass(frozen=True)
class RenderStats:
    """Work counters of one frame.

    Attributes
    ----------
    samples_generated : int
        Sample positions computed: uniform, the lattice samples inside the aabb (each tested
        against the mask); RT-NeRF, the candidate lattice samples of the cube-pixel pairs.
    samples_evaluated : int
        Samples whose density was computed (embedding reads).
    samples_skipped_empty : int
        Uniform: samples in the aabb rejected by the mask. RT-NeRF: candidates whose cell was
        another cube (never in an empty cell: empty space is never visited).
    samples_skipped_transmittance : int
        RT-NeRF: samples of their cube skipped because ``T <= 1e-4`` (uniform: 0).
    app_evaluated : int
        Samples whose appearance was computed (weight > 1e-4).
    cube_pixel_pairs : int
        RT-NeRF: slab tests run (0 for uniform).
    cubes : int
        RT-NeRF: non-zero cubes processed (0 for uniform).
    density_plane_reads, density_line_reads, app_plane_reads, app_line_reads : int
        Embedding element reads: 4 per plane and 2 per line component per evaluated sample.
    cubes_culled : int
        RT-NeRF: (cube, tile) pairs dropped whole because every pixel of the cube's box in the
        tile had ``T <= 1e-4`` (their samples are not generated, so not counted above).
    """

    samples_generated: int
    samples_evaluated: int
    samples_skipped_empty: int
    samples_skipped_transmittance: int
    app_evaluated: int
    cube_pixel_pairs: int
    cubes: int
    density_plane_reads: int
    density_line_reads: int
    app_plane_reads: int
    app_line_reads: int
    cubes_culled: int = 0

    @property
    def element_reads(self) -> int:
        """All embedding element reads of the frame."""
        return (
            self.density_plane_reads
            + self.density_line_reads
            + self.app_plane_reads
            + self.app_line_reads
        )

    def to_dict(self) -> dict[str, int]:
        """The counters plus ``element_reads``."""
        out = dataclasses.asdict(self)
        out["element_reads"] = self.element_reads
        return out


@dataclasses.dataclass(frozen=True, eq=False)
class RenderResult:
    """One rendered frame.

    Attributes
    ----------
    image : numpy.ndarray
        float32 ``(H, W, 3)`` in ``[0, 1]``.
    stats : RenderStats
        Work counters.
    touched : numpy.ndarray
        bool ``(2, 3, N)``: ``touched[kind, m, i1]`` when a plane read of kind (0 density,
        1 appearance) and mode ``m`` touched index ``i1`` (rows ``r * N + i1`` of every
        component ``r`` of table ``{kind}_plane{m}``).
    seconds : float
        Wall time of the render call (JIT compilation excluded after the first call).
    """

    image: np.ndarray
    stats: RenderStats
    touched: np.ndarray
    seconds: float


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in ``[0, 1]`` (``inf`` when identical)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


# -- uniform ---------------------------------------------------------------------------------


@numba.njit(cache=True, parallel=True)
def _render_uniform(
    o,
    d,
    tmin,
    width,
    height,
    lo,
    scale2,
    n,
    cubes,
    n_samples,
    step,
    dplanes,
    dlines,
    aplanes,
    alines,
    basis,
    shift,
    dscale,
    mat,
    vec,
    image,
    counts,
    touched,
    colour,
):
    rc3 = 3 * aplanes.shape[1] if colour else 0
    for row in numba.prange(height):
        xh = np.empty(3)
        cell = np.empty(3, np.int64)
        iw = np.empty(6)
        feat = np.empty(rc3)
        sh = np.empty(9)
        state = np.empty(5)
        cnt = counts[row]
        for col in range(width):
            pix = row * width + col
            state[0] = 1.0
            state[1] = 0.0
            state[2] = 0.0
            state[3] = 0.0
            state[4] = 0.0
            _sh2_one(d[pix, 0], d[pix, 1], d[pix, 2], sh)
            started = False
            for k in range(n_samples):
                t = tmin[pix] + k * step
                if not locate_sample(o[pix], d[pix], t, lo, scale2, n, xh, cell):
                    if started:
                        break  # left the aabb: the rest of the ray is outside
                    continue
                started = True
                cnt[2] += 1
                if not cubes[cell[0], cell[1], cell[2]]:
                    cnt[3] += 1
                    continue
                shade_sample(
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
                    touched[row],
                    iw,
                    feat,
                    state,
                    cnt,
                )
            finish_pixel(state, image, pix)


# -- RT-NeRF ---------------------------------------------------------------------------------


@numba.njit(cache=True)
def _cube_boxes(ids, lo, cell_size, c2w, focal, width, height, boxes):
    """Pixel bounding box ``[x0, x1, y0, y1]`` (inclusive, +1 pixel) of each cube's corners."""
    big = width + height
    for q in range(ids.shape[0]):
        umin = 1e30
        umax = -1e30
        vmin = 1e30
        vmax = -1e30
        behind = False
        for corner in range(8):
            p0 = lo[0] + (ids[q, 0] + (corner & 1)) * cell_size[0] - c2w[0, 3]
            p1 = lo[1] + (ids[q, 1] + ((corner >> 1) & 1)) * cell_size[1] - c2w[1, 3]
            p2 = lo[2] + (ids[q, 2] + ((corner >> 2) & 1)) * cell_size[2] - c2w[2, 3]
            xc = c2w[0, 0] * p0 + c2w[1, 0] * p1 + c2w[2, 0] * p2
            yc = c2w[0, 1] * p0 + c2w[1, 1] * p1 + c2w[2, 1] * p2
            zc = c2w[0, 2] * p0 + c2w[1, 2] * p1 + c2w[2, 2] * p2
            if zc <= 1e-6:
                behind = True
                break
            u = focal * xc / zc + width / 2
            v = focal * yc / zc + height / 2
            umin = min(umin, u)
            umax = max(umax, u)
            vmin = min(vmin, v)
            vmax = max(vmax, v)
        if behind:
            boxes[q, 0] = 0
            boxes[q, 1] = width - 1
            boxes[q, 2] = 0
            boxes[q, 3] = height - 1
            continue
        # Pixel centres i + 0.5 inside [umin, umax], widened by one pixel for rounding.
        boxes[q, 0] = max(0, math.ceil(max(umin, -big) - 0.5) - 1)
        boxes[q, 1] = min(width - 1, math.floor(min(umax, big) - 0.5) + 1)
        boxes[q, 2] = max(0, math.ceil(max(vmin, -big) - 0.5) - 1)
        boxes[q, 3] = min(height - 1, math.floor(min(vmax, big) - 0.5) + 1)


@numba.njit(cache=True)
def _bin_tiles(order, boxes, tiles_x, tiles_y, tile, fill, starts, lists):
    """CSR lists of cubes per screen tile, in ``order`` (count pass, then fill pass)."""
    for q in order:
        x0, x1, y0, y1 = boxes[q, 0], boxes[q, 1], boxes[q, 2], boxes[q, 3]
        if x0 > x1 or y0 > y1:
            continue
        for ty in range(y0 // tile, y1 // tile + 1):
            for tx in range(x0 // tile, x1 // tile + 1):
                b = ty * tiles_x + tx
                if fill:
                    lists[starts[b]] = q
                starts[b] += 1


@numba.njit(cache=True, parallel=True)
def _render_rtnerf(
    o,
    d,
    tmin,
    width,
    height,
    lo,
    scale2,
    cell_size,
    n,
    ids,
    boxes,
    starts,
    lists,
    tiles_x,
    tile,
    n_samples,
    step,
    t_skip,
    dplanes,
    dlines,
    aplanes,
    alines,
    basis,
    shift,
    dscale,
    mat,
    vec,
    image,
    state_all,
    counts,
    touched,
    colour,
):
    n_tiles = starts.size - 1
    rc3 = 3 * aplanes.shape[1] if colour else 0
    for b in numba.prange(n_tiles):
        xh = np.empty(3)
        cell = np.empty(3, np.int64)
        iw = np.empty(6)
        feat = np.empty(rc3)
        sh = np.empty(9)
        cnt = counts[b]
        tx0 = (b % tiles_x) * tile
        ty0 = (b // tiles_x) * tile
        tx1 = min(tx0 + tile, width) - 1
        ty1 = min(ty0 + tile, height) - 1
        for py in range(ty0, ty1 + 1):
            for px in range(tx0, tx1 + 1):
                state_all[py * width + px, 0] = 1.0
        for e in range(starts[b], starts[b + 1]):
            q = lists[e]
            y0 = max(boxes[q, 2], ty0)
            y1 = min(boxes[q, 3], ty1)
            x0 = max(boxes[q, 0], tx0)
            x1 = min(boxes[q, 1], tx1)
            # Coarse-grained skipping: a cube none of whose pixels in this tile can still
            # see anything is dropped before any geometry.
            visible = False
            for py in range(y0, y1 + 1):
                for px in range(x0, x1 + 1):
                    if state_all[py * width + px, 0] > t_skip:
                        visible = True
                        break
                if visible:
                    break
            if not visible:
                cnt[6] += 1
                continue
            for py in range(y0, y1 + 1):
                for px in range(x0, x1 + 1):
                    pix = py * width + px
                    cnt[5] += 1
                    t_in = -1e30
                    t_out = 1e30
                    for a in range(3):
                        da = d[pix, a]
                        if da == 0.0:
                            da = 1e-12
                        b0 = (lo[a] + ids[q, a] * cell_size[a] - o[pix, a]) / da
                        b1 = (lo[a] + (ids[q, a] + 1) * cell_size[a] - o[pix, a]) / da
                        t_in = max(t_in, min(b0, b1))
                        t_out = min(t_out, max(b0, b1))
                    if t_in > t_out:
                        continue
                    # The lattice indices in [t_in, t_out], widened by 1e-6 of a step for
                    # rounding; the cell test below decides membership exactly.
                    k0 = max(0, math.ceil((t_in - tmin[pix]) / step - 1e-6))
                    k1 = min(n_samples - 1, math.floor((t_out - tmin[pix]) / step + 1e-6))
                    st = state_all[pix]
                    for k in range(k0, k1 + 1):
                        t = tmin[pix] + k * step
                        cnt[2] += 1
                        if not locate_sample(o[pix], d[pix], t, lo, scale2, n, xh, cell):
                            cnt[3] += 1
                            continue
                        if cell[0] != ids[q, 0] or cell[1] != ids[q, 1] or cell[2] != ids[q, 2]:
                            cnt[3] += 1
                            continue
                        if st[0] <= t_skip:
                            cnt[4] += 1
                            continue
                        _sh2_one(d[pix, 0], d[pix, 1], d[pix, 2], sh)
                        shade_sample(
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
                            touched[b],
                            iw,
                            feat,
                            st,
                            cnt,
                        )
        for py in range(ty0, ty1 + 1):
            for px in range(tx0, tx1 + 1):
                finish_pixel(state_all[py * width + px], image, py * width + px)


# -- public ----------------------------------------------------------------------------------


def _model_args(model: TensorfVM) -> tuple:
    return (
        model.density_planes,
        model.density_lines,
        model.app_planes,
        model.app_lines,
        model.basis,
        float(model.density_shift),
        float(model.distance_scale),
        _MAT,
        _VEC,
    )


def _stats(counts: np.ndarray, model: TensorfVM, *, cubes: int = 0) -> RenderStats:
    c = counts.sum(axis=0)
    dens, app = int(c[0]), int(c[1])
    rs, rc = model.density_components, model.app_components
    return RenderStats(
        samples_generated=int(c[2]),
        samples_evaluated=dens,
        samples_skipped_empty=int(c[3]),
        samples_skipped_transmittance=int(c[4]),
        app_evaluated=app,
        cube_pixel_pairs=int(c[5]),
        cubes=cubes,
        density_plane_reads=dens * 3 * rs * 4,
        density_line_reads=dens * 3 * rs * 2,
        app_plane_reads=app * 3 * rc * 4,
        app_line_reads=app * 3 * rc * 2,
        cubes_culled=int(c[6]),
    )


def _frame_inputs(model: TensorfVM, cam: Camera):
    o, d = camera_rays(cam)
    tmin = ray_t_min(model, o, d)
    lo = np.ascontiguousarray(model.aabb[0])
    scale2 = np.ascontiguousarray(2.0 / model.aabb_size)
    return o, d, tmin, lo, scale2


def render_uniform(model: TensorfVM, cam: Camera, *, colour: bool = True) -> RenderResult:
    """Render one frame by TensoRF's uniform ray marching with the alpha mask.

    Parameters
    ----------
    model : TensorfVM
        The scene.
    cam : Camera
        The view.
    colour : bool
        ``False`` skips the appearance arithmetic (and its touched rows): the counters are the
        same, the image has no colour (a counters-only frame).

    Returns
    -------
    RenderResult
        Image, counters, touched rows and wall time.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    t0 = time.perf_counter()
    o, d, tmin, lo, scale2 = _frame_inputs(model, cam)
    n = model.resolution
    image = np.zeros((cam.width * cam.height, 3), np.float32)
    counts = np.zeros((cam.height, 8), np.int64)
    touched = np.zeros((cam.height, 2, 3, n), np.bool_)
    _render_uniform(
        o,
        d,
        tmin,
        cam.width,
        cam.height,
        lo,
        scale2,
        n,
        model.cubes,
        model.n_samples,
        model.step_size,
        *_model_args(model),
        image,
        counts,
        touched,
        bool(colour),
    )
    return RenderResult(
        image.reshape(cam.height, cam.width, 3),
        _stats(counts, model),
        touched.any(axis=0),
        time.perf_counter() - t0,
    )


def render_rtnerf(
    model: TensorfVM,
    cam: Camera,
    *,
    t_skip: float = TRANSMITTANCE_SKIP,
    tile: int = TILE,
    colour: bool = True,
) -> RenderResult:
    """Render one frame by the RT-NeRF cube pipeline (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        The scene.
    cam : Camera
        The view.
    t_skip : float
        Transmittance at or below which samples are skipped (0 disables skipping).
    tile : int
        Screen tile edge in pixels.
    colour : bool
        As for :func:`render_uniform`.

    Returns
    -------
    RenderResult
        Image, counters, touched rows and wall time (cube ordering and binning included).
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    check_int("tile", tile, minimum=1)
    if not 0 <= t_skip < 1:
        raise ValueError(f"`t_skip` must be in [0, 1), not {t_skip!r}")
    t0 = time.perf_counter()
    o, d, tmin, lo, scale2 = _frame_inputs(model, cam)
    n = model.resolution
    cs = np.ascontiguousarray(model.cell_size)
    ids = np.argwhere(model.cubes).astype(np.int64)
    cam_cell = np.floor((cam.position - model.aabb[0]) / cs).astype(np.int64)
    shell = np.abs(ids - cam_cell).sum(axis=1)
    order = np.argsort(shell, kind="stable").astype(np.int64)
    boxes = np.empty((ids.shape[0], 4), np.int64)
    _cube_boxes(
        ids, lo, cs, np.ascontiguousarray(cam.c2w), float(cam.focal), cam.width, cam.height, boxes
    )
    tiles_x = -(-cam.width // tile)
    tiles_y = -(-cam.height // tile)
    counts_per_tile = np.zeros(tiles_x * tiles_y, np.int64)
    _bin_tiles(order, boxes, tiles_x, tiles_y, tile, False, counts_per_tile, np.zeros(0, np.int64))
    starts = np.zeros(tiles_x * tiles_y + 1, np.int64)
    np.cumsum(counts_per_tile, out=starts[1:])
    lists = np.empty(int(starts[-1]), np.int64)
    fill = starts[:-1].copy()
    _bin_tiles(order, boxes, tiles_x, tiles_y, tile, True, fill, lists)
    image = np.zeros((cam.width * cam.height, 3), np.float32)
    # Per pixel: T, r, g, b, acc.
    state = np.zeros((cam.width * cam.height, 5))
    counts = np.zeros((tiles_x * tiles_y, 8), np.int64)
    touched = np.zeros((tiles_x * tiles_y, 2, 3, n), np.bool_)
    _render_rtnerf(
        o,
        d,
        tmin,
        cam.width,
        cam.height,
        lo,
        scale2,
        cs,
        n,
        ids,
        boxes,
        starts,
        lists,
        tiles_x,
        tile,
        model.n_samples,
        model.step_size,
        float(t_skip),
        *_model_args(model),
        image,
        state,
        counts,
        touched,
        bool(colour),
    )
    return RenderResult(
        image.reshape(cam.height, cam.width, 3),
        _stats(counts, model, cubes=int(ids.shape[0])),
        touched.any(axis=0),
        time.perf_counter() - t0,
    )


def render(
    model: TensorfVM, cam: Camera, pipeline: str = "uniform", *, colour: bool = True
) -> RenderResult:
    """Render with ``pipeline`` ``"uniform"`` or ``"rtnerf"`` (``colour``: as the others)."""
    if pipeline == "uniform":
        return render_uniform(model, cam, colour=colour)
    if pipeline == "rtnerf":
        return render_rtnerf(model, cam, colour=colour)
    raise ValueError(f"`pipeline` must be 'uniform' or 'rtnerf', not {pipeline!r}")
