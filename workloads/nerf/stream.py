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
the texel rows its samples read are loaded on chip (double-buffered: the next visit loads while
this one computes) and reused by all the visit's samples. Two buffer policies
(:attr:`StreamParams.policy`):

* ``"lru"`` (the default): the design point's sparse embedding buffer, less the pixel state
  and the lines, is a **retaining burst buffer** (:func:`buffer_slots`): a burst stays on chip
  across visits until evicted, LRU at visit granularity
  (:func:`rtnerf.models.perf.nerf.lookup_stage`'s ``capacity``), so a visit loads only the
  bursts it reads that are not resident. When the frame's touched bursts fit, each is loaded
  once: the lower bound. Rows keep their bank-map positions for the bank schedule; the slot
  a burst lands in is found through a burst-to-slot table whose bits, with each slot's owner
  and last-visit stamp, are counted in the buffer (:func:`bookkeeping_bytes`). A buffer too
  small for two visits' bursts is grown to the tile buffer below (the smallest that runs).
* ``"visit"``: a **tile buffer** of twice the largest visit's bytes; each burst is loaded
  **once per visit**, whatever earlier visits loaded.

The frame's DRAM bytes are the sum over visits, reported against the compressed touched-bytes
lower bound (each burst the frame touches, once: :func:`rtnerf.models.perf.nerf.touched_bytes`).
Every frame starts with an empty buffer (no reuse across frames). The pixel state of a screen
tile (``T`` and the colour sums, 4 x 16 bits per pixel) stays on chip for the tile's visits.

The uniform pipeline has no cubes: its visits are the screen tiles (rays in image order).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ...params import check_choice, check_int
from .accel import FrameSamples
from .camera import Camera
from .model import TensorfVM

__all__ = [
    "PIXEL_STATE_BYTES",
    "POLICIES",
    "STAMP_BITS",
    "StreamParams",
    "Visits",
    "bookkeeping_bytes",
    "buffer_slots",
    "visits",
]

#: On-chip bytes of one pixel's state while its tile is processed: T, r, g, b at 16 bits.
PIXEL_STATE_BYTES = 8
#: Buffer policies: a retaining burst buffer (LRU at visit granularity) or a per-visit tile buffer.
POLICIES = ("lru", "visit")
#: Bits of a slot's last-visit stamp in the retaining buffer (visits are counted modulo 2**16).
STAMP_BITS = 16


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
    policy : str
        ``"lru"``: the buffer retains bursts across visits; ``"visit"``: a tile buffer loads
        every visit's bursts (see the module docstring).
    """

    cube_group: int = 16
    screen_tile: int = 200
    policy: str = "lru"

    def __post_init__(self) -> None:
        check_int("cube_group", self.cube_group, minimum=1, maximum=512)
        check_int("screen_tile", self.screen_tile, minimum=1, maximum=1 << 16)
        check_choice("policy", self.policy, POLICIES)


def bookkeeping_bytes(slots: int, dram_bursts: int) -> int:
    """On-chip bytes that track a retaining buffer of ``slots`` bursts over ``dram_bursts``.

    A burst-to-slot table (per DRAM burst of the model: a valid bit and a slot index) and per
    slot its owner (a burst index) and last-visit stamp (:data:`STAMP_BITS`), for eviction.
    """
    check_int("slots", slots, minimum=0)
    check_int("dram_bursts", dram_bursts, minimum=0)
    if not slots:
        return 0
    slot_bits = max(1, (slots - 1).bit_length())
    owner_bits = max(1, (dram_bursts - 1).bit_length())
    bits = dram_bursts * (1 + slot_bits) + slots * (owner_bits + STAMP_BITS)
    return -(-bits // 8)


def buffer_slots(free_bytes: int, dram_bursts: int, burst_bytes: int) -> int:
    """Most bursts a retaining buffer holds in ``free_bytes`` with its bookkeeping.

    Parameters
    ----------
    free_bytes : int
        On-chip bytes left for the buffer (the sparse embedding buffer less the pixel state and
        the lines); may be negative (then 0).
    dram_bursts, burst_bytes : int
        The model's DRAM bursts and their size.
    """
    check_int("burst_bytes", burst_bytes, minimum=1)
    lo, hi = 0, max(0, free_bytes) // burst_bytes
    while lo < hi:  # the largest n with n bursts + bookkeeping(n) <= free_bytes
        mid = (lo + hi + 1) // 2
        if mid * burst_bytes + bookkeeping_bytes(mid, dram_bursts) <= free_bytes:
            lo = mid
        else:
            hi = mid - 1
    return lo


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
