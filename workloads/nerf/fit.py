"""Fit TensoRF VM factors to a scene volume, and cache the fitted models.

**Method: block coordinate descent with an exact truncated SVD per mode.** The VM
decomposition of a 3-D array is linear in each mode's (plane, line) pair, and the best rank-R
fit of one mode's term ``sum_r P_r[a0, a1] L_r[a2]`` to the residual left by the other two
modes is the truncated SVD of that residual matricised as ``(N^2, N)`` (Eckart-Young). So each
step is optimal, the loss never increases, and a step costs one ``N x N`` Gram matrix
(``N^4`` flops) and its eigen-decomposition: about 0.3 s per sweep at 128³ on 2 cores.

* **Density** is fitted in feature space: the target feature is ``softplus^{-1}(sigma) - shift``
  where ``0 < sigma < 0.999 sigma_max``, and one-sided where the volume is empty (any feature
  ``<= 0`` gives ``sigma <= softplus(-10) = 4.5e-5``) or full (any feature above the target
  saturates): each sweep replaces those targets by ``min(F, 0)`` and ``max(F, target)`` of the
  current fit ``F``. This spends the rank on the surface instead of on exact zeros.
* **Appearance** is view-independent (:func:`.volume.albedo`), so the basis maps every
  appearance component to the DC SH coefficient of one colour channel (component ``r`` of every
  mode feeds channel ``r % 3``, weight 1) and the degree-1/2 SH columns are zero. Each channel's
  DC target ``(rgb - 0.5) / SH_C0`` is then a plain VM fit with ``R_c / 3`` components per mode,
  over the vertices near matter (``sigma > 0.01 sigma_max`` dilated by 2 cells); elsewhere the
  target is the current fit (missing-data imputation: colour there is never seen).
* Lines have unit RMS; planes carry the singular values.

**Sparse refit** (``plane_density``): TensoRF makes its density factors sparse by training with
an L1 term on them; here every mode step is followed by the *proximal step* of a sparsity
penalty on that mode's plane tensor, and the next steps fit the residual it leaves. With the
mode's lines orthonormal (up to the ``sqrt(N)`` scale) the plane least-squares problem is
separable per value, so both proximal steps are exact for the step:

* ``"l0"`` (default): keep the ``ceil(plane_density * R N^2)`` largest ``|values|`` of the mode's
  plane tensor, zero the rest (the exact minimiser of the step under an L0 budget: iterative
  hard thresholding inside the block coordinate descent);
* ``"l1"``: soft-threshold the values at the budget's threshold (the proximal step of an L1
  penalty whose weight is chosen per step to give ``plane_density``: TensoRF's L1 term).

Magnitude pruning of a dense fit (:func:`.storage.prune`) zeroes the same fraction but leaves the
other modes fitted to the unpruned planes; the refit lets them absorb the pruned values. On the
four scanned scenes at 128³ and 10 % density the ``l0`` refit renders 42-46 dB against the
unpruned dense fit where pruning gives 26-31 dB (``benchmarks/results/nerf_pruning.md``).

Fit errors (in :attr:`~.model.TensorfVM.meta`): ``density_rel_l2`` = ``|sigma_fit -
sigma|_2 / |sigma|_2`` over the grid; ``color_rmse`` and ``color_psnr`` of the decoded rgb over
the colour region.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from ...params import check_choice, check_int
from .model import (
    DENSITY_SHIFT,
    SH_C0,
    STEP_RATIO,
    TensorfVM,
    alpha_mask_from_density,
)
from .volume import SIGMA_MAX, SceneVolume, blur, load_scene

__all__ = [
    "FIT_VERSION",
    "SPARSITY",
    "cache_dir",
    "cache_key",
    "fit_scene",
    "fit_vm",
    "fit_volume",
    "load_or_fit",
]

#: Bump when the fit changes, so cached models are refitted.
FIT_VERSION = 1
#: Proximal steps of the sparse refit (see the module docstring).
SPARSITY = ("l0", "l1")


def _matricize(vol: np.ndarray, m: int) -> np.ndarray:
    """Mode ``m``'s ``(N^2, N)`` view: row ``a0 * N + a1``, column ``a2``."""
    n = vol.shape[0]
    if m == 0:
        return vol.reshape(n * n, n)
    if m == 1:
        return np.ascontiguousarray(vol.transpose(0, 2, 1)).reshape(n * n, n)
    return np.ascontiguousarray(vol.transpose(1, 2, 0)).reshape(n * n, n)


def _unmatricize(mat: np.ndarray, m: int) -> np.ndarray:
    n = mat.shape[1]
    v = mat.reshape(n, n, n)
    if m == 0:
        return v
    if m == 1:
        return v.transpose(0, 2, 1)
    return v.transpose(2, 0, 1)


def _check_density(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(f"`{name}` must be in (0, 1], not {value!r}")


def _prox(p: np.ndarray, density: float, sparsity: str) -> np.ndarray:
    """The sparsity step on one mode's plane values ``p`` (any shape; see the module docstring)."""
    flat = np.abs(p).ravel()
    keep = math.ceil(density * flat.size)
    if keep >= flat.size:
        return p
    if sparsity == "l0":
        # The `keep` largest magnitudes survive (ties at the threshold broken by position).
        out = np.zeros_like(p).ravel()
        idx = np.argpartition(flat, flat.size - keep)[flat.size - keep :]
        out[idx] = p.ravel()[idx]
        return out.reshape(p.shape)
    thr = np.partition(flat, flat.size - keep - 1)[flat.size - keep - 1]
    return (np.sign(p) * np.maximum(np.abs(p) - thr, 0.0)).astype(p.dtype)


def fit_vm(
    target: np.ndarray,
    rank: int,
    *,
    sweeps: int = 15,
    update: Callable[[np.ndarray], np.ndarray] | None = None,
    plane_density: float = 1.0,
    sparsity: str = "l0",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``sum_m sum_r plane_m[r] * line_m[r]`` to a cubic volume by block SVD sweeps.

    Parameters
    ----------
    target : numpy.ndarray
        ``(N, N, N)`` ``[x, y, z]`` volume.
    rank : int
        Components per mode.
    sweeps : int
        Passes over the three modes.
    update : callable or None
        ``update(fit) -> target`` called before every sweep with the current reconstruction
        (zeros before the first) to give that sweep's target (one-sided or missing targets);
        ``None`` keeps ``target``.
    plane_density : float
        Fraction of each mode's ``rank * N^2`` plane values left non-zero by the sparsity step
        after every mode step, in ``(0, 1]``; 1 is the plain block-SVD fit.
    sparsity : str
        The sparsity step, ``"l0"`` or ``"l1"`` (see the module docstring).

    Returns
    -------
    planes : numpy.ndarray
        float32 ``(3, rank, N, N)`` in the :mod:`.model` layout.
    lines : numpy.ndarray
        float32 ``(3, rank, N)``.
    fit : numpy.ndarray
        float32 ``(N, N, N)`` reconstruction at the grid vertices.
    """
    target = np.asarray(target, np.float32)
    n = target.shape[0]
    if target.shape != (n, n, n):
        raise ValueError(f"`target` must be a cubic 3-D array, not of shape {target.shape}")
    check_int("rank", rank, minimum=1, maximum=n)
    check_int("sweeps", sweeps, minimum=1)
    _check_density("plane_density", plane_density)
    check_choice("sparsity", sparsity, SPARSITY)
    planes = np.zeros((3, rank, n, n), np.float32)
    lines = np.zeros((3, rank, n), np.float32)
    parts = [np.zeros((n * n, n), np.float32) for _ in range(3)]
    fit = np.zeros_like(target)
    for _ in range(sweeps):
        goal = target if update is None else np.asarray(update(fit), np.float32)
        for m in range(3):
            part = _unmatricize(parts[m], m)
            mat = _matricize(goal - fit + part, m)
            gram = (mat.T @ mat).astype(np.float64)
            _, vecs = np.linalg.eigh(gram)
            w = vecs[:, ::-1][:, :rank].astype(np.float32)
            p = _prox(mat @ w, plane_density, sparsity)
            new = p @ w.T
            fit += _unmatricize(new, m) - part
            parts[m] = new
            s = np.float32(np.sqrt(n))
            planes[m] = p.reshape(n, n, rank).transpose(2, 1, 0) / s
            lines[m] = w.T * s
    return planes, lines, fit


def _softplus_inv(y: np.ndarray) -> np.ndarray:
    y = np.maximum(np.asarray(y, np.float64), 1e-30)
    return np.where(y > 30, y, np.log(np.expm1(np.minimum(y, 30))))


def _dilate(mask: np.ndarray, cells: int) -> np.ndarray:
    return blur(mask.astype(np.float32), 0.0 if cells == 0 else cells / 2) > 1e-3


def fit_volume(
    volume: SceneVolume,
    density_components: int = 16,
    app_components: int = 48,
    *,
    sweeps: int = 15,
    color_sweeps: int = 6,
    plane_density: float = 1.0,
    app_plane_density: float | None = None,
    sparsity: str = "l0",
    progress: Callable[[str], None] | None = None,
) -> TensorfVM:
    """Fit a :class:`~.model.TensorfVM` to a scene volume (see the module docstring).

    Parameters
    ----------
    volume : SceneVolume
        Target density and albedo.
    density_components, app_components : int
        ``R_sigma`` and ``R_c`` per mode (TensoRF: 16 and 48).
    sweeps, color_sweeps : int
        Block-SVD sweeps of the density and of each colour channel.
    plane_density : float
        Sparse refit: fraction of non-zeros of each density plane tensor (1: a dense fit).
    app_plane_density : float or None
        The same for each appearance plane tensor, per colour channel's components; ``None``
        uses ``plane_density``.
    sparsity : str
        The sparse refit's step, ``"l0"`` or ``"l1"`` (see the module docstring).
    progress : callable or None
        Called with a short message after each field.

    Returns
    -------
    TensorfVM
        The model, its alpha mask, and the fit report in ``meta``.
    """
    check_int("density_components", density_components, minimum=1)
    check_int("app_components", app_components, minimum=3)
    app_plane_density = plane_density if app_plane_density is None else app_plane_density
    _check_density("plane_density", plane_density)
    _check_density("app_plane_density", app_plane_density)
    check_choice("sparsity", sparsity, SPARSITY)
    sparse = {"sparsity": sparsity}
    t0 = time.perf_counter()
    sigma = np.asarray(volume.sigma, np.float64)
    n = volume.resolution
    empty = sigma <= 0
    full = sigma >= 0.999 * SIGMA_MAX
    goal = np.where(empty, 0.0, _softplus_inv(sigma) - DENSITY_SHIFT).astype(np.float32)

    def density_goal(fit: np.ndarray) -> np.ndarray:
        g = np.where(empty, np.minimum(fit, 0.0), goal)
        return np.where(full, np.maximum(fit, goal), g)

    dp, dl, dfit = fit_vm(
        goal,
        density_components,
        sweeps=sweeps,
        update=density_goal,
        plane_density=plane_density,
        **sparse,
    )
    sigma_fit = np.logaddexp(0.0, dfit.astype(np.float64) + DENSITY_SHIFT)
    rel = float(np.linalg.norm(sigma_fit - sigma) / max(np.linalg.norm(sigma), 1e-30))
    if progress:
        progress(f"density fitted: relative L2 {rel:.4f}")

    region = _dilate(sigma > 0.01 * SIGMA_MAX, 2)
    ap = np.zeros((3, app_components, n, n), np.float32)
    al = np.zeros((3, app_components, n), np.float32)
    basis = np.zeros((3 * app_components, 27), np.float32)
    rgb_fit = np.empty((n, n, n, 3), np.float32)
    for c in range(3):
        comps = np.arange(c, app_components, 3)
        target = (volume.rgb[..., c].astype(np.float64) - 0.5) / SH_C0

        def app_goal(fit: np.ndarray, target: np.ndarray = target) -> np.ndarray:
            return np.where(region, target, fit)

        p, ln, fit = fit_vm(
            target,
            comps.size,
            sweeps=color_sweeps,
            update=app_goal,
            plane_density=app_plane_density,
            **sparse,
        )
        ap[:, comps] = p
        al[:, comps] = ln
        for m in range(3):
            basis[m * app_components + comps, 9 * c] = 1.0
        rgb_fit[..., c] = np.clip(SH_C0 * fit + 0.5, 0.0, 1.0)
        if progress:
            progress(f"appearance channel {c} fitted")
    err = (rgb_fit - volume.rgb)[region]
    rmse = float(np.sqrt(np.mean(err**2))) if err.size else 0.0
    psnr = float(-20 * np.log10(max(rmse, 1e-12)))
    step = float(np.mean((volume.aabb[1] - volume.aabb[0]) / (n - 1)) * STEP_RATIO)
    mask = alpha_mask_from_density(sigma_fit, step)
    meta = {
        "fit_version": FIT_VERSION,
        "method": "block SVD sweeps (density: one-sided targets; colour: imputed)",
        "sweeps": sweeps,
        "color_sweeps": color_sweeps,
        "plane_density": plane_density,
        "app_plane_density": app_plane_density,
        "sparsity": sparsity if min(plane_density, app_plane_density) < 1 else None,
        "density_rel_l2": rel,
        "color_rmse": rmse,
        "color_psnr": psnr,
        "mask_occupancy": float(mask.mean()),
        "target_occupancy": float((sigma > 0.01 * SIGMA_MAX).mean()),
        "fit_seconds": time.perf_counter() - t0,
    }
    return TensorfVM(
        aabb=volume.aabb,
        density_planes=dp,
        density_lines=dl,
        app_planes=ap,
        app_lines=al,
        basis=basis,
        alpha_mask=mask,
        scene=volume.name,
        meta=meta,
    )


def cache_dir() -> Path:
    """Folder of fitted models: ``RTNERF_SCENE_DIR`` or ``~/.cache/rtnerf/scenes``."""
    env = os.environ.get("RTNERF_SCENE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "rtnerf" / "scenes"


def fit_scene(
    scene: str,
    resolution: int = 128,
    density_components: int = 16,
    app_components: int = 48,
    **sparse: Any,
) -> TensorfVM:
    """Load scene ``scene`` at ``resolution`` and fit it (no cache).

    ``sparse`` are :func:`fit_volume`'s ``plane_density``, ``app_plane_density``, ``sparsity``.
    """
    volume = load_scene(scene, resolution)
    return fit_volume(volume, density_components, app_components, **sparse)


def cache_key(
    scene: str,
    resolution: int = 128,
    density_components: int = 16,
    app_components: int = 48,
    *,
    plane_density: float = 1.0,
    app_plane_density: float | None = None,
    sparsity: str = "l0",
) -> str:
    """The cache file stem of a fit.

    Dense fits keep their old keys; sparse refits add ``_{sparsity}d{plane_density}`` (and
    ``a{app_plane_density}`` when it differs) so that the two are never mixed.
    """
    key = f"{scene}_n{resolution}_r{density_components}-{app_components}_v{FIT_VERSION}"
    app = plane_density if app_plane_density is None else app_plane_density
    if min(plane_density, app) < 1:
        key += f"_{sparsity}d{plane_density:g}"
        if app != plane_density:
            key += f"a{app:g}"
    return key


def load_or_fit(
    scene: str,
    resolution: int = 128,
    density_components: int = 16,
    app_components: int = 48,
    *,
    plane_density: float = 1.0,
    app_plane_density: float | None = None,
    sparsity: str = "l0",
    cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> TensorfVM:
    """The fitted model of a scene, from the cache or fitted now (and cached).

    The cache key is :func:`cache_key` under :func:`cache_dir`; a file lock keeps two processes
    from fitting the same model. ``plane_density``, ``app_plane_density`` and ``sparsity``
    select a sparse refit (:func:`fit_volume`).
    """
    check_int("resolution", resolution, minimum=4, maximum=512)
    sparse = {
        "plane_density": plane_density,
        "app_plane_density": app_plane_density,
        "sparsity": sparsity,
    }
    if not cache:
        volume = load_scene(scene, resolution)
        return fit_volume(volume, density_components, app_components, progress=progress, **sparse)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    key = cache_key(scene, resolution, density_components, app_components, **sparse)
    path = folder / f"{key}.npz"
    with FileLock(str(folder / f"{key}.lock")):
        if path.exists():
            return TensorfVM.load(path)
        if progress:
            progress(f"fitting {key} (cached in {folder})")
        volume = load_scene(scene, resolution)
        model = fit_volume(volume, density_components, app_components, progress=progress, **sparse)
        model.save(path)
        return model
