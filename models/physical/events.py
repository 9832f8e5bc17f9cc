"""Event counts of the engine for the energy model: adapters from the performance model.

:func:`engine_events` turns a :class:`~rtnerf.models.perf.engine.PerfResult` (with the params,
memory images and trace it ran on) into an :class:`~.energy.EventCounts`:

* **DRAM bytes** by cause: the golden accounting's (``perf.traffic``), exact;
* **memories** (:func:`engine_memories`; one instance per lookup unit, split into banks of at
  most :data:`BANK_WORDS` words):

  - ``row_cache`` (``unit.cache_ways > 0``): ``ways x sets x dim`` beats of
    ``value_width + coord_bits + 2`` bits (value, column, hit, last: the RTL's store);
    a hit replays the row's stored beats (reads), a miss writes the fetched row's beats;
  - ``request_queue`` (``queue_depth > 0``): ``queue_depth - 1`` requests (the RTL's
    ``SyncFIFOBuffered`` keeps one in its output register); one write and one read per request;
  - ``accumulators`` (a register file, costed as a small SRAM: see the table's
    ``register_file``): ``dim`` words of ``acc_width`` bits; a read and a write per MAC, a read
    per drained value;

* **operations**: per MAC a ``value_width x weight_width`` multiply and an ``acc_width`` add
  (``mac``); per decoder query (a request that misses the cache, or every request without one):
  a BITMAP row's adder-tree pass over its bitmap (``ceil(dim / leaves) x (leaves - 1)`` adds of
  ``log2(leaves) + 1`` bits), a COO element query's ``nnz`` coordinate compares of
  ``coord_bits`` bits (``decoder``).

The lead's rewrite of the performance model (request slots, an on-chip directory) changes what
this adapter reads: new memories are new :class:`~.sram.Memory` records in
:func:`engine_memories`, new operations new :class:`~.energy.OpCount` entries.
:func:`nerf_frame_events` adds the NeRF frame's on-chip line factors and MAC array.
"""

from __future__ import annotations

import math

import numpy as np

from ...params.encoding import Format
from ...params.engine import EngineParams
from ..golden.decode import locate
from ..image import MemoryImage
from ..trace import Op, Trace
from .energy import EventCounts, OpCount
from .sram import Memory

__all__ = [
    "BANK_WORDS",
    "NERF_MAC_WIDTHS",
    "engine_events",
    "engine_memories",
    "nerf_frame_events",
    "render_frame_events",
]

#: Words of the largest bank a memory is built of (a *choice*: about the largest macro a
#: foundry SRAM compiler offers; the OpenRAM fit itself spans 16-256 words, so banks above that
#: are extrapolated and flagged); bigger memories are split into ``ceil(words / BANK_WORDS)``
#: banks.
BANK_WORDS = 4096

#: Operand and accumulator bits of the NeRF MAC array (a *choice*: the perf model does not fix
#: them): 16-bit operands, 32-bit accumulation.
NERF_MAC_WIDTHS = (16, 16, 32)


def _request_width(params: EngineParams) -> int:
    u = params.unit
    return u.table_width + u.row_width + u.col_width + 1 + u.weight_width + 1


def engine_memories(params: EngineParams, **accesses: tuple[float, float]) -> list[Memory]:
    """The engine's on-chip memories at ``params`` (see the module docstring).

    ``accesses`` maps a memory's name to its ``(reads, writes)`` (default none).
    """
    u = params.unit
    out = []
    if u.cache_ways:
        out.append(("row_cache", u.cache_ways * u.cache_sets * u.dim, u.value_width
                    + u.decoder.coord_bits + 2))  # fmt: skip
    if params.queue_depth:
        out.append(("request_queue", max(1, params.queue_depth - 1), _request_width(params)))
    # The request slots' payload buffer (rtl/request_slots.py), the directory SRAM, the entry
    # cache's words and the output queue behind the unit.
    out.append(("slot_buffer", u.inflight * u.slot_words, u.word_width))
    if u.directory == "sram":
        out.append(("directory_sram", u.tables * u.directory_words, u.word_width))
    if u.entry_cache_lines:
        out.append(("entry_cache", u.entry_cache_lines, u.word_width))
    if params.out_depth:
        pooled = (3 * u.score_width if u.pairwise != "none" else u.lanes * u.out_width) + 1
        out.append(("output_queue", params.out_depth, pooled))
    out.append(("accumulators", u.dim, u.acc_width))
    return [
        Memory(name=n, words=w, width=b, banks=-(-w // BANK_WORDS), instances=params.units,
               reads=accesses.get(n, (0, 0))[0], writes=accesses.get(n, (0, 0))[1])
        for n, w, b in out
    ]  # fmt: skip


def engine_events(
    params: EngineParams, perf, images: list[MemoryImage], trace: Trace
) -> EventCounts:
    """Event counts of ``perf`` (the performance model's result of ``trace`` on ``images``)."""
    u = params.unit
    n = len(trace)
    hit = np.asarray(perf.traffic.cache_hit, np.bool_)
    fmt = np.zeros(n, np.uint8)
    nnz = np.zeros(n, np.int64)
    table = trace.table.astype(np.int64)
    for t, image in enumerate(images):
        sel = np.flatnonzero(table == t)
        if sel.size:
            where = locate(image, trace.row[sel], np.zeros(sel.size, np.int64))
            fmt[sel] = where["format"]
            nnz[sel] = where["nnz"]
    stored = np.where(fmt == Format.DENSE, u.dim, nnz)
    beats = np.maximum(stored, 1)
    row = trace.op == Op.ROW
    macs = float(perf.macs)
    bag_ops = trace.op[trace.bag_starts[:-1]]
    drained = float(np.where(bag_ops == Op.ELEMENT, 1, u.dim).sum())
    # Payload words go through the slot buffer once each way: the accounting's words of every
    # request that missed the row cache (entries are held in registers).
    traffic = perf.traffic
    words = float(sum(int(a.words.sum()) for a in traffic.accounts))
    bags = float(trace.bags)
    out_beats = float(np.where(bag_ops == Op.ELEMENT, 1, u.dim // u.lanes).sum())
    accesses = {
        "request_queue": (float(n), float(n)),
        "accumulators": (macs + drained, macs),
        "slot_buffer": (words, words),
        "output_queue": (out_beats if u.pairwise == "none" else bags / 2, out_beats),
    }
    # Requests that look their entry up: not row-cache hits, and of a table read through its
    # directory (a stride table's address is computed).
    stride = np.array([image.row_stride != 0 for image in images])
    looked = ~hit & ~stride[table]
    if u.directory == "sram":
        loaded = float(sum(lo.size for lo in traffic.loads)) * params.dram.burst_bytes
        accesses["directory_sram"] = (float(looked.sum()), loaded * 8 / u.word_width)
    if u.entry_cache_lines:
        misses = looked & ~np.asarray(traffic.entry_hit, np.bool_)
        accesses["entry_cache"] = (float(looked.sum()), float(misses.sum()))
    if u.cache_ways:
        accesses["row_cache"] = (float(beats[hit].sum()), float(beats[~hit].sum()))
    query = ~hit
    leaves = u.decoder.leaves
    tree_adds = math.ceil(u.dim / leaves) * (leaves - 1)
    bitmap = float((query & (fmt == Format.BITMAP)).sum())
    # With a cache every query expands its row: a COO row is streamed, not searched.
    coo_element = query & (fmt == Format.COO) & ~row & (not u.cache_ways)
    ops = (
        OpCount(component="mac", op="mult", width=u.value_width, width_b=u.weight_width,
                count=macs),
        OpCount(component="mac", op="add", width=u.acc_width, count=macs),
        OpCount(component="decoder", op="add", width=max(1, leaves.bit_length()),
                count=bitmap * tree_adds),
        OpCount(component="decoder", op="compare", width=u.decoder.coord_bits,
                count=float(nnz[coo_element].sum())),
    )  # fmt: skip
    return EventCounts(
        lookups=n,
        dram_bytes={k: float(v) for k, v in perf.traffic.bytes_by_cause().items()},
        memories=tuple(engine_memories(params, **accesses)),
        ops=ops,
    )


def nerf_frame_events(
    lookup: EventCounts,
    *,
    line_values: int,
    line_reads: float,
    macs: float,
    value_width: int = 16,
) -> EventCounts:
    """A NeRF frame: the lookup engine's events plus the line factors and the MAC array.

    Parameters
    ----------
    lookup : EventCounts
        The engine's events, already scaled to the whole frame.
    line_values : int
        Values of the on-chip line factors (``3 (R_sigma + R_c) N``): one SRAM, ``lines``.
    line_reads : float
        Its reads in the frame (2 per plane read).
    macs : float
        The MAC array's MACs in the frame (:class:`~rtnerf.models.perf.nerf.FramePerf`'s),
        each a multiply and an add at :data:`NERF_MAC_WIDTHS`.
    value_width : int
        Bits of a line value.
    """
    a, b, acc = NERF_MAC_WIDTHS
    lines = Memory(name="lines", words=line_values, width=value_width,
                   banks=-(-line_values // BANK_WORDS), reads=line_reads)  # fmt: skip
    return EventCounts(
        lookups=lookup.lookups,
        dram_bytes=dict(lookup.dram_bytes),
        memories=(*lookup.memories, lines),
        ops=(
            *lookup.ops,
            OpCount(component="mac_array", op="mult", width=a, width_b=b, count=macs),
            OpCount(component="mac_array", op="add", width=acc, count=macs),
        ),
    )


def render_frame_events(
    stats: dict,
    *,
    dram_bytes: float,
    density_components: int,
    app_components: int,
    resolution: int,
    value_width: int = 16,
    weight_width: int = 16,
    acc_width: int = 40,
) -> EventCounts:
    """A rendered frame's events from the renderer's counters (``rtnerf render``).

    ``stats`` are :meth:`~rtnerf.workloads.nerf.render.RenderStats.to_dict`'s counters of the
    frame; ``dram_bytes`` the renderer's DRAM model's bytes for it (each touched burst once:
    an on-chip buffer holding the frame's rows, whose own reads are not costed here). Each
    plane texel read is a lookup with a weighted accumulate (``value_width x weight_width``
    multiply, ``acc_width`` add); line reads hit the on-chip ``lines`` SRAM; the MAC array's
    MACs are :func:`rtnerf.models.perf.nerf.macs_per_sample`'s.
    """
    from ..perf.nerf import MacArrayParams, macs_per_sample

    plane = float(stats["density_plane_reads"] + stats["app_plane_reads"])
    line = float(stats["density_line_reads"] + stats["app_line_reads"])
    dens, app = macs_per_sample(density_components, app_components, MacArrayParams())
    macs = stats["samples_evaluated"] * dens + stats["app_evaluated"] * app
    lookup = EventCounts(
        lookups=round(plane),
        dram_bytes={"frame": float(dram_bytes)},
        ops=(
            OpCount(component="mac", op="mult", width=value_width, width_b=weight_width,
                    count=plane),
            OpCount(component="mac", op="add", width=acc_width, count=plane),
        ),
    )  # fmt: skip
    values = 3 * (density_components + app_components) * resolution
    return nerf_frame_events(lookup, line_values=values, line_reads=line, macs=float(macs))
