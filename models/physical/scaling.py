"""Scaling area, delay and energy between CMOS nodes (Stillmaker & Baas, 2017).

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", *Integration, the VLSI Journal* 58 (2017) 74-81,
doi:10.1016/j.vlsi.2017.02.002 (fits to HSPICE simulations of PTM models, 180-45 nm, and ITRS
projections, 32-7 nm).

* **Area** (:func:`area_factor`): the paper's area scaling table (:data:`AREA_FROM_180`; the
  area of a design at 180 nm over its area at each node, e.g. 99 for 16 nm), so
  ``area(dst) = area(src) * AREA_FROM_180[src] / AREA_FROM_180[dst]``.
* **Delay** and **energy** (:func:`delay_factor`, :func:`energy_factor`): the paper's per-node
  polynomials in the supply voltage (:data:`COEFFICIENTS`; delay cubic, energy quadratic; the
  high-performance (HP) fits for 45 nm and below), each evaluated at the node's supply, so
  ``delay(dst) = delay(src) * D_dst(V_dst) / D_src(V_src)``.
* **Supplies** (:data:`NOMINAL_VDD`): the nominal supply of the PTM model of each node (PTM
  bulk 180-32 nm, PTM-MG 20-7 nm; 16 nm at 0.85 V), unless the caller states one.

The scaled numbers are *projections*: reports keep them in their own, labelled columns next to
the measured (0.18 um) or published (45 nm) figures they come from.
"""

from __future__ import annotations

import dataclasses

from ...errors import ConfigError

__all__ = [
    "AREA_FROM_180",
    "COEFFICIENTS",
    "DEFAULT_NODE",
    "NODES",
    "NOMINAL_VDD",
    "SOURCE",
    "Node",
    "area_factor",
    "delay_factor",
    "energy_factor",
    "node",
]

#: The citation every scaled figure carries.
SOURCE = (
    "Stillmaker & Baas, Integration 58 (2017) 74-81: area table; delay and energy "
    "polynomials in VDD (HP fits at 45 nm and below)"
)

#: Nodes of the paper, in nm.
NODES = (180, 130, 90, 65, 45, 32, 20, 16, 14, 10, 7)

#: Area at 180 nm over area at the node (the paper's area scaling table, its 180 nm row).
AREA_FROM_180 = {
    180: 1.0, 130: 2.9, 90: 6.6, 65: 12.0, 45: 19.0, 32: 40.0, 20: 88.0, 16: 99.0, 14: 110.0,
    10: 180.0, 7: 320.0,
}  # fmt: skip

#: Per node: delay ``(a3, a2, a1, a0)`` (``a3 V^3 + a2 V^2 + a1 V + a0``) and energy
#: ``(b2, b1, b0)`` (``b2 V^2 + b1 V + b0``) coefficients (HP fits at 45 nm and below).
COEFFICIENTS = {
    180: ((0.0, 97.09, -356.7, 406.5), (0.0, 24.64, -17.98)),
    130: ((-76.65, 334.9, -493.4, 275.8), (7.171, -6.709, 2.904)),
    90: ((-60.34, 262.5, -384.2, 210.9), (4.762, -4.781, 2.092)),
    65: ((-53.3, 230.4, -333.9, 178.6), (3.755, -4.398, 1.975)),
    45: ((-501.6, 1567.0, -1619.0, 566.1), (1.018, -0.3107, 0.1539)),
    32: ((-1047.0, 2982.0, -2797.0, 873.5), (0.8367, -0.4341, 0.1701)),
    20: ((0.0, 34.63, -66.37, 41.15), (0.373, -0.1582, 0.04104)),
    16: ((0.0, 24.8, -47.52, 28.87), (0.2958, -0.1241, 0.03024)),
    14: ((-40.66, 109.2, -100.6, 35.92), (0.2363, -0.09675, 0.02239)),
    10: ((-34.95, 93.65, -85.99, 30.4), (0.2068, -0.09311, 0.02375)),
    7: ((-28.58, 76.6, -70.26, 24.69), (0.1776, -0.09097, 0.02447)),
}

#: Nominal supply (V) of each node's PTM model.
NOMINAL_VDD = {
    180: 1.8, 130: 1.3, 90: 1.2, 65: 1.1, 45: 1.0, 32: 0.9, 20: 0.9, 16: 0.85, 14: 0.8,
    10: 0.75, 7: 0.7,
}  # fmt: skip

#: The reference node of the reports: 16 nm (a "16 nm class" FinFET node) at 0.85 V.
DEFAULT_NODE = 16


@dataclasses.dataclass(frozen=True)
class Node:
    """A technology node and its supply.

    Attributes
    ----------
    nm : int
        One of :data:`NODES`.
    vdd : float
        Supply in V (default: :data:`NOMINAL_VDD`).
    """

    nm: int
    vdd: float

    @property
    def label(self) -> str:
        """E.g. ``16 nm, 0.85 V``."""
        return f"{self.nm} nm, {self.vdd:g} V"

    def delay_poly(self) -> float:
        """The paper's delay polynomial at this node and supply (arbitrary units)."""
        a3, a2, a1, a0 = COEFFICIENTS[self.nm][0]
        v = self.vdd
        return a3 * v**3 + a2 * v**2 + a1 * v + a0

    def energy_poly(self) -> float:
        """The paper's energy polynomial at this node and supply (arbitrary units)."""
        b2, b1, b0 = COEFFICIENTS[self.nm][1]
        v = self.vdd
        return b2 * v**2 + b1 * v + b0


def node(nm: object, vdd: object = None) -> Node:
    """A :class:`Node`, checked.

    Raises
    ------
    ConfigError
        If ``nm`` is not one of :data:`NODES` or ``vdd`` is not a supply in (0, 2] V where the
        node's fits stay positive.
    """
    if isinstance(nm, bool) or nm not in NODES:
        raise ConfigError(f"`node` must be one of {', '.join(map(str, NODES))} (nm), not {nm!r}")
    v = NOMINAL_VDD[nm] if vdd is None else vdd
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 2:
        raise ConfigError(f"`vdd` must be a supply in (0, 2] V, not {vdd!r}")
    out = Node(int(nm), float(v))
    if out.delay_poly() <= 0 or out.energy_poly() <= 0:
        raise ConfigError(f"`vdd` {v:g} V is outside the {nm} nm fits' range")
    return out


def area_factor(src: Node, dst: Node) -> float:
    """Multiply an area at ``src`` by this to get it at ``dst`` (supply-independent)."""
    return AREA_FROM_180[src.nm] / AREA_FROM_180[dst.nm]


def delay_factor(src: Node, dst: Node) -> float:
    """Multiply a delay at ``src`` by this to get it at ``dst``."""
    return dst.delay_poly() / src.delay_poly()


def energy_factor(src: Node, dst: Node) -> float:
    """Multiply an energy at ``src`` by this to get it at ``dst``."""
    return dst.energy_poly() / src.energy_poly()
