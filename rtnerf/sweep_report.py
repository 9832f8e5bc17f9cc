"""Reports of a sweep: ``results.csv``, ``summary.json``, ``summary.txt`` and the plots."""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from .models.dram import Cause
from .runfolder import RunFolder

__all__ = ["SUMMARY_VERSION", "pareto_front", "save_plot", "write_reports"]

#: Version of the sweep's ``summary.json`` layout.
SUMMARY_VERSION = 1


def pareto_front(cost: list[float], value: list[float]) -> list[int]:
    """Indices of the points no other point beats on both (lower cost, higher value)."""
    order = sorted(range(len(cost)), key=lambda i: (cost[i], -value[i]))
    front, best = [], float("-inf")
    for i in order:
        if value[i] > best:
            front.append(i)
            best = value[i]
    return front


def _label(point: dict[str, Any]) -> str:
    return ", ".join(f"{k.split('+')[0].split('.')[-1]}={v}" for k, v in point.items())


def write_reports(study, rows: list[tuple[int, dict, Any]], folder: RunFolder) -> dict[str, Any]:
    """Write the reports of the stored points into the run folder; return the summary.

    ``rows`` are ``(index, overrides, PointResult)`` in study order.
    """
    from .sweep import COLUMNS

    keys = list(study.points[0]) if study.points else []
    results = [r for _, _, r in rows]
    has_area = bool(results) and results[0].area_cells is not None
    has_um2 = has_area and results[0].area_um2_node is not None
    optional = {"area_cells": has_area, "area_um2": has_um2, "fmax_mhz": has_um2}
    optional["area_um2_node"] = has_um2
    columns = {"point": "", **dict.fromkeys(keys, "")}
    columns.update({c: u for c, u in COLUMNS.items() if optional.get(c, True)})
    folder.write_csv(
        "results.csv",
        columns,
        ({"point": idx, **point, **result.to_dict()} for idx, point, result in rows),
    )
    points = [p for _, p, _ in rows]
    cost_name = "area_um2_node" if has_um2 else "area_cells" if has_area else "dram_bytes_per_bag"
    cost = [getattr(r, cost_name) for r in results]
    throughput = [r.throughput for r in results]
    front = pareto_front(cost, throughput) if results else []
    energy = [r.energy_pj_per_bag for r in results]
    energy_front = pareto_front(energy, throughput) if results else []
    best = max(range(len(results)), key=lambda i: results[i].throughput) if results else None
    summary = folder.write_summary(
        {
            "study": study.name,
            "study_digest": study.digest(),
            "points": len(study.points),
            "evaluated": len(rows),
            "workload": {
                "trace": study.trace,
                "bags": study.bags,
                "seed": study.seed,
                "max_bag": study.max_bag,
            },
            "clock_mhz": study.clock_mhz,
            "best": None if best is None else {"point": points[best], **results[best].to_dict()},
            "pareto": {"cost": cost_name, "points": [points[i] for i in front]},
            "pareto_energy": {
                "cost": "energy_pj_per_bag",
                "points": [points[i] for i in energy_front],
            },
            "energy": "rtnerf.models.physical.energy: the default energy table and DRAM class, "
            "logic and SRAM scaled to the reference node",
            "plots": ["pareto.png", "pareto_energy.png", "dram_by_cause.png", "roofline.png"],
        },
        schema="rtnerf.sweep.summary",
        version=SUMMARY_VERSION,
    )
    has_energy = bool(results)
    names = [k.split("+")[0].split(".")[-1] for k in keys]
    widths = [
        max(len(n), *(len(str(p[k])) for p in points)) + 2 for n, k in zip(names, keys, strict=True)
    ]
    lines = [
        (
            f"study: {study.name} ({len(rows)} of {len(study.points)} points, {study.trace} "
            f"trace of {study.bags} bags, {study.clock_mhz:g} MHz)"
        ),
        " "
        + "".join(f"{n:<{w}}" for n, w in zip(names, widths, strict=True))
        + f"{'bags/s':>11}{'B/bag':>8}{'BW util':>9}  bottleneck"
        + ("   cells" if has_area else "")
        + ("   um2@node" if has_um2 else "")
        + ("     pJ/bag" if has_energy else ""),
    ]
    for i, (p, r) in enumerate(zip(points, results, strict=True)):
        lines.append(
            ("*" if i in front else " ")
            + "".join(f"{p[k]!s:<{w}}" for k, w in zip(keys, widths, strict=True))
            + f"{r.throughput:>11.4g}{r.dram_bytes_per_bag:>8.0f}"
            + f"{r.bandwidth_utilisation:>9.2f}  {r.bottleneck:<10}"
            + (f"{r.area_cells:>8}" if has_area else "")
            + (f" {r.area_um2_node:>10.4g}" if has_um2 else "")
            + (f" {r.energy_pj_per_bag:>10.4g}" if has_energy else "")
        )
    lines.append(f"* on the Pareto front (throughput vs {cost_name})")
    folder.write_text("summary.txt", "\n".join(lines) + "\n")
    if results:
        _plots(points, results, front, cost_name, folder)
        _pareto(points, results, energy_front, "energy_pj_per_bag", folder, "pareto_energy.png")
    return summary


def save_plot(folder: RunFolder, fig: Figure, ax, title: str, name: str) -> None:
    """Title ``ax``, add its legend and save ``fig`` as ``name`` in the run folder."""
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    folder.save_figure(fig, name)


#: Axis labels of the Pareto plots' costs.
_COST_LABELS = {
    "area_cells": "area [cells]",
    "area_um2_node": "area at the reference node [um^2] (scaled 0.18 um cells + SRAM model)",
    "dram_bytes_per_bag": "DRAM bytes per bag [B]",
    "energy_pj_per_bag": "energy per bag [pJ] (energy model, reference node)",
}


def _plots(points, results, front, cost_name, folder: RunFolder) -> None:
    _pareto(points, results, front, cost_name, folder, "pareto.png")
    _other_plots(points, results, folder)


def _pareto(points, results, front, cost_name, folder: RunFolder, name: str) -> None:
    # Pareto: throughput against a cost (area, energy, or DRAM bytes per bag).
    # Front points are numbered on the plot and spelled out in a key below it (full labels
    # next to the points overlap and run off the axes).
    key_lines = [f"{n}: {_label(points[i])}" for n, i in enumerate(front, 1)]
    fig = Figure(figsize=(7.5, 4.5 + 0.17 * len(key_lines)))
    ax, key = fig.subplots(2, 1, height_ratios=[4.5, 0.17 * len(key_lines) + 0.1])
    x = [getattr(r, cost_name) for r in results]
    y = [r.throughput for r in results]
    ax.scatter(x, y, s=16, color="tab:gray", label="points")
    fx = [x[i] for i in front]
    fy = [y[i] for i in front]
    ax.plot(fx, fy, "o-", color="tab:red", ms=5, label="Pareto front")
    for n, i in enumerate(front, 1):
        ax.annotate(str(n), (x[i], y[i]), xytext=(4, -10), textcoords="offset points", fontsize=7)
    key.axis("off")
    key.text(0, 1, "\n".join(key_lines), va="top", fontsize=7, family="monospace")
    ax.set(xlabel=_COST_LABELS[cost_name], ylabel="throughput [bags/s]", yscale="log")
    if cost_name.startswith("energy"):
        ax.set_xscale("log")
    save_plot(folder, fig, ax, "Throughput vs cost", name)


def _other_plots(points, results, folder: RunFolder) -> None:

    # DRAM bytes per bag by cause, one stacked bar per point.
    fig = Figure(figsize=(max(6.0, 0.35 * len(results) + 2), 4.5))
    ax = fig.subplots()
    bottom = [0.0] * len(results)
    for cause in Cause:
        name = cause.name.lower()
        per_bag = [getattr(r, f"dram_{name}_bytes") * r.dram_bytes_per_bag / max(1, r.dram_bytes)
                   for r in results]  # fmt: skip
        ax.bar(range(len(results)), per_bag, bottom=bottom, label=name)
        bottom = [b + v for b, v in zip(bottom, per_bag, strict=True)]
    ax.set_xticks(range(len(results)), [_label(p) for p in points], rotation=80, fontsize=6)
    ax.set(ylabel="DRAM bytes per bag [B]")
    save_plot(folder, fig, ax, "DRAM traffic by cause", "dram_by_cause.png")

    # Roofline: achieved MAC/s against operational intensity, under the DRAM and compute roofs.
    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    oi = [r.operational_intensity for r in results]
    lo, hi = min(oi) / 4, max(oi) * 4
    bw = max(r.dram_peak_bytes_per_s for r in results)
    peak = max(r.peak_mac_per_s for r in results)
    xs = [lo * (hi / lo) ** (k / 100) for k in range(101)]
    ax.plot(xs, [min(peak, bw * v) for v in xs], "k-", lw=1, label="roof (DRAM peak, MAC peak)")
    ax.scatter(oi, [r.mac_per_s for r in results], s=16, color="tab:blue", label="points")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="operational intensity [MAC/B of DRAM]",
        ylabel="performance [MAC/s]",
    )
    save_plot(folder, fig, ax, "Roofline", "roofline.png")
