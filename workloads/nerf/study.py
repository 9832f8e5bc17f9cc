"""The render study behind ``rtnerf render``: frames, their storage accounting, the summary.

:func:`run_study` renders each view once with the reference (the unpruned float32 model by the
uniform marcher) and once per *variant* (a pruned or sparse-refitted model, quantised and
encoded as :mod:`.storage` does) by the chosen pipeline, and accounts each variant frame's DRAM
bytes in every storage (:func:`.storage.frame_dram_bytes`). :func:`summary` turns the typed
result into the versioned ``summary.json`` mapping and :func:`summary_text` into the text
report; the command (:mod:`rtnerf.commands.render`) only parses arguments and writes files.
"""

from __future__ import annotations

import dataclasses
import math
import platform
from collections.abc import Callable
from typing import Any

import numpy as np

from ...models.perf.nerf import DatapathParams
from . import render as rd
from . import storage as stg
from .model import TensorfVM

__all__ = [
    "SUMMARY_VERSION",
    "FrameRecord",
    "RenderStudy",
    "Variant",
    "VariantResult",
    "run_study",
    "summary",
    "summary_text",
]

#: Version of the ``summary.json`` schema.
SUMMARY_VERSION = 1


@dataclasses.dataclass(frozen=True, eq=False)
class Variant:
    """A model to render at one plane density.

    Attributes
    ----------
    density : float
        The plane density it stands for (1: unpruned).
    model : TensorfVM
        The float model (pruned, or refitted sparse), before quantisation.
    source : str
        How it was made: ``"prune"`` (magnitude pruning of the dense fit) or ``"refit-l0"`` /
        ``"refit-l1"`` (:func:`.fit.fit_volume`'s sparse refit).
    """

    density: float
    model: TensorfVM
    source: str = "prune"


@dataclasses.dataclass(frozen=True)
class FrameRecord:
    """One rendered frame of a variant: counters, PSNR, wall time, DRAM bytes per storage."""

    stats: rd.RenderStats
    psnr: float
    seconds: float
    dram_bytes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The ``per_view`` entry of ``summary.json``."""
        return {
            **self.stats.to_dict(),
            "psnr": self.psnr,
            "seconds": self.seconds,
            "dram_bytes": self.dram_bytes,
        }


@dataclasses.dataclass(frozen=True)
class VariantResult:
    """All frames of one variant, and its model bytes per storage."""

    density: float
    source: str
    frames: list[FrameRecord]
    model_bytes: dict[str, int]
    datapath: dict[str, Any] | None = None

    def mean(self, key: str) -> float:
        """Per-frame mean of a :class:`~.render.RenderStats` counter (or ``element_reads``)."""
        return float(np.mean([f.stats.to_dict()[key] for f in self.frames]))

    @property
    def psnr(self) -> float:
        """Mean PSNR over the views (an identical frame counts as 200 dB)."""
        return float(np.mean([p if math.isfinite(p) else 200.0 for p in self.psnrs]))

    @property
    def psnrs(self) -> list[float]:
        """PSNR per view."""
        return [f.psnr for f in self.frames]

    @property
    def dram_bytes_per_frame(self) -> dict[str, float]:
        """Mean DRAM bytes per frame, per storage."""
        return {s: float(np.mean([f.dram_bytes[s] for f in self.frames])) for s in self.model_bytes}

    @property
    def frame_seconds(self) -> float:
        """Mean wall time of the variant's frames."""
        return float(np.mean([f.seconds for f in self.frames]))


@dataclasses.dataclass(frozen=True)
class RenderStudy:
    """The reference frames and every variant's frames of one scene."""

    model: TensorfVM
    pipeline: str
    cameras: list[rd.Camera]
    reference: list[FrameRecord]
    variants: list[VariantResult]


def run_study(
    model: TensorfVM,
    cameras: list[rd.Camera],
    variants: list[Variant],
    pipeline: str = "rtnerf",
    *,
    on_image: Callable[[str, np.ndarray], None] | None = None,
    on_frame: Callable[[], None] | None = None,
    datapath: DatapathParams | None = None,
) -> RenderStudy:
    """Render the reference and every variant from every camera (see the module docstring).

    Parameters
    ----------
    model : TensorfVM
        The unpruned float model (the reference is its uniform render).
    cameras : list of Camera
        The views.
    variants : list of Variant
        The models to compare; each is quantised to 16 bits and encoded in every storage of
        :data:`.storage.STORAGES` (the hybrid image's values are what is rendered).
    pipeline : str
        ``uniform`` or ``rtnerf`` for the variants.
    on_image : callable or None
        ``on_image(name, image)`` for each frame: ``view_VVV_reference`` and ``view_VVV_dD``.
    on_frame : callable or None
        Called after each frame (progress).
    datapath : DatapathParams or None
        Also estimate the first view of every variant on the sparse-embedding datapath
        (:func:`.datapath.estimate`, hybrid texel storage, streaming when it does not fit).

    Returns
    -------
    RenderStudy
        The typed results.
    """
    if not isinstance(model, TensorfVM):
        raise TypeError(f"`model` must be a TensorfVM, not {type(model).__name__}")
    if pipeline not in ("uniform", "rtnerf"):
        raise ValueError(f"`pipeline` must be 'uniform' or 'rtnerf', not {pipeline!r}")
    # Compile the kernels on a tiny frame so that frame times measure rendering only.
    tiny = rd.orbit_cameras(1, 8)[0]
    rd.render_uniform(model, tiny)
    rd.render_rtnerf(model, tiny)
    prepared = []
    for v in variants:
        pruned = stg.prune(v.model, v.density) if v.source == "prune" else v.model
        encoded = {s: stg.encode_model(pruned, s) for s in stg.STORAGES}
        prepared.append((v, encoded, stg.quantized_model(pruned, encoded["hybrid"])))
    reference, frames = [], [[] for _ in variants]
    for view, cam in enumerate(cameras):
        ref = rd.render_uniform(model, cam)
        reference.append(FrameRecord(ref.stats, math.inf, ref.seconds, {}))
        if on_image:
            on_image(f"view_{view:03d}_reference", ref.image)
        if on_frame:
            on_frame()
        for i, (v, encoded, qmodel) in enumerate(prepared):
            res = rd.render(qmodel, cam, pipeline)
            dram = {s: stg.frame_dram_bytes(e, res.touched)["total"] for s, e in encoded.items()}
            psnr = rd.psnr(ref.image, res.image)
            frames[i].append(FrameRecord(res.stats, psnr, res.seconds, dram))
            if on_image:
                on_image(f"view_{view:03d}_d{v.density:g}", res.image)
            if on_frame:
                on_frame()
    accel = [None] * len(prepared)
    if datapath is not None:
        from .datapath import estimate

        for i, (v, _, _) in enumerate(prepared):
            pruned = stg.prune(v.model, v.density) if v.source == "prune" else v.model
            est = estimate(pruned, cameras[0], datapath, pipeline=pipeline)
            accel[i] = {
                **est.to_dict(),
                "design": dataclasses.asdict(datapath),
                "lower_bound_bytes": est.lower_bound_bytes,
            }
    results = [
        VariantResult(
            v.density, v.source, frames[i], {s: e.nbytes for s, e in encoded.items()}, accel[i]
        )
        for i, (v, encoded, _) in enumerate(prepared)
    ]
    return RenderStudy(model, pipeline, list(cameras), reference, results)


def frame_energy(model: TensorfVM, r: VariantResult) -> dict[str, Any]:
    """Mean accelerator energy report of a variant's frames (hybrid storage).

    :func:`rtnerf.models.physical.events.render_frame_events` on each frame's counters, priced
    at the reference node and the default DRAM class (:func:`rtnerf.models.physical.energy.energy`).
    """
    from ...models.physical.energy import energy
    from ...models.physical.events import render_frame_events
    from ...models.physical.scaling import DEFAULT_NODE, node

    reports = [
        energy(
            render_frame_events(
                f.to_dict(),
                dram_bytes=f.dram_bytes["hybrid"],
                density_components=model.density_components,
                app_components=model.app_components,
                resolution=model.resolution,
            ),
            at=node(DEFAULT_NODE),
        ).to_dict()
        for f in r.frames
    ]
    mean = dict(reports[0])
    for key in ("components_pj", "components_pj_per_lookup"):
        mean[key] = {k: float(np.mean([x[key][k] for x in reports])) for k in mean[key]}
    mean["total_pj"] = float(np.mean([x["total_pj"] for x in reports]))
    mean["lookups"] = float(np.mean([x["lookups"] for x in reports]))
    mean["pj_per_lookup"] = mean["total_pj"] / max(mean["lookups"], 1.0)
    mean["dram_model"] = "the render's: each touched burst once per frame"
    return mean


def _variant_dict(
    model: TensorfVM, r: VariantResult, ref_samples: float, ref_evals: float
) -> dict[str, Any]:
    evals = r.mean("samples_evaluated")
    energy = frame_energy(model, r)
    return {
        "density": r.density,
        "source": r.source,
        "psnr": r.psnr,
        "psnr_min": float(min(r.psnrs)),
        "samples_generated": r.mean("samples_generated"),
        "samples_evaluated": evals,
        "samples_skipped_empty": r.mean("samples_skipped_empty"),
        "samples_skipped_transmittance": r.mean("samples_skipped_transmittance"),
        "cubes_culled": r.mean("cubes_culled"),
        "app_evaluated": r.mean("app_evaluated"),
        "element_reads": r.mean("element_reads"),
        "reference_samples_over_evaluated": ref_samples / max(evals, 1.0),
        "reference_evaluated_over_evaluated": ref_evals / max(evals, 1.0),
        "dram_bytes_per_frame": r.dram_bytes_per_frame,
        "model_bytes": r.model_bytes,
        "frame_seconds": r.frame_seconds,
        "energy_mj_per_frame": energy["total_pj"] / 1e9,
        "energy": energy,
        "datapath": r.datapath,
    }


def summary(study: RenderStudy) -> dict[str, Any]:
    """The ``summary.json`` mapping (schema ``rtnerf.render.summary``, :data:`SUMMARY_VERSION`).

    The first variant's numbers are repeated at the top level (per-frame means over the views).
    """
    model = study.model
    ref = study.reference

    def ref_mean(key: str) -> float:
        return float(np.mean([f.stats.to_dict()[key] for f in ref]))

    ref_samples, ref_evals = ref_mean("samples_generated"), ref_mean("samples_evaluated")
    results = [_variant_dict(model, r, ref_samples, ref_evals) for r in study.variants]
    first = results[0]
    cam = study.cameras[0]
    return {
        "schema": "rtnerf.render.summary",
        "version": SUMMARY_VERSION,
        "scene": model.scene,
        "pipeline": study.pipeline,
        "resolution": cam.width,
        "views": len(study.cameras),
        "grid": model.resolution,
        "components": {"density": model.density_components, "app": model.app_components},
        "decoder": "SH degree 2 (view-independent fit: DC basis columns only)",
        "step_size": model.step_size,
        "n_samples": model.n_samples,
        "cubes": int(model.cubes.sum()),
        "fit": model.meta,
        "psnr_reference": "uniform render of the unpruned float32 model",
        "dram_model": "each burst of the touched rows' directory entries and payloads once per "
        "frame (rtnerf.workloads.nerf.storage.frame_dram_bytes), default engine encoding",
        "psnr": first["psnr"],
        "samples_evaluated": first["samples_evaluated"],
        "samples_skipped": {
            "empty": first["samples_skipped_empty"],
            "transmittance": first["samples_skipped_transmittance"],
        },
        "element_reads_per_frame": first["element_reads"],
        "dram_bytes_per_frame": first["dram_bytes_per_frame"],
        "frame_seconds": first["frame_seconds"],
        "reference": {
            "samples_generated": ref_samples,
            "samples_evaluated": ref_evals,
            "app_evaluated": ref_mean("app_evaluated"),
            "element_reads": ref_mean("element_reads"),
            "frame_seconds": float(np.mean([f.seconds for f in ref])),
        },
        "results": results,
        "machine": f"{platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}",
        "per_view": {str(r.density): [f.to_dict() for f in r.frames] for r in study.variants},
    }


def summary_text(s: dict[str, Any]) -> str:
    """The text report of a :func:`summary` mapping."""
    fit, ref = s["fit"], s["reference"]
    lines = [
        (
            f"rtnerf render: {s['scene']} ({s['pipeline']}), grid {s['grid']}^3, "
            f"{s['components']['density']}/{s['components']['app']} components, "
            f"{s['views']} views at {s['resolution']}x{s['resolution']}"
        ),
        (
            f"  fit:        density relative L2 {fit['density_rel_l2']:.4f}, colour RMSE "
            f"{fit['color_rmse']:.4f} ({fit['color_psnr']:.1f} dB); {s['cubes']} non-zero cubes"
        ),
        (
            f"  reference:  uniform, {ref['samples_generated']:.0f} samples/frame, "
            f"{ref['samples_evaluated']:.0f} evaluated, {ref['frame_seconds']:.2f} s/frame"
        ),
    ]
    for r in s["results"]:
        dram = r["dram_bytes_per_frame"]
        how = "" if r.get("source", "prune") == "prune" else f" ({r['source']})"
        lines.append(
            f"  density {r['density']:g}{how}: PSNR {r['psnr']:.2f} dB (min "
            f"{r['psnr_min']:.2f}), {r['samples_evaluated']:.0f} samples evaluated "
            f"({r['reference_samples_over_evaluated']:.1f}x fewer than uniform's samples, "
            f"{r['reference_evaluated_over_evaluated']:.1f}x fewer evaluations), "
            f"{r['element_reads'] / 1e6:.1f} M element reads, {r['frame_seconds']:.2f} s/frame"
        )
        lines.append(
            "      DRAM/frame: "
            + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in dram.items())
            + f"; hybrid/dense {dram['hybrid'] / max(dram['dense'], 1):.3f}"
        )
        en = r["energy"]
        top = sorted(en["components_pj"].items(), key=lambda kv: -kv[1])[:4]
        lines.append(
            f"      energy/frame (accelerator, {en['node']}, DRAM {en['dram']}): "
            f"{r['energy_mj_per_frame']:.4g} mJ ("
            + ", ".join(f"{k} {v / 1e9:.3g}" for k, v in top)
            + f"; {en['pj_per_lookup']:.3g} pJ/lookup)"
        )
        dp = r.get("datapath")
        if dp:
            d = dp["design"]
            lines.append(
                f"      datapath ({d['lanes']} lanes, {d['banks']} banks x {d['bank_width']} b, "
                f"{d['sram_bytes'] / 1024:.0f} KiB, {d['macs_per_cycle']} MACs, "
                f"{d['clock_hz'] / 1e9:g} GHz, {d['dram']}): {dp['frames_per_s']:.1f} frames/s "
                f"({dp['bottleneck']}-bound), "
                + ("streamed " if dp["streaming"] else "on chip, ")
                + f"{dp['dram_bytes_per_frame'] / 1e6:.2f} MB DRAM/frame, model "
                f"{dp['sram_model_bytes'] / 1024:.0f} KiB"
            )
    return "\n".join(lines)
