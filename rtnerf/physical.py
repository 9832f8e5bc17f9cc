"""Physical reports of a synthesis: measured 0.18 um figures, scaled figures, SRAM macros.

:func:`area_report` turns a Liberty-target :class:`~rtnerf.synth.SynthResult` into three
separately labelled parts, never mixed:

* ``measured``: the standard-cell area (um^2) and the pre-layout critical path / Fmax at the
  library's node (OSU 0.18 um, 1.8 V), from Yosys and :mod:`rtnerf.sta`;
* ``scaled``: the same standard cells projected to a reference node (default
  :data:`~rtnerf.models.physical.scaling.DEFAULT_NODE`) with Stillmaker & Baas's rule
  (:mod:`rtnerf.models.physical.scaling`);
* ``sram``: the memories kept as SRAM macros, costed by the OpenRAM fit
  (:mod:`rtnerf.models.physical.sram`) at the reference node, and the reference node's total
  (scaled standard cells plus SRAM).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib
import numpy as np

from .models.physical import scaling
from .models.physical.sram import Memory, sram_model
from .synth import SynthResult

__all__ = ["LIBRARY_NODES", "area_report", "energy_bars", "report_lines"]

#: The node and supply of each Liberty target's library.
LIBRARY_NODES = {"osu018": scaling.Node(180, 1.8)}


def area_report(result: SynthResult, at: scaling.Node | None = None) -> dict[str, Any]:
    """The physical report of a Liberty-target synthesis (see the module docstring).

    Raises
    ------
    ValueError
        If ``result`` is not of a Liberty target.
    """
    if result.target not in LIBRARY_NODES or result.area_um2 is None:
        raise ValueError(f"no physical report for target {result.target!r} (need osu018)")
    at = at or scaling.node(scaling.DEFAULT_NODE)
    src = LIBRARY_NODES[result.target]
    timing = result.timing or {}
    crit = float(timing.get("critical_path_ns", 0.0))
    a = scaling.area_factor(src, at)
    d = scaling.delay_factor(src, at)
    model = sram_model()
    macros = []
    for m in result.memories:
        mem = Memory(name=f"{m['module']}/{m['name']}", words=m["words"], width=m["width"])
        cost = model.cost(mem, at)
        macros.append(
            {
                **mem.to_dict(),
                "read_ports": m.get("read_ports"),
                "write_ports": m.get("write_ports"),
                "area_um2": cost.area_um2,
                "read_pj": cost.read_pj,
                "access_ns": cost.access_ns,
                "extrapolated": cost.extrapolated,
            }
        )
    std_scaled = result.area_um2 * a
    sram_um2 = sum(m["area_um2"] for m in macros)
    return {
        "measured": {
            "label": f"measured: standard cells at {src.nm} nm ({result.liberty}), pre-layout",
            "node": src.label,
            "std_cell_area_um2": result.area_um2,
            "sequential_area_um2": result.sequential_area_um2,
            "cells": result.summary.get("cells"),
            "critical_path_ns": crit,
            "fmax_mhz": 1000.0 / crit if crit else None,
            "abc_target_ns": result.period_ns,
            "timing_loop_cuts": timing.get("loop_cuts", 0),
            "timing": "pre-layout static timing of the flattened netlist (rtnerf.sta): NLDM "
            "tables, wire-load guess, ideal clock",
        },
        "scaled": {
            "label": f"scaled to {at.label} (projection, not measured)",
            "node": at.label,
            "rule": scaling.SOURCE,
            "area_factor": a,
            "delay_factor": d,
            "std_cell_area_um2": std_scaled,
            "fmax_mhz": 1000.0 / (crit * d) if crit else None,
        },
        "sram": {
            "label": f"SRAM macros at {at.label} (OpenRAM fit, scaled from 45 nm)",
            "macros": macros,
            "area_um2": sram_um2,
            "model": model.summary(),
        },
        "total_area_um2_at_node": std_scaled + sram_um2,
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    """Human-readable lines of :func:`area_report`'s report."""
    m, s, r = report["measured"], report["scaled"], report["sram"]
    fmax = f"{m['fmax_mhz']:.1f} MHz" if m["fmax_mhz"] else "n/a"
    sfmax = f"{s['fmax_mhz']:.0f} MHz" if s["fmax_mhz"] else "n/a"
    lines = [
        f"  {m['label']}:",
        (
            f"    standard-cell area   {m['std_cell_area_um2']:>14,.0f} um^2"
            f"  ({m['std_cell_area_um2'] / 1e6:.3f} mm^2; flip-flops "
            f"{m['sequential_area_um2']:,.0f} um^2)"
        ),
        (
            f"    critical path        {m['critical_path_ns']:>14.3f} ns   (Fmax {fmax}, "
            f"ABC target {m['abc_target_ns']:g} ns)"
        ),
        f"  {s['label']}, x{s['area_factor']:.4g} area, x{s['delay_factor']:.3g} delay:",
        f"    standard-cell area   {s['std_cell_area_um2']:>14,.0f} um^2   (Fmax {sfmax})",
    ]
    if r["macros"]:
        lines.append(f"  {r['label']}:")
        for mac in r["macros"]:
            flag = "  (extrapolated)" if mac["extrapolated"] else ""
            lines.append(
                f"    {mac['name']:<24} {mac['words']:>6} x {mac['width']:<4} "
                f"{mac['area_um2']:>10,.0f} um^2  {mac['read_pj']:.3g} pJ/read  "
                f"{mac['access_ns']:.3g} ns{flag}"
            )
        lines.append(f"  total at {s['node']}: {report['total_area_um2_at_node']:,.0f} um^2")
    return lines


def energy_bars(
    labels: list[str],
    reports: list[dict[str, Any]],
    path: Path,
    *,
    title: str,
    unit: str = "pJ/lookup",
    per: str = "components_pj_per_lookup",
    scale: float = 1.0,
    others: dict[str, list[float | None]] | None = None,
) -> None:
    """A stacked bar per report (:meth:`~rtnerf.models.physical.energy.EnergyReport.to_dict`).

    Each bar stacks the report's components (``per``, times ``scale``); ``others`` adds a
    marker series per name (e.g. the CPU baselines' pJ/lookup; None where not measured).
    """
    from matplotlib.figure import Figure

    components = list(dict.fromkeys(k for r in reports for k in r[per]))
    fig = Figure(figsize=(max(6.0, 1.3 * len(labels) + 3), 4.8))
    ax = fig.subplots()
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    cmap = matplotlib.colormaps["tab20"]
    for i, comp in enumerate(components):
        ys = np.array([r[per].get(comp, 0.0) * scale for r in reports])
        if ys.any():
            ax.bar(x, ys, 0.6, bottom=bottom, label=comp, color=cmap(i % 20))
            bottom += ys
    for marker, (name, values) in zip("ov^sD", (others or {}).items(), strict=False):
        pts = [(i, v) for i, v in enumerate(values) if v is not None]
        if pts:
            ax.plot(*zip(*pts, strict=True), marker, color="k", ms=6, label=f"{name} (RAPL)")
    ax.set_xticks(x, labels, fontsize=8, rotation=20, ha="right")
    ax.set(
        ylabel=unit, yscale="log" if others and any(any(v) for v in others.values()) else "linear"
    )
    drams = sorted({r["dram"] for r in reports})
    where = f"{reports[0]['node']}" + (f", DRAM {drams[0]}" if len(drams) == 1 else "")
    ax.set_title(f"{title} ({where})", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
