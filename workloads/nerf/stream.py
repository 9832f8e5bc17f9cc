"""Streaming the planes of a model that does not fit on chip: visits in RT-NeRF's coarse order.

RT-NeRF's coarse-grained view-dependent order processes the non-zero cubes front to back. For
streaming, the cubes are grouped into **cube groups** of ``cube_group``³ cells and the screen
into **screen tiles** of ``screen_tile`` x ``screen_tile`` pixels. A **visit** is one (screen
tile, cube group) pair with at least one evaluated sample; visits run screen tile by screen tile
(row-major), and within a tile group by group in Manhattan-shell order around the camera's group
(ties by group index). Along any ray from the eye every axis' group distance to the camera's
group never decreases and one strictly increases at each new group, so the group shell strictly
increases along every ray: shell order is an exact front-to-back order for all rays, and the
early termination of every ray (``T <= 1e-4``) evaluates exactly the RT-NeRF renderer's samples.
Within a visit the samples keep the renderer's order (16 x 16 tiles, cubes by shell, pixels,
front to back).

Before a visit's quads issue, the DRAM bursts holding the directory entries and payloads of
the texel rows its samples read are loaded into the on-chip tile buffer (double-buffered: the
next visit loads while this one computes), each burst **once per visit** and reused by all the
visit's samples. The frame's DRAM bytes are the sum over visits
(:func:`rtnerf.models.perf.nerf.lookup_stage`), reported against the compressed touched-bytes
lower bound (each burst the frame touches, once: :func:`rtnerf.models.perf.nerf.touched_bytes`).
The pixel state of a screen tile (``T`` and the colour sums, 4 x 16 bits per pixel) stays on
chip for the tile's visits.

The uniform pipeline has no cubes: its visits are the screen tiles (rays in image order).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...params import check_int
from .accel import FrameSamples
from .camera import Camera
from .model import TensorfVM

__all__ = ["PIXEL_STATE_BYTES", "StreamParams", "Visits", "visits"]

#: On-chip bytes of one pixel's state while its tile is processed: T, r, g, b at 16 bits.
PIXEL_STATE_BYTES = 8


@dataclasses.dataclass(frozen=True, kw_only=True)
class StreamParams:
    """How a frame is cut into visits.

    Parameters
    ----------
    cube_group : int
        Cubes per side of a cube group (16: a plane tile of 8 x 8 class texels per group).
    screen_tile : int
        Pixels per side of a screen tile (a whole frame when at least its size); its pixel
        state (:data:`PIXEL_STATE_BYTES` each) is on chip: 200 x 200 is 312 KiB.
    """

    cube_group: int = 16
    screen_tile: int = 200

    def __post_init__(self) -> None:
        check_int("cube_group", self.cube_group, minimum=1, maximum=512)
        check_int("screen_tile", self.screen_tile, minimum=1, maximum=1 << 16)


@dataclasses.dataclass(frozen=True, eq=False)
class Visits:
    """A frame's samples reordered into visits.

    Attributes
    ----------
    order : numpy.ndarray
        ``int64`` ``(S,)``: the samples (indices into the given :class:`FrameSamples`) in issue
        order.
    visit : numpy.ndarray
        ``int64`` ``(S,)``: the visit of each sample in issue order, non-decreasing from 0.
    count : int
        Visits.
    pixel_state_bytes : int
        On-chip bytes of one screen tile's pixel state.
    """

    order: np.ndarray
    visit: np.ndarray
    count: int
    pixel_state_bytes: int


def visits(
    model: TensorfVM, cam: Camera, samples: FrameSamples, params: StreamParams | None = None
) -> Visits:
    """Cut a frame's samples into visits (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        The scene (grid and aabb).
    cam : Camera
        The view (camera position and image width).
    samples : FrameSamples
        The frame's samples in the pipeline's order (:func:`.accel.frame_samples`).
    params : StreamParams or None
        Group and tile sizes (default :class:`StreamParams`).

    Returns
    -------
    Visits
        The issue order and visit ids.
    """
    if not isinstance(samples, FrameSamples):
        raise TypeError(f"`samples` must be FrameSamples, not {type(samples).__name__}")
    params = StreamParams() if params is None else params
    tile = min(params.screen_tile, max(cam.width, cam.height))
    py, px = samples.ray // cam.width, samples.ray % cam.width
    tiles_x = -(-cam.width // tile)
    stile = (py // tile) * tiles_x + px // tile
    if samples.pipeline == "uniform":
        keys = (stile,)
    else:
        n = model.resolution
        u = (samples.points + 1.0) * 0.5 * (n - 1)
        cell = np.clip(np.floor(u), 0, n - 2).astype(np.int64)
        g = params.cube_group
        group = cell // g
        cam_cell = np.floor((cam.position - model.aabb[0]) / model.cell_size).astype(np.int64)
        shell = np.abs(group - cam_cell // g).sum(axis=1)
        gpa = -(-(n - 1) // g)
        gid = (group[:, 0] * gpa + group[:, 1]) * gpa + group[:, 2]
        keys = (gid, shell, stile)  # lexsort: last key first
    order = np.lexsort(keys) if samples.samples else np.zeros(0, np.int64)
    sorted_keys = (
        np.stack([k[order] for k in keys], axis=1) if samples.samples else np.zeros((0, 1))
    )
    new = np.ones(order.size, np.bool_)
    if order.size:
        new[1:] = (sorted_keys[1:] != sorted_keys[:-1]).any(axis=1)
    visit = np.cumsum(new) - 1
    return Visits(
        order=order.astype(np.int64),
        visit=visit.astype(np.int64),
        count=int(visit[-1]) + 1 if visit.size else 0,
        pixel_state_bytes=tile * tile * PIXEL_STATE_BYTES,
    )
