"""cocotb testbench of the engine: lookup units, arbiter and memory port against an AXI DRAM.

The tables sit in an :class:`~rtnerf.sim.dram.AxiDram` (latency, bandwidth and burst
counting), bag requests come from a trace, and every pooled beat is checked in order against
the golden model (:func:`rtnerf.models.golden.engine.evaluate`). Every run also checks the
DRAM traffic against the golden accounting (:func:`rtnerf.models.golden.engine.traffic`): the
DRAM bursts transferred, burst by burst, and so the bytes.

``test_stream`` stresses the handshakes (random stalls, memory latency 1 to 32);
``test_trace`` measures: the DRAM of the design point (``params.dram``), no stalls, and either
the trace and images named in the run arguments (``trace``, ``images``) or a random trace of
``bags`` bags (default ``count``) with bag sizes up to 64.
"""

from __future__ import annotations

from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock

from ...models.cases.embedding_lookup_unit import Run
from ...models.cases.engine import trace_inputs
from ...models.golden.engine import traffic
from ...models.image import read_image, write_image
from ...models.trace import Trace, read_trace, write_trace
from ...params.engine import EngineParams
from ..dram import AxiDram, AxiResponder
from ..memory import place
from ..stream import COMBOS, reset, tb_context, write_record
from .embedding_lookup_unit import run_bags, stream_test

PORTS = ("i_req__valid", "i_base__valid", "i_r__valid", "o_ar__ready", "o_pooled__ready")


def dram_memory(dut, params: EngineParams, rng, latency, *, idle=0.0, backpressure=0.0, **kw):
    """An AXI DRAM factory for :func:`~rtnerf.sim.tb.embedding_lookup_unit.stream_test`.

    Returns ``(component, counters)``; ``counters(run)`` checks the protocol and the DRAM
    bursts against the golden accounting and returns the traffic for the record.
    """
    port, drams = params.port, []

    def component(words):
        dram = AxiDram(
            words,
            port.word_bytes,
            rng,
            latency=latency,
            burst_bytes=params.dram.burst_bytes,
            idle=idle,
            backpressure=backpressure,
            **kw,
        )
        drams.append(dram)
        return AxiResponder(dut, dram, port.byte_address_width, port.word_width)

    def counters(run: Run) -> dict:
        (dram,) = drams
        drams.clear()
        assert not dram.protocol_errors, dram.protocol_errors[:3]
        gold = traffic(params, run.images, run.trace)
        bases = [b * port.word_bytes for b in place(run.images)[1]]
        got, want = dram.dram_burst_ids(), gold.burst_ids(bases)
        wrong = sum(((got - want) + (want - got)).values())
        if wrong:
            cocotb.log.error(
                "%s: DRAM bursts differ from the accounting in %d transfers (%d vs %d bytes)",
                run.name,
                wrong,
                dram.dram_bytes,
                gold.total_bytes,
            )
        return {
            "dram_bytes": dram.dram_bytes,
            "dram_bytes_expected": gold.total_bytes,
            "dram_burst_mismatches": wrong,
            "dram_bytes_by_cause": gold.bytes_by_cause(),
            "dram_bursts": dram.dram_bursts,
            "dram_requests": len(dram.bursts),
            "memory_requests": gold.memory_requests,
            "cache_hits": int(gold.cache_hit.sum()),
        }

    return component, counters


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Bags through every unit against the AXI DRAM model, under random stalls.

    See :func:`rtnerf.sim.tb.embedding_lookup_unit.stream_test`; this one also checks the AXI
    protocol and the DRAM bursts against the golden accounting.
    """
    params = tb_context(EngineParams)[0]

    def memory(rng, latency, *, idle, backpressure):
        return dram_memory(dut, params, rng, latency, idle=idle, backpressure=backpressure)

    await stream_test(dut, combo, params, params.unit, memory, PORTS)


def trace_args(folder: Path, images, trace: Trace) -> dict:
    """Write a trace and its tables' images into ``folder``; the run arguments naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    write_trace(trace, folder / "trace.npz")
    paths = []
    for i, image in enumerate(images):
        paths.append(str((folder / f"table{i}.img").resolve()))
        write_image(image, paths[-1])
    return {"trace": str((folder / "trace.npz").resolve()), "images": paths}


def trace_run(params: EngineParams, args: dict) -> Run:
    """The run ``test_trace`` measures: the named trace and images, or a random one."""
    if args.get("trace"):
        images = [read_image(path) for path in args.get("images", [])]
        return Run(args["trace"], [], images, read_trace(args["trace"]))
    images, trace = trace_inputs(
        params, "random", int(args.get("bags", args["count"])), args["seed"]
    )
    return Run("random", [], images, trace)


@cocotb.test()
async def test_trace(dut):
    """A whole trace at full rate against the design point's DRAM: cycles and traffic."""
    params, args = tb_context(EngineParams)
    for port in PORTS:
        getattr(dut, port).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)
    rng = np.random.default_rng([args["seed"], 99])
    run = trace_run(params, args)
    d = params.dram
    component, counters = dram_memory(
        dut,
        params,
        rng,
        d.latency,
        bytes_per_cycle=d.bytes_per_cycle,
        max_outstanding=d.max_outstanding,
    )
    board, cycles = await run_bags(
        dut, params.unit, run, rng, component, idle=0.0, backpressure=0.0, engine=True
    )
    t = run.trace
    record = {
        "test": "trace",
        "trace": t.name,
        "transactions": len(t),
        "bags": t.bags,
        "element_requests": int(t.op.sum()),
        "cycles": cycles,
        "mismatches": board.mismatches,
        "unexpected": board.unexpected,
        **counters(run),
    }
    record["bags_per_cycle"] = t.bags / cycles
    record["dram_bytes_per_bag"] = record["dram_bytes"] / max(1, t.bags)
    write_record(args, record)
    assert board.mismatches == 0, f"{board.mismatches} mismatches"
    assert board.unexpected == 0
    assert record["dram_burst_mismatches"] == 0, "DRAM bursts differ from the accounting"
