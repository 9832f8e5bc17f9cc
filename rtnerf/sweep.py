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
      unit.decoder.columns: [32, 64]       # the unit's decoder's fields are under `decoder`
      unit.decoder.word_width+port.word_width: [64, 128]   # fields that move together
      encoding: [hybrid, dense]            # the tables' encoding (hybrid, dense, bitmap, coo)
    sampling: grid                         # or {random: 20, seed: 1}
    workload: {trace: text, bags: 200, seed: 1, max_bag: 64}
    clock_mhz: 1000
    area: generic                          # none (default), generic, ice40 or osu018

Every point is checked before any runs: a range may not repeat a value, two points may not
resolve to the same design, and every point's ``unit.max_bag`` must hold the workload's
longest bag. The workload is the same for every point: its bags have at most
``workload.max_bag`` requests (default: the base design's ``unit.max_bag``, at most 64),
whatever ``unit.max_bag`` a point sweeps to. Each point runs the performance model
(:func:`rtnerf.models.perf.engine.estimate`) and, with ``area``, Yosys through ``rtnerf area``'s
synthesis (cached by params digest under ``$RTNERF_CACHE_DIR/area``; ``osu018`` adds um^2 at 0.18
um, the pre-layout Fmax and the area at the reference node, :mod:`rtnerf.physical`), and the
energy model (:mod:`rtnerf.models.physical.energy`, pJ per bag at the reference node, the
table's default DRAM class).

Results go to ``RUN_DIR/results.sqlite`` as each point finishes, keyed on the whole resolved
point (design, encoding, workload, clock, area target: :func:`point_key`), so a killed sweep
re-run with the same command continues where it stopped. The store records the study's
:meth:`Study.digest`; a store made by another study (or another version of this one) is refused
with one line rather than mixed into the new reports. The run folder is locked
(:class:`rtnerf.runfolder.RunFolder`): a second sweep into it stops at once. Local worker
processes die with the sweep, even when it is killed. At the end ``results.csv`` (units in the
headers), ``summary.json``, ``summary.txt`` and the plots are written.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import hashlib
import itertools
import json
import math
import os
import signal
import sqlite3
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError, RtnerfError, user_key
from .params import CONFIG_VERSION, EngineParams
from .params.base import read_yaml
from .runfolder import RunFolder, progress

__all__ = [
    "PointResult",
    "Store",
    "StoreError",
    "Study",
    "evaluate_point",
    "load_study",
    "point_key",
    "run_study",
]

#: Version of the results store's layout (``results.sqlite``).
STORE_VERSION = 2
#: How long a local sweep waits to reach a ``--dask`` scheduler.
DASK_TIMEOUT_S = 10

STUDY_KEYS = ("version", "kind", "name", "design", "parameters", "sampling", "workload",
              "clock_mhz", "area")  # fmt: skip
WORKLOAD_KEYS = ("trace", "bags", "seed", "max_bag")
#: Longest bag a study's workload may ask for (the trace generators' cap).
MAX_BAG = 64
#: Most points a study's ranges may make (before sampling).
MAX_POINTS = 100_000
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


@dataclasses.dataclass(frozen=True, kw_only=True)
class PointResult:
    """What one point evaluates to; the units of the fields are :data:`COLUMNS`'.

    The area fields are None without ``area`` (and all but ``area_cells`` without ``area:
    osu018``); the energy is the energy model's at the reference node; the DRAM bytes by cause
    follow :class:`rtnerf.models.dram.Cause`. The store holds :meth:`to_dict` as JSON.
    """

    cycles: int
    bags_per_cycle: float
    throughput: float
    requests_per_s: float
    dram_bytes: int
    dram_bytes_per_bag: float
    dram_directory_bytes: int
    dram_bitmap_bytes: int
    dram_coordinates_bytes: int
    dram_values_bytes: int
    bandwidth_utilisation: float
    operational_intensity: float
    mac_per_s: float
    peak_mac_per_s: float
    dram_peak_bytes_per_s: float
    bottleneck: str
    energy_pj_per_bag: float
    energy_pj_per_request: float
    area_cells: int | None = None
    area_um2: float | None = None
    fmax_mhz: float | None = None
    area_um2_node: float | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able mapping, without the area fields a point does not have."""
        out = dataclasses.asdict(self)
        for name in ("area_cells", "area_um2", "fmax_mhz", "area_um2_node"):
            if out[name] is None:
                del out[name]
        return out

    @classmethod
    def from_dict(cls, mapping: dict[str, Any]) -> PointResult:
        """Inverse of :meth:`to_dict`.

        Raises
        ------
        TypeError
            On a missing or unknown field.
        """
        return cls(**mapping)


# Every result field has a column (and a unit), and every column is a field.
assert set(COLUMNS) == {f.name for f in dataclasses.fields(PointResult)}


class StoreError(RtnerfError):
    """A results store that cannot be used: corrupt, unwritable, or another study's."""


@dataclasses.dataclass(frozen=True)
class Study:
    """A validated study: the base design, the points (overrides) and the workload.

    ``max_bag`` is the workload's longest bag (the same for every point).
    """

    name: str
    base: dict[str, Any]
    points: list[dict[str, Any]]
    trace: str
    bags: int
    seed: int
    max_bag: int
    clock_mhz: float
    area: str

    def to_dict(self) -> dict[str, Any]:
        """A picklable, JSON-able form (what workers receive)."""
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """A hash of everything that decides the study's results (all but its ``name``)."""
        doc = {k: v for k, v in self.to_dict().items() if k != "name"}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:16]


def _field_default(path: str) -> Any:
    """The default of a dotted EngineParams field, or raise naming the unknown part."""
    obj: Any = EngineParams()
    for i, part in enumerate(path.split(".")):
        if not dataclasses.is_dataclass(obj) or part not in {
            f.name for f in dataclasses.fields(obj)
        }:
            where = ".".join(path.split(".")[:i]) or "the engine"
            moved = getattr(obj, "moved", {}).get(part)
            if moved is not None:
                up = path.split(".")[:i]
                raise ConfigError(
                    f"unknown parameter `{user_key(path)}`: `{user_key('.'.join([*up, part]))}` "
                    f"moved to `{'.'.join([*up, moved])}`"
                )
            allowed = (
                ", ".join(f.name for f in dataclasses.fields(obj))
                if dataclasses.is_dataclass(obj)
                else "none"
            )
            raise ConfigError(
                f"unknown parameter `{user_key(path)}`: {user_key(where)} has no "
                f"`{user_key(part)}` (allowed: {allowed})"
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
        range or one that repeats a value, an unknown parameter, a value of the wrong type, a
        bad sampling or workload, more than :data:`MAX_POINTS` points, a point whose design is
        invalid or cannot run the workload's longest bag, or two points of the same design.
    """
    path = Path(path)
    doc = read_yaml(path, "study")
    try:
        return _parse(doc, path.parent)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _parse(doc: Any, folder: Path) -> Study:
    if not isinstance(doc, dict):
        raise ConfigError("a study must be a mapping")
    unknown = sorted(set(doc) - set(STUDY_KEYS), key=str)
    if unknown:
        raise ConfigError(f"unknown key `{user_key(unknown[0])}`; allowed: {', '.join(STUDY_KEYS)}")
    if doc.get("version") != CONFIG_VERSION:
        raise ConfigError(f"`version` must be {CONFIG_VERSION}, not {doc.get('version')!r}")
    if doc.get("kind") != "study":
        raise ConfigError(f"`kind` must be 'study', not {doc.get('kind')!r}")
    base = EngineParams()
    if doc.get("design") is not None:
        if not isinstance(doc["design"], str):
            raise ConfigError(f"`design` must be a path to a config, not {doc['design']!r}")
        base = EngineParams.from_yaml(folder / doc["design"])
    params = doc.get("parameters")
    if not isinstance(params, dict) or not params:
        raise ConfigError("`parameters` must be a non-empty mapping of parameter -> values")
    axes = {}
    for key, values in params.items():
        if not isinstance(key, str):
            raise ConfigError(f"`parameters` keys must be parameter names, not {key!r}")
        name = user_key(key)
        if not isinstance(values, list) or not values:
            raise ConfigError(f"`parameters.{name}` must be a non-empty list, not {values!r}")
        seen: list[Any] = []
        for v in values:
            if any(v == s and type(v) is type(s) for s in seen):
                raise ConfigError(f"`parameters.{name}` lists {v!r} more than once")
            seen.append(v)
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
                        raise ConfigError(
                            f"`parameters.{name}`: {v!r} is not a {kind} like `{user_key(sub)}`"
                        )
        axes[key] = values
    size = math.prod(len(v) for v in axes.values())
    if size > MAX_POINTS:
        raise ConfigError(f"`parameters` make {size:,} points; at most {MAX_POINTS:,} are allowed")
    grid = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    sampling = doc.get("sampling", "grid")
    if isinstance(sampling, dict) and set(sampling) <= {"random", "seed"} and "random" in sampling:
        n, sample_seed = sampling["random"], sampling.get("seed", 0)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ConfigError(f"`sampling.random` must be an integer >= 1, not {n!r}")
        if isinstance(sample_seed, bool) or not isinstance(sample_seed, int) or sample_seed < 0:
            raise ConfigError(
                f"`sampling.seed` must be a non-negative integer, not {sample_seed!r}"
            )
        rng = np.random.default_rng(sample_seed)
        pick = rng.choice(len(grid), size=min(n, len(grid)), replace=False)
        points = [grid[i] for i in sorted(pick)]
    elif sampling == "grid":
        points = grid
    else:
        raise ConfigError(f"`sampling` must be 'grid' or {{random: N, seed: S}}, not {sampling!r}")
    workload = doc.get("workload", {})
    if not isinstance(workload, dict):
        raise ConfigError("`workload` must be a mapping")
    unknown = sorted(set(workload) - set(WORKLOAD_KEYS), key=str)
    if unknown:
        raise ConfigError(
            f"unknown key `workload.{user_key(unknown[0])}`; allowed: {', '.join(WORKLOAD_KEYS)}"
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
    max_bag = workload.get("max_bag", min(base.unit.max_bag, MAX_BAG))
    if isinstance(max_bag, bool) or not isinstance(max_bag, int) or not 1 <= max_bag <= MAX_BAG:
        raise ConfigError(
            f"`workload.max_bag` must be an integer from 1 to {MAX_BAG}, not {max_bag!r}"
        )
    clock = doc.get("clock_mhz", 1000)
    if (
        isinstance(clock, bool)
        or not isinstance(clock, int | float)
        or not math.isfinite(clock)
        or clock <= 0
    ):
        raise ConfigError(f"`clock_mhz` must be a finite positive number, not {clock!r}")
    area = doc.get("area", "none")
    if area not in AREA_TARGETS:
        raise ConfigError(f"`area` must be one of {', '.join(AREA_TARGETS)}, not {area!r}")
    base_dict = json.loads(base.to_json())
    study = Study(
        name=str(doc.get("name", folder.name)),
        base=base_dict,
        points=points,
        trace=trace,
        bags=int(workload.get("bags", 200)),
        seed=int(workload.get("seed", 1)),
        max_bag=max_bag,
        clock_mhz=float(clock),
        area=area,
    )
    payload = study.to_dict()
    first: dict[str, dict[str, Any]] = {}
    for point in points:
        try:
            params, _ = apply(base_dict, point)
        except (ConfigError, TypeError, ValueError) as exc:
            raise ConfigError(f"point {point}: {exc}") from None
        if params.unit.max_bag < max_bag:
            raise ConfigError(
                f"point {point}: `unit.max_bag` {params.unit.max_bag} cannot hold the "
                f"workload's bags of up to {max_bag} requests; lower `workload.max_bag`"
            )
        other = first.setdefault(point_key(payload, point), point)
        if other is not point:
            raise ConfigError(f"points {other} and {point} are the same design")
    return study


def resolve(study: dict[str, Any], point: dict[str, Any]) -> dict[str, Any]:
    """Everything that decides a point's result: design, encoding, workload, clock, area."""
    params, encoding = apply(study["base"], point)
    return {
        "design": params.to_dict(),
        "encoding": encoding,
        "workload": {k: study[k] for k in ("trace", "bags", "seed", "max_bag")},
        "clock_mhz": study["clock_mhz"],
        "area": study["area"],
    }


def point_key(study: dict[str, Any], point: dict[str, Any]) -> str:
    """The store's key of a point: a hash of the whole resolved point (:func:`resolve`)."""
    doc = json.dumps(resolve(study, point), sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()[:16]


def _area(params: EngineParams, target: str) -> dict[str, Any]:
    """Area columns of the engine at ``params`` (synthesised once per digest and target)."""
    from filelock import FileLock

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
        result = synthesize(verilog_path(params), "engine", target, folder)
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


def evaluate_point(study: dict[str, Any], point: dict[str, Any]) -> PointResult:
    """Evaluate one point (in a worker): the performance model on the study's workload."""
    from .models.cases.engine import trace_inputs
    from .models.perf.engine import estimate
    from .models.physical.energy import energy
    from .models.physical.events import engine_events
    from .models.physical.scaling import DEFAULT_NODE, node

    start = time.perf_counter()
    params, encoding = apply(study["base"], point)
    # The workload is the study's, not the point's: a swept `unit.max_bag` must not change it.
    shape = dataclasses.replace(
        params, unit=dataclasses.replace(params.unit, max_bag=study["max_bag"])
    )
    images, trace = trace_inputs(
        shape, study["trace"], study["bags"], study["seed"], encoding=encoding
    )
    r = estimate(params, images, trace)
    clock = study["clock_mhz"] * 1e6
    rates = r.per_second(clock)
    causes = r.traffic.bytes_by_cause()
    macs = int(r.macs)
    report = energy(engine_events(params, r, images, trace), at=node(DEFAULT_NODE))
    return PointResult(
        cycles=r.cycles,
        bags_per_cycle=r.bags_per_cycle,
        throughput=rates["bags_per_s"],
        requests_per_s=rates["requests_per_s"],
        dram_bytes=r.traffic.total_bytes,
        dram_bytes_per_bag=r.traffic.total_bytes / r.bags,
        **{f"dram_{k}_bytes": v for k, v in causes.items()},
        bandwidth_utilisation=r.bandwidth_utilisation(),
        operational_intensity=macs / max(1, r.traffic.total_bytes),
        mac_per_s=macs / (r.cycles / clock),
        peak_mac_per_s=params.units * clock,
        dram_peak_bytes_per_s=params.dram.bytes_per_cycle * clock,
        bottleneck=r.bottleneck,
        energy_pj_per_bag=report.total_pj / r.bags,
        energy_pj_per_request=report.pj_per_lookup,
        **(_area(params, study["area"]) if study["area"] != "none" else {}),
        seconds=time.perf_counter() - start,
    )


class Store:
    """The run folder's SQLite store: the study's digest and one row per finished point.

    Parameters
    ----------
    path : Path
        The ``results.sqlite`` file (created if missing).
    study : Study
        The study whose results the store holds.

    Raises
    ------
    StoreError
        If the file is not a usable SQLite database, was made by another study (its digest
        differs) or by an older rtnerf, or cannot be written.
    """

    def __init__(self, path: Path, study: Study):
        self.path = path
        self.study = study.to_dict()
        try:
            fresh = not path.exists() or path.stat().st_size == 0
            self.db = sqlite3.connect(path, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{path}: cannot open the results store: {exc}") from None
        try:
            tables = {n for (n,) in self.db.execute("SELECT name FROM sqlite_master")}
            if fresh or not tables:
                self._create(study)
                return
            meta = dict(self.db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(
                f"{path}: not a usable results store ({exc}); delete it to start over"
            ) from None
        if meta.get("store_version") != str(STORE_VERSION) or meta.get("study_digest") is None:
            self.db.close()
            raise StoreError(
                f"{path}: made by another rtnerf (store version "
                f"{meta.get('store_version', 1)}, this one writes {STORE_VERSION}); use another "
                "output folder or delete it to start over"
            )
        if meta["study_digest"] != study.digest():
            self.db.close()
            raise StoreError(
                f"{path}: holds the results of another study ({meta.get('study_name')!r}, "
                f"digest {meta['study_digest']}), not of {study.name!r} (digest "
                f"{study.digest()}); use another output folder or delete it to start over"
            )

    def _create(self, study: Study) -> None:
        with self.db:
            self.db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute(
                "CREATE TABLE points (key TEXT PRIMARY KEY, idx INTEGER, point TEXT, "
                "result TEXT, finished REAL)"
            )
            self.db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("store_version", str(STORE_VERSION)),
                    ("study_digest", study.digest()),
                    ("study_name", study.name),
                    ("study", json.dumps(study.to_dict(), sort_keys=True)),
                ],
            )

    def _run(self, what: str, sql: str, args: tuple = ()) -> list:
        try:
            with self.db:
                return self.db.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot {what} the results store: {exc}") from None

    def done(self) -> set[str]:
        """Keys of the points already stored."""
        return {k for (k,) in self._run("read", "SELECT key FROM points")}

    def add(self, idx: int, point: dict, result: PointResult) -> None:
        """Store a finished point (committed at once: a kill loses nothing stored)."""
        self._run(
            "write",
            "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)",
            (
                point_key(self.study, point),
                idx,
                json.dumps(point),
                json.dumps(result.to_dict()),
                time.time(),
            ),
        )

    def rows(self) -> list[tuple[int, dict, PointResult]]:
        """Every stored point, in study order."""
        rows = self._run("read", "SELECT idx, point, result FROM points ORDER BY idx")
        try:
            return [
                (idx, json.loads(p), PointResult.from_dict(json.loads(r))) for idx, p, r in rows
            ]
        except (TypeError, json.JSONDecodeError) as exc:
            raise StoreError(
                f"{self.path}: corrupt results store ({exc}); delete it to start over"
            ) from None

    def close(self) -> None:
        """Close the database."""
        self.db.close()


def _die_with_parent(parent: int) -> None:
    """Worker initializer: end this worker when the sweep that started it ends, even killed.

    On Linux the kernel sends SIGKILL at the parent's death (``PR_SET_PDEATHSIG``); elsewhere
    a thread polls the parent id (a worker stuck in a numba kernel then ends after it).
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="rtnerf-parent-watch").start()


def run_study(study: Study, run_dir: Path, *, jobs: int = 1, dask: str | None = None) -> dict:
    """Evaluate the study's points not yet in ``run_dir``'s store, then write the reports.

    Raises
    ------
    RunFolderError
        If ``run_dir`` cannot be created or another run holds it.
    StoreError
        If its ``results.sqlite`` is corrupt, another study's, or cannot be written.
    ConfigError
        If the ``dask`` scheduler cannot be reached.
    """
    with RunFolder(run_dir) as folder, contextlib.ExitStack() as stack:
        store = Store(folder / "results.sqlite", study)
        stack.callback(store.close)
        client = stack.enter_context(_dask_client(dask)) if dask else None
        payload = study.to_dict()
        done = store.done()
        todo = [(i, p) for i, p in enumerate(study.points) if point_key(payload, p) not in done]
        print(
            f"{study.name}: {len(study.points)} points, {len(study.points) - len(todo)} "
            f"already done, {len(todo)} to run",
            file=sys.stderr,
        )
        with progress(
            total=len(study.points), initial=len(study.points) - len(todo), desc="sweep",
            unit="point",
        ) as bar:  # fmt: skip
            for i, point, result in _evaluate(payload, todo, jobs, client):
                store.add(i, point, result)
                bar.update()
        rows = store.rows()
        from .sweep_report import write_reports

        return write_reports(study, rows, folder)


def _evaluate(payload: dict, todo: list, jobs: int, client: Any) -> Any:
    """Yield ``(index, point, result)`` of the points in ``todo`` as they finish."""
    if client is not None:
        from dask.distributed import as_completed as dask_completed

        futures = {client.submit(evaluate_point, payload, p, pure=False): (i, p) for i, p in todo}
        for fut in dask_completed(list(futures)):
            yield (*futures[fut], fut.result())
    elif jobs == 1:
        for i, point in todo:
            yield i, point, evaluate_point(payload, point)
    else:
        with ProcessPoolExecutor(
            max_workers=jobs, initializer=_die_with_parent, initargs=(os.getpid(),)
        ) as pool:
            futures = {pool.submit(evaluate_point, payload, p): (i, p) for i, p in todo}
            for fut in as_completed(futures):
                yield (*futures[fut], fut.result())


@contextlib.contextmanager
def _dask_client(address: str):
    """A connected ``dask.distributed`` client (``local``: a two-worker LocalCluster)."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--dask needs dask.distributed: pip install 'rtnerf[sweep]'") from None
    with contextlib.ExitStack() as stack:
        if address == "local":
            cluster = LocalCluster(n_workers=min(2, os.cpu_count() or 1), processes=True)
            stack.enter_context(cluster)
            target: Any = cluster
        else:
            target = address
        try:
            client = Client(target, timeout=DASK_TIMEOUT_S)
        except (OSError, ValueError, TimeoutError) as exc:
            raise ConfigError(
                f"--dask {address}: cannot reach the scheduler: {str(exc).splitlines()[0]}"
            ) from None
        with client:
            yield client
