"""Workload benchmarks: a family's kernels run three ways, side by side (``rtnerf bench``).

For each kernel of a family (:data:`FAMILIES`; :func:`family_kernels` builds them on the real
datasets, :data:`DATASETS` names which):

* the software baselines (:func:`rtnerf.workloads.baselines.time_kernel`: numpy, numba and,
  when installed, torch) are timed side by side and checked against the float64 reference;
* the accelerator at the kernel's design point, bags longest first
  (:func:`rtnerf.workloads.accelerator.evaluate`:
  the performance model at full scale, the golden model's fixed-point error, the cache sweep);
* an RTL co-simulation of the kernel's first bags, longest first (:func:`cosim_sample`),
  checked bit-exactly against the golden model by the engine's testbench (skipped when no
  simulator is installed);
* energy: the accelerator's pJ per lookup from the energy model
  (:mod:`rtnerf.models.physical.energy`), beside the CPU package power measured by RAPL while
  the baselines ran (:class:`rtnerf.power.PackageMeter`; *n/a* where the machine does not
  expose it) and the pJ per lookup that power implies.

:func:`run_bench` writes ``RUN_DIR/summary.json`` (versioned: one entry per kernel and
implementation, ``numpy``, ``numba``, ``torch``, ``accelerator``, with throughput and bytes),
``results.csv`` (the same entries, units in the headers), ``summary.txt`` and the plots
``throughput.png``, ``dram_bytes.png`` and ``cache.png``.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import ConfigError
from .runfolder import RunFolder, machine
from .runfolder import progress as progress_bar

__all__ = [
    "BUILDERS",
    "COLUMNS",
    "DATASETS",
    "FAMILIES",
    "SUMMARY_VERSION",
    "cosim_sample",
    "family_kernels",
    "quick_lines",
    "run_bench",
    "summary_lines",
    "write_reports",
]

#: Families ``rtnerf bench`` runs.
FAMILIES = ("hyperbolic", "graph", "text")

#: Datasets each family reads (``rtnerf data fetch NAME``).
DATASETS = {"hyperbolic": ("wordnet",), "graph": ("graphs",), "text": ("glove", "wordfreq")}

#: Version of ``summary.json``'s layout.
SUMMARY_VERSION = 1

#: ``results.csv`` columns and their units (headers are ``name [unit]``).
COLUMNS = {
    "kernel": "",
    "implementation": "",
    "lookups": "lookups",
    "bags": "bags",
    "dim": "columns",
    "seconds": "s",
    "lookups_per_s": "lookups/s",
    "bags_per_s": "bags/s",
    "useful_bytes": "B",
    "effective_gb_per_s": "GB/s",
    "dram_bytes_per_lookup": "B/lookup",
    "dram_directory_bytes_per_lookup": "B/lookup",
    "dram_bitmap_bytes_per_lookup": "B/lookup",
    "dram_coordinates_bytes_per_lookup": "B/lookup",
    "dram_values_bytes_per_lookup": "B/lookup",
    "burst_efficiency": "1",
    "bandwidth_utilisation": "1",
    "roofline_lookups_per_s": "lookups/s",
    "roofline_fraction": "1",
    "limit_fraction": "1",
    "vs_best_cpu": "x",
    "cache_hit_rate": "1",
    "energy_pj_per_lookup": "pJ/lookup",
    "package_w": "W",
    "bottleneck": "",
    "error": "1",
    "agrees": "",
}


# ---------------------------------------------------------------------------------------------
# The families' kernels on the real data

#: Sizes of the real-data kernels: full, and ``--quick``.
SIZES = {
    "hyperbolic": {"train_edges": (20_000, 100), "scan_queries": (16, 1)},
    "graph": {"sage_targets": (4_000, 40), "pbg_edges": (5_000, 100), "dim": (64, 64)},
    "text": {"tokens": (1_000_000, 20_000)},
}


def _size(family: str, key: str, quick: bool) -> int:
    return SIZES[family][key][1 if quick else 0]


def _hyperbolic(quick: bool, seed: int) -> list:
    from .workloads import hyperbolic as hb

    nouns = hb.noun_closure()
    mammals = hb.subtree(nouns, hb.MAMMAL)
    # The tables: a short Poincaré training (values in the ball as training leaves them); the
    # reconstruction quality is the hyperbolic workload's own report. --quick trains only the
    # mammal subtree and scores its pairs.
    x_mammals, _ = hb.train_poincare(mammals, epochs=2 if quick else 30, burnin=1, seed=seed)
    edges = _size("hyperbolic", "train_edges", quick)
    queries = np.random.default_rng(seed).permutation(mammals.nodes)[: 4 if quick else 600]
    mu, mv = hb.scan_pairs(mammals.nodes, np.sort(queries))
    if quick:
        u, v = hb.training_pairs(mammals, edges, 50, seed)
        return [
            hb.distance_kernel(x_mammals, u, v, name="poincare-train-mammals"),
            hb.distance_kernel(x_mammals, mu, mv, name="poincare-scan-mammals"),
        ]
    x_nouns, _ = hb.train_poincare(nouns, epochs=2, burnin=1, seed=seed)
    u, v = hb.training_pairs(nouns, edges, 50, seed)
    queries = np.random.default_rng(seed).choice(
        nouns.nodes, _size("hyperbolic", "scan_queries", quick), replace=False
    )
    su, sv = hb.scan_pairs(nouns.nodes, np.sort(queries))
    return [
        hb.distance_kernel(x_nouns, u, v, name="poincare-train-nouns"),
        hb.distance_kernel(x_nouns, su, sv, name="poincare-scan-nouns"),
        hb.distance_kernel(x_mammals, mu, mv, name="poincare-scan-mammals"),
    ]


def _graph(quick: bool, seed: int) -> list:
    from .workloads import graph as gr

    rng = np.random.default_rng(seed)
    dim = _size("graph", "dim", quick)
    pgp = gr.load_graph("pgp-strong-2009")
    features = gr.fastrp_embedding(pgp, dim, rng)
    targets = rng.choice(pgp.n, _size("graph", "sage_targets", quick), replace=False)
    hop1, hop2 = gr.sage_samples(pgp, targets, rng)
    # as-22july06: hubs of degree 2,390 (weights 1 / deg; design() widens the fraction bits).
    graph = gr.load_graph("power" if quick else "as-22july06")
    step = gr.fastrp_kernel(graph, gr.fastrp_projection(graph.n, dim, rng))
    lhs, rhs, negs = gr.pbg_edges(pgp, rng, edges=_size("graph", "pbg_edges", quick))
    return [
        gr.sage_kernel(pgp, features, hop1, hop2).kernel,
        step.kernel,
        gr.pbg_kernel(pgp, features, lhs, rhs, negs).kernel,
    ]


def _text(quick: bool, seed: int) -> list:
    from .workloads import text as tx

    corpus = tx.text_corpus()
    bags = max(1, _size("text", "tokens", quick) // 16)  # sentences of 1 to 32 tokens

    def rng():  # the same sentences for every kernel (compared like for like)
        return np.random.default_rng(seed)

    return [
        tx.embedding_bag_kernel(corpus, rng(), bags, mode="sum"),
        tx.embedding_bag_kernel(corpus, rng(), bags, mode="mean", permute=True),
        tx.hashed_kernel(corpus, rng(), bags, mode="sum"),
        tx.qr_kernel(corpus, rng(), bags, mode="sum"),
        tx.zipf_kernel(corpus.table, rng(), bags, alpha=1.09, name=corpus.name),
    ]


#: Family -> function ``(quick, seed) -> list of BagKernel`` on the real datasets.
BUILDERS: dict[str, Callable[[bool, int], list]] = {
    "hyperbolic": _hyperbolic,
    "graph": _graph,
    "text": _text,
}


def family_kernels(family: str, *, quick: bool = False, seed: int = 1) -> list:
    """The family's kernels on the real datasets (``quick``: small sizes).

    Raises
    ------
    ConfigError
        If ``family`` is not one of :data:`FAMILIES`.
    rtnerf.workloads.data.DataNotFoundError
        If a dataset is not cached (the message says which ``rtnerf data fetch`` to run).
    """
    if family not in FAMILIES:
        raise ConfigError(f"`family` must be one of {', '.join(FAMILIES)}, not {family!r}")
    return BUILDERS[family](quick, seed)


# ---------------------------------------------------------------------------------------------
# RTL co-simulation of a sample


def cosim_sample(
    kernel,
    params,
    bags: int,
    folder: Path,
    *,
    simulator: str,
    seed: int = 1,
    schedule: str = "balanced",
) -> dict[str, Any]:
    """Co-simulate the first ``bags`` bags of ``kernel`` on the engine at ``params``.

    The sample (:func:`rtnerf.workloads.accelerator.sample`), with its bags longest first as
    the host schedules a batch (``schedule`` ``"balanced"``,
    :func:`rtnerf.workloads.kernel.balanced`; ``"trace"``: as they come), runs through the
    engine's ``test_trace`` at full rate; the testbench checks every pooled bag (or pair score)
    bit-exactly against the golden model and every DRAM burst against the golden accounting.

    Returns
    -------
    dict
        ``simulator``, ``bags``, ``lookups``, ``passed``, ``mismatches`` (results plus DRAM
        bursts), ``cycles``, ``dram_bytes``, ``model_cycles`` (the performance model on the
        same sample) and ``model_error``, ``wall_s``; or ``skipped`` (why) when ``simulator``
        cannot run here.
    """
    from .models.perf.engine import estimate
    from .sim.runner import build, cosim
    from .sim.tb.engine import trace_args
    from .sim.toolchain import unavailable_reason
    from .workloads.accelerator import SCHEDULES, sample
    from .workloads.kernel import balanced, engine_inputs

    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    reason = unavailable_reason(simulator)
    if reason:
        return {"simulator": simulator, "skipped": reason}
    start = time.perf_counter()
    part = sample(kernel, bags)
    if schedule == "balanced":
        part = balanced(part)[0]
    images, trace = engine_inputs(part, params)
    built = build(params, simulator)
    summary = cosim(
        built,
        run_dir=folder / simulator,
        seed=seed,
        count=1,
        testcase="test_trace$",
        tb_args=trace_args(folder, images, trace),
    )
    recs = summary.get("records") or [{}]
    rec = recs[0]
    mismatches = int(rec.get("mismatches", 0)) + int(rec.get("dram_burst_mismatches", 0))
    model = estimate(params, images, trace).cycles
    cycles = rec.get("cycles")
    return {
        "simulator": simulator,
        "bags": part.bags,
        "lookups": part.lookups,
        "passed": bool(summary["passed"]) and bool(summary.get("records")) and not mismatches,
        "mismatches": mismatches,
        "cycles": cycles,
        "dram_bytes": rec.get("dram_bytes"),
        "model_cycles": model,
        "model_error": (model - cycles) / cycles if cycles else None,
        "wall_s": time.perf_counter() - start,
    }


# ---------------------------------------------------------------------------------------------
# The run


def _entries(kernel, timings, accel, watts: float | None = None, recorded=None) -> list[dict]:
    """The kernel's summary entries: each baseline's timing, then the accelerator's.

    ``recorded``: the baselines' entries of an earlier run, used instead of ``timings``.
    """
    label = f"{kernel.family}/{kernel.name}"
    out = list(recorded or [])
    for t in timings:
        # RAPL package power over the baselines' runs, charged to this one's lookup rate.
        pj = watts / t.lookups_per_s * 1e12 if watts is not None and t.lookups_per_s else None
        out.append(
            {
                "kernel": label,
                "implementation": t.implementation,
                "lookups": t.lookups,
                "bags": t.bags,
                "dim": kernel.dim,
                "seconds": t.median_s,
                "lookups_per_s": t.lookups_per_s,
                "bags_per_s": t.bags_per_s,
                "useful_bytes": t.useful_bytes,
                "effective_gb_per_s": t.effective_gb_per_s,
                "error": t.error,
                "agrees": t.agrees,
                "threads": t.threads,
                "repeats": list(t.seconds),
                "package_w": watts,
                "energy_pj_per_lookup": pj,
            }
        )
    if accel is not None:
        seconds = accel["cycles"] / accel["clock_hz"]
        causes = accel["dram_bytes_per_lookup_by_cause"]
        best = max((e["lookups_per_s"] for e in out if e["agrees"]), default=0.0)
        roof = accel["roofline_lookups_per_s"]
        out.append(
            {
                "kernel": label,
                "implementation": "accelerator",
                "lookups": accel["lookups"],
                "bags": accel["bags"],
                "dim": kernel.dim,
                "seconds": seconds,
                "lookups_per_s": accel["lookups_per_s"],
                "bags_per_s": accel["bags_per_s"],
                "useful_bytes": accel["useful_bytes"],
                "effective_gb_per_s": accel["useful_bytes"] / seconds / 1e9,
                "dram_bytes": accel["dram_bytes"],
                "dram_bytes_per_lookup": accel["dram_bytes_per_lookup"],
                **{f"dram_{c}_bytes_per_lookup": v for c, v in causes.items()},
                "burst_efficiency": accel["burst_efficiency"],
                "bandwidth_utilisation": accel["bandwidth_utilisation"],
                # The memory roofline, and how close to the binding limit (DRAM, port or the
                # busiest unit) the engine runs; the ratio to the fastest agreeing baseline.
                "roofline_lookups_per_s": roof,
                "roofline_fraction": accel["lookups_per_s"] / roof if roof else 0.0,
                "schedule": accel["schedule"],
                "trace_order_roofline_fraction": (
                    accel["trace_order"]["lookups_per_s"] / roof
                    if roof and accel["trace_order"]
                    else None
                ),
                "limit_fraction": max(accel["utilisation"].values()),
                "utilisation": accel["utilisation"],
                "vs_best_cpu": accel["lookups_per_s"] / best if best else 0.0,
                "cache_hit_rate": accel["cache_hit_rate"],
                "bottleneck": accel["bottleneck"],
                "error": accel["fixed_point_error"],
                "cycles": accel["cycles"],
                "clock_hz": accel["clock_hz"],
                "design": accel["design"],
                "energy_pj_per_lookup": accel["energy_pj_per_lookup"],
                "energy": accel["energy"],
                "events": accel["events"],
            }
        )
    return out


def run_bench(
    family: str,
    run_dir: Path,
    *,
    quick: bool = False,
    repeats: int = 5,
    cosim_bags: int = 8,
    simulator: str = "icarus",
    seed: int = 1,
    clock_hz: float | None = None,
    cache_settings=None,
    kernels: list | None = None,
    progress: bool = True,
    reports: bool = True,
    baselines_from: Path | None = None,
) -> dict[str, Any]:
    """Run a family's kernels three ways and write the reports into ``run_dir``.

    Parameters
    ----------
    family : str
        One of :data:`FAMILIES`.
    run_dir : pathlib.Path
        Output folder (created).
    quick : bool
        Small sizes (:data:`SIZES`), fewer repeats and cache settings.
    repeats : int
        Timed runs of each software baseline.
    cosim_bags : int
        Bags of each kernel to co-simulate (0: none).
    simulator : str
        Simulator of the co-simulation.
    seed : int
        Seed of the kernels' random draws.
    clock_hz : float, optional
        Accelerator clock (default :data:`rtnerf.workloads.accelerator.CLOCK_HZ`).
    cache_settings : sequence of (int, int), optional
        The cache sweep (default :data:`~rtnerf.workloads.accelerator.CACHE_SETTINGS`, three of
        them with ``quick``).
    kernels : list of BagKernel, optional
        Run these instead of :func:`family_kernels`'s.
    progress : bool
        Show progress bars (stderr).
    reports : bool
        Write ``summary.json``, ``results.csv``, ``summary.txt`` and the plots.
    baselines_from : pathlib.Path, optional
        The run folder (or ``summary.json``) of an earlier full run of the family: its
        baselines' timings are kept instead of timed again (so the accelerator can be
        re-evaluated after a model change without an idle machine); the summary's
        ``baselines_from`` names the run and the machine that timed them.

    Returns
    -------
    dict
        The summary (as ``summary.json``).

    Raises
    ------
    RunFolderError
        With ``reports``, if ``run_dir`` cannot be created or another run is writing into it
        (checked before any kernel runs).
    ConfigError
        If ``baselines_from`` is not a readable bench summary of ``family`` at the same size.
    """
    recorded = None if baselines_from is None else _recorded(baselines_from, family, quick)
    with RunFolder(run_dir) if reports else contextlib.nullcontext() as folder:
        return _run_bench(
            family, folder, quick, repeats, cosim_bags, simulator, seed, clock_hz,
            cache_settings, kernels, progress, recorded,
        )  # fmt: skip


def _recorded(path: Path, family: str, quick: bool) -> dict[str, Any]:
    """The summary of an earlier bench run of ``family`` whose baselines are reused."""
    path = Path(path)
    file = path / "summary.json" if path.is_dir() else path
    try:
        summary = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--baselines-from: cannot read {file}: {exc}") from None
    if not isinstance(summary, dict) or summary.get("kind") != "bench":
        raise ConfigError(f"--baselines-from: {file} is not an `rtnerf bench` summary")
    if summary.get("family") != family or bool(summary.get("quick")) != quick:
        raise ConfigError(
            f"--baselines-from: {file} is a run of {summary.get('family')!r}"
            f"{' --quick' if summary.get('quick') else ''}, not {family!r}"
            f"{' --quick' if quick else ''}"
        )
    summary["path"] = str(file)
    return summary


def _run_bench(
    family, folder, quick, repeats, cosim_bags, simulator, seed, clock_hz, cache_settings,
    kernels, progress, recorded,
) -> dict[str, Any]:  # fmt: skip
    from .power import PackageMeter
    from .workloads import accelerator, baselines
    from .workloads.kernel import design

    start = time.perf_counter()
    if kernels is None:
        kernels = family_kernels(family, quick=quick, seed=seed)
    clock = clock_hz or accelerator.CLOCK_HZ
    if cache_settings is None:
        full = accelerator.CACHE_SETTINGS
        cache_settings = (full[0], full[2], full[-1]) if quick else full
    impls = baselines.available() if recorded is None else recorded["implementations"][:-1]
    steps = 2 + len(cache_settings) + (1 if cosim_bags else 0)
    summary: dict[str, Any] = {
        "version": SUMMARY_VERSION,
        "kind": "bench",
        "rtnerf": __version__,
        "family": family,
        "quick": quick,
        "machine": machine(),
        "rapl": "CPU package power from RAPL while the baselines ran (whole package)"
        if PackageMeter().available
        else "n/a: no readable RAPL counters under /sys/class/powercap",
        "clock_hz": clock,
        "tolerance": baselines.TOLERANCE,
        "implementations": [*impls, "accelerator"],
        "kernels": [],
        "entries": [],
    }
    if recorded is not None:  # the run that timed them, through any earlier refreshes
        summary["baselines_from"] = recorded.get("baselines_from") or {
            "summary": recorded["path"],
            "machine": recorded["machine"],
            "rtnerf": recorded.get("rtnerf"),
            "rapl": recorded.get("rapl"),
        }
    bar = progress_bar(
        total=len(kernels) * (len(impls) + steps),
        desc=f"bench {family}",
        unit="step",
        disable=not progress,
        leave=False,
    )
    for kernel in kernels:
        bar.set_postfix_str(kernel.name)
        ref = kernel.reference()
        label = f"{kernel.family}/{kernel.name}"
        timings, watts, kept = [], None, None
        if recorded is None:
            with PackageMeter() as meter:
                timings = baselines.time_kernel(
                    kernel, impls, repeats=max(1, repeats), reference=ref
                )
            watts = meter.watts
        else:
            kept = [
                e
                for e in recorded["entries"]
                if e["kernel"] == label and e["implementation"] != "accelerator"
            ]
            if not kept or kept[0]["lookups"] != kernel.lookups:
                raise ConfigError(
                    f"--baselines-from: {recorded['path']} has no baselines of {label} with "
                    f"{kernel.lookups:,} lookups"
                )
        bar.update(len(impls))
        accel = accelerator.evaluate(
            kernel,
            clock_hz=clock,
            reference=ref,
            cache_settings=cache_settings,
            progress=bar.update,
        )
        entry = {
            "name": kernel.name,
            "family": kernel.family,
            "description": kernel.description,
            "lookups": kernel.lookups,
            "bags": kernel.bags,
            "dim": kernel.dim,
            "tables": [list(t.shape) for t in kernel.tables],
            "pairwise": kernel.pairwise,
            "useful_bytes_fp32": kernel.useful_bytes(4),
            "design": accel["design"],
            "cache_sweep": accel["cache_sweep"],
        }
        if cosim_bags:
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    entry["cosim"] = cosim_sample(
                        kernel,
                        design(kernel),
                        cosim_bags,
                        Path(tmp),
                        simulator=simulator,
                        seed=seed,
                        schedule=accel["schedule"],
                    )
                except Exception as exc:  # a failed build or run is a result, not the end
                    entry["cosim"] = {
                        "simulator": simulator,
                        "passed": False,
                        "error": f"{type(exc).__name__}: {exc}",
                    }
            bar.update()
        summary["kernels"].append(entry)
        summary["entries"] += _entries(kernel, timings, accel, watts, kept)
    bar.close()
    summary["wall_s"] = time.perf_counter() - start
    if folder is not None:
        write_reports(summary, folder)
    return summary


# ---------------------------------------------------------------------------------------------
# Reports


def write_reports(summary: dict[str, Any], folder: RunFolder) -> None:
    """Write ``summary.json``, ``results.csv``, ``summary.txt`` and the plots of a run."""
    summary["plots"] = ["throughput.png", "dram_bytes.png", "cache.png", "energy.png"]
    folder.write_json("summary.json", summary)
    folder.write_csv("results.csv", COLUMNS, summary["entries"])
    folder.write_text("summary.txt", "\n".join(summary_lines(summary)) + "\n")
    if summary["entries"]:
        _plots(summary, folder)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """The text summary of a run: one block per kernel."""
    lines = [
        (
            f"rtnerf bench {summary['family']}{' --quick' if summary['quick'] else ''}: "
            f"{len(summary['kernels'])} kernels on {summary['machine']}; accelerator at "
            f"{summary['clock_hz'] / 1e6:g} MHz (performance model); baselines float32, checked "
            f"against the float64 reference to {summary['tolerance']:g} of its largest magnitude; "
            "GB/s: useful row bytes (float32 for the baselines, value width on the accelerator)"
        ),
        "",
    ]
    for k in summary["kernels"]:
        label = f"{k['family']}/{k['name']}"
        lines.append(
            f"{label}: {k['lookups']:,} lookups in {k['bags']:,} bags, {k['dim']} columns, "
            f"tables {' + '.join('x'.join(map(str, t)) for t in k['tables'])}"
            + (f", pairwise {k['pairwise']}" if k["pairwise"] != "none" else "")
        )
        if k["description"]:
            lines.append(f"  {k['description']}")
        lines.append(f"  design: default + {json.dumps(k['design'])}")
        lines.append(
            f"  {'implementation':<13}{'lookups/s':>12}{'GB/s':>10}{'DRAM B/lookup':>15}"
            f"{'error':>10}{'pJ/lookup':>11}  check"
        )
        for e in (e for e in summary["entries"] if e["kernel"] == label):
            dram = e.get("dram_bytes_per_lookup")
            acc = e["implementation"] == "accelerator"
            check = "fixed point" if acc else ("ok" if e["agrees"] else "DISAGREES")
            pj = e.get("energy_pj_per_lookup")
            lines.append(
                f"  {e['implementation']:<13}{e['lookups_per_s']:>12.3e}"
                f"{e['effective_gb_per_s']:>10.3g}{'' if dram is None else f'{dram:.1f}':>15}"
                f"{e['error']:>10.2g}{'n/a' if pj is None else f'{pj:.4g}':>11}  {check}"
            )
            if acc:
                causes = ", ".join(
                    f"{c.removeprefix('dram_').removesuffix('_bytes_per_lookup')} {e[c]:.1f}"
                    for c in COLUMNS
                    if c.endswith("_bytes_per_lookup") and c != "dram_bytes_per_lookup"
                )
                lines.append(
                    f"    DRAM B/lookup by cause: {causes}; burst efficiency "
                    f"{e['burst_efficiency']:.2f}, bandwidth utilisation "
                    f"{e['bandwidth_utilisation']:.2f}, bottleneck {e['bottleneck']}"
                )
                use = ", ".join(f"{k} {v:.2f}" for k, v in e["utilisation"].items())
                lines.append(
                    f"    roofline {e['roofline_lookups_per_s']:.3e} lookups/s (DRAM and port "
                    f"peak / DRAM B per lookup): {e['roofline_fraction']:.0%} of it; "
                    f"utilisation {use}; {e['vs_best_cpu']:.2f}x the fastest CPU baseline"
                )
                if "energy" in e:
                    en = e["energy"]
                    parts = ", ".join(
                        f"{k} {v:.3g}" for k, v in en["components_pj_per_lookup"].items() if v
                    )
                    lines.append(
                        f"    pJ/lookup at {en['node']}, DRAM {en['dram']} (energy model): {parts}"
                    )
        sweep = ", ".join(
            f"{c['cache_sets']}x{c['cache_ways']}: {c['hit_rate']:.2f} / "
            f"{c['dram_bytes_per_lookup']:.0f} B"
            for c in k["cache_sweep"]
        )
        lines.append(f"  cache sets x ways per unit: hit rate / DRAM B per lookup: {sweep}")
        c = k.get("cosim")
        if c is not None:
            if "skipped" in c:
                lines.append(f"  RTL cosim: skipped, {c['skipped']}")
            elif "error" in c:
                lines.append(f"  RTL cosim ({c['simulator']}): FAILED, {c['error']}")
            else:
                model = ""
                if c.get("model_error") is not None:
                    model = f" (performance model {c['model_cycles']}, {c['model_error']:+.1%})"
                lines.append(
                    f"  RTL cosim ({c['simulator']}, first {c['bags']} bags, {c['lookups']} "
                    f"lookups): {'bit-exact' if c['passed'] else 'FAILED'}, {c['mismatches']} "
                    f"mismatches, {c['cycles']} cycles{model}, {c['wall_s']:.0f} s"
                )
        lines.append("")
    lines.append(f"baselines' pJ/lookup: {summary.get('rapl', 'n/a')}")
    lines.append(f"wall time {summary.get('wall_s', 0):.0f} s")
    return lines


def _plots(summary: dict[str, Any], folder: RunFolder) -> None:
    from matplotlib.figure import Figure

    from .models.dram import Cause
    from .sweep_report import save_plot

    kernels = [f"{k['family']}/{k['name']}" for k in summary["kernels"]]
    names = [k.split("/", 1)[1] for k in kernels]
    impls = summary["implementations"]
    by = {(e["kernel"], e["implementation"]): e for e in summary["entries"]}
    x = np.arange(len(kernels))

    # Throughput per kernel: baselines vs accelerator.
    fig = Figure(figsize=(max(6.0, 1.6 * len(kernels) + 2), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(impls))
    for i, impl in enumerate(impls):
        ys = [by[(k, impl)]["lookups_per_s"] if (k, impl) in by else 0 for k in kernels]
        ax.bar(x + (i - (len(impls) - 1) / 2) * width, ys, width, label=impl)
    ax.set_xticks(x, names, fontsize=8, rotation=20, ha="right")
    ax.set(ylabel="lookups/s", yscale="log")
    save_plot(folder, fig, ax, f"{summary['family']}: throughput per kernel", "throughput.png")

    # DRAM bytes per lookup by cause (accelerator), with the row's useful bytes.
    fig = Figure(figsize=(max(6.0, 1.2 * len(kernels) + 2), 4.5))
    ax = fig.subplots()
    bottom = np.zeros(len(kernels))
    for cause in Cause:
        key = f"dram_{cause.name.lower()}_bytes_per_lookup"
        ys = np.array([by.get((k, "accelerator"), {}).get(key, 0.0) for k in kernels])
        ax.bar(x, ys, 0.6, bottom=bottom, label=cause.name.lower())
        bottom += ys
    useful = [
        e["useful_bytes"] / max(1, e["lookups"])
        for k in kernels
        if (e := by.get((k, "accelerator")))
    ]
    if len(useful) == len(kernels):
        ax.plot(x, useful, "k_", ms=30, mew=2, label="useful bytes (row at value width)")
    ax.set_xticks(x, names, fontsize=8, rotation=20, ha="right")
    ax.set(ylabel="DRAM bytes per lookup [B]")
    save_plot(folder, fig, ax, f"{summary['family']}: DRAM bytes per lookup", "dram_bytes.png")

    # Cache hit rate and DRAM bytes per lookup against cache rows per unit.
    fig = Figure(figsize=(10, 4.2))
    ax1, ax2 = fig.subplots(1, 2)
    for k, name in zip(summary["kernels"], names, strict=True):
        sweep = sorted(k["cache_sweep"], key=lambda c: (c["rows"], c["cache_ways"]))
        rows = [max(c["rows"], 0.5) for c in sweep]
        ax1.plot(rows, [c["hit_rate"] for c in sweep], "o-", label=name)
        ax2.plot(rows, [c["dram_bytes_per_lookup"] for c in sweep], "o-", label=name)
    ax1.set(xscale="log", xlabel="cache rows per unit (sets x ways; 0.5 = none)",
            ylabel="hit rate", ylim=(0, 1))  # fmt: skip
    ax2.set(xscale="log", xlabel="cache rows per unit (sets x ways; 0.5 = none)",
            ylabel="DRAM bytes per lookup [B]")  # fmt: skip
    ax1.set_title("cache hit rate", fontsize=10)
    ax1.legend(fontsize=8)
    save_plot(folder, fig, ax2, f"{summary['family']}: DRAM bytes vs cache size", "cache.png")

    from .physical import energy_bars

    accel = [by.get((k, "accelerator"), {}).get("energy") for k in kernels]
    if all(accel):
        soft = {
            impl: [by.get((k, impl), {}).get("energy_pj_per_lookup") for k in kernels]
            for impl in impls
            if impl != "accelerator"
        }
        energy_bars(
            names,
            accel,
            folder.path / "energy.png",
            title=f"{summary['family']}: energy per lookup",
            others=soft,
        )


def quick_lines(run_root: Path, *, seed: int = 1) -> list[str]:
    """The demo's one-screen summary: each family's kernels at ``--quick`` sizes, no cosim.

    One line per kernel (best baseline lookups/s, accelerator lookups/s, DRAM bytes per
    lookup); a family whose datasets are not cached gets one line naming the
    ``rtnerf data fetch`` to run.
    """
    from .workloads import data

    lines = [
        f"{'kernel':<34}{'best baseline':>22}{'accelerator':>14}{'DRAM B/lookup':>15}",
    ]
    for family in FAMILIES:
        missing = [d for d in DATASETS[family] if not data.is_cached(d)]
        if missing:
            lines.append(f"{family}: not run, run `rtnerf data fetch {' '.join(missing)}`")
            continue
        s = run_bench(
            family,
            run_root / family,
            quick=True,
            repeats=3,
            cosim_bags=0,
            seed=seed,
            cache_settings=(),
            progress=False,
            reports=False,
        )
        for k in s["kernels"]:
            label = f"{k['family']}/{k['name']}"
            mine = [e for e in s["entries"] if e["kernel"] == label]
            soft = [e for e in mine if e["implementation"] != "accelerator"]
            best = max(soft, key=lambda e: e["lookups_per_s"])
            acc = next(e for e in mine if e["implementation"] == "accelerator")
            lines.append(
                f"{label:<34}{best['lookups_per_s']:>12.3g} ({best['implementation']:<5})"
                f"{acc['lookups_per_s']:>16.3g}{acc['dram_bytes_per_lookup']:>15.1f}"
            )
    lines.append("(lookups/s; accelerator: performance model, default design adapted per kernel;")
    lines.append(" quick sizes fit the CPU's caches, so baseline rates run high and noisy)")
    return lines
