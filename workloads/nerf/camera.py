"""Pinhole cameras, the orbit of views the NeRF studies render, and their rays.

The OpenCV convention (x right, y down, z forward); rays through pixel centres with unit
directions; ``t_min`` as TensoRF's ``sample_ray`` computes it (the ray's entry into the model's
aabb clamped to ``[near, far]``). Both renderers (:mod:`.render`) and the trace builder
(:mod:`.accel`) take their rays from here.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...params import check_int
from .model import TensorfVM

__all__ = ["Camera", "camera_rays", "orbit_cameras", "ray_t_min"]


@dataclasses.dataclass(frozen=True)
class Camera:
    """A pinhole camera (OpenCV convention: x right, y down, z forward).

    Attributes
    ----------
    c2w : numpy.ndarray
        ``(3, 4)`` camera-to-world ``[R | t]``: columns right, down, forward, position.
    focal : float
        Focal length in pixels.
    width, height : int
        Image size in pixels; pixel centres at ``+0.5``.
    """

    c2w: np.ndarray
    focal: float
    width: int
    height: int

    @property
    def position(self) -> np.ndarray:
        """Camera centre in world coordinates."""
        return self.c2w[:, 3]


def orbit_cameras(
    views: int,
    resolution: int,
    *,
    radius: float = 5.0,
    elevation_deg: float = 30.0,
    fov_deg: float = 39.6,
    target: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> list[Camera]:
    """``views`` cameras evenly spaced on a circle around the z axis, looking at ``target``.

    Defaults: Blender-synthetic-like 39.6° field of view and square images, radius 5 (the
    objects reach ±1.3, Blender's ±1 at radius 4).
    """
    check_int("views", views, minimum=1)
    check_int("resolution", resolution, minimum=1)
    if not radius > 0:
        raise ValueError(f"`radius` must be positive, not {radius!r}")
    focal = 0.5 * resolution / math.tan(math.radians(fov_deg) / 2)
    el = math.radians(elevation_deg)
    tgt = np.asarray(target, np.float64)
    cams = []
    for v in range(views):
        az = 2 * math.pi * v / views
        eye = tgt + radius * np.array(
            [math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)]
        )
        fwd = tgt - eye
        fwd /= np.linalg.norm(fwd)
        right = np.cross(fwd, [0.0, 0.0, 1.0])
        right /= np.linalg.norm(right)
        down = np.cross(fwd, right)
        c2w = np.stack([right, down, fwd, eye], axis=1)
        cams.append(Camera(c2w, focal, resolution, resolution))
    return cams


def camera_rays(cam: Camera) -> tuple[np.ndarray, np.ndarray]:
    """Origins and unit directions ``(H * W, 3)`` of the pixel-centre rays, row-major."""
    j, i = np.meshgrid(np.arange(cam.height), np.arange(cam.width), indexing="ij")
    d = np.stack(
        [
            (i + 0.5 - cam.width / 2) / cam.focal,
            (j + 0.5 - cam.height / 2) / cam.focal,
            np.ones_like(i, np.float64),
        ],
        axis=-1,
    ).reshape(-1, 3)
    d = d @ cam.c2w[:, :3].T
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.broadcast_to(cam.position, d.shape).copy()
    return o, np.ascontiguousarray(d)


def ray_t_min(model: TensorfVM, origins: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """TensoRF's ``t_min``: ray entry into the aabb, clamped to ``[near, far]``."""
    vec = np.where(dirs == 0, 1e-6, dirs)
    rate_a = (model.aabb[1] - origins) / vec
    rate_b = (model.aabb[0] - origins) / vec
    return np.clip(np.minimum(rate_a, rate_b).max(axis=1), model.near, model.far)
