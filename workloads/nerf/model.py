"""The TensoRF VM model (``TensorVMSplit``) the NeRF workload renders and the accelerator reads.

Definitions follow TensoRF (apchenstu/TensoRF @ 6a1e23b, ``models/tensoRF.py`` and
``models/tensorBase.py``; see ``shared/reference/rtnerf-notes.md`` §6):

* **Modes.** ``MAT_MODE = ((0, 1), (0, 2), (1, 2))`` and ``VEC_MODE = (2, 1, 0)``: plane 0 is
  M^{XY} paired with line v^Z, plane 1 is M^{XZ} with v^Y, plane 2 is M^{YZ} with v^X.
* **Shapes** (cubic grid of ``N`` vertices per axis over ``aabb``): ``planes[m, r, i1, i0]``
  with ``i0`` the index along axis ``MAT_MODE[m][0]`` (``grid_sample``'s width) and ``i1`` along
  ``MAT_MODE[m][1]`` (its height); ``lines[m, r, i2]`` along ``VEC_MODE[m]``. This is TensoRF's
  ``(1, R, N[a1], N[a0])`` / ``(1, R, N[a2], 1)`` without the unit dimensions.
* **Interpolation**: ``grid_sample(..., align_corners=True)``: a point ``x`` normalises to
  ``x̂ = (x - aabb[0]) * 2 / (aabb[1] - aabb[0]) - 1`` and to the continuous index
  ``u = (x̂ + 1) / 2 * (N - 1)``; bilinear on planes, linear on lines, vertex ``i`` at ``u = i``.
* **Density**: ``sigma = softplus(sum_m sum_r plane_m[r] * line_m[r] + density_shift)``,
  ``density_shift = -10``; ``alpha = 1 - exp(-sigma * delta * distance_scale)`` with
  ``distance_scale = 25``.
* **Appearance**: ``f = concat_m [plane_m[r] * line_m[r]]_r`` (plane 0's ``R_c`` first, 3 *
  ``R_c`` values), ``a = f @ basis`` (27 values), decoded by TensoRF's **SH** renderer of degree
  2: ``rgb_c = relu(sum_k SH_k(d) * a[9 c + k] + 0.5)``. We use the SH decoder (not the MLP):
  our target colour is a view-independent albedo, so the fitted basis has non-zero weights only
  in the DC (``k = 0``) columns and the degree-1/2 columns are zero; the renderers still evaluate
  all 27 outputs and the SH sum, so the per-sample work is TensoRF's SH mode.
* **Alpha mask** (occupancy grid): one bool per grid *vertex*, indexed ``[x, y, z]`` (TensoRF
  stores ``[z, y, x]``), over the same ``aabb`` and resolution as the factors (*choice*; TensoRF's
  mask is coarser, ~180³ at 300³). It is TensoRF's: the vertex alpha ``1 - exp(-sigma *
  step_size)`` (no distance scale), 3x3x3 max-pool dilated, thresholded at ``1e-4``. A sample is
  valid iff it is inside the aabb and the grid **cell** containing it (``floor(u)``, the last
  cell closed) has an occupied corner: that is ``grid_sample(mask) > 0`` except on cell faces,
  and it makes the uniform marcher and the cube pipeline select exactly the same samples.
* **Sampling**: ``step_size = mean((aabb[1] - aabb[0]) / (N - 1)) * step_ratio``, ``step_ratio =
  0.5``; ``n_samples = int(|aabb[1] - aabb[0]| / step_size) + 1``.

**Tables (the memory layout the accelerator reads).** Each factor *plane tensor* is one table:
``planes[m]`` of shape ``(R, N, N)`` reshaped to ``(R * N, N)``, so row ``r * N + i1`` holds
component ``r`` at index ``i1`` along ``MAT_MODE[m][1]`` and column ``i0`` is the index along
``MAT_MODE[m][0]``. A bilinear read of component ``r`` at ``(i0, i1)`` touches elements
``(r N + i1, i0)``, ``(r N + i1, i0 + 1)``, ``(r N + i1 + 1, i0)`` and ``(r N + i1 + 1, i0 + 1)``.
Each line tensor ``lines[m]`` is one table of shape ``(R, N)`` (row = component, column =
index); lines are small and never pruned. :data:`TABLE_NAMES` fixes the table order:
``density_plane0..2, app_plane0..2, density_line0..2, app_line0..2``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numba
import numpy as np

__all__ = [
    "DENSITY_SHIFT",
    "DISTANCE_SCALE",
    "MAT_MODE",
    "MODEL_VERSION",
    "SH_C0",
    "STEP_RATIO",
    "TABLE_NAMES",
    "VEC_MODE",
    "TensorfVM",
    "alpha_mask_from_density",
    "cube_grid",
    "eval_sh2",
    "query_points",
    "softplus",
]

#: Plane axes ``(a0, a1)`` of mode ``m`` (TensoRF ``matMode``).
MAT_MODE = ((0, 1), (0, 2), (1, 2))
#: Line axis of mode ``m`` (TensoRF ``vecMode``).
VEC_MODE = (2, 1, 0)
#: TensoRF's ``density_shift``.
DENSITY_SHIFT = -10.0
#: TensoRF's ``distance_scale``.
DISTANCE_SCALE = 25.0
#: TensoRF's ``step_ratio`` (opt.py).
STEP_RATIO = 0.5
#: TensoRF's ``alpha_mask_thre`` and ``rayMarch_weight_thres``.
ALPHA_THRESHOLD = 1e-4
#: SH degree-0 constant.
SH_C0 = 0.28209479177387814
#: Version of the saved model file.
MODEL_VERSION = 1
#: Names of the factor tables, in table-index order (see the module docstring).
TABLE_NAMES = (
    "density_plane0",
    "density_plane1",
    "density_plane2",
    "app_plane0",
    "app_plane1",
    "app_plane2",
    "density_line0",
    "density_line1",
    "density_line2",
    "app_line0",
    "app_line1",
    "app_line2",
)

_MAT = np.array(MAT_MODE, np.int64)
_VEC = np.array(VEC_MODE, np.int64)


def softplus(x: np.ndarray) -> np.ndarray:
    """``log(1 + exp(x))``, stable for large ``|x|`` (float64)."""
    x = np.asarray(x, np.float64)
    return np.logaddexp(0.0, x)


@dataclasses.dataclass(frozen=True, eq=False)
class TensorfVM:
    """A TensoRF ``TensorVMSplit`` model on a cubic grid, with its alpha mask.

    Attributes
    ----------
    aabb : numpy.ndarray
        ``(2, 3)`` float64, the model's bounding box (min corner, max corner).
    density_planes, density_lines : numpy.ndarray
        float32 ``(3, R_sigma, N, N)`` and ``(3, R_sigma, N)`` (see the module docstring).
    app_planes, app_lines : numpy.ndarray
        float32 ``(3, R_c, N, N)`` and ``(3, R_c, N)``.
    basis : numpy.ndarray
        float32 ``(3 * R_c, 27)``: ``a = f @ basis`` (TensoRF's ``basis_mat.weight.T``).
    alpha_mask : numpy.ndarray
        bool ``(N, N, N)`` indexed ``[x, y, z]``: occupied grid vertices.
    density_shift, distance_scale, step_ratio : float
        TensoRF's constants.
    near, far : float
        Ray range (Blender's 2 and 6 by default).
    scene : str
        Name of the scene the model was fitted to.
    meta : dict
        Fit report and provenance (JSON-serialisable).
    """

    aabb: np.ndarray
    density_planes: np.ndarray
    density_lines: np.ndarray
    app_planes: np.ndarray
    app_lines: np.ndarray
    basis: np.ndarray
    alpha_mask: np.ndarray
    density_shift: float = DENSITY_SHIFT
    distance_scale: float = DISTANCE_SCALE
    step_ratio: float = STEP_RATIO
    near: float = 2.0
    far: float = 6.0
    scene: str = ""
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        aabb = np.asarray(self.aabb, np.float64)
        if aabb.shape != (2, 3) or not np.all(aabb[1] > aabb[0]):
            raise ValueError(f"`aabb` must be (2, 3) with max > min, not {self.aabb!r}")
        object.__setattr__(self, "aabb", aabb)
        n = self.density_planes.shape[-1] if self.density_planes.ndim == 4 else -1
        if n < 2:
            raise ValueError(
                f"`density_planes` must be (3, R, N, N) with N >= 2, "
                f"not of shape {self.density_planes.shape}"
            )
        for name in ("density", "app"):
            planes = getattr(self, f"{name}_planes")
            lines = getattr(self, f"{name}_lines")
            r = planes.shape[1] if planes.ndim == 4 else 0
            if planes.shape != (3, r, n, n) or r < 1:
                raise ValueError(
                    f"`{name}_planes` must be of shape (3, R, {n}, {n}), not {planes.shape}"
                )
            if lines.shape != (3, r, n):
                raise ValueError(
                    f"`{name}_lines` must be of shape (3, {r}, {n}), not {lines.shape}"
                )
            object.__setattr__(self, f"{name}_planes", np.ascontiguousarray(planes, np.float32))
            object.__setattr__(self, f"{name}_lines", np.ascontiguousarray(lines, np.float32))
        rc = self.app_planes.shape[1]
        if self.basis.shape != (3 * rc, 27):
            raise ValueError(f"`basis` must be of shape ({3 * rc}, 27), not {self.basis.shape}")
        object.__setattr__(self, "basis", np.ascontiguousarray(self.basis, np.float32))
        if self.alpha_mask.shape != (n, n, n):
            raise ValueError(
                f"`alpha_mask` must be of shape ({n}, {n}, {n}), not {self.alpha_mask.shape}"
            )
        object.__setattr__(self, "alpha_mask", np.ascontiguousarray(self.alpha_mask, np.bool_))

    # -- derived values ----------------------------------------------------------------------

    @property
    def resolution(self) -> int:
        """Grid vertices per axis, ``N``."""
        return int(self.density_planes.shape[-1])

    @property
    def density_components(self) -> int:
        """``R_sigma``, density components per mode."""
        return int(self.density_planes.shape[1])

    @property
    def app_components(self) -> int:
        """``R_c``, appearance components per mode."""
        return int(self.app_planes.shape[1])

    @property
    def aabb_size(self) -> np.ndarray:
        """``aabb[1] - aabb[0]``."""
        return self.aabb[1] - self.aabb[0]

    @property
    def cell_size(self) -> np.ndarray:
        """Grid spacing per axis, ``aabb_size / (N - 1)``."""
        return self.aabb_size / (self.resolution - 1)

    @property
    def step_size(self) -> float:
        """TensoRF's ``stepSize``: ``mean(cell_size) * step_ratio``."""
        return float(np.mean(self.cell_size) * self.step_ratio)

    @property
    def n_samples(self) -> int:
        """TensoRF's ``nSamples``: ``int(|aabb_size| / step_size) + 1``."""
        return int(np.linalg.norm(self.aabb_size) / self.step_size) + 1

    @property
    def cubes(self) -> np.ndarray:
        """Cells ``(N-1, N-1, N-1)`` ``[x, y, z]`` (bool) with at least one occupied corner."""
        return cube_grid(self.alpha_mask)

    def tables(self) -> dict[str, np.ndarray]:
        """The factor tables by name, in :data:`TABLE_NAMES` order (float32 2-D views)."""
        n = self.resolution
        out: dict[str, np.ndarray] = {}
        for kind in ("density", "app"):
            planes = getattr(self, f"{kind}_planes")
            for m in range(3):
                out[f"{kind}_plane{m}"] = planes[m].reshape(-1, n)
        for kind in ("density", "app"):
            lines = getattr(self, f"{kind}_lines")
            for m in range(3):
                out[f"{kind}_line{m}"] = lines[m]
        return out

    def with_factors(self, **changes: Any) -> TensorfVM:
        """A copy with some fields replaced (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def density(self, points: np.ndarray) -> np.ndarray:
        """``sigma`` at world points ``(P, 3)`` (float64; no mask, no aabb check)."""
        feat = query_points(self.density_planes, self.density_lines, self.normalize(points))
        return softplus(feat.sum(axis=1) + self.density_shift)

    def app_features(self, points: np.ndarray) -> np.ndarray:
        """Appearance features ``f`` ``(P, 3 * R_c)`` at world points."""
        return query_points(self.app_planes, self.app_lines, self.normalize(points))

    def rgb(self, points: np.ndarray, viewdirs: np.ndarray) -> np.ndarray:
        """Decoded colour ``(P, 3)`` at world points seen along unit ``viewdirs`` ``(P, 3)``."""
        a = self.app_features(points) @ self.basis.astype(np.float64)
        sh = eval_sh2(np.asarray(viewdirs, np.float64))
        rgb = np.einsum("pck,pk->pc", a.reshape(-1, 3, 9), sh)
        return np.maximum(rgb + 0.5, 0.0)

    def normalize(self, points: np.ndarray) -> np.ndarray:
        """World points ``(P, 3)`` to ``x̂`` in ``[-1, 1]`` (TensoRF ``normalize_coord``)."""
        p = np.asarray(points, np.float64)
        return (p - self.aabb[0]) * (2.0 / self.aabb_size) - 1.0

    # -- files -------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the model to an ``.npz`` file (arrays plus a JSON header)."""
        header = {
            "version": MODEL_VERSION,
            "density_shift": self.density_shift,
            "distance_scale": self.distance_scale,
            "step_ratio": self.step_ratio,
            "near": self.near,
            "far": self.far,
            "scene": self.scene,
            "meta": self.meta,
        }
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(
            tmp,
            header=np.array(json.dumps(header)),
            aabb=self.aabb,
            density_planes=self.density_planes,
            density_lines=self.density_lines,
            app_planes=self.app_planes,
            app_lines=self.app_lines,
            basis=self.basis,
            alpha_mask=np.packbits(self.alpha_mask.ravel()),
        )
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> TensorfVM:
        """Read a model written by :meth:`save`."""
        with np.load(Path(path), allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            if header.get("version") != MODEL_VERSION:
                raise ValueError(
                    f"model file {path} has version {header.get('version')!r}, "
                    f"expected {MODEL_VERSION}"
                )
            n = z["density_planes"].shape[-1]
            mask = np.unpackbits(z["alpha_mask"])[: n**3].astype(np.bool_).reshape(n, n, n)
            return cls(
                aabb=z["aabb"],
                density_planes=z["density_planes"],
                density_lines=z["density_lines"],
                app_planes=z["app_planes"],
                app_lines=z["app_lines"],
                basis=z["basis"],
                alpha_mask=mask,
                density_shift=header["density_shift"],
                distance_scale=header["distance_scale"],
                step_ratio=header["step_ratio"],
                near=header["near"],
                far=header["far"],
                scene=header["scene"],
                meta=header["meta"],
            )


def eval_sh2(dirs: np.ndarray) -> np.ndarray:
    """TensoRF's ``eval_sh_bases(2, dirs)``: ``(P, 9)`` real SH bases of unit directions."""
    d = np.asarray(dirs, np.float64)
    out = np.empty((*d.shape[:-1], 9))
    _sh2(d.reshape(-1, 3), out.reshape(-1, 9))
    return out


@numba.njit(cache=True)
def _sh2_one(x, y, z, out):
    c1 = 0.4886025119029199
    out[0] = SH_C0
    out[1] = -c1 * y
    out[2] = c1 * z
    out[3] = -c1 * x
    out[4] = 1.0925484305920792 * x * y
    out[5] = -1.0925484305920792 * y * z
    out[6] = 0.31539156525252005 * (2.0 * z * z - x * x - y * y)
    out[7] = -1.0925484305920792 * x * z
    out[8] = 0.5462742152960396 * (x * x - y * y)


@numba.njit(cache=True)
def _sh2(d, out):
    for p in range(d.shape[0]):
        _sh2_one(d[p, 0], d[p, 1], d[p, 2], out[p])


@numba.njit(cache=True)
def _coord(xh, n):
    """Continuous index of normalised ``xh`` on ``n`` vertices: (cell, fraction), align_corners."""
    u = (xh + 1.0) * 0.5 * (n - 1)
    i = math.floor(u)
    if i > n - 2:
        i = n - 2
    if i < 0:
        i = 0
    return i, u - i


@numba.njit(cache=True)
def _vm_features(planes, lines, xh, mat, vec, out):
    """Per-(mode, component) products ``plane * line`` at one normalised point into ``out``.

    ``out`` has ``3 * R`` entries, mode-major (TensoRF's concatenation order).
    """
    n = planes.shape[-1]
    r_count = planes.shape[1]
    for m in range(3):
        i0, f0 = _coord(xh[mat[m, 0]], n)
        i1, f1 = _coord(xh[mat[m, 1]], n)
        i2, f2 = _coord(xh[vec[m]], n)
        w00 = (1.0 - f0) * (1.0 - f1)
        w01 = f0 * (1.0 - f1)
        w10 = (1.0 - f0) * f1
        w11 = f0 * f1
        for r in range(r_count):
            p = (
                w00 * planes[m, r, i1, i0]
                + w01 * planes[m, r, i1, i0 + 1]
                + w10 * planes[m, r, i1 + 1, i0]
                + w11 * planes[m, r, i1 + 1, i0 + 1]
            )
            li = (1.0 - f2) * lines[m, r, i2] + f2 * lines[m, r, i2 + 1]
            out[m * r_count + r] = p * li


@numba.njit(cache=True)
def _query_points(planes, lines, xh, mat, vec, out):
    for p in range(xh.shape[0]):
        _vm_features(planes, lines, xh[p], mat, vec, out[p])


def query_points(planes: np.ndarray, lines: np.ndarray, xh: np.ndarray) -> np.ndarray:
    """VM features ``plane_m[r](x̂) * line_m[r](x̂)`` at normalised points.

    Parameters
    ----------
    planes, lines : numpy.ndarray
        ``(3, R, N, N)`` and ``(3, R, N)`` factors.
    xh : numpy.ndarray
        ``(P, 3)`` normalised coordinates in ``[-1, 1]`` (outside values are clamped to the
        edge cells and extrapolate linearly, unlike ``grid_sample``'s zero padding).

    Returns
    -------
    numpy.ndarray
        float64 ``(P, 3 * R)``, mode-major.
    """
    xh = np.ascontiguousarray(xh, np.float64)
    if xh.ndim != 2 or xh.shape[1] != 3:
        raise ValueError(f"`xh` must be of shape (P, 3), not {xh.shape}")
    out = np.empty((xh.shape[0], 3 * planes.shape[1]))
    _query_points(planes, lines, xh, _MAT, _VEC, out)
    return out


def cube_grid(alpha_mask: np.ndarray) -> np.ndarray:
    """Cells with at least one occupied corner: ``(N-1)^3`` bool from an ``N^3`` vertex mask."""
    m = np.asarray(alpha_mask, np.bool_)
    c = m[:-1, :-1, :-1] | m[1:, :-1, :-1] | m[:-1, 1:, :-1] | m[:-1, :-1, 1:]
    c |= m[1:, 1:, :-1] | m[1:, :-1, 1:] | m[:-1, 1:, 1:] | m[1:, 1:, 1:]
    return c


def alpha_mask_from_density(sigma: np.ndarray, step_size: float) -> np.ndarray:
    """TensoRF's alpha mask from vertex densities ``sigma`` ``(N, N, N)``.

    ``alpha = 1 - exp(-sigma * step_size)``, 3x3x3 max-pool dilation, ``> 1e-4``.
    """
    alpha = 1.0 - np.exp(-np.asarray(sigma, np.float64) * step_size)
    occ = alpha > ALPHA_THRESHOLD
    out = occ.copy()
    # The max-pool of a thresholded field equals the dilation of its threshold.
    for axis in range(3):
        grown = out.copy()
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(1, None)
        hi[axis] = slice(None, -1)
        grown[tuple(hi)] |= out[tuple(lo)]
        grown[tuple(lo)] |= out[tuple(hi)]
        out = grown
    return out
