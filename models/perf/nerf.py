"""Frame time of NeRF rendering on the accelerator: lookup engine or sparse-embedding datapath.

**The sparse-embedding datapath** (:class:`DatapathParams`, :func:`lookup_stage`,
:func:`datapath_frame`; issue 15) reads the texel-layout planes
(:mod:`rtnerf.workloads.nerf.texel`) from a banked on-chip buffer through ``lanes`` decode
lanes, one 2 x 2 quad per lane per cycle, then a MAC array; :func:`datapath_frame` states every
stage's cycles. The rest of this docstring is the older lookup-engine frame (:func:`frame`).

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

import numba
import numpy as np

from ...params.base import check_choice, check_int
from .engine import PerfResult

__all__ = [
    "DECODERS",
    "DRAM_CLASSES",
    "BankMap",
    "DatapathFrame",
    "DatapathParams",
    "FramePerf",
    "GroupCycles",
    "LookupResult",
    "MacArrayParams",
    "datapath_frame",
    "frame",
    "group_cycles",
    "lookup_stage",
    "macs_per_sample",
    "touched_bytes",
]

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
    bilinear : bool
        Whether the array also interpolates the plane values (4 MACs per plane component), as
        in the texel datapath, whose lanes only decode; the lookup engine's units interpolate
        (``False``).
    """

    macs_per_cycle: int = 256
    decoder: str = "sh"
    app_dim: int = 27
    hidden: int = 128
    fea_pe: int = 2
    view_pe: int = 2
    bilinear: bool = False

    def __post_init__(self) -> None:
        check_int("macs_per_cycle", self.macs_per_cycle, minimum=1)
        check_choice("decoder", self.decoder, DECODERS)
        check_int("app_dim", self.app_dim, minimum=1)
        check_int("hidden", self.hidden, minimum=1)
        check_int("fea_pe", self.fea_pe, minimum=0)
        check_int("view_pe", self.view_pe, minimum=0)
        if not isinstance(self.bilinear, bool):
            raise TypeError(f"`bilinear` must be a bool, not {self.bilinear!r}")
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
    per = 7 if params.bilinear else 3  # (bilinear 4 +) line 2 + product 1 per plane component
    density = 3 * density_components * per + 3
    features = 3 * app_components * per
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


# -- the sparse-embedding datapath (texel rows, banked on-chip buffer, decode lanes) -----------

#: DRAM classes: name -> peak bytes per second of the channel (``x64``: 8 bytes per transfer).
DRAM_CLASSES = {
    "ddr4-2000x64": 16.0e9,
    "lpddr4-3200x64": 25.6e9,
    "lpddr5-6400x64": 51.2e9,
    "hbm2e-3200x1024": 409.6e9,
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatapathParams:
    """The sparse-embedding datapath of issue 15 (see :func:`datapath_frame` for the cycles).

    Parameters
    ----------
    lanes : int
        Decode lanes; each accepts one 2 x 2 quad (four texel rows, one per parity class) per
        cycle when its rows fit one bank word each.
    banks : int
        Payload banks of the sparse embedding buffer, a multiple of 4: ``banks / 4`` per parity
        class. The directory array has as many banks, organised the same way.
    bank_width : int
        Bits per bank word (one read per bank per cycle), a multiple of the images' word.
    sram_bytes : int
        Capacity of the sparse embedding buffer: a model whose plane images plus lines exceed it
        is streamed (:mod:`rtnerf.workloads.nerf.stream`).
    macs_per_cycle : int
        The MAC array after the lanes (interpolation, features, basis, decoder, compositing).
    samples_per_cycle : int or None
        Samples the front end (cube geometry: one slab test or one candidate sample) and the
        compositor each handle per cycle; ``None``: one per lane.
    clock_hz : float
        The clock of the whole datapath.
    dram : str
        A :data:`DRAM_CLASSES` name.
    decoder : str
        The appearance decoder of the MAC array (``sh`` or ``mlp``).
    """

    lanes: int = 4
    banks: int = 16
    bank_width: int = 256
    sram_bytes: int = 2 * 2**20
    macs_per_cycle: int = 512
    samples_per_cycle: int | None = None
    clock_hz: float = 1e9
    dram: str = "lpddr4-3200x64"
    decoder: str = "sh"

    def __post_init__(self) -> None:
        check_int("lanes", self.lanes, minimum=1, maximum=256)
        check_int("banks", self.banks, minimum=4, maximum=4096)
        if self.banks % 4:
            raise ValueError(
                f"`banks` must be a multiple of 4 (one set per class), not {self.banks}"
            )
        check_int("bank_width", self.bank_width, minimum=32, maximum=4096, power_of_two=True)
        check_int("sram_bytes", self.sram_bytes, minimum=0)
        check_int("macs_per_cycle", self.macs_per_cycle, minimum=1)
        if self.samples_per_cycle is not None:
            check_int("samples_per_cycle", self.samples_per_cycle, minimum=1)
        if not (isinstance(self.clock_hz, int | float) and math.isfinite(self.clock_hz)):
            raise ValueError(f"`clock_hz` must be a finite positive number, not {self.clock_hz!r}")
        if self.clock_hz <= 0:
            raise ValueError(f"`clock_hz` must be a finite positive number, not {self.clock_hz!r}")
        check_choice("dram", self.dram, tuple(DRAM_CLASSES))
        check_choice("decoder", self.decoder, DECODERS)

    @property
    def sample_rate(self) -> int:
        """Samples per cycle of the front end and of the compositor."""
        return self.lanes if self.samples_per_cycle is None else self.samples_per_cycle

    @property
    def dram_bytes_per_cycle(self) -> float:
        """The DRAM class's peak bytes per datapath cycle."""
        return DRAM_CLASSES[self.dram] / self.clock_hz

    @property
    def mac(self) -> MacArrayParams:
        """The MAC array, with the bilinear interpolation in it (the lanes only decode)."""
        return MacArrayParams(macs_per_cycle=self.macs_per_cycle, decoder=self.decoder,
                              bilinear=True)  # fmt: skip


@dataclasses.dataclass(frozen=True, eq=False)
class BankMap:
    """Where each texel row lives, on chip (banks) and in DRAM (bursts).

    Rows are numbered per (table ``t``, class ``c``) image as in
    :mod:`rtnerf.workloads.nerf.texel`: row ``g W_c H_c + (i1 >> 1) W_c + (i0 >> 1)``; the flat
    arrays are indexed by ``base[t, c] + row``.

    Attributes
    ----------
    banks, bank_width : int
        The buffer's banks (``banks / 4`` per class) and their word width in bits.
    base : numpy.ndarray
        ``int64`` ``(T, 4)``: first flat index of each image's rows.
    dir_word : numpy.ndarray
        ``int64`` per row: the bank word of its directory entry in the class's directory array
        (bank ``dir_word % (banks / 4)``); ``-1`` when the row is addressed by row stride (an
        all-DENSE image: no directory read).
    pay_first, pay_last : numpy.ndarray
        ``int64`` per row: the first and last bank words of its payload in the class's payload
        array (``-1, -2`` for an EMPTY row: nothing to read).
    dram_dir, dram_first, dram_last : numpy.ndarray
        ``int64`` per row: the DRAM burst of its directory entry (``-1``: none), and the first
        and last bursts of its payload (``-1, -2`` when empty), with the images laid out one
        after another in DRAM, each starting on a burst.
    dram_bursts : int
        Bursts of all images.
    burst_bytes : int
        Bytes per DRAM burst.
    class_shape : numpy.ndarray
        ``int64`` ``(4, 2)``: ``(W_c, H_c)`` per class.
    groups : numpy.ndarray
        ``int64`` ``(T,)``: rows per texel of each table.
    resolution : int
        ``N``: plane cells ``(i0, i1)`` are in ``[0, N - 2]``.
    row_of, row_base : numpy.ndarray
        ``int64``: class ``c``'s row order, ``row_of[row_base[c] + (i1 >> 1) W_c + (i0 >> 1)]``
        is the texel's row within its group's block (tile-major or row-major).
    """

    banks: int
    bank_width: int
    base: np.ndarray
    dir_word: np.ndarray
    pay_first: np.ndarray
    pay_last: np.ndarray
    dram_dir: np.ndarray
    dram_first: np.ndarray
    dram_last: np.ndarray
    dram_bursts: int
    burst_bytes: int
    class_shape: np.ndarray
    groups: np.ndarray
    resolution: int
    row_of: np.ndarray
    row_base: np.ndarray


@numba.njit(cache=True)
def _bank_cycles(first, span, lanes, kpc, pending, claimed):
    """The greedy read schedule of one class's array in one issue group: ``(cycles, reads)``.

    Lane ``l`` wants the bank words ``first[l] .. first[l] + span[l] - 1`` (word ``w`` in bank
    ``w % kpc``). Each cycle the lanes, in order, each take their lowest wanted word whose bank
    is not yet reading this cycle, or is reading that very word (a broadcast); a bank reads one
    word per cycle and a lane takes at most one word per cycle (its port).
    """
    left = 0
    for lane in range(lanes):
        pending[lane] = (np.int64(1) << span[lane]) - 1
        left += span[lane]
    cycles = 0
    reads = 0
    while left:
        for b in range(kpc):
            claimed[b] = -1
        for lane in range(lanes):
            m = pending[lane]
            k = 0
            while m:
                if m & 1:
                    w = first[lane] + k
                    b = w % kpc
                    take = claimed[b] == w
                    if claimed[b] < 0:
                        claimed[b] = w
                        reads += 1
                        take = True
                    if take:
                        pending[lane] &= ~(np.int64(1) << k)
                        left -= 1
                        break
                m >>= 1
                k += 1
        cycles += 1
    return cycles, reads


@numba.njit(cache=True)
def _group(gdir, gpf, gps, lanes, kpc, pending, claimed, ones, out):
    """Directory and payload cycles ``(D, P)`` of one issue group; counts its reads in ``out``.

    ``gdir[c, l]``: lane ``l``'s directory bank word in class ``c`` (-1: none, a row-stride
    image or no quad); ``gpf[c, l]``, ``gps[c, l]``: its payload's first bank word and span.
    """
    d_cycles = 0
    p_cycles = 0
    for c in range(4):
        n = 0
        for lane in range(lanes):
            ones[lane] = 1 if gdir[c, lane] >= 0 else 0
            n += ones[lane]
        cyc, reads = _bank_cycles(gdir[c], ones, lanes, kpc, pending, claimed)
        d_cycles = max(d_cycles, cyc)
        out[4] += reads
        out[6] += n - reads
        n = 0
        for lane in range(lanes):
            n += gps[c, lane]
        cyc, reads = _bank_cycles(gpf[c], gps[c], lanes, kpc, pending, claimed)
        p_cycles = max(p_cycles, cyc)
        out[5] += reads
        out[6] += n - reads
    out[3] += 1
    return d_cycles, p_cycles


@numba.njit(cache=True)
def _step(d_cycles, p_prev, span_prev, out):
    """One pipeline step's cycles, counted in ``out`` (see :func:`group_cycles`).

    A group's directory reads beside the payload reads of the group two ahead of it.
    """
    cyc = max(1, d_cycles, p_prev)
    out[0] += cyc
    out[1] += cyc - max(1, span_prev)
    return cyc


@numba.njit(cache=True)
def _touch(bb, v, stamp, resident, retain, visit_bytes, burst_bytes, out):
    """Visit ``v`` reads DRAM burst ``bb``: loaded unless this visit or the buffer has it.

    ``stamp[bb]``: the last visit that read it. ``out[11]``: bursts resident (``retain``).
    """
    if stamp[bb] == v:
        return
    stamp[bb] = v
    if retain:
        if resident[bb]:
            return
        resident[bb] = True
        out[11] += 1
    visit_bytes[v] += burst_bytes


@numba.njit(cache=True)
def _evict(v, capacity, stamp, resident, out):
    """At the end of visit ``v``'s reads, evict down to ``capacity`` bursts (visit-level LRU).

    Only bursts last read before visit ``v - 1`` may go (visit ``v - 1`` computes while
    visit ``v`` loads): the least recently read first, ties by the lower burst. ``out[10]``
    counts evictions; ``out[12]`` is set when too few bursts may go.
    """
    excess = out[11] - capacity
    if excess <= 0:
        return
    cand = np.nonzero(resident & (stamp <= v - 2))[0]
    if cand.size < excess:
        out[12] = 1
        excess = cand.size
    key = stamp[cand] * stamp.size + cand
    for i in np.argsort(key)[:excess]:
        resident[cand[i]] = False
    out[10] += excess
    out[11] -= excess


@numba.njit(cache=True)
def _datapath(cells, app, visit, base, dir_word, pay_first, pay_last, dram_dir, dram_first,
              dram_last, burst_bytes, class_shape, groups, row_of, row_base, lanes, kpc, stamp,
              resident, capacity, visit_cycles, visit_bytes, simulate, out):  # fmt: skip
    """The lookup stage over a frame's samples in order; see :func:`datapath_frame`.

    Without ``simulate`` only the DRAM bursts per visit are counted (no issue groups).
    ``capacity`` >= 0: the buffer retains up to that many bursts across visits (:func:`_evict`);
    -1: each visit loads every burst it reads.

    ``out``: [cycles, conflict cycles, quads, groups, directory reads, payload word reads,
    merged reads, row reads, empty rows, DRAM bytes, evictions, resident bursts, too small].
    """
    retain = capacity >= 0
    n_tables = groups.size
    half = n_tables // 2
    gdir = np.full((4, lanes), -1, np.int64)
    gpf = np.zeros((4, lanes), np.int64)
    gps = np.zeros((4, lanes), np.int64)
    pending = np.zeros(lanes, np.int64)
    claimed = np.zeros(kpc, np.int64)
    ones = np.zeros(lanes, np.int64)
    slot = 0
    lane_max = 0
    # The payload cycles and widest row of the two groups ahead in the pipeline.
    p1 = p2 = s1 = s2 = 0
    last_v = -1
    for s in range(cells.shape[0]):
        v = visit[s]
        for kind in range(2):
            if kind == 1 and not app[s]:
                break
            for m in range(3):
                t = kind * half + m
                i0 = cells[s, m, 0]
                i1 = cells[s, m, 1]
                for g in range(groups[t]):
                    for c in range(4):
                        a = c & 1
                        b = c >> 1
                        x = i0 + ((i0 ^ a) & 1)
                        y = i1 + ((i1 ^ b) & 1)
                        w = class_shape[c, 0]
                        h = class_shape[c, 1]
                        idx = base[t, c] + g * w * h + row_of[row_base[c] + (y >> 1) * w + (x >> 1)]
                        if v >= 0:
                            bl = dram_dir[idx]
                            if bl >= 0:
                                _touch(bl, v, stamp, resident, retain, visit_bytes, burst_bytes,
                                       out)  # fmt: skip
                            for bb in range(dram_first[idx], dram_last[idx] + 1):
                                _touch(bb, v, stamp, resident, retain, visit_bytes, burst_bytes,
                                       out)  # fmt: skip
                        if not simulate:
                            continue
                        gdir[c, slot] = dir_word[idx]
                        f = pay_first[idx]
                        span = pay_last[idx] - f + 1
                        out[7] += 1
                        if span <= 0:
                            out[8] += 1
                            span = 0
                        gpf[c, slot] = f
                        gps[c, slot] = span
                        if span > lane_max:
                            lane_max = span
                    if not simulate:
                        continue
                    out[2] += 1
                    slot += 1
                    last_v = v
                    if slot == lanes:
                        d, p = _group(gdir, gpf, gps, lanes, kpc, pending, claimed, ones, out)
                        cyc = _step(d, p2, s2, out)
                        if v >= 0:
                            visit_cycles[v] += cyc
                        p2, s2, p1, s1 = p1, s1, p, lane_max
                        slot = 0
                        lane_max = 0
                        gdir[:] = -1
                        gps[:] = 0
        last = v >= 0 and (s + 1 == cells.shape[0] or visit[s + 1] != v)
        if last and retain:
            _evict(v, capacity, stamp, resident, out)
        # A visit's last group is issued before the next visit's rows are touched.
        if slot and simulate and last:
            d, p = _group(gdir, gpf, gps, lanes, kpc, pending, claimed, ones, out)
            visit_cycles[v] += _step(d, p2, s2, out)
            p2, s2, p1, s1 = p1, s1, p, lane_max
            slot = 0
            lane_max = 0
            gdir[:] = -1
            gps[:] = 0
    if slot:
        d, p = _group(gdir, gpf, gps, lanes, kpc, pending, claimed, ones, out)
        _step(d, p2, s2, out)
        p2, s2, p1, s1 = p1, s1, p, lane_max
    if out[3]:  # the last two groups' payload steps
        cyc = _step(0, p2, s2, out) + _step(0, p1, s1, out)
        if last_v >= 0:
            visit_cycles[last_v] += cyc
    for v in range(visit_bytes.size):
        out[9] += visit_bytes[v]


#: Most bank words one row may span (the schedule keeps a lane's wanted words in a bit mask).
_MAX_SPAN = 62


@numba.njit(cache=True)
def _groups(dir_word, pay_first, pay_span, kpc, d_out, p_out, out):
    lanes = dir_word.shape[2]
    pending = np.zeros(lanes, np.int64)
    claimed = np.zeros(kpc, np.int64)
    ones = np.zeros(lanes, np.int64)
    for k in range(dir_word.shape[0]):
        d_out[k], p_out[k] = _group(dir_word[k], pay_first[k], pay_span[k], lanes, kpc, pending,
                                    claimed, ones, out)  # fmt: skip


@dataclasses.dataclass(frozen=True)
class GroupCycles:
    """The cycles of a stream of issue groups (see :func:`group_cycles`).

    Attributes
    ----------
    directory, payload : numpy.ndarray
        ``int64`` per group: ``D``, its directory read cycles, and ``P``, its payload read
        cycles (0 when it reads nothing).
    span : numpy.ndarray
        ``int64`` per group: its widest row in bank words.
    steps : numpy.ndarray
        ``int64`` ``(n + 2,)`` (empty without groups): the pipeline's steps, step ``k`` =
        ``max(1, D_k, P_{k-2})``; group ``k`` is accepted at the end of step ``k - 1``.
    directory_reads, payload_reads, merged_reads : int
        Bank reads of the two arrays and requests served by another lane's read.
    """

    directory: np.ndarray
    payload: np.ndarray
    span: np.ndarray
    steps: np.ndarray
    directory_reads: int
    payload_reads: int
    merged_reads: int

    @property
    def cycles(self) -> int:
        """All steps: from the first group's acceptance to the last group's payload read."""
        return int(self.steps.sum())

    @property
    def conflict_cycles(self) -> int:
        """Cycles of the steps beyond ``max(1, span)`` of the group reading its payload."""
        own = np.maximum(1, np.concatenate([[0, 0], self.span]))
        return int((self.steps - own).sum()) if self.steps.size else 0


def group_cycles(
    dir_word: np.ndarray, pay_first: np.ndarray, pay_span: np.ndarray, banks: int
) -> GroupCycles:
    """Cycles of issue groups on the sparse embedding buffer (the RTL's exact schedule).

    Parameters
    ----------
    dir_word : numpy.ndarray
        ``int64`` ``(n, 4, lanes)``: per group, class and lane, the bank word of the row's
        directory entry in the class's directory array; -1 for none (a row-stride image, or no
        quad in that lane).
    pay_first, pay_span : numpy.ndarray
        ``int64`` ``(n, 4, lanes)``: the first bank word of the row's payload in the class's
        payload array and the bank words it spans (0: EMPTY, or no quad).
    banks : int
        Banks of the buffer (``banks / 4`` per class and array).

    Returns
    -------
    GroupCycles
        ``D`` and ``P`` per group (see :func:`datapath_frame` for the schedule) and the steps.
    """
    check_int("banks", banks, minimum=4)
    arrays = [np.ascontiguousarray(a, np.int64) for a in (dir_word, pay_first, pay_span)]
    shape = arrays[0].shape
    if len(shape) != 3 or shape[1] != 4 or any(a.shape != shape for a in arrays):
        raise ValueError("`dir_word`, `pay_first` and `pay_span` must be (n, 4, lanes) arrays")
    if arrays[2].size and (arrays[2].min() < 0 or arrays[2].max() > _MAX_SPAN):
        raise ValueError(f"`pay_span` must be from 0 to {_MAX_SPAN}")
    n = shape[0]
    d = np.zeros(n, np.int64)
    p = np.zeros(n, np.int64)
    out = np.zeros(10, np.int64)
    _groups(*arrays, banks // 4, d, p, out)
    steps = np.zeros(n + 2 if n else 0, np.int64)
    if n:
        steps[:n] = d
        steps[2:] = np.maximum(steps[2:], p)
        steps = np.maximum(steps, 1)
    return GroupCycles(
        directory=d,
        payload=p,
        span=arrays[2].max(axis=(1, 2)) if n else np.zeros(0, np.int64),
        steps=steps,
        directory_reads=int(out[4]),
        payload_reads=int(out[5]),
        merged_reads=int(out[6]),
    )


@dataclasses.dataclass(frozen=True)
class LookupResult:
    """The lookup stage of a frame (see :func:`datapath_frame`).

    Attributes
    ----------
    cycles : int
        Cycles of all pipeline steps (:func:`group_cycles`).
    conflict_cycles : int
        Cycles lost to bank conflicts: each pipeline step's cycles beyond ``max(1, max p)`` of
        the group reading its payload (see :func:`datapath_frame`).
    quads, groups : int
        Quads issued and lockstep issue groups.
    row_reads, empty_rows : int
        Texel rows read (4 per quad) and those that were EMPTY (directory only).
    directory_reads, payload_reads : int
        Bank reads of the directory and payload arrays.
    merged_reads : int
        Requests served by another lane's read of the same bank word in the same cycle.
    dram_bytes : int
        Streaming only: bytes loaded over all visits (0 on chip).
    visit_cycles, visit_bytes : numpy.ndarray
        Streaming only: lookup cycles and DRAM bytes per visit (empty on chip).
    evictions : int
        Streaming into a retaining buffer (``capacity``) only: bursts evicted.
    """

    cycles: int
    conflict_cycles: int
    quads: int
    groups: int
    row_reads: int
    empty_rows: int
    directory_reads: int
    payload_reads: int
    merged_reads: int
    dram_bytes: int
    visit_cycles: np.ndarray
    visit_bytes: np.ndarray
    evictions: int = 0


def lookup_stage(
    cells: np.ndarray,
    appearance: np.ndarray,
    bank_map: BankMap,
    lanes: int,
    visit: np.ndarray | None = None,
    *,
    simulate: bool = True,
    capacity: int | None = None,
) -> LookupResult:
    """Run the lookup stage of :func:`datapath_frame` over samples in issue order.

    Parameters
    ----------
    cells : numpy.ndarray
        ``int64`` ``(S, 3, 2)``: per sample and plane ``m``, the quad's ``(i0, i1)`` (cell
        indices clamped to ``[0, N - 2]``).
    appearance : numpy.ndarray
        bool ``(S,)``: the samples whose appearance planes are read.
    bank_map : BankMap
        Where the rows are.
    lanes : int
        Decode lanes.
    visit : numpy.ndarray or None
        Streaming: ``int64`` ``(S,)`` visit id per sample (non-decreasing, from 0). ``None``:
        on chip, no DRAM.
    simulate : bool
        Whether to run the issue groups (cycles); without, only the DRAM bursts are counted.
    capacity : int or None
        Streaming only: the bursts the on-chip buffer holds. ``None`` (a tile buffer): each
        visit loads every burst it reads, once, whatever earlier visits loaded. An int (a
        **retaining buffer**): a burst stays loaded until evicted, so a visit loads only the
        bursts it reads that are not resident. Eviction is **LRU at visit granularity**: after
        a visit's loads, while more than ``capacity`` bursts are resident, the one last read
        by the earliest visit goes (ties: the lower burst address), never one read by this
        visit or the one before it (that visit computes while this one loads, see
        :func:`datapath_frame`), so the smallest usable buffer holds two consecutive visits'
        bursts. A buffer holding every burst the frame reads loads each once (the
        :func:`touched_bytes` lower bound). The buffer starts empty (no reuse across frames).

    Returns
    -------
    LookupResult
        The stage's counters.

    Raises
    ------
    ValueError
        When ``capacity`` cannot hold the bursts of two consecutive visits.
    """
    cells = np.ascontiguousarray(cells, np.int64)
    s = cells.shape[0]
    if cells.shape != (s, 3, 2):
        raise ValueError(f"`cells` must be of shape (S, 3, 2), not {cells.shape}")
    app = np.ascontiguousarray(appearance, np.bool_)
    if app.shape != (s,):
        raise ValueError(f"`appearance` must be a bool array of shape ({s},), not {app.shape}")
    check_int("lanes", lanes, minimum=1)
    bm = bank_map
    top = bm.resolution - 2
    if s and (cells.min() < 0 or cells.max() > top):
        raise ValueError(f"`cells` must be in [0, {top}], the planes' cells")
    if visit is None:
        v = np.full(s, -1, np.int64)
        visits = 0
    else:
        v = np.ascontiguousarray(visit, np.int64)
        if v.shape != (s,) or (s and (v[0] < 0 or (np.diff(v) < 0).any())):
            raise ValueError("`visit` must be a non-decreasing int array of shape (S,) from 0")
        visits = int(v[-1]) + 1 if s else 0
    if int((bm.pay_last - bm.pay_first).max(initial=0)) >= _MAX_SPAN:
        raise ValueError(f"a row spans more than {_MAX_SPAN} bank words")
    if capacity is not None:
        check_int("capacity", capacity, minimum=0)
        if visit is None:
            raise ValueError("`capacity` needs `visit`: a buffer on chip loads nothing")
    stamp = np.full(max(bm.dram_bursts, 1), -1, np.int64)
    resident = np.zeros(stamp.size, np.bool_)
    visit_cycles = np.zeros(visits, np.int64)
    visit_bytes = np.zeros(visits, np.int64)
    out = np.zeros(13, np.int64)
    _datapath(cells, app, v, bm.base, bm.dir_word, bm.pay_first, bm.pay_last, bm.dram_dir,
              bm.dram_first, bm.dram_last, bm.burst_bytes, bm.class_shape, bm.groups, bm.row_of,
              bm.row_base, lanes, bm.banks // 4, stamp, resident,
              -1 if capacity is None else capacity, visit_cycles, visit_bytes, simulate,
              out)  # fmt: skip
    if out[12]:
        raise ValueError(
            f"`capacity` must hold the bursts of two consecutive visits, not {capacity}"
        )
    return LookupResult(
        cycles=int(out[0]),
        conflict_cycles=int(out[1]),
        quads=int(out[2]),
        groups=int(out[3]),
        row_reads=int(out[7]),
        empty_rows=int(out[8]),
        directory_reads=int(out[4]),
        payload_reads=int(out[5]),
        merged_reads=int(out[6]),
        dram_bytes=int(out[9]),
        visit_cycles=visit_cycles,
        visit_bytes=visit_bytes,
        evictions=int(out[10]),
    )


def touched_bytes(cells: np.ndarray, appearance: np.ndarray, bank_map: BankMap) -> int:
    """The compressed touched-bytes lower bound: every DRAM burst the frame reads, once."""
    s = np.asarray(cells).shape[0]
    visit = np.zeros(s, np.int64)
    return lookup_stage(cells, appearance, bank_map, 1, visit, simulate=False).dram_bytes


@dataclasses.dataclass(frozen=True)
class DatapathFrame:
    """One frame on the sparse-embedding datapath (see :func:`datapath_frame`).

    Attributes
    ----------
    stages : dict of str to float
        Cycles per stage: ``front_end``, ``lookup``, ``mac``, ``composite`` and, streaming,
        ``stream`` (the double-buffered lookup-and-load schedule, replacing ``lookup``).
    lookup : LookupResult
        The lookup stage's counters.
    macs : int
        MACs of the frame.
    samples, appearance_samples, front_end_work : int
        The frame's density and appearance samples, and its front-end items.
    streaming : bool
        Whether the planes were streamed (not resident in the buffer).
    dram_bytes : float
        DRAM bytes of the frame (streaming loads; 0 when resident).
    load_bytes : int
        DRAM bytes of one fill of the buffer (the plane images and the lines), once per model.
    params : DatapathParams
        The design point.
    """

    stages: dict[str, float]
    lookup: LookupResult
    macs: int
    samples: int
    appearance_samples: int
    front_end_work: int
    streaming: bool
    dram_bytes: float
    load_bytes: int
    params: DatapathParams

    @property
    def cycles(self) -> float:
        """Cycles of the frame: the slowest stage (the stages are pipelined through FIFOs)."""
        return max(self.stages.values())

    @property
    def bottleneck(self) -> str:
        """The slowest stage."""
        return max(self.stages, key=self.stages.get)

    @property
    def frames_per_s(self) -> float:
        """Frames per second at the clock."""
        return self.params.clock_hz / self.cycles if self.cycles else math.inf

    @property
    def load_seconds(self) -> float:
        """Seconds to fill the buffer from DRAM (once per model)."""
        return self.load_bytes / DRAM_CLASSES[self.params.dram]

    def to_dict(self) -> dict:
        """Flat numbers for a CSV row or ``summary.json``."""
        lk = self.lookup
        return {
            "frames_per_s": self.frames_per_s,
            "frame_cycles": self.cycles,
            "bottleneck": self.bottleneck,
            **{f"{k}_cycles": v for k, v in self.stages.items()},
            "quads": lk.quads,
            "conflict_cycles": lk.conflict_cycles,
            "row_reads": lk.row_reads,
            "empty_rows": lk.empty_rows,
            "directory_reads": lk.directory_reads,
            "payload_reads": lk.payload_reads,
            "merged_reads": lk.merged_reads,
            "macs": self.macs,
            "samples": self.samples,
            "appearance_samples": self.appearance_samples,
            "front_end_work": self.front_end_work,
            "streaming": self.streaming,
            "dram_bytes_per_frame": self.dram_bytes,
            "load_bytes": self.load_bytes,
            "load_seconds": self.load_seconds,
        }


def datapath_frame(
    lookup: LookupResult,
    params: DatapathParams,
    *,
    samples: int,
    appearance_samples: int,
    front_end_work: int,
    density_components: int,
    app_components: int,
    load_bytes: int,
    streaming: bool = False,
) -> DatapathFrame:
    r"""Cycles of one frame on the sparse-embedding datapath.

    **The stages** (each a pipeline, with FIFOs between them, so a frame takes the slowest
    stage's cycles; fill and drain latencies, tens of cycles, are ignored):

    1. **Front end** (``ceil(front_end_work / sample_rate)``): per cycle and lane, one cube-pixel
       slab test or one candidate sample (cell test against the cube, for RT-NeRF; the
       occupancy test of a lattice sample, for uniform marching).
    2. **Lookup** (``lookup.cycles``, from :func:`lookup_stage`; the RTL of
       :class:`rtnerf.rtl.texel_lookup.TexelLookup` runs this schedule cycle for cycle, checked
       per group in cosimulation). The dispatcher cuts the stream of quads -- per sample in
       issue order: the 3 density planes' quads (``groups`` each), then, when its appearance
       is read, the 3 appearance planes' -- into **lockstep issue groups** of ``lanes``
       consecutive quads, quad ``j`` of a group to lane ``j``. A quad reads one row per parity
       class ``c = 2 (i1 & 1) + (i0 & 1)``: its directory entry from the class's directory
       array (none for an all-DENSE image, addressed by row stride) and its payload (``p`` bank
       words, 0 for EMPTY) from the class's payload array. Each class has ``banks / 4``
       directory banks and ``banks / 4`` payload banks, word ``w`` of either array in bank
       ``w % (banks / 4)``; a bank reads one word per cycle, and a lane has per class one
       directory port and one payload port of one bank word per cycle. **Arbitration** (per
       class and array, every cycle): the lanes in order each take their lowest wanted word
       whose bank is not reading yet this cycle, or is reading that very word (a broadcast:
       one read serves every lane taking it). A group's directory reads take ``D`` cycles (the
       most distinct entry words of one bank) and its payload reads ``P`` cycles (at least
       ``max p`` and the most distinct words of one bank; the greedy order can take more,
       :func:`group_cycles`). **Pipeline**: directory read, entry decode, payload read, row
       capture, expansion, each a lockstep step of the whole pipeline (the lanes and stages
       stall together); step ``k`` holds group ``k``'s directory reads and group ``k - 2``'s
       payload reads and takes ``max(1, D_k, P_{k-2})`` cycles. The cycles of a step beyond
       ``max(1, max p)`` of the group reading its payload are **conflict cycles**. The decoder
       expands a row per class per step (BITMAP: prefix popcount of the presence bits, the
       adder tree's up- and down-sweep, gives each value's slot; COO: each of the ``G`` outputs
       searches the row's coordinates; DENSE: pass-through; EMPTY: zeros). The pipeline's fill
       and drain (the RTL's :attr:`~rtnerf.params.TexelLookupParams.latency`, 9 cycles) are
       not counted.
    3. **MAC array** (``ceil(MACs / macs_per_cycle)``, fully utilised): per density sample
       ``21 R_sigma + 3`` (bilinear 4, line 2 and product 1 per plane component; compositing
       3), per appearance sample another ``21 R_c + 3 R_c 27 + 27 + 4`` (SH; see
       :func:`macs_per_sample` with ``bilinear``).
    4. **Compositor** (``ceil(samples / sample_rate)``): one sample's ``alpha``, ``T`` and
       colour accumulation per cycle per lane; the sample generator stops a ray once its
       ``T <= 1e-4`` (early termination; samples already in flight are assumed not issued).

    **Streaming** (``streaming``; the planes do not fit ``sram_bytes``): the samples are
    issued visit by visit (:mod:`rtnerf.workloads.nerf.stream`), each visit's bursts that are
    not on chip (all of them into a tile buffer; the missing ones into a retaining buffer,
    :func:`lookup_stage`'s ``capacity``) loaded from DRAM while the previous visit computes
    (double-buffered); the lookup stage becomes ``stream = load_0 + sum_v max(lookup_v,
    load_{v+1})`` with ``load_v = bytes_v / dram_bytes_per_cycle``, in place of ``lookup``.
    """
    if not isinstance(params, DatapathParams):
        raise TypeError(f"`params` must be DatapathParams, not {type(params).__name__}")
    check_int("samples", samples, minimum=0)
    check_int("appearance_samples", appearance_samples, minimum=0, maximum=samples)
    check_int("front_end_work", front_end_work, minimum=0)
    rate = params.sample_rate
    dens, app = macs_per_sample(density_components, app_components, params.mac)
    macs = samples * dens + appearance_samples * app
    stages: dict[str, float] = {
        "front_end": float(-(-front_end_work // rate)),
        "lookup": float(lookup.cycles),
        "mac": float(-(-macs // params.macs_per_cycle)),
        "composite": float(-(-samples // rate)),
    }
    dram = 0.0
    if streaming:
        loads = lookup.visit_bytes / params.dram_bytes_per_cycle
        work = lookup.visit_cycles.astype(np.float64)
        nxt = np.append(loads[1:], 0.0)
        stream = (loads[0] if loads.size else 0.0) + float(np.maximum(work, nxt).sum())
        del stages["lookup"]
        stages["stream"] = stream
        dram = float(lookup.dram_bytes)
    return DatapathFrame(
        stages=stages,
        lookup=lookup,
        macs=macs,
        samples=samples,
        appearance_samples=appearance_samples,
        front_end_work=front_end_work,
        streaming=streaming,
        dram_bytes=dram,
        load_bytes=int(load_bytes),
        params=params,
    )
