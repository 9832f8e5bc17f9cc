"""Pre-layout static timing analysis of a Liberty-mapped netlist (the critical path and Fmax).

Yosys maps each module on its own (:mod:`rtnerf.synth`), so ABC's delay figures stop at module
boundaries; this analysis runs on the **flattened** mapped netlist (Yosys ``write_json``), so
paths through several modules are timed whole. It is the textbook graph-based analysis with the
library's non-linear delay model (NLDM) tables:

* **startpoints**: top-level inputs (arrival 0, transition :attr:`StaOptions.input_transition`)
  and flip-flop outputs (the clock-to-Q arc at the output's load; the clock is ideal, no skew,
  transition :attr:`StaOptions.clock_transition`);
* **propagation**: through combinational cells in topological order; each arc's delay and
  output transition are its tables at (the net's load, the input's transition). Rise and fall
  are not tracked separately: every arc takes the worse of ``cell_rise`` / ``cell_fall`` and of
  ``rise_transition`` / ``fall_transition`` (unateness ignored, so the result is an upper
  bound of what a rise/fall-aware analysis gives);
* **endpoints**: flip-flop data inputs (arrival plus the setup constraint; a flip-flop on the
  falling edge is checked like one on the rising edge, a full period) and top-level outputs
  (arrival);
* **loads**: the input capacitances of a net's sinks plus a wire estimate of
  :attr:`StaOptions.wire_cap_per_fanout` per sink (a pre-layout wire-load *choice*: no
  parasitics exist before placement and routing);
* **timing loops** (a structural cycle of combinational cells; ABC's structural choices can
  close one across module boundaries where the RTL has none) are broken as STA tools do: the
  arcs from the untimed inputs of one cell of the loop are cut, and the result lists the cut
  cells (:attr:`StaResult.loop_cuts`);
* cells the library does not know (memories kept as SRAM macros, ``$mem_v2``) are boundaries:
  their outputs start paths at 0 and their inputs end paths (the macro's own access time is
  the SRAM model's, :mod:`rtnerf.models.physical.sram`).

The critical path is the largest endpoint arrival; ``Fmax = 1 / critical path``. It is a
*pre-layout* estimate: wires are guessed, the clock tree is ideal, and there is no hold,
recovery or multi-cycle analysis.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from .errors import RtnerfError
from .liberty import Library

__all__ = ["StaError", "StaOptions", "StaResult", "analyse", "analyse_json"]

_DELAY = ("cell_rise", "cell_fall")
_SLEW = ("rise_transition", "fall_transition")
_SETUP = ("rise_constraint", "fall_constraint")


class StaError(RtnerfError):
    """The netlist cannot be timed (a combinational loop, an unknown top module)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class StaOptions:
    """Assumptions of the analysis (units: ns, pF).

    Parameters
    ----------
    input_transition : float
        Transition time of the top-level inputs (default 0.1 ns).
    clock_transition : float
        Transition time of the (ideal) clock at every flip-flop (default 0.1 ns).
    wire_cap_per_fanout : float
        Wire capacitance added per sink of a net (default 0.005 pF: about 25 um of
        0.18 um metal at 0.2 fF/um, a local net; a *choice*).
    output_load : float
        Load on each top-level output (default 0.02 pF).
    clocks : tuple of str
        Top-level inputs that are clocks (ideal; not data startpoints).
    break_loops : bool
        Cut combinational (timing) loops as STA tools do, and report where
        (:attr:`StaResult.loop_cuts`); False raises :class:`StaError` instead.
    """

    input_transition: float = 0.1
    clock_transition: float = 0.1
    wire_cap_per_fanout: float = 0.005
    output_load: float = 0.02
    clocks: tuple[str, ...] = ("clk",)
    break_loops: bool = True


@dataclasses.dataclass(frozen=True)
class StaResult:
    """The critical path of a netlist.

    Attributes
    ----------
    critical_path_ns : float
        Largest arrival (plus setup) at an endpoint.
    fmax_mhz : float
        ``1000 / critical_path_ns``.
    startpoint, endpoint : str
        Where the critical path starts (a flip-flop's output or an input port) and ends.
    path : list of tuple
        ``(cell, cell type, pin, arrival ns)`` along the critical path, start to end.
    cells : int
        Cells timed.
    options : StaOptions
    loop_cuts : list of str
        Cells whose arcs from untimed inputs were cut to break timing loops (empty when the
        netlist has none).
    """

    critical_path_ns: float
    fmax_mhz: float
    startpoint: str
    endpoint: str
    path: list[tuple[str, str, str, float]]
    cells: int
    options: StaOptions
    loop_cuts: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (the path as a list of dicts)."""
        return {
            "critical_path_ns": round(self.critical_path_ns, 4),
            "fmax_mhz": round(self.fmax_mhz, 2),
            "startpoint": self.startpoint,
            "endpoint": self.endpoint,
            "logic_depth": max(0, len(self.path) - 1),
            "path": [
                {"cell": c, "type": t, "pin": p, "arrival_ns": round(a, 4)}
                for c, t, p, a in self.path
            ],
            "cells": self.cells,
            "loop_cuts": len(self.loop_cuts),
            "loop_cut_cells": self.loop_cuts[:10],
            "assumptions": dataclasses.asdict(self.options),
        }


def _cycles(left: list[str], split, driver, arrival) -> list[list[str]]:
    """Strongly connected components with a cycle among the cells ``left`` (Tarjan)."""
    members = set(left)
    succ: dict[str, list[str]] = defaultdict(list)
    for name in left:
        for bits in split[name][0].values():
            for b in bits:
                if isinstance(b, int) and b not in arrival and b in driver:
                    d = driver[b][0]
                    if d in members:
                        succ[d].append(name)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    out = []
    for root in left:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on.add(v)
            nxt = succ[v]
            if i < len(nxt):
                work.append((v, i + 1))
                w = nxt[i]
                if w not in index:
                    work.append((w, 0))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in succ[v]:
                    out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return out


def analyse_json(netlist: str | Path, library: Library, top: str, **kwargs) -> StaResult:
    """:func:`analyse` a Yosys ``write_json`` file."""
    doc = json.loads(Path(netlist).read_text())
    return analyse(doc, library, top, **kwargs)


def analyse(
    netlist: dict[str, Any], library: Library, top: str, options: StaOptions | None = None
) -> StaResult:
    """Time the flattened module ``top`` of a Yosys JSON netlist against ``library``.

    Raises
    ------
    StaError
        If ``top`` is not in the netlist, or it has a combinational loop and
        ``options.break_loops`` is False.
    """
    opts = options or StaOptions()
    modules = netlist.get("modules", {})
    if top not in modules:
        raise StaError(f"module {top!r} is not in the netlist (have: {', '.join(modules)})")
    mod = modules[top]
    cells: dict[str, dict] = mod.get("cells", {})

    # Pin directions: the library's, else Yosys' own (internal cells such as $mem_v2).
    def pins(cell: dict) -> tuple[dict[str, list], dict[str, list]]:
        lib = library.cells.get(cell["type"])
        ins, outs = {}, {}
        for pin, bits in cell["connections"].items():
            if lib is not None:
                is_out = pin in lib.outputs
            else:
                is_out = cell.get("port_directions", {}).get(pin) == "output"
            (outs if is_out else ins)[pin] = bits
        return ins, outs

    sinks: dict[int, list[tuple[str, str]]] = defaultdict(list)
    driver: dict[int, tuple[str, str]] = {}
    split = {}
    for name, cell in cells.items():
        ins, outs = pins(cell)
        split[name] = (ins, outs)
        for pin, bits in ins.items():
            for b in bits:
                if isinstance(b, int):
                    sinks[b].append((name, pin))
        for pin, bits in outs.items():
            for b in bits:
                if isinstance(b, int):
                    driver[b] = (name, pin)
    out_ports = {
        b
        for p in mod.get("ports", {}).values()
        if p["direction"] == "output"
        for b in p["bits"]
        if isinstance(b, int)
    }

    def load(net: int) -> float:
        total = 0.0
        for c, pin in sinks.get(net, ()):
            lib = library.cells.get(cells[c]["type"])
            total += (lib.inputs.get(pin, 0.0) if lib else 0.0) + opts.wire_cap_per_fanout
        if net in out_ports:
            total += opts.output_load
        return total

    arrival: dict[int, float] = {}
    slew: dict[int, float] = {}
    back: dict[int, tuple[str, str, int | None]] = {}  # net -> (cell, out pin, from net)
    for pname, port in mod.get("ports", {}).items():
        if port["direction"] != "input" or pname in opts.clocks:
            continue
        for b in port["bits"]:
            if isinstance(b, int):
                arrival[b], slew[b] = 0.0, opts.input_transition
                back[b] = (pname, "port", None)

    comb: list[str] = []
    for name, cell in cells.items():
        lib = library.cells.get(cell["type"])
        ins, outs = split[name]
        if lib is not None and not lib.sequential:
            comb.append(name)
            continue
        for pin, bits in outs.items():  # a startpoint: flip-flop output or macro boundary
            for b in bits:
                if not isinstance(b, int):
                    continue
                t = s = 0.0
                if lib is not None:
                    point = {
                        "total_output_net_capacitance": load(b),
                        "input_net_transition": opts.clock_transition,
                    }
                    for arc in lib.arcs.get(pin, ()):
                        if arc.kind in ("rising_edge", "falling_edge"):
                            t = max(t, arc.worst(_DELAY, **point))
                            s = max(s, arc.worst(_SLEW, **point))
                arrival[b], slew[b] = t, s or opts.clock_transition
                back[b] = (name, pin, None)

    # Kahn's order over combinational cells: a cell is ready once its driven inputs are timed.
    waiting = {}
    users: dict[int, list[str]] = defaultdict(list)
    ready = deque()
    for name in comb:
        ins, _ = split[name]
        # Nets still to be timed: driven by a combinational cell (startpoints are timed).
        pending = {
            b
            for bits in ins.values()
            for b in bits
            if isinstance(b, int) and b in driver and b not in arrival
        }
        waiting[name] = len(pending)
        for b in pending:
            users[b].append(name)
        if not pending:
            ready.append(name)
    done: set[str] = set()
    cut: list[str] = []  # cells timed with an input cut to break a loop
    stuck: list[str] = []
    while len(done) < len(comb):
        if not ready:
            # A timing loop (structural; ABC's choices can close one through module boundaries
            # that the RTL does not have): as STA tools do, cut the arcs from the untimed
            # inputs of one cell on a cycle (the first by name of each strongly connected
            # component of what is left) and go on.
            while stuck and stuck[0] in done:
                stuck.pop(0)
            if not stuck:
                left = [n for n in comb if n not in done]
                stuck = [min(c) for c in _cycles(left, split, driver, arrival)]
                stuck.sort()
            if not stuck:
                break
            name = stuck.pop(0)
            cut.append(name)
        else:
            name = ready.popleft()
            if name in done:  # a loop cell already timed: the arc from this input stays cut
                continue
        done.add(name)
        cell = cells[name]
        lib = library.cells[cell["type"]]
        ins, outs = split[name]
        for pin, bits in outs.items():
            for b in bits:
                if not isinstance(b, int):
                    continue
                cap = load(b)
                best, best_slew, src = 0.0, opts.input_transition, None
                for arc in lib.arcs.get(pin, ()):
                    for a in ins.get(arc.related_pin, ()):
                        if not isinstance(a, int) or a not in arrival:
                            continue
                        point = {
                            "total_output_net_capacitance": cap,
                            "input_net_transition": slew[a],
                        }
                        t = arrival[a] + arc.worst(_DELAY, **point)
                        if src is None or t > best:
                            best, src = t, a
                        best_slew = max(best_slew, arc.worst(_SLEW, **point))
                arrival[b], slew[b] = best, best_slew
                back[b] = (name, pin, src)
                for user in users.pop(b, ()):
                    waiting[user] -= 1
                    if waiting[user] == 0 and user not in done:
                        ready.append(user)
    if cut and not opts.break_loops:
        raise StaError(
            f"combinational loop: {len(cut)} cell(s) had to be cut, e.g. {cut[:3]} "
            "(StaOptions.break_loops cuts them)"
        )

    # Endpoints.
    worst, end_net, end_name = 0.0, None, "none"
    for name, cell in cells.items():
        lib = library.cells.get(cell["type"])
        if lib is not None and not lib.sequential:
            continue
        ins, _ = split[name]
        for pin, bits in ins.items():
            if lib is not None and pin == lib.clock:
                continue
            arcs = lib.arcs.get(pin, ()) if lib else ()
            setup = [a for a in arcs if a.kind in ("setup_rising", "setup_falling")]
            if lib is not None and not setup:
                continue  # asynchronous set/reset: no setup check here
            for b in bits:
                if not isinstance(b, int) or b not in arrival:
                    continue
                point = {
                    "related_pin_transition": opts.clock_transition,
                    "constrained_pin_transition": slew[b],
                }
                t = arrival[b] + max((a.worst(_SETUP, **point) for a in setup), default=0.0)
                if t > worst:
                    worst, end_net, end_name = t, b, f"{name}/{pin} ({cell['type']})"
    for pname, port in mod.get("ports", {}).items():
        if port["direction"] == "output":
            for b in port["bits"]:
                if isinstance(b, int) and b in arrival and arrival[b] > worst:
                    worst, end_net, end_name = arrival[b], b, f"output {pname}"

    path: list[tuple[str, str, str, float]] = []
    net = end_net
    while net is not None:
        c, pin, prev = back[net]
        ctype = cells[c]["type"] if c in cells else "input"
        path.append((c, ctype, pin, arrival[net]))
        net = prev
    path.reverse()
    start = f"{path[0][0]}/{path[0][2]} ({path[0][1]})" if path else "none"
    return StaResult(
        critical_path_ns=worst,
        fmax_mhz=1000.0 / worst if worst > 0 else float("inf"),
        startpoint=start,
        endpoint=end_name,
        path=path,
        cells=len(cells),
        options=opts,
        loop_cuts=cut,
    )
