"""Energy model: per-event energies (a versioned YAML table) times event counts.

In the spirit of Accelergy: a design's activity is a plain record of **events**
(:class:`EventCounts`: DRAM bytes by cause, reads and writes of each named on-chip memory,
integer operations by kind and width), built by an adapter from a performance model's result
(:mod:`.events`); a **table** (:data:`TABLE`, ``energy_table.yaml``, loaded by
:func:`load_table`) gives each event's energy with its source; :func:`energy` multiplies and
sums them into a per-component breakdown (:class:`EnergyReport`), in pJ in total and per
lookup.

Units and nodes: DRAM energy is per bit at the interface (``dram.classes``; not scaled);
integer operations are Horowitz's 45 nm 0.9 V figures, interpolated in width by power laws
through two published points and scaled to the report's node (:mod:`.scaling`); SRAM accesses
come from the OpenRAM fit (:mod:`.sram`), scaled likewise. Only dynamic energy of these events
is counted: leakage, clock tree, pipeline registers and control are not (the report says so).
"""

from __future__ import annotations

import dataclasses
import math
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ...errors import ConfigError
from .scaling import Node, energy_factor, node
from .sram import Memory, SramModel, sram_model

__all__ = [
    "OPS",
    "TABLE",
    "EnergyReport",
    "EnergyTable",
    "EventCounts",
    "OpCount",
    "energy",
    "load_table",
]

#: The default table (next to this module).
TABLE = Path(__file__).with_name("energy_table.yaml")

#: Integer operations the table prices.
OPS = ("add", "mult", "compare")

#: Notes every report carries: what the model leaves out.
NOT_COUNTED = (
    "leakage, clock tree, pipeline registers and control logic are not counted; DRAM energy "
    "is per bit transferred (background and refresh not counted)"
)


@dataclasses.dataclass(frozen=True)
class EnergyTable:
    """A loaded energy table (see ``energy_table.yaml``).

    Attributes
    ----------
    name : str
    table_version : int
        The numbers' version (reports record it).
    dram : dict[str, tuple[float, str]]
        DRAM class -> (pJ per bit, source).
    dram_default : str
    logic_node : Node
        Where ``add`` and ``mult`` are stated.
    points : dict[str, dict[int, float]]
        ``add``, ``mult`` -> {width: pJ} (two points each).
    sources : dict[str, str]
        ``add``, ``mult``, ``compare``, ``sram``, ``register_file`` -> source text.
    path : pathlib.Path
    """

    name: str
    table_version: int
    dram: dict[str, tuple[float, str]]
    dram_default: str
    logic_node: Node
    points: dict[str, dict[int, float]]
    sources: dict[str, str]
    path: Path

    def dram_pj_per_byte(self, kind: str | None = None) -> float:
        """Energy of one DRAM byte of class ``kind`` (default :attr:`dram_default`).

        Raises
        ------
        ConfigError
            If ``kind`` is not a class of the table.
        """
        kind = kind or self.dram_default
        if kind not in self.dram:
            raise ConfigError(
                f"`dram` must be one of {', '.join(self.dram)} (the energy table's DRAM "
                f"classes), not {kind!r}"
            )
        return self.dram[kind][0] * 8.0

    def _law(self, op: str, x: float, per: float) -> float:
        (x1, e1), (x2, e2) = sorted(self.points[op].items())
        x1, x2 = x1 * per, x2 * per
        k = math.log(e2 / e1) / math.log(x2 / x1)
        return e1 * (x / x1) ** k

    def op_pj(self, op: str, width: int, width_b: int = 0, at: Node | None = None) -> float:
        """Energy of one integer ``op`` (``add``, ``mult``, ``compare``) at node ``at``.

        ``mult`` multiplies a ``width`` by a ``width_b`` bit operand (``width_b`` 0: square).
        """
        scale = energy_factor(self.logic_node, at) if at is not None else 1.0
        if op == "mult":
            return self._law("mult", width * (width_b or width), per=1.0) * scale
        if op in ("add", "compare"):
            return self._law("add", width, per=1.0) * scale
        raise ConfigError(f"`op` must be one of {', '.join(OPS)}, not {op!r}")


def _mult_points(points: dict[int, float]) -> dict[int, float]:
    # The table states square multiplies (8x8, 32x32): the law runs in w_a * w_b.
    return {w * w: e for w, e in points.items()}


def _need(doc: Any, key: str, where: str) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise ConfigError(f"{where}: missing `{key}`")
    return doc[key]


def _source(doc: Any, where: str) -> str:
    src = _need(doc, "source", where)
    if not isinstance(src, str) or not src.strip():
        raise ConfigError(f"{where}: `source` must be a non-empty string, not {src!r}")
    return " ".join(src.split())


@cache
def load_table(path: str | Path = TABLE) -> EnergyTable:
    """Read and check an energy table (cached per path).

    Raises
    ------
    ConfigError
        Naming the file and the field: a wrong ``version`` or ``kind``, a missing number or
        source, a non-positive energy.
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read energy table: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}".splitlines()[0]) from None
    try:
        return _parse(doc, path)
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None


def _positive(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"`{where}` must be a positive number, not {value!r}")
    return float(value)


def _parse(doc: Any, path: Path) -> EnergyTable:
    if not isinstance(doc, dict):
        raise ConfigError("an energy table must be a mapping")
    if doc.get("version") != 1:
        raise ConfigError(f"`version` must be 1, not {doc.get('version')!r}")
    if doc.get("kind") != "energy_table":
        raise ConfigError(f"`kind` must be 'energy_table', not {doc.get('kind')!r}")
    dram_doc = _need(doc, "dram", "the table")
    classes = _need(dram_doc, "classes", "`dram`")
    if not isinstance(classes, dict) or not classes:
        raise ConfigError("`dram.classes` must be a non-empty mapping")
    dram = {
        str(k): (_positive(_need(v, "pj_per_bit", f"`dram.classes.{k}`"),
                           f"dram.classes.{k}.pj_per_bit"),
                 _source(v, f"`dram.classes.{k}`"))
        for k, v in classes.items()
    }  # fmt: skip
    default = dram_doc.get("default", next(iter(dram)))
    if default not in dram:
        raise ConfigError(f"`dram.default` must be one of {', '.join(dram)}, not {default!r}")
    logic = _need(doc, "logic", "the table")
    where = _need(logic, "node", "`logic`")
    logic_node = node(_need(where, "nm", "`logic.node`"), _need(where, "vdd", "`logic.node`"))
    points, sources = {}, {}
    for op in ("add", "mult"):
        entry = _need(logic, op, "`logic`")
        pts = _need(entry, "points", f"`logic.{op}`")
        if not isinstance(pts, dict) or len(pts) != 2:
            raise ConfigError(f"`logic.{op}.points` must map two widths to pJ, not {pts!r}")
        parsed = {int(w): _positive(e, f"logic.{op}.points.{w}") for w, e in pts.items()}
        points[op] = _mult_points(parsed) if op == "mult" else parsed
        sources[op] = _source(entry, f"`logic.{op}`")
    sources["compare"] = _source(_need(logic, "compare", "`logic`"), "`logic.compare`")
    sram = _need(doc, "sram", "the table")
    sources["sram"] = _source(sram, "`sram`")
    sources["register_file"] = _source(_need(sram, "register_file", "`sram`"),
                                       "`sram.register_file`")  # fmt: skip
    for k, (_, src) in dram.items():
        sources[f"dram.{k}"] = src
    return EnergyTable(
        name=str(doc.get("name", path.stem)),
        table_version=int(doc.get("table_version", 1)),
        dram=dram,
        dram_default=str(default),
        logic_node=logic_node,
        points=points,
        sources=sources,
        path=path,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class OpCount:
    """Integer operations of one kind in one component.

    Parameters
    ----------
    component : str
        Where they happen, e.g. ``mac``, ``decoder``.
    op : str
        ``add``, ``mult`` or ``compare``.
    width : int
        Operand bits (a multiply's first operand).
    width_b : int
        A multiply's second operand (0: same as ``width``).
    count : float
    """

    component: str
    op: str
    width: int
    count: float
    width_b: int = 0

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"`op` must be one of {', '.join(OPS)}, not {self.op!r}")
        if isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"`width` must be a positive integer, not {self.width!r}")
        if not self.count >= 0:
            raise ValueError(f"`count` must be a non-negative number, not {self.count!r}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EventCounts:
    """What a design did: the energy model's input.

    Parameters
    ----------
    lookups : int
        Lookups (trace requests) the counts cover: the per-lookup divisor.
    dram_bytes : dict[str, float]
        DRAM bytes transferred by cause (``directory``, ``bitmap``, ...).
    memories : tuple of Memory
        Each on-chip memory with its reads and writes.
    ops : tuple of OpCount
        Integer operations.
    """

    lookups: int
    dram_bytes: dict[str, float]
    memories: tuple[Memory, ...] = ()
    ops: tuple[OpCount, ...] = ()

    def scaled(self, factor: float) -> EventCounts:
        """Every count times ``factor`` (a frame measured on a subset of its rays)."""
        return EventCounts(
            lookups=round(self.lookups * factor),
            dram_bytes={k: v * factor for k, v in self.dram_bytes.items()},
            memories=tuple(
                dataclasses.replace(m, reads=m.reads * factor, writes=m.writes * factor)
                for m in self.memories
            ),
            ops=tuple(dataclasses.replace(o, count=o.count * factor) for o in self.ops),
        )

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> EventCounts:
        """The counts saved by :meth:`to_dict`."""
        return cls(
            lookups=int(doc["lookups"]),
            dram_bytes={str(k): float(v) for k, v in doc["dram_bytes"].items()},
            memories=tuple(Memory(**m) for m in doc.get("memories", ())),
            ops=tuple(OpCount(**o) for o in doc.get("ops", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (:meth:`from_dict` reads it back)."""
        return {
            "lookups": self.lookups,
            "dram_bytes": dict(self.dram_bytes),
            "memories": [m.to_dict() for m in self.memories],
            "ops": [dataclasses.asdict(o) for o in self.ops],
        }


@dataclasses.dataclass(frozen=True)
class EnergyReport:
    """Energy of an :class:`EventCounts` (see :func:`energy`).

    Attributes
    ----------
    components : dict[str, float]
        pJ per component: ``dram/<cause>``, ``sram/<memory>``, ``<component>/<op>``.
    lookups : int
    node : str
        Node of the logic and SRAM figures.
    dram : str
        DRAM class.
    memories : dict[str, dict]
        Each memory's :class:`~.sram.SramCost` (area of all instances, pJ per access).
    table : str
        The table's name, version and file.
    notes : list of str
        What is not counted, and memories whose cost is extrapolated.
    """

    components: dict[str, float]
    lookups: int
    node: str
    dram: str
    memories: dict[str, dict[str, Any]]
    table: str
    notes: list[str]

    @property
    def total_pj(self) -> float:
        """Sum of the components."""
        return float(sum(self.components.values()))

    @property
    def pj_per_lookup(self) -> float:
        """Total over :attr:`lookups`."""
        return self.total_pj / self.lookups if self.lookups else 0.0

    def grouped(self) -> dict[str, float]:
        """Energy (pJ) per group: ``dram``, ``sram``, each compute component (before ``/``)."""
        out: dict[str, float] = {}
        for name, pj in self.components.items():
            group = name.split("/", 1)[0]
            out[group] = out.get(group, 0.0) + pj
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (pJ; per lookup too)."""
        return {
            "total_pj": self.total_pj,
            "lookups": self.lookups,
            "pj_per_lookup": self.pj_per_lookup,
            "components_pj": dict(self.components),
            "components_pj_per_lookup": {
                k: v / self.lookups if self.lookups else 0.0 for k, v in self.components.items()
            },
            "node": self.node,
            "dram": self.dram,
            "memories": self.memories,
            "table": self.table,
            "notes": list(self.notes),
        }


def energy(
    events: EventCounts,
    *,
    table: EnergyTable | None = None,
    at: Node | None = None,
    dram: str | None = None,
    sram: SramModel | None = None,
) -> EnergyReport:
    """The energy of ``events``: each count times its table energy, by component.

    Parameters
    ----------
    events : EventCounts
    table : EnergyTable, optional
        Default :func:`load_table`'s.
    at : Node, optional
        Node of the logic and SRAM energies (default: the table's logic node, unscaled).
    dram : str, optional
        DRAM class (default: the table's).
    sram : SramModel, optional
        Default :func:`~.sram.sram_model`'s.

    Raises
    ------
    ConfigError
        If ``dram`` is not a class of the table.
    """
    table = table or load_table()
    sram = sram or sram_model()
    kind = dram or table.dram_default
    per_byte = table.dram_pj_per_byte(kind)
    at_node = at or table.logic_node
    components: dict[str, float] = {}
    for cause, nbytes in events.dram_bytes.items():
        components[f"dram/{cause}"] = nbytes * per_byte
    memories, notes = {}, [NOT_COUNTED]
    for m in events.memories:
        cost = sram.cost(m, at_node)
        components[f"sram/{m.name}"] = m.reads * cost.read_pj + m.writes * cost.write_pj
        memories[m.name] = {**m.to_dict(), **cost.to_dict()}
        if cost.extrapolated:
            notes.append(
                f"{m.name} ({m.words} x {m.width} bits, {m.banks} bank(s)) is outside the "
                "OpenRAM fit's range: its cost is extrapolated"
            )
    for o in events.ops:
        key = f"{o.component}/{o.op}"
        components[key] = components.get(key, 0.0) + o.count * table.op_pj(
            o.op, o.width, o.width_b, at_node
        )
    return EnergyReport(
        components=components,
        lookups=events.lookups,
        node=at_node.label,
        dram=kind,
        memories=memories,
        table=f"{table.name} v{table.table_version} ({table.path.name})",
        notes=notes,
    )
