"""On-chip SRAM cost: area, energy per read and write, access time, from OpenRAM macros.

**Model.** ``sram_openram_freepdk45.csv`` (next to this module; made by
``benchmarks/sram_openram.py``) holds single-port SRAM macros that OpenRAM 1.2 compiled in
FreePDK45 (TT, 1.0 V, 25 C) with its analytical delay and power models: layout area, clock to
data-out delay, and dynamic energy per read and per write. Each quantity is fitted as a power
law in the words and the width of a bank,

    log y = c0 + c1 log(words) + c2 log(width),

by least squares (:attr:`Fit.r2` and the largest relative error are in the reports). A memory
of ``banks`` banks is ``banks`` such macros of ``ceil(words / banks)`` words: the area is the
sum, an access touches one bank (its energy and access time). Results at other nodes are
scaled from FreePDK45 with :mod:`.scaling` (45 nm, 1.0 V).

**Limits** (stated in every report): FreePDK45 is an academic kit whose cells are larger than a
foundry's, and OpenRAM's layouts are not area-optimised, so areas are upper bounds; OpenRAM's
analytical power is a ``C V^2 f`` estimate at its 100 MHz event rate, the same for reads and
writes; memories outside the fitted range (:meth:`SramModel.cost` flags them ``extrapolated``)
are power-law extrapolations.

**Designs list their memories** as :class:`Memory` records (name, words, width, banks,
instances, reads, writes), so a new buffer (a directory SRAM, request-slot buffers, a sparse
embedding buffer) is costed by adding one record (:mod:`.events`).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ...params import check_int
from .scaling import Node, area_factor, delay_factor, energy_factor

__all__ = ["DATA", "SOURCE", "Fit", "Memory", "SramCost", "SramModel", "sram_model"]

#: The OpenRAM macros the model is fitted to.
DATA = Path(__file__).with_name("sram_openram_freepdk45.csv")

#: The citation of the SRAM figures.
SOURCE = (
    "OpenRAM 1.2.48 (Guthaus et al., ICCAD 2016) single-port macros in FreePDK45, TT 1.0 V, "
    "analytical models; power-law fit in words and width (benchmarks/sram_openram.py)"
)

#: The node of the data.
DATA_NODE = Node(45, 1.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Memory:
    """An on-chip memory of a design, and its accesses (the SRAM model's input).

    Parameters
    ----------
    name : str
        E.g. ``row_cache``, ``request_queue``.
    words, width : int
        Words and bits per word (of the whole memory, all banks).
    banks : int
        Banks it is split into (words evenly; one bank per access).
    instances : int
        Copies in the design (e.g. one per lookup unit); ``reads`` and ``writes`` count all.
    reads, writes : float
        Accesses (word reads and writes) over what the counts describe (a trace, a frame).
    """

    name: str
    words: int
    width: int
    banks: int = 1
    instances: int = 1
    reads: float = 0.0
    writes: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"`name` must be a non-empty string, not {self.name!r}")
        check_int("words", self.words, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("banks", self.banks, minimum=1, maximum=self.words)
        check_int("instances", self.instances, minimum=1)
        for key in ("reads", "writes"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int | float) or not v >= 0:
                raise ValueError(f"`{key}` must be a non-negative number, not {v!r}")

    @property
    def bits(self) -> int:
        """Capacity of one instance in bits."""
        return self.words * self.width

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class SramCost:
    """One memory's cost at a node (all instances for the area).

    Attributes
    ----------
    area_um2 : float
        Area of all instances.
    read_pj, write_pj : float
        Energy of one word access.
    access_ns : float
        Clock to data out of a read.
    node : str
        The node it is scaled to.
    extrapolated : bool
        A bank outside the fitted words or width range.
    """

    area_um2: float
    read_pj: float
    write_pj: float
    access_ns: float
    node: str
    extrapolated: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Fit:
    """``log y = c0 + c1 log(words) + c2 log(width)`` and its quality on the data."""

    coefficients: tuple[float, float, float]
    r2: float
    max_rel_error: float

    def __call__(self, words: float, width: float) -> float:
        """The fitted value at ``words`` and ``width``."""
        c0, c1, c2 = self.coefficients
        return math.exp(c0 + c1 * math.log(words) + c2 * math.log(width))


def _fit(words: np.ndarray, width: np.ndarray, y: np.ndarray) -> Fit:
    a = np.column_stack([np.ones_like(words), np.log(words), np.log(width)])
    coef, *_ = np.linalg.lstsq(a, np.log(y), rcond=None)
    pred = a @ coef
    ly = np.log(y)
    ss = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float(((ly - pred) ** 2).sum()) / ss if ss else 1.0
    rel = float(np.max(np.abs(np.exp(pred) / y - 1.0)))
    return Fit(tuple(float(c) for c in coef), r2, rel)


@dataclasses.dataclass(frozen=True)
class SramModel:
    """Power-law fits of the OpenRAM macros (see the module docstring)."""

    area: Fit
    read: Fit
    write: Fit
    access: Fit
    words_range: tuple[int, int]
    width_range: tuple[int, int]
    points: int

    def cost(self, memory: Memory, at: Node | None = None) -> SramCost:
        """The cost of ``memory`` at node ``at`` (default: the data's, 45 nm 1.0 V)."""
        at = at or DATA_NODE
        words = -(-memory.words // memory.banks)
        w = memory.width
        outside = not (
            self.words_range[0] <= words <= self.words_range[1]
            and self.width_range[0] <= w <= self.width_range[1]
        )
        a = area_factor(DATA_NODE, at)
        e = energy_factor(DATA_NODE, at)
        d = delay_factor(DATA_NODE, at)
        return SramCost(
            area_um2=self.area(words, w) * memory.banks * memory.instances * a,
            read_pj=self.read(words, w) * e,
            write_pj=self.write(words, w) * e,
            access_ns=self.access(words, w) * d,
            node=at.label,
            extrapolated=outside,
        )

    def summary(self) -> dict[str, Any]:
        """The fits, their quality and the data's range (for reports)."""
        return {
            "source": SOURCE,
            "data": DATA.name,
            "data_node": DATA_NODE.label,
            "points": self.points,
            "words_range": list(self.words_range),
            "width_range": list(self.width_range),
            **{
                name: {
                    "coefficients": [round(c, 5) for c in fit.coefficients],
                    "r2": round(fit.r2, 4),
                    "max_rel_error": round(fit.max_rel_error, 4),
                }
                for name, fit in (
                    ("area_um2", self.area),
                    ("read_pj", self.read),
                    ("write_pj", self.write),
                    ("access_ns", self.access),
                )
            },
        }


def _read(path: Path) -> dict[str, np.ndarray]:
    with path.open() as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))
    if len(rows) < 4:
        raise ValueError(f"{path.name}: {len(rows)} macros, need at least 4 to fit")
    cols = ("words", "width", "area_um2", "read_pj", "write_pj", "access_ns")
    return {c: np.array([float(r[c]) for r in rows]) for c in cols}


@cache
def sram_model(path: str | Path = DATA) -> SramModel:
    """The model fitted to ``path`` (default :data:`DATA`; cached)."""
    d = _read(Path(path))
    return SramModel(
        area=_fit(d["words"], d["width"], d["area_um2"]),
        read=_fit(d["words"], d["width"], d["read_pj"]),
        write=_fit(d["words"], d["width"], d["write_pj"]),
        access=_fit(d["words"], d["width"], d["access_ns"]),
        words_range=(int(d["words"].min()), int(d["words"].max())),
        width_range=(int(d["width"].min()), int(d["width"].max())),
        points=int(d["words"].size),
    )
