"""Pack and unpack Amaranth ``data`` layouts to the flat integers of Verilog ports.

A struct payload becomes one flat port with its fields LSB-first in layout order; these helpers
take the offsets from the layout objects themselves, so testbenches never hard-code them.
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Shape
from amaranth.lib import data

__all__ = ["pack", "unpack"]


def pack(layout: Any, value: Any) -> int:
    """The integer of ``value`` in ``layout``.

    ``value`` is an int for a plain shape, a mapping of field values for a struct or union (a
    union takes exactly one field), and a sequence for an array.

    Raises
    ------
    ValueError
        If a value does not fit its field, or a struct or union field name is unknown.
    """
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return sum(pack(layout.elem_shape, v) << (n * width) for n, v in enumerate(value))
    if isinstance(layout, data.Layout):
        fields = dict(layout)
        unknown = set(value) - set(fields)
        if unknown:
            raise ValueError(f"unknown field {sorted(unknown)[0]!r}; layout has {list(fields)}")
        return sum(pack(fields[k].shape, v) << fields[k].offset for k, v in value.items())
    shape = Shape.cast(layout)
    v = int(value)
    if not 0 <= v < 1 << shape.width:
        raise ValueError(f"value {v} does not fit {shape.width} bits")
    return v


def unpack(layout: Any, raw: int) -> Any:
    """Inverse of :func:`pack` for structs and arrays (unions are left to the caller)."""
    if isinstance(layout, data.ArrayLayout):
        width = Shape.cast(layout.elem_shape).width
        return [unpack(layout.elem_shape, raw >> (n * width)) for n in range(layout.length)]
    if isinstance(layout, data.StructLayout):
        return {k: unpack(f.shape, raw >> f.offset) for k, f in layout}
    return raw & ((1 << Shape.cast(layout).width) - 1)
