"""Liberty (``.lib``) standard-cell libraries: a reader and the cells' area and timing tables.

Only what :mod:`rtnerf.sta` and :mod:`rtnerf.synth` need is kept: each cell's area, its pins
(direction, input capacitance), whether it is a flip-flop or latch (and its clock pin), and its
timing arcs as non-linear delay model (NLDM) tables (``cell_rise``, ``cell_fall``,
``rise_transition``, ``fall_transition``; ``rise_constraint`` / ``fall_constraint`` for setup
checks), in the library's units converted to nanoseconds and picofarads.

The one library the project uses is OSU's 0.18 um standard cells (``osu018_stdcells.lib`` from
Debian's ``qflow-tech-osu018``, fetched by :func:`osu018` into the data cache, never
installed): typical corner, 1.8 V, 25 C; areas in um^2 (``AND2X1`` is 3.2 um x 10 um = 32).
"""

from __future__ import annotations

import dataclasses
import re
from bisect import bisect_right
from functools import cache
from pathlib import Path

from .errors import RtnerfError

__all__ = [
    "Arc",
    "Cell",
    "Group",
    "LibertyError",
    "Library",
    "Table",
    "osu018",
    "parse",
    "read_library",
]


class LibertyError(RtnerfError):
    """A Liberty file that cannot be read or lacks what the flow needs."""


@dataclasses.dataclass
class Group:
    """One Liberty group: ``name (args) { attributes; groups }``."""

    name: str
    args: list[str]
    attrs: dict[str, str | list[str]] = dataclasses.field(default_factory=dict)
    groups: list[Group] = dataclasses.field(default_factory=list)

    def children(self, name: str) -> list[Group]:
        """The sub-groups called ``name``."""
        return [g for g in self.groups if g.name == name]


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[(){}:;,]|[^\s(){}:;,"]+')


def _tokens(text: str) -> list[str]:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"\\\r?\n", " ", text)
    return _TOKEN.findall(text)


def _unquote(token: str) -> str:
    return token[1:-1] if token.startswith('"') else token


def parse(text: str) -> Group:
    """Parse Liberty text into its top group (``library (name) {...}``).

    Raises
    ------
    LibertyError
        On a syntax error (the message names the token number).
    """
    toks = _tokens(text)
    pos = 0

    def expect(tok: str) -> None:
        nonlocal pos
        if pos >= len(toks) or toks[pos] != tok:
            got = toks[pos] if pos < len(toks) else "end of file"
            raise LibertyError(f"Liberty syntax: expected {tok!r} at token {pos}, not {got!r}")
        pos += 1

    def args() -> list[str]:
        nonlocal pos
        expect("(")
        out = []
        while pos < len(toks) and toks[pos] != ")":
            if toks[pos] != ",":
                out.append(_unquote(toks[pos]))
            pos += 1
        expect(")")
        return out

    def group(name: str) -> Group:
        nonlocal pos
        g = Group(name, args())
        expect("{")
        while pos < len(toks) and toks[pos] != "}":
            key = toks[pos]
            pos += 1
            if pos < len(toks) and toks[pos] == ":":
                pos += 1
                value = []
                while pos < len(toks) and toks[pos] != ";":
                    value.append(_unquote(toks[pos]))
                    pos += 1
                expect(";")
                g.attrs[key] = " ".join(value)
            elif pos < len(toks) and toks[pos] == "(":
                save = pos
                a = args()
                if pos < len(toks) and toks[pos] == "{":
                    pos = save
                    g.groups.append(group(key))
                else:
                    g.attrs[key] = a
                    if pos < len(toks) and toks[pos] == ";":
                        pos += 1
            else:
                got = toks[pos] if pos < len(toks) else "end of file"
                raise LibertyError(f"Liberty syntax: unexpected {got!r} after {key!r}")
        expect("}")
        return g

    if not toks:
        raise LibertyError("Liberty syntax: empty file")
    name = toks[pos]
    pos += 1
    top = group(name)
    return top


def _floats(value: str | list[str]) -> list[float]:
    parts = value if isinstance(value, list) else [value]
    return [float(x) for part in parts for x in part.replace(",", " ").split()]


@dataclasses.dataclass(frozen=True)
class Table:
    """An NLDM table: values on a grid of one or two variables (linear inter/extrapolation).

    Attributes
    ----------
    variables : tuple of str
        The template's ``variable_1`` (and ``variable_2``), e.g.
        ``total_output_net_capacitance``, ``input_net_transition``.
    index : tuple of tuple of float
        The grid of each variable (library units converted: ns, pF).
    values : tuple of tuple of float
        ``values[i][j]`` at ``index[0][i]``, ``index[1][j]`` (one row for one variable).
    """

    variables: tuple[str, ...]
    index: tuple[tuple[float, ...], ...]
    values: tuple[tuple[float, ...], ...]

    def __call__(self, **point: float) -> float:
        """The table at ``point`` (keyword per variable; a missing variable takes index 0)."""
        coords = [point.get(v, self.index[k][0]) for k, v in enumerate(self.variables)]
        if len(self.variables) == 1:
            return _interp(self.index[0], self.values[0], coords[0])
        rows = [_interp(self.index[1], row, coords[1]) for row in self.values]
        return _interp(self.index[0], rows, coords[0])


def _interp(xs, ys, x: float) -> float:
    if len(xs) == 1:
        return ys[0]
    i = min(max(bisect_right(xs, x) - 1, 0), len(xs) - 2)
    x0, x1 = xs[i], xs[i + 1]
    return ys[i] + (ys[i + 1] - ys[i]) * (x - x0) / (x1 - x0)


@dataclasses.dataclass(frozen=True)
class Arc:
    """A timing arc of an output (or constrained input) pin from ``related_pin``.

    ``kind`` is the Liberty ``timing_type`` (``combinational``, ``rising_edge``,
    ``setup_rising``, ...); ``tables`` maps ``cell_rise``, ``cell_fall``, ``rise_transition``,
    ``fall_transition``, ``rise_constraint``, ``fall_constraint`` to the ones present.
    """

    related_pin: str
    kind: str
    tables: dict[str, Table]

    def worst(self, names: tuple[str, ...], **point: float) -> float:
        """The largest of the tables ``names`` present at ``point`` (0 if none is)."""
        found = [self.tables[n](**point) for n in names if n in self.tables]
        return max(found) if found else 0.0


@dataclasses.dataclass(frozen=True)
class Cell:
    """A standard cell.

    Attributes
    ----------
    name : str
    area : float
        In the library's area unit (um^2 for OSU 0.18 um).
    inputs, outputs : dict[str, float]
        Pin -> input capacitance in pF (0 for outputs).
    arcs : dict[str, list[Arc]]
        Pin -> its timing arcs.
    clock : str or None
        The clock (or enable) pin of a flip-flop or latch; None for combinational cells.
    """

    name: str
    area: float
    inputs: dict[str, float]
    outputs: dict[str, float]
    arcs: dict[str, list[Arc]]
    clock: str | None

    @property
    def sequential(self) -> bool:
        """A flip-flop or latch."""
        return self.clock is not None


@dataclasses.dataclass(frozen=True)
class Library:
    """A Liberty library's cells, in ns and pF.

    Attributes
    ----------
    name : str
    cells : dict[str, Cell]
    voltage : float
        ``nom_voltage`` in V.
    path : pathlib.Path or None
        Where it was read from.
    """

    name: str
    cells: dict[str, Cell]
    voltage: float
    path: Path | None = None

    def cell(self, name: str) -> Cell:
        """The cell called ``name``."""
        try:
            return self.cells[name]
        except KeyError:
            raise LibertyError(f"cell {name!r} is not in library {self.name}") from None


_TIME = {"1ps": 1e-3, "10ps": 1e-2, "100ps": 0.1, "1ns": 1.0, "10ns": 10.0}
_CAP = {"ff": 1e-3, "pf": 1.0}
_TABLES = (
    "cell_rise",
    "cell_fall",
    "rise_transition",
    "fall_transition",
    "rise_constraint",
    "fall_constraint",
)


def _library(top: Group, path: Path | None) -> Library:
    if top.name != "library":
        raise LibertyError(f"not a Liberty library: top group is {top.name!r}")
    time = _TIME.get(str(top.attrs.get("time_unit", "1ns")).replace(" ", "").lower())
    cap_attr = top.attrs.get("capacitive_load_unit", ["1", "pf"])
    if time is None or not isinstance(cap_attr, list) or cap_attr[1].lower() not in _CAP:
        raise LibertyError(f"{top.args[0]}: unsupported time or capacitance unit")
    cap = float(cap_attr[0]) * _CAP[cap_attr[1].lower()]
    scale = {
        "total_output_net_capacitance": cap,
        "input_net_transition": time,
        "related_pin_transition": time,
        "constrained_pin_transition": time,
        "input_transition_time": time,
    }
    templates = {}
    for g in top.groups:
        if g.name in ("lu_table_template", "power_lut_template"):
            variables = tuple(
                str(g.attrs[f"variable_{k}"]) for k in (1, 2, 3) if f"variable_{k}" in g.attrs
            )
            templates[g.args[0]] = (variables, g.attrs)

    def table(g: Group) -> Table:
        variables, defaults = templates.get(g.args[0] if g.args else "", ((), {}))
        if g.args and g.args[0] == "scalar":
            return Table(("scalar",), ((0.0,),), ((float(_floats(g.attrs["values"])[0]) * time,),))
        # A table's own index_N overrides its template's.
        index = tuple(
            tuple(
                x * scale.get(v, 1.0)
                for x in _floats(g.attrs.get(f"index_{k + 1}", defaults.get(f"index_{k + 1}", "")))
            )
            for k, v in enumerate(variables)
        )
        flat = [x * time for x in _floats(g.attrs["values"])]
        width = len(index[1]) if len(index) > 1 else len(flat)
        rows = tuple(tuple(flat[i : i + width]) for i in range(0, len(flat), width))
        if len(rows) != (len(index[0]) if len(index) > 1 else 1):
            raise LibertyError(f"{top.args[0]}: table {g.name} has {len(flat)} values")
        return Table(variables, index, rows)

    cells = {}
    for c in top.children("cell"):
        inputs, outputs, arcs = {}, {}, {}
        for p in c.children("pin"):
            name = p.args[0]
            direction = p.attrs.get("direction")
            c_in = float(p.attrs.get("capacitance", 0.0)) * cap
            (inputs if direction == "input" else outputs)[name] = c_in
            for t in p.children("timing"):
                tables = {g.name: table(g) for g in t.groups if g.name in _TABLES}
                related = str(t.attrs.get("related_pin", "")).split()
                for r in related:
                    arcs.setdefault(name, []).append(
                        Arc(r, str(t.attrs.get("timing_type", "combinational")), tables)
                    )
        clock = None
        for kind, key in (("ff", "clocked_on"), ("latch", "enable")):
            for g in c.children(kind):
                clock = str(g.attrs.get(key, "")).strip("!() ")
        cells[c.args[0]] = Cell(
            c.args[0], float(c.attrs.get("area", 0.0)), inputs, outputs, arcs, clock
        )
    return Library(top.args[0], cells, float(top.attrs.get("nom_voltage", 0.0)), path)


@cache
def read_library(path: str | Path) -> Library:
    """Read a Liberty file (cached per path).

    Raises
    ------
    LibertyError
        If it cannot be read or parsed.
    """
    path = Path(path)
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise LibertyError(f"{path}: cannot read Liberty file: {exc.strerror}") from None
    return _library(parse(text), path)


def osu018() -> Path:
    """The path of ``osu018_stdcells.lib``, fetched into the data cache on first use.

    It is the ``osu018`` dataset (:mod:`rtnerf.workloads.data`): Debian's
    ``qflow-tech-osu018`` downloaded with ``apt-get download`` and unpacked, never installed.

    Raises
    ------
    rtnerf.workloads.data.FetchError
        If it is not cached and cannot be fetched (the message says how to do it by hand).
    """
    from .workloads import data

    return data.fetch("osu018", log=lambda _msg: None) / "osu018_stdcells.lib"
