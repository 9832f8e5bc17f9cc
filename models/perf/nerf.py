"""Frame time of NeRF rendering on the accelerator: the lookup engine plus a MAC array.

The lookup engine (:func:`rtnerf.models.perf.engine.estimate`) interpolates the factor planes
(one ELEMENT bag per sample, plane and component; :mod:`rtnerf.workloads.nerf.accel`). What
follows the embeddings runs on a **MAC array** of ``macs_per_cycle`` multiply-accumulators
(:class:`MacArrayParams`), counted per sample from the model's shapes
(:func:`macs_per_sample`):

* every evaluated sample (density): per plane and density component, the on-chip line's linear
  interpolation (2 MACs) and the product with the plane value, summed (1 MAC): ``9 R_sigma``;
  compositing ``sigma * delta``, ``w = T * alpha``, ``T *= 1 - alpha``: 3 MACs. The softplus and
  ``exp`` are activation-unit look-ups, not MACs.
* every sample whose appearance is evaluated: the same ``9 R_c`` for the appearance features,
  the basis matrix ``3 R_c x app_dim``, the decoder (``sh``: ``app_dim`` MACs, the SH sum of 9
  bases per colour channel; ``mlp``: TensoRF's MLP_Fea, ``in x hidden + hidden x hidden + hidden
  x 3`` with ``in = app_dim + 3 + 2 app_dim fea_pe + 6 view_pe``), and ``C += w rgb``,
  ``acc += w``: 4 MACs. Per-ray terms (SH bases or the view direction's encoding, the final
  blend) are ignored: at most a few tens of MACs per ray against hundreds per sample.

The array is modelled as perfectly utilised (``ceil(MACs / macs_per_cycle)`` cycles), an
optimistic bound. **Combination rule:** the engine and the array form a pipeline over samples
(FIFOs between them), so with ``overlap`` a frame takes ``max(lookup, mac)`` cycles; without,
their sum (no overlap, a pessimistic bound).
"""

from __future__ import annotations

import dataclasses
import math

from ...params.base import check_choice, check_int
from .engine import PerfResult

__all__ = ["DECODERS", "FramePerf", "MacArrayParams", "frame", "macs_per_sample"]

#: Appearance decoders: TensoRF's SH renderer (degree 2) or its MLP_Fea.
DECODERS = ("sh", "mlp")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MacArrayParams:
    """The MAC array after the embeddings.

    Parameters
    ----------
    macs_per_cycle : int
        Multiply-accumulates per cycle (default 256: a 16 x 16 array).
    decoder : str
        ``sh`` (the workload's) or ``mlp``.
    app_dim : int
        Outputs of the basis matrix (TensoRF: 27).
    hidden : int
        The MLP's hidden width (TensoRF ``featureC``: 128).
    fea_pe, view_pe : int
        The MLP's positional-encoding frequencies of the features and view direction (2, 2).
    """

    macs_per_cycle: int = 256
    decoder: str = "sh"
    app_dim: int = 27
    hidden: int = 128
    fea_pe: int = 2
    view_pe: int = 2

    def __post_init__(self) -> None:
        check_int("macs_per_cycle", self.macs_per_cycle, minimum=1)
        check_choice("decoder", self.decoder, DECODERS)
        check_int("app_dim", self.app_dim, minimum=1)
        check_int("hidden", self.hidden, minimum=1)
        check_int("fea_pe", self.fea_pe, minimum=0)
        check_int("view_pe", self.view_pe, minimum=0)
        if self.decoder == "sh" and self.app_dim != 27:
            raise ValueError(f"the SH decoder needs `app_dim` 27 (3 x 9 bases), not {self.app_dim}")


def macs_per_sample(
    density_components: int, app_components: int, params: MacArrayParams
) -> tuple[int, int]:
    """MACs of a density-only sample and the extra MACs of an appearance sample.

    See the module docstring for what is counted.
    """
    check_int("density_components", density_components, minimum=1)
    check_int("app_components", app_components, minimum=1)
    density = 3 * density_components * 3 + 3
    features = 3 * app_components * 3
    basis = 3 * app_components * params.app_dim
    if params.decoder == "sh":
        decoder = params.app_dim
    else:
        width = params.app_dim + 3 + 2 * params.app_dim * params.fea_pe + 6 * params.view_pe
        decoder = width * params.hidden + params.hidden * params.hidden + params.hidden * 3
    return density, features + basis + decoder + 4


@dataclasses.dataclass(frozen=True)
class FramePerf:
    """One frame on the accelerator (lookup engine + MAC array).

    Attributes
    ----------
    lookup_cycles : float
        The lookup engine's cycles for the frame (the perf model's, times ``scale``).
    mac_cycles : int
        The MAC array's cycles.
    macs : int
        MACs of the frame.
    dram_bytes_by_cause : dict
        DRAM bytes of the frame by cause (the golden accounting's, times ``scale``).
    scale : float
        Frame bags over measured bags (1 when the whole frame was measured).
    density_samples, appearance_samples : int
        Samples of the frame.
    overlap : bool
        The combination rule: ``max`` (pipelined) or the sum.
    clock_hz : float
        The clock.
    dram_bytes_per_cycle : float
        The DRAM's peak.
    bottleneck : str
        The lookup engine's bottleneck on the measured trace.
    """

    lookup_cycles: float
    mac_cycles: int
    macs: int
    dram_bytes_by_cause: dict
    scale: float
    density_samples: int
    appearance_samples: int
    overlap: bool
    clock_hz: float
    dram_bytes_per_cycle: float
    bottleneck: str

    @property
    def cycles(self) -> float:
        """Cycles of the frame: ``max`` or sum of the two stages."""
        if self.overlap:
            return max(self.lookup_cycles, self.mac_cycles)
        return self.lookup_cycles + self.mac_cycles

    @property
    def frames_per_s(self) -> float:
        """Frames per second at ``clock_hz``."""
        return self.clock_hz / self.cycles if self.cycles else math.inf

    @property
    def dram_bytes(self) -> float:
        """DRAM bytes of the frame."""
        return float(sum(self.dram_bytes_by_cause.values()))

    @property
    def compute_share(self) -> float:
        """The MAC array's busy cycles over the frame's cycles."""
        return self.mac_cycles / self.cycles if self.cycles else 0.0

    @property
    def bandwidth_utilisation(self) -> float:
        """DRAM bytes per frame cycle over the DRAM's peak."""
        return self.dram_bytes / self.cycles / self.dram_bytes_per_cycle if self.cycles else 0.0

    def to_dict(self) -> dict:
        """Flat numbers for a CSV row or ``summary.json``."""
        return {
            "frames_per_s": self.frames_per_s,
            "frame_cycles": self.cycles,
            "lookup_cycles": self.lookup_cycles,
            "mac_cycles": self.mac_cycles,
            "compute_share": self.compute_share,
            "macs": self.macs,
            "dram_bytes": self.dram_bytes,
            **{f"dram_{k}_bytes": v for k, v in self.dram_bytes_by_cause.items()},
            "bandwidth_utilisation": self.bandwidth_utilisation,
            "density_samples": self.density_samples,
            "appearance_samples": self.appearance_samples,
            "scale": self.scale,
            "bottleneck": self.bottleneck,
        }


def frame(
    lookup: PerfResult,
    *,
    scale: float,
    density_samples: int,
    appearance_samples: int,
    density_components: int,
    app_components: int,
    mac: MacArrayParams,
    clock_hz: float,
    overlap: bool = True,
) -> FramePerf:
    """Combine the engine's estimate of (part of) a frame with the MAC array's work.

    Parameters
    ----------
    lookup : PerfResult
        The perf model's estimate of the frame's trace, or of a subset of its rays.
    scale : float
        Frame bags over the measured trace's bags (at least 1).
    density_samples, appearance_samples : int
        The whole frame's samples (exact, from the renderer).
    density_components, app_components : int
        ``R_sigma`` and ``R_c``.
    mac : MacArrayParams
        The MAC array.
    clock_hz : float
        The design's clock.
    overlap : bool
        Pipelined stages (``max``) or not (sum).
    """
    if not scale >= 1.0:
        raise ValueError(f"`scale` must be at least 1, not {scale!r}")
    if not clock_hz > 0:
        raise ValueError(f"`clock_hz` must be positive, not {clock_hz!r}")
    check_int("density_samples", density_samples, minimum=0)
    check_int("appearance_samples", appearance_samples, minimum=0, maximum=density_samples)
    dens, app = macs_per_sample(density_components, app_components, mac)
    macs = density_samples * dens + appearance_samples * app
    return FramePerf(
        lookup_cycles=lookup.cycles * scale,
        mac_cycles=-(-macs // mac.macs_per_cycle),
        macs=macs,
        dram_bytes_by_cause={k: v * scale for k, v in lookup.traffic.bytes_by_cause().items()},
        scale=float(scale),
        density_samples=density_samples,
        appearance_samples=appearance_samples,
        overlap=overlap,
        clock_hz=float(clock_hz),
        dram_bytes_per_cycle=lookup.dram_bytes_per_cycle,
        bottleneck=lookup.bottleneck,
    )
