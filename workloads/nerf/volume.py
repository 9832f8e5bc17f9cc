"""Scene volumes from real scans: OFF meshes, VTK image data, voxelisation, albedo.

A scene is a :class:`SceneVolume`: target density ``sigma`` and colour ``rgb`` on the
``N x N x N`` vertex grid of the model's aabb (indexed ``[x, y, z]``, vertex ``i`` at
``aabb[0] + i * (aabb[1] - aabb[0]) / (N - 1)``, the ``align_corners=True`` convention of
:mod:`.model`). Scenes (:data:`SCENES`):

* ``bunny``, ``armadillo``, ``dragon``: the Stanford scans shipped in Debian's ``libcgal-demo``
  (dataset ``meshes``: ``bunny00.off``, ``armadillo.off``, ``ChineseDragon-10kv.off``). The mesh
  is centred, scaled to a half-extent of :data:`OBJECT_EXTENT`, turned from y-up to z-up, and
  voxelised by :func:`voxelize_mesh` (inside by ray parity along the three axes with a 2-of-3
  vote, which tolerates the scans' holes, plus every vertex near a surface sample so thin parts
  survive; then a Gaussian blur of 0.6 cells gives a soft surface).
* ``frog``: the LBL whole-frog CT tissue labels shipped in the ``pyvista`` wheel (dataset
  ``frog``, ``frog_tissues.vti``, 500 x 470 x 136 at spacing 1 x 1 x 1.5): label > 0 is matter,
  resampled trilinearly onto the grid, then blurred like the meshes.
* ``test``: a torus and two spheres, generated analytically (tests and the quick demo).

Density inside matter is :data:`SIGMA_MAX` (opaque within about one sample at 128³: alpha
``1 - exp(-20 * 0.0118 * 25) = 0.997``). Colour is a deterministic albedo of position and
surface normal (:func:`albedo`): bands of sinusoids in position, brightened on up-facing and
tinted on x-facing surfaces, so images have texture.
"""

from __future__ import annotations

import base64
import dataclasses
import math
import re
import struct
import zlib
from pathlib import Path

import numba
import numpy as np

from ...params import check_int
from . import SCENES

__all__ = [
    "AABB",
    "OBJECT_EXTENT",
    "SCENES",
    "SIGMA_MAX",
    "SceneVolume",
    "albedo",
    "blur",
    "grid_points",
    "load_scene",
    "read_off",
    "read_vti",
    "scene_volume",
    "voxelize_mesh",
]

#: Model bounding box of every scene (Blender's ±1.5).
AABB = np.array([[-1.5, -1.5, -1.5], [1.5, 1.5, 1.5]])
#: Half-extent the object is scaled to (largest axis).
OBJECT_EXTENT = 1.3
#: Target density inside matter.
SIGMA_MAX = 20.0


@dataclasses.dataclass(frozen=True, eq=False)
class SceneVolume:
    """Target fields of a scene on the vertex grid.

    Attributes
    ----------
    name : str
        Scene name.
    aabb : numpy.ndarray
        ``(2, 3)`` bounding box.
    sigma : numpy.ndarray
        float32 ``(N, N, N)`` ``[x, y, z]`` target density.
    rgb : numpy.ndarray
        float32 ``(N, N, N, 3)`` target albedo in ``[0, 1]``.
    """

    name: str
    aabb: np.ndarray
    sigma: np.ndarray
    rgb: np.ndarray

    @property
    def resolution(self) -> int:
        """Vertices per axis."""
        return int(self.sigma.shape[0])


# -- readers ----------------------------------------------------------------------------------


def read_off(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read an OFF mesh.

    Comments (``#`` to the end of a line) are ignored, the counts may follow ``OFF`` on the same
    line, and polygons with more than three vertices are split into triangle fans.

    Parameters
    ----------
    path : str or Path
        The ``.off`` file.

    Returns
    -------
    vertices : numpy.ndarray
        float64 ``(V, 3)``.
    faces : numpy.ndarray
        int64 ``(F, 3)`` triangles.

    Raises
    ------
    ValueError
        If the file is not an OFF mesh or is truncated, or a face index is out of range.
    """
    text = Path(path).read_text(encoding="latin-1")
    tokens = re.sub(r"#[^\n]*", " ", text).split()
    if not tokens or not tokens[0].endswith("OFF"):
        raise ValueError(f"`path` must be an OFF file, not {str(path)!r} (no OFF header)")
    try:
        nv, nf = int(tokens[1]), int(tokens[2])
        p = 4
        verts = np.array(tokens[p : p + 3 * nv], np.float64)
        if verts.size != 3 * nv:
            raise IndexError
        verts = verts.reshape(nv, 3)
        p += 3 * nv
        tris: list[list[int]] = []
        for _ in range(nf):
            k = int(tokens[p])
            idx = [int(t) for t in tokens[p + 1 : p + 1 + k]]
            if len(idx) != k:
                raise IndexError
            p += 1 + k
            # Colour values may follow the indices on a face line; OFF files here have none,
            # so a face line is exactly k + 1 tokens.
            tris.extend([idx[0], idx[j], idx[j + 1]] for j in range(1, k - 1))
    except (IndexError, ValueError):
        raise ValueError(f"`path` must be a complete OFF file, not {str(path)!r}") from None
    faces = np.array(tris, np.int64).reshape(-1, 3)
    if faces.size and (faces.min() < 0 or faces.max() >= nv):
        raise ValueError(f"`path` has a face index out of range 0..{nv - 1}: {str(path)!r}")
    return verts, faces


_VTK_TYPES = {
    "Int8": np.int8,
    "UInt8": np.uint8,
    "Int16": np.int16,
    "UInt16": np.uint16,
    "Int32": np.int32,
    "UInt32": np.uint32,
    "Float32": np.float32,
    "Float64": np.float64,
}


def read_vti(path: str | Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Read the first point-data array of a VTK XML ImageData file (inline base64 + zlib).

    Parameters
    ----------
    path : str or Path
        A ``.vti`` file with ``format="binary"`` data compressed by ``vtkZLibDataCompressor``
        and a ``UInt32`` header (as pyvista's ``frog_tissues.vti``).

    Returns
    -------
    array : numpy.ndarray
        ``(nz, ny, nx)`` (VTK's x-fastest order).
    spacing : tuple of float
        ``(sx, sy, sz)``.

    Raises
    ------
    ValueError
        If the file is not such an ImageData file.
    """
    s = Path(path).read_bytes().decode("latin-1")
    ext = re.search(r'WholeExtent="([^"]+)"', s)
    arr = re.search(r'<DataArray([^>]*)format="binary"[^>]*>\s*([A-Za-z0-9+/=\s]+?)\s*<', s)
    if "ImageData" not in s or ext is None or arr is None:
        raise ValueError(f"`path` must be a VTK ImageData file with inline binary data: {path!s}")
    if 'compressor="vtkZLibDataCompressor"' not in s or 'header_type="UInt64"' in s:
        raise ValueError(f"`path` must use zlib compression and UInt32 headers: {path!s}")
    typ = re.search(r'type="(\w+)"', arr.group(1))
    if typ is None or typ.group(1) not in _VTK_TYPES:
        raise ValueError(f"`path` has an unsupported data type: {path!s}")
    dtype = np.dtype(_VTK_TYPES[typ.group(1)])
    e = [int(x) for x in ext.group(1).split()]
    sp = re.search(r'Spacing="([^"]+)"', s)
    spacing = tuple(float(x) for x in sp.group(1).split()) if sp else (1.0, 1.0, 1.0)
    b64 = re.sub(r"\s+", "", arr.group(2))
    nb = struct.unpack("<I", base64.b64decode(b64[:8])[:4])[0]
    hl = 4 * (3 + nb)
    hc = 4 * math.ceil(hl / 3)
    sizes = struct.unpack(f"<{3 + nb}I", base64.b64decode(b64[:hc])[:hl])[3:]
    data = base64.b64decode(b64[hc:])
    out = bytearray()
    p = 0
    for c in sizes:
        out += zlib.decompress(data[p : p + c])
        p += c
    dims = (e[5] - e[4] + 1, e[3] - e[2] + 1, e[1] - e[0] + 1)
    values = np.frombuffer(bytes(out), dtype)
    if values.size != math.prod(dims):
        raise ValueError(f"`path` holds {values.size} values, not {math.prod(dims)}: {path!s}")
    return values.reshape(dims), (spacing[0], spacing[1], spacing[2])


# -- voxelisation -----------------------------------------------------------------------------


@numba.njit(cache=True)
def _parity_pass(u, faces, n, axis, offp, offq, fill, counts, zs):
    """Count (``fill`` False) or record (True) crossings of grid lines along ``axis``."""
    pa = (axis + 1) % 3
    qa = (axis + 2) % 3
    for f in range(faces.shape[0]):
        a = u[faces[f, 0]]
        b = u[faces[f, 1]]
        c = u[faces[f, 2]]
        pmin = min(a[pa], b[pa], c[pa])
        pmax = max(a[pa], b[pa], c[pa])
        qmin = min(a[qa], b[qa], c[qa])
        qmax = max(a[qa], b[qa], c[qa])
        det = (b[pa] - a[pa]) * (c[qa] - a[qa]) - (c[pa] - a[pa]) * (b[qa] - a[qa])
        if det == 0.0:
            continue
        for ip in range(max(0, math.ceil(pmin - offp)), min(n - 1, math.floor(pmax - offp)) + 1):
            px = ip + offp
            for iq in range(
                max(0, math.ceil(qmin - offq)), min(n - 1, math.floor(qmax - offq)) + 1
            ):
                qx = iq + offq
                l1 = ((px - a[pa]) * (c[qa] - a[qa]) - (c[pa] - a[pa]) * (qx - a[qa])) / det
                l2 = ((b[pa] - a[pa]) * (qx - a[qa]) - (px - a[pa]) * (b[qa] - a[qa])) / det
                l0 = 1.0 - l1 - l2
                if l0 < 0.0 or l1 < 0.0 or l2 < 0.0:
                    continue
                col = ip * n + iq
                if fill:
                    zs[counts[col]] = l0 * a[axis] + l1 * b[axis] + l2 * c[axis]
                counts[col] += 1


@numba.njit(cache=True)
def _parity_fill(starts, zs, n, axis, votes):
    pa = (axis + 1) % 3
    qa = (axis + 2) % 3
    idx = np.zeros(3, np.int64)
    for col in range(n * n):
        s0 = starts[col]
        s1 = starts[col + 1]
        if s1 - s0 < 2:
            continue
        z = np.sort(zs[s0:s1])
        idx[pa] = col // n
        idx[qa] = col % n
        k = 0
        for i in range(n):
            while k < z.size and z[k] <= i:
                k += 1
            if k % 2 == 1:
                idx[axis] = i
                votes[idx[0], idx[1], idx[2]] += 1


@numba.njit(cache=True)
def _splat_surface(u, faces, n, occ):
    """Mark the nearest vertex of points spaced <= 0.5 cells over every triangle."""
    for f in range(faces.shape[0]):
        a = u[faces[f, 0]]
        b = u[faces[f, 1]]
        c = u[faces[f, 2]]
        e = max(
            np.sqrt(((b - a) ** 2).sum()),
            np.sqrt(((c - a) ** 2).sum()),
            np.sqrt(((c - b) ** 2).sum()),
        )
        k = max(1, math.ceil(e / 0.5))
        for i in range(k + 1):
            for j in range(k + 1 - i):
                s = i / k
                t = j / k
                p = a + s * (b - a) + t * (c - a)
                x = round(p[0])
                y = round(p[1])
                z = round(p[2])
                if 0 <= x < n and 0 <= y < n and 0 <= z < n:
                    occ[x, y, z] = True


def voxelize_mesh(
    vertices: np.ndarray, faces: np.ndarray, n: int, aabb: np.ndarray = AABB
) -> np.ndarray:
    """Occupancy of the ``n^3`` vertex grid of ``aabb`` by a triangle mesh.

    A vertex is occupied when at least two of the three axis-aligned parity rays through it
    call it inside, or when a surface point (triangles sampled at <= 0.5 cell spacing) lies
    nearest to it.

    Parameters
    ----------
    vertices : numpy.ndarray
        ``(V, 3)`` world coordinates.
    faces : numpy.ndarray
        ``(F, 3)`` triangles.
    n : int
        Vertices per axis, >= 2.
    aabb : numpy.ndarray
        ``(2, 3)`` box of the grid.

    Returns
    -------
    numpy.ndarray
        bool ``(n, n, n)`` ``[x, y, z]``.
    """
    check_int("n", n, minimum=2)
    aabb = np.asarray(aabb, np.float64)
    u = (np.asarray(vertices, np.float64) - aabb[0]) / ((aabb[1] - aabb[0]) / (n - 1))
    u = np.ascontiguousarray(u)
    f = np.ascontiguousarray(faces, np.int64)
    votes = np.zeros((n, n, n), np.int8)
    # Irrational sub-cell offsets keep the parity rays off mesh vertices and edges; the vote
    # is taken at the vertex itself, the offset moves the ray by under 0.001 cell.
    offp, offq = 1e-4 * math.sqrt(2), 1e-4 * math.sqrt(3)
    for axis in range(3):
        counts = np.zeros(n * n, np.int64)
        _parity_pass(u, f, n, axis, offp, offq, False, counts, np.zeros(0))
        starts = np.zeros(n * n + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        zs = np.empty(int(starts[-1]))
        fill = starts[:-1].copy()
        _parity_pass(u, f, n, axis, offp, offq, True, fill, zs)
        _parity_fill(starts, zs, n, axis, votes)
    occ = votes >= 2
    _splat_surface(u, f, n, occ)
    return occ


def blur(volume: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur (truncated at 3 sigma, zero outside) of a 3-D array, float32."""
    out = np.asarray(volume, np.float32)
    if sigma <= 0:
        return out.copy()
    k = max(1, math.ceil(3 * sigma))
    w = np.exp(-0.5 * (np.arange(-k, k + 1) / sigma) ** 2)
    w = (w / w.sum()).astype(np.float32)
    for axis in range(3):
        src = np.moveaxis(out, axis, 0)
        acc = np.zeros_like(src)
        n = src.shape[0]
        for j, wj in enumerate(w):
            d = j - k
            lo, hi = max(0, -d), min(n, n - d)
            acc[lo:hi] += wj * src[lo + d : hi + d]
        out = np.moveaxis(acc, 0, axis)
    return np.ascontiguousarray(out)


def grid_points(n: int, aabb: np.ndarray = AABB) -> np.ndarray:
    """World coordinates ``(n, n, n, 3)`` of the vertex grid (float64)."""
    aabb = np.asarray(aabb, np.float64)
    axes = [np.linspace(aabb[0, a], aabb[1, a], n) for a in range(3)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)


def albedo(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Deterministic albedo ``(..., 3)`` in ``[0.05, 0.95]`` from world position and normal.

    Sinusoid bands along each axis (different per channel) plus a normal term: up-facing
    (``+z``) surfaces are lighter and ``±x``-facing ones warmer. ``normals`` may be zero (no
    surface nearby), which leaves the bands only.
    """
    p = np.asarray(points, np.float64)
    nrm = np.asarray(normals, np.float64)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    r = 0.55 + 0.22 * np.sin(4.0 * x + 1.0) * np.cos(3.0 * z)
    g = 0.50 + 0.20 * np.sin(6.0 * z + 0.5)
    b = 0.45 + 0.20 * np.cos(5.0 * y + 2.0 * x)
    rgb = np.stack([r, g, b], axis=-1)
    rgb += 0.12 * nrm[..., 2:3]
    rgb[..., 0] += 0.08 * np.abs(nrm[..., 0])
    return np.clip(rgb, 0.05, 0.95)


def _normals(sigma: np.ndarray) -> np.ndarray:
    """Outward unit normals from the density gradient, fading to 0 where it vanishes."""
    s = blur(sigma, 1.0)
    g = np.stack(np.gradient(s), axis=-1)
    mag = np.linalg.norm(g, axis=-1, keepdims=True)
    ref = float(np.percentile(mag[mag > 0], 90)) if np.any(mag > 0) else 1.0
    fade = mag / (mag + 0.05 * ref)
    return -g / np.maximum(mag, 1e-12) * fade


def _normalize_mesh(vertices: np.ndarray) -> np.ndarray:
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(axis=0), v.max(axis=0)
    v = (v - (lo + hi) / 2) * (OBJECT_EXTENT / ((hi - lo).max() / 2))
    # Stanford scans are y-up; the cameras orbit the z axis.
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], axis=1)


@numba.njit(cache=True)
def _trilinear(vol, q, out):
    nz, ny, nx = vol.shape
    for p in range(q.shape[0]):
        x, y, z = q[p, 0], q[p, 1], q[p, 2]
        if x < 0 or y < 0 or z < 0 or x > nx - 1 or y > ny - 1 or z > nz - 1:
            out[p] = 0.0
            continue
        i = min(int(x), nx - 2)
        j = min(int(y), ny - 2)
        k = min(int(z), nz - 2)
        fx, fy, fz = x - i, y - j, z - k
        acc = 0.0
        for dk in range(2):
            for dj in range(2):
                for di in range(2):
                    w = (fx if di else 1 - fx) * (fy if dj else 1 - fy) * (fz if dk else 1 - fz)
                    acc += w * vol[k + dk, j + dj, i + di]
        out[p] = acc


def _frog_occupancy(labels: np.ndarray, spacing: tuple[float, float, float], n: int) -> np.ndarray:
    occ = (labels > 0).astype(np.float32)  # (z, y, x)
    ext = np.array([(labels.shape[2] - 1) * spacing[0], (labels.shape[1] - 1) * spacing[1]])
    ext = np.append(ext, (labels.shape[0] - 1) * spacing[2])
    scale = (ext.max() / 2) / OBJECT_EXTENT  # world unit -> physical
    pts = grid_points(n).reshape(-1, 3) * scale + ext / 2
    q = np.ascontiguousarray(pts / np.array(spacing))
    out = np.empty(q.shape[0])
    _trilinear(occ, q, out)
    return out.reshape(n, n, n) >= 0.5


def _test_occupancy(n: int) -> np.ndarray:
    p = grid_points(n)
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    torus = np.hypot(np.hypot(x, y) - 0.8, z) - 0.3
    s1 = np.linalg.norm(p - np.array([0.0, 0.0, 0.55]), axis=-1) - 0.45
    s2 = np.linalg.norm(p - np.array([0.6, -0.5, -0.6]), axis=-1) - 0.35
    return np.minimum(np.minimum(torus, s1), s2) <= 0


def scene_volume(name: str, occupancy: np.ndarray, aabb: np.ndarray = AABB) -> SceneVolume:
    """Target density and albedo of a scene from its vertex occupancy."""
    sigma = SIGMA_MAX * np.clip(blur(occupancy.astype(np.float32), 0.6) * 1.5, 0.0, 1.0)
    sigma = sigma.astype(np.float32)
    n = occupancy.shape[0]
    rgb = albedo(grid_points(n, aabb), _normals(sigma)).astype(np.float32)
    return SceneVolume(name, np.asarray(aabb, np.float64), sigma, rgb)


def load_scene(name: str, n: int) -> SceneVolume:
    """The target volume of scene ``name`` (one of :data:`SCENES`) at ``n`` vertices per axis.

    Raises
    ------
    ValueError
        If ``name`` is not a scene or ``n`` is out of range.
    rtnerf.workloads.data.DataNotFoundError
        If the scene's dataset is not cached (its message says how to fetch it).
    """
    if name not in SCENES:
        raise ValueError(f"`name` must be one of {sorted(SCENES)}, not {name!r}")
    check_int("n", n, minimum=4, maximum=512)
    dataset, file = SCENES[name]
    if dataset is None:
        return scene_volume(name, _test_occupancy(n))
    from .. import data

    path = data.path(dataset) / file
    if dataset == "frog":
        labels, spacing = read_vti(path)
        return scene_volume(name, _frog_occupancy(labels, spacing, n))
    verts, faces = read_off(path)
    return scene_volume(name, voxelize_mesh(_normalize_mesh(verts), faces, n))
