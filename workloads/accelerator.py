"""A :class:`~rtnerf.workloads.kernel.BagKernel` on the accelerator: perf, golden and cache models.

The design point is :func:`rtnerf.workloads.kernel.design` of the default design
(:class:`~rtnerf.params.EngineParams`): only what the kernel forces changes (columns, lanes, row
id width, tables, bag length, pairwise stage, weight fraction bits, output width);
:func:`overrides` lists the fields that differ from the default design. On it:

* the bags run longest first (:func:`rtnerf.workloads.kernel.balanced`: the host's schedule
  that keeps the units evenly loaded; the kernel's own order is also modelled, for comparison);
* the performance model (:func:`rtnerf.models.perf.engine.estimate`) on the whole kernel gives
  cycles, lookups/s at :data:`CLOCK_HZ` (the sweeps' default clock), DRAM bytes per lookup by
  cause, burst efficiency (useful bytes of the lookups that reach DRAM, ``dim * value_width /
  8`` each, over the DRAM bytes they transfer) and bandwidth utilisation;
* the golden model (:func:`rtnerf.workloads.kernel.golden`) gives the engine's bit-exact result,
  whose error against the float64 reference is the fixed-point error (largest absolute error
  over the reference's largest magnitude);
* the golden DRAM accounting (:func:`rtnerf.models.golden.engine.traffic`) replayed with row
  caches of several ``cache_sets x cache_ways`` gives hit rate and DRAM bytes per lookup per
  cache size (:data:`CACHE_SETTINGS`);
* the energy model (:mod:`rtnerf.models.physical.energy`) on the perf model's events gives pJ
  per lookup by component, at the reference node with the table's default DRAM class.

:func:`sample` cuts a kernel's first bags out (tables reduced to the rows they read) for an RTL
co-simulation, which lives with the simulators (:mod:`rtnerf.bench`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..models.golden.engine import traffic
from ..models.perf.engine import estimate
from ..models.physical.energy import energy
from ..models.physical.events import engine_events
from ..models.physical.scaling import DEFAULT_NODE, node
from ..params import EngineParams
from .baselines import relative_error
from .kernel import BagKernel, balanced, design, engine_inputs, engine_trace, golden

__all__ = [
    "CACHE_SETTINGS",
    "CAUSES",
    "CLOCK_HZ",
    "SCHEDULES",
    "cache_sweep",
    "evaluate",
    "overrides",
    "sample",
]

#: Clock of the reported rates (``rtnerf sweep``'s default ``clock_mhz``: 1000).
CLOCK_HZ = 1e9

#: DRAM byte causes (:class:`rtnerf.models.dram.Cause`), lower case.
CAUSES = ("directory", "bitmap", "coordinates", "values")

#: Bag orders :func:`evaluate` runs a kernel in (:func:`~rtnerf.workloads.kernel.balanced`).
SCHEDULES = ("balanced", "trace")

#: ``(cache_sets, cache_ways)`` of the cache sweep, per unit; ``(1, 0)`` is no cache.
CACHE_SETTINGS = ((1, 0), (4, 2), (16, 2), (16, 4), (64, 2), (64, 4), (64, 8))


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def overrides(params: EngineParams, base: EngineParams | None = None) -> dict[str, Any]:
    """Dotted fields of ``params`` that differ from ``base`` (default: the default design)."""
    have = _flatten(params.to_dict())
    was = _flatten((base or EngineParams()).to_dict())
    return {k: v for k, v in have.items() if was.get(k) != v}


def sample(kernel: BagKernel, bags: int) -> BagKernel:
    """The first ``bags`` bags of ``kernel`` (a pairwise kernel: whole pairs, at least one).

    Each table keeps only the rows the sample reads (in their order), so that a
    co-simulation loads small images; the result is named ``<name>-sample``.

    Raises
    ------
    ValueError
        If ``bags`` is not a positive integer.
    """
    if isinstance(bags, bool) or not isinstance(bags, int) or bags < 1:
        raise ValueError(f"`bags` must be a positive integer, not {bags!r}")
    step = 2 if kernel.pairwise != "none" else 1
    bags = min(kernel.bags, max(step, bags - bags % step))
    n = int(kernel.offsets[bags])
    table, row = kernel.table[:n], kernel.row[:n]
    tables, new_row = [], np.zeros(n, np.int64)
    for t, tab in enumerate(kernel.tables):
        sel = table == t
        used, inverse = np.unique(row[sel], return_inverse=True)
        new_row[sel] = inverse
        tables.append(tab[used] if used.size else tab[:1])
    return dataclasses.replace(
        kernel,
        name=f"{kernel.name}-sample",
        tables=tuple(tables),
        table=table.copy(),
        row=new_row,
        weight=kernel.weight[:n].copy(),
        offsets=kernel.offsets[: bags + 1].copy(),
    )


def _with_cache(params: EngineParams, sets: int, ways: int) -> EngineParams:
    unit = dataclasses.replace(params.unit, cache_sets=sets, cache_ways=ways)
    return dataclasses.replace(params, unit=unit)


def cache_sweep(
    params: EngineParams,
    images,
    trace,
    settings: Sequence[tuple[int, int]] = CACHE_SETTINGS,
    *,
    progress: Callable[[], None] | None = None,
) -> list[dict[str, Any]]:
    """Hit rate and DRAM bytes per lookup of ``trace`` with each ``(cache_sets, cache_ways)``.

    Each unit has its own cache (``rows`` = sets x ways per unit, ``total_rows`` over the
    units); ``(1, 0)`` is no cache. ``progress`` is called after each setting.
    """
    out = []
    for sets, ways in settings:
        t = traffic(_with_cache(params, sets, ways), images, trace)
        out.append(
            {
                "cache_sets": sets,
                "cache_ways": ways,
                "rows": sets * ways,
                "total_rows": sets * ways * params.units,
                "hit_rate": float(t.cache_hit.mean()) if len(trace) else 0.0,
                "dram_bytes_per_lookup": t.total_bytes / max(1, len(trace)),
            }
        )
        if progress:
            progress()
    return out


def evaluate(
    kernel: BagKernel,
    params: EngineParams | None = None,
    *,
    clock_hz: float = CLOCK_HZ,
    reference: np.ndarray | None = None,
    cache_settings: Sequence[tuple[int, int]] = CACHE_SETTINGS,
    schedule: str = "balanced",
    progress: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """The kernel on the accelerator at full scale (performance, golden and cache models).

    Parameters
    ----------
    kernel : BagKernel
        The kernel.
    params : EngineParams, optional
        The design point; default ``design(kernel)``.
    clock_hz : float
        Clock of the rates.
    reference : numpy.ndarray, optional
        :meth:`BagKernel.reference`, if already computed.
    cache_settings : sequence of (int, int)
        ``(cache_sets, cache_ways)`` of the cache sweep (empty: none).
    schedule : str
        ``"balanced"``: the bags run longest first (:func:`~rtnerf.workloads.kernel.balanced`,
        results compared in the kernel's order); ``"trace"``: in the kernel's order.
    progress : callable, optional
        Called after each model run (perf, golden, each cache setting).

    Returns
    -------
    dict
        ``design`` (:func:`overrides`), ``params``, ``clock_hz``, ``lookups``, ``bags``,
        ``cycles``, ``lookups_per_s``, ``bags_per_s``, ``dram_bytes``,
        ``dram_bytes_per_lookup``, ``dram_bytes_per_lookup_by_cause`` (:data:`CAUSES`),
        ``useful_bytes`` (every lookup's row at the value width), ``burst_efficiency``,
        ``bandwidth_utilisation``, ``utilisation`` (each limit's, :meth:`PerfResult.utilisation`),
        ``roofline_lookups_per_s`` (the DRAM and port peak over the DRAM bytes per lookup),
        ``bottleneck``, ``cache_hit_rate``, ``fixed_point_error``, ``cache_sweep``
        (:func:`cache_sweep`), ``energy``
        (:meth:`~rtnerf.models.physical.energy.EnergyReport.to_dict`), ``events`` (the
        :class:`~rtnerf.models.physical.energy.EventCounts` it prices, as a dict),
        ``energy_pj_per_lookup``, ``schedule``, ``trace_order`` (with the balanced schedule:
        ``cycles`` and ``lookups_per_s`` of the performance model in the kernel's own order)
        and ``model_s`` (the models' wall time).
    """
    if not clock_hz > 0:
        raise ValueError(f"`clock_hz` must be positive, not {clock_hz!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    start = time.perf_counter()
    params = params or design(kernel)
    ref = kernel.reference() if reference is None else reference
    trace_order = None
    images, trace = engine_inputs(kernel, params)
    if schedule == "balanced":
        cycles = estimate(params, images, trace).cycles
        trace_order = {
            "cycles": cycles,
            "lookups_per_s": kernel.lookups * clock_hz / cycles if cycles else 0.0,
        }
        kernel, order = balanced(kernel)
        ref = ref[order]
        trace = engine_trace(kernel, params)
    perf = estimate(params, images, trace)
    if progress:
        progress()
    error = relative_error(golden(params, images, trace), ref)
    if progress:
        progress()
    n = max(1, kernel.lookups)
    row_bytes = kernel.dim * params.unit.value_width / 8
    misses = int((~perf.traffic.cache_hit).sum())
    dram = perf.traffic.total_bytes
    rates = perf.per_second(clock_hz)
    causes = perf.traffic.bytes_by_cause()
    events = engine_events(params, perf, images, trace)
    joules = energy(events, at=node(DEFAULT_NODE))
    return {
        "design": overrides(params),
        "params": params.to_dict(),
        "clock_hz": clock_hz,
        "lookups": kernel.lookups,
        "bags": kernel.bags,
        "cycles": perf.cycles,
        "lookups_per_s": rates["requests_per_s"],
        "bags_per_s": rates["bags_per_s"],
        "dram_bytes": dram,
        "dram_bytes_per_lookup": dram / n,
        "dram_bytes_per_lookup_by_cause": {c: causes.get(c, 0) / n for c in CAUSES},
        "useful_bytes": int(kernel.lookups * row_bytes),
        "burst_efficiency": misses * row_bytes / dram if dram else 0.0,
        "bandwidth_utilisation": perf.bandwidth_utilisation(),
        "utilisation": perf.utilisation(),
        "roofline_lookups_per_s": n / (perf.roofline_cycles / clock_hz) if dram else 0.0,
        "bottleneck": perf.bottleneck,
        "cache_hit_rate": 1.0 - misses / n,
        "fixed_point_error": error,
        "cache_sweep": cache_sweep(params, images, trace, cache_settings, progress=progress),
        "energy": joules.to_dict(),
        "events": events.to_dict(),
        "energy_pj_per_lookup": joules.pj_per_lookup,
        "schedule": schedule,
        "trace_order": trace_order,
        "model_s": time.perf_counter() - start,
    }
