"""CPU package energy from Linux RAPL (``/sys/class/powercap``), for the software baselines.

Intel and AMD CPUs expose their package energy counters as ``intel-rapl:N/energy_uj`` (one
per socket, ``name`` ``package-N``) under ``/sys/class/powercap`` when the ``intel_rapl`` (or
``amd_energy``-compatible) powercap driver is loaded and the files are readable (often root
only). :class:`PackageMeter` reads them around a piece of work; where they are missing or
unreadable (virtual machines, containers) it reports ``None`` and the reports say *n/a*.

The figure is the whole package's (every core, uncore, other processes), so it is an upper
bound of what the measured work alone draws.
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["POWERCAP", "PackageMeter", "package_domains", "read_package_uj"]

#: Where Linux exposes the power-capping counters.
POWERCAP = Path("/sys/class/powercap")


def package_domains(root: Path = POWERCAP) -> list[Path]:
    """The RAPL package domains (folders with ``name`` ``package-N`` and ``energy_uj``)."""
    out = []
    for d in sorted(root.glob("intel-rapl:*")) if root.is_dir() else ():
        try:
            if (d / "name").read_text().startswith("package") and (d / "energy_uj").exists():
                out.append(d)
        except OSError:
            continue
    return out


def read_package_uj(domains: list[Path]) -> list[int] | None:
    """Each domain's ``energy_uj``, or None if any cannot be read."""
    try:
        return [int((d / "energy_uj").read_text()) for d in domains]
    except (OSError, ValueError):
        return None


class PackageMeter:
    """Package energy and mean power over a ``with`` block (None where RAPL is unavailable).

    Attributes
    ----------
    joules, seconds, watts : float or None
        Set on exit; ``joules`` and ``watts`` are None without readable RAPL counters.
    available : bool
        Whether counters were found and read at the start.
    """

    def __init__(self, root: Path = POWERCAP):
        self.domains = package_domains(root)
        self.joules: float | None = None
        self.watts: float | None = None
        self.seconds: float | None = None
        self._start: list[int] | None = None
        self._t0 = 0.0

    @property
    def available(self) -> bool:
        """Counters were found and readable."""
        return bool(self.domains) and read_package_uj(self.domains) is not None

    def __enter__(self) -> PackageMeter:
        self._start = read_package_uj(self.domains) if self.domains else None
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._t0
        end = read_package_uj(self.domains) if self._start is not None else None
        if self._start is None or end is None:
            return
        total = 0
        for d, a, b in zip(self.domains, self._start, end, strict=True):
            if b < a:  # the counter wrapped at max_energy_range_uj
                try:
                    b += int((d / "max_energy_range_uj").read_text())
                except (OSError, ValueError):
                    return
            total += b - a
        self.joules = total * 1e-6
        self.watts = self.joules / self.seconds if self.seconds else None
