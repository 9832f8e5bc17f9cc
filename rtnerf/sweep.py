"""Design-space sweeps: a study file, points evaluated in parallel, a resumable store, reports.

A study (YAML, ``kind: study``) names a base design (an engine config), parameter ranges, how
to sample them, and the workload every point runs::

    version: 1
    kind: study
    name: text embedding, lanes x cache
    design: ../../configs/default.yaml     # relative to the study file; default: EngineParams()
    parameters:                            # dotted EngineParams fields -> values
      units: [1, 2, 4]
      unit.cache_ways: [0, 2]
      unit.word_width+port.word_width: [64, 128]   # fields that move together
      encoding: [hybrid, dense]            # the tables' encoding (hybrid, dense, bitmap, coo)
    sampling: grid                         # or {random: 20, seed: 1}
    workload: {trace: text, bags: 200, seed: 1}
    clock_mhz: 1000
    area: generic                          # none (default), generic, ice40 or osu018

Every point is checked before any runs. Each point runs the performance model
(:func:`rtnerf.models.perf.engine.estimate`) and, with ``area``, Yosys through ``rtnerf area``'s
synthesis (cached by params digest under ``$RTNERF_CACHE_DIR/area``; ``osu018`` adds um^2 at 0.18
um, the pre-layout Fmax and the area at the reference node, :mod:`rtnerf.physical`), and the
energy model (:mod:`rtnerf.models.physical.energy`, pJ per bag at the reference node, the
table's default DRAM class). Results go to
``RUN_DIR/results.sqlite`` as each point finishes, so a killed sweep re-run with the same
command continues where it stopped; at the end ``results.csv`` (units in the headers),
``summary.json``, ``summary.txt`` and the plots are written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import sqlite3
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError
from .params import CONFIG_VERSION, EngineParams

__all__ = ["Study", "evaluate_point", "load_study", "run_study"]

STUDY_KEYS = ("version", "kind", "name", "design", "parameters", "sampling", "workload",
              "clock_mhz", "area")  # fmt: skip
WORKLOAD_KEYS = ("trace", "bags", "seed")
ENCODINGS = ("hybrid", "dense", "bitmap", "coo")
AREA_TARGETS = ("none", "generic", "ice40", "osu018")
#: Result columns and their units (the CSV headers are ``name [unit]``).
COLUMNS = {
    "cycles": "cycles",
    "bags_per_cycle": "bags/cycle",
    "throughput": "bags/s",
    "requests_per_s": "requests/s",
    "dram_bytes": "B",
    "dram_bytes_per_bag": "B/bag",
    "dram_directory_bytes": "B",
    "dram_bitmap_bytes": "B",
    "dram_coordinates_bytes": "B",
    "dram_values_bytes": "B",
    "bandwidth_utilisation": "1",
    "operational_intensity": "MAC/B",
    "mac_per_s": "MAC/s",
    "peak_mac_per_s": "MAC/s",
    "dram_peak_bytes_per_s": "B/s",
    "bottleneck": "",
    "area_cells": "cells",
    "area_um2": "um2",  # osu018: standard cells at 0.18 um (measured, pre-layout)
    "fmax_mhz": "MHz",  # osu018: pre-layout Fmax at 0.18 um
    "area_um2_node": "um2",  # osu018: scaled standard cells + SRAM macros at the reference node
    "energy_pj_per_bag": "pJ/bag",
    "energy_pj_per_request": "pJ/request",
    "seconds": "s",
}


@dataclasses.dataclass(frozen=True)
class Study:
    """A validated study: the base design, the points (overrides) and the workload."""

    name: str
    base: dict[str, Any]
    points: list[dict[str, Any]]
    trace: str
    bags: int
    seed: int
    clock_mhz: float
    area: str

    def to_dict(self) -> dict[str, Any]:
        """A picklable, JSON-able form (what workers receive)."""
        return dataclasses.asdict(self)


def _field_default(path: str) -> Any:
    """The default of a dotted EngineParams field, or raise naming the unknown part."""
    obj: Any = EngineParams()
    for i, part in enumerate(path.split(".")):
        if not dataclasses.is_dataclass(obj) or part not in {
            f.name for f in dataclasses.fields(obj)
        }:
            where = ".".join(path.split(".")[:i]) or "the engine"
            allowed = (
                ", ".join(f.name for f in dataclasses.fields(obj))
                if dataclasses.is_dataclass(obj)
                else "none"
            )
            raise ConfigError(
                f"unknown parameter `{path}`: {where} has no `{part}` (allowed: {allowed})"
            )
        obj = getattr(obj, part)
    return obj


def apply(base: dict[str, Any], overrides: dict[str, Any]) -> tuple[EngineParams, str]:
    """Engine params and table encoding of a point: ``base`` with dotted ``overrides`` set."""
    doc = json.loads(json.dumps(base))
    encoding = "hybrid"
    for key, value in overrides.items():
        if key == "encoding":
            encoding = value
            continue
        for path in key.split("+"):
            *parents, last = path.split(".")
            node = doc
            for p in parents:
                node = node.setdefault(p, {})
            node[last] = value
    return EngineParams.from_dict(doc), encoding


def load_study(path: str | Path) -> Study:
    """Read and check a study file; every point is built once, so none can fail later.

    Raises
    ------
    ConfigError
        Naming the offending key: unknown keys, a wrong version or kind, an empty or non-list
        range, an unknown parameter, a value of the wrong type, a bad sampling or workload,
        or a point whose design is invalid.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read study: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    try:
        return _parse(doc, path.parent)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _parse(doc: Any, folder: Path) -> Study:
    if not isinstance(doc, dict):
        raise ConfigError("a study must be a mapping")
    unknown = sorted(set(doc) - set(STUDY_KEYS))
    if unknown:
        raise ConfigError(f"unknown key `{unknown[0]}`; allowed: {', '.join(STUDY_KEYS)}")
    if doc.get("version") != CONFIG_VERSION:
        raise ConfigError(f"`version` must be {CONFIG_VERSION}, not {doc.get('version')!r}")
    if doc.get("kind") != "study":
        raise ConfigError(f"`kind` must be 'study', not {doc.get('kind')!r}")
    base = EngineParams()
    if doc.get("design") is not None:
        design = folder / str(doc["design"])
        base = EngineParams.from_yaml(design)
    params = doc.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ConfigError("`parameters` must be a non-empty mapping of parameter -> values")
    axes = {}
    for key, values in params.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"`parameters.{key}` must be a non-empty list, not {values!r}")
        if key == "encoding":
            for v in values:
                if v not in ENCODINGS:
                    allowed = ", ".join(ENCODINGS)
                    raise ConfigError(f"`parameters.encoding` must be from {allowed}, not {v!r}")
        else:
            for sub in str(key).split("+"):
                default = _field_default(sub)
                for v in values:
                    ok = (
                        isinstance(v, type(default)) and not isinstance(v, bool)
                        if default is not None
                        else isinstance(v, int | None)
                    )
                    if not ok:
                        kind = type(default).__name__
                        raise ConfigError(f"`parameters.{key}`: {v!r} is not a {kind} like `{sub}`")
        axes[str(key)] = values
    grid = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    sampling = doc.get("sampling", "grid")
    if isinstance(sampling, dict) and set(sampling) <= {"random", "seed"} and "random" in sampling:
        n = sampling["random"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"`sampling.random` must be an integer >= 1, not {n!r}")
        rng = np.random.default_rng(int(sampling.get("seed", 0)))
        pick = rng.choice(len(grid), size=min(n, len(grid)), replace=False)
        points = [grid[i] for i in sorted(pick)]
    elif sampling == "grid":
        points = grid
    else:
        raise ConfigError(f"`sampling` must be 'grid' or {{random: N, seed: S}}, not {sampling!r}")
    workload = doc.get("workload", {})
    if not isinstance(workload, dict):
        raise ConfigError("`workload` must be a mapping")
    unknown = sorted(set(workload) - set(WORKLOAD_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key `workload.{unknown[0]}`; allowed: {', '.join(WORKLOAD_KEYS)}"
        )
    from .models.cases.engine import TRACES

    trace = workload.get("trace", "text")
    if trace not in TRACES:
        raise ConfigError(f"`workload.trace` must be one of {', '.join(TRACES)}, not {trace!r}")
    for key, default in (("bags", 200), ("seed", 1)):
        value = workload.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < (1 if key == "bags" else 0)
        ):
            raise ConfigError(f"`workload.{key}` must be a non-negative integer, not {value!r}")
    clock = doc.get("clock_mhz", 1000)
    if isinstance(clock, bool) or not isinstance(clock, int | float) or clock <= 0:
        raise ConfigError(f"`clock_mhz` must be a positive number, not {clock!r}")
    area = doc.get("area", "none")
    if area not in AREA_TARGETS:
        raise ConfigError(f"`area` must be one of {', '.join(AREA_TARGETS)}, not {area!r}")
    base_dict = json.loads(base.to_json())
    for point in points:
        try:
            apply(base_dict, point)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"point {point}: {exc}") from None
    return Study(
        name=str(doc.get("name", folder.name)),
        base=base_dict,
        points=points,
        trace=trace,
        bags=int(workload.get("bags", 200)),
        seed=int(workload.get("seed", 1)),
        clock_mhz=float(clock),
        area=area,
    )


def point_key(point: dict[str, Any]) -> str:
    """A stable key of a point's overrides (the store's primary key)."""
    return hashlib.sha256(json.dumps(point, sort_keys=True).encode()).hexdigest()[:16]


def _area(params: EngineParams, target: str) -> dict[str, Any]:
    """Area columns of the engine at ``params`` (synthesised once per digest and target)."""
    from filelock import FileLock

    from .registry import get_block
    from .sim.runner import cache_dir, verilog_path
    from .synth import synthesize

    # "-h": hierarchical synthesis (rtnerf.synth.TARGETS); flattened results are not reused.
    folder = cache_dir() / "area" / f"engine-{params.digest()}-{target}-h"
    record = folder / "area.json"
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Points differing only in the workload share a design: one synthesis, the others wait.
    with FileLock(f"{folder}.lock"):
        if record.exists():
            return _area_columns(json.loads(record.read_text()))
        result = synthesize(verilog_path(get_block("engine"), params), "engine", target, folder)
        doc: dict[str, Any] = {"num_cells": int(result.stat.get("num_cells"))}
        if result.area_um2 is not None:  # the synthesis; its report is made when read
            doc["synth"] = result.to_dict()
        record.write_text(json.dumps({**doc, "params": params.to_dict()}) + "\n")
    return _area_columns(doc)


def _area_columns(doc: dict[str, Any]) -> dict[str, Any]:
    out = {"area_cells": int(doc["num_cells"])}
    if "synth" in doc:
        from .physical import area_report
        from .synth import SynthResult

        phys = area_report(SynthResult.from_dict(doc["synth"]))
        out["area_cells"] = int(phys["measured"]["cells"])
        out["area_um2"] = phys["measured"]["std_cell_area_um2"]
        out["fmax_mhz"] = phys["measured"]["fmax_mhz"]
        out["area_um2_node"] = phys["total_area_um2_at_node"]
    return out


def evaluate_point(study: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one point (in a worker): the performance model on the study's workload."""
    from .models.cases.engine import trace_inputs
    from .models.perf.engine import estimate
    from .models.physical.energy import energy
    from .models.physical.events import engine_events
    from .models.physical.scaling import DEFAULT_NODE, node

    start = time.perf_counter()
    params, encoding = apply(study["base"], point)
    images, trace = trace_inputs(
        params, study["trace"], study["bags"], study["seed"], encoding=encoding
    )
    r = estimate(params, images, trace)
    clock = study["clock_mhz"] * 1e6
    rates = r.per_second(clock)
    causes = r.traffic.bytes_by_cause()
    macs = int(r.macs)
    out = {
        "cycles": r.cycles,
        "bags_per_cycle": r.bags_per_cycle,
        "throughput": rates["bags_per_s"],
        "requests_per_s": rates["requests_per_s"],
        "dram_bytes": r.traffic.total_bytes,
        "dram_bytes_per_bag": r.traffic.total_bytes / r.bags,
        **{f"dram_{k}_bytes": v for k, v in causes.items()},
        "bandwidth_utilisation": r.bandwidth_utilisation(),
        "operational_intensity": macs / max(1, r.traffic.total_bytes),
        "mac_per_s": macs / (r.cycles / clock),
        "peak_mac_per_s": params.units * clock,
        "dram_peak_bytes_per_s": params.dram.bytes_per_cycle * clock,
        "bottleneck": r.bottleneck,
    }
    report = energy(engine_events(params, r, images, trace), at=node(DEFAULT_NODE))
    out["energy_pj_per_bag"] = report.total_pj / r.bags
    out["energy_pj_per_request"] = report.pj_per_lookup
    if study["area"] != "none":
        out.update(_area(params, study["area"]))
    out["seconds"] = time.perf_counter() - start
    return out


class Store:
    """The run folder's SQLite store: one row per finished point."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS points (key TEXT PRIMARY KEY, idx INTEGER, "
            "point TEXT, result TEXT, finished REAL)"
        )
        self.db.commit()

    def done(self) -> set[str]:
        """Keys of the points already stored."""
        return {k for (k,) in self.db.execute("SELECT key FROM points")}

    def add(self, idx: int, point: dict, result: dict) -> None:
        """Store a finished point (committed at once: a kill loses nothing stored)."""
        self.db.execute(
            "INSERT INTO points VALUES (?, ?, ?, ?, ?)",
            (point_key(point), idx, json.dumps(point), json.dumps(result), time.time()),
        )
        self.db.commit()

    def rows(self) -> list[tuple[int, dict, dict]]:
        """Every stored point, in study order."""
        return [
            (idx, json.loads(p), json.loads(r))
            for idx, p, r in self.db.execute("SELECT idx, point, result FROM points ORDER BY idx")
        ]


class Progress:
    """A one-line progress bar on stderr: points done, rate and ETA."""

    def __init__(self, total: int, done: int, stream=sys.stderr):
        self.total, self.done, self.stream = total, done, stream
        self.start, self.new = time.perf_counter(), 0

    def step(self) -> None:
        """One more point finished."""
        self.done += 1
        self.new += 1
        rate = self.new / max(1e-9, time.perf_counter() - self.start)
        eta = (self.total - self.done) / rate if rate else float("inf")
        width = 30
        filled = int(width * self.done / max(1, self.total))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} points, "
            f"{rate:.2f}/s, ETA {eta:.0f} s "
        )
        self.stream.flush()

    def close(self) -> None:
        """End the line."""
        self.stream.write("\n")
        self.stream.flush()


def run_study(study: Study, run_dir: Path, *, jobs: int = 1, dask: str | None = None) -> dict:
    """Evaluate the study's points not yet in ``run_dir``'s store, then write the reports."""
    run_dir.mkdir(parents=True, exist_ok=True)
    store = Store(run_dir / "results.sqlite")
    done = store.done()
    todo = [(i, p) for i, p in enumerate(study.points) if point_key(p) not in done]
    print(
        f"{study.name}: {len(study.points)} points, {len(study.points) - len(todo)} already "
        f"done, {len(todo)} to run",
        file=sys.stderr,
    )
    progress = Progress(len(study.points), len(study.points) - len(todo))
    payload = study.to_dict()
    if dask:
        _run_dask(dask, payload, todo, store, progress)
    elif jobs == 1:
        for i, point in todo:
            store.add(i, point, evaluate_point(payload, point))
            progress.step()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(evaluate_point, payload, p): (i, p) for i, p in todo}
            for fut in as_completed(futures):
                i, point = futures[fut]
                store.add(i, point, fut.result())
                progress.step()
    progress.close()
    from .sweep_report import write_reports

    rows = store.rows()
    store.db.close()
    return write_reports(study, rows, run_dir)


def _run_dask(address: str, payload, todo, store: Store, progress: Progress) -> None:
    try:
        from dask.distributed import Client, LocalCluster
        from dask.distributed import as_completed as dask_completed
    except ImportError:
        raise ConfigError(
            "--dask needs dask.distributed: pip install 'dask[distributed]'"
        ) from None
    cluster = (
        LocalCluster(n_workers=min(2, os.cpu_count() or 1), processes=True)
        if address == "local"
        else None
    )
    with Client(cluster or address) as client:
        futures = {client.submit(evaluate_point, payload, p, pure=False): (i, p) for i, p in todo}
        for fut in dask_completed(list(futures)):
            i, point = futures[fut]
            store.add(i, point, fut.result())
            progress.step()
    if cluster is not None:
        cluster.close()
