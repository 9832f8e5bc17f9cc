"""cocotb testbench of the engine: lookup units, arbiter and memory port against an AXI DRAM.

The tables sit in an :class:`~rtnerf.sim.dram.AxiDram` (latency, bandwidth and burst counting),
bag requests come from a trace, and every pooled beat is checked in order against the golden
model (:func:`rtnerf.models.golden.embedding_lookup_unit.evaluate`: the engine's bags are the
unit's, only spread over several units). The records carry the DRAM traffic the model counted.
"""

from __future__ import annotations

import cocotb

from ...params.engine import EngineParams
from ..dram import AxiDram, AxiResponder
from ..stream import COMBOS, tb_context
from .embedding_lookup_unit import stream_test

#: The cocotb tests of this module; the stream tests share ``count`` between them.
TESTS = [f"test_stream/combo={i}" for i in range(len(COMBOS))]


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Bags through every unit against the AXI DRAM model.

    See :func:`rtnerf.sim.tb.embedding_lookup_unit.stream_test`; this one also checks the AXI
    protocol and records the DRAM traffic.
    """
    params = tb_context(EngineParams)[0]
    port = params.port

    def memory(rng, latency, *, idle, backpressure):
        drams = []

        def component(words):
            dram = AxiDram(
                words,
                port.word_bytes,
                rng,
                latency=latency,
                burst_bytes=max(64, port.word_bytes),
                idle=idle,
                backpressure=backpressure,
            )
            drams.append(dram)
            return AxiResponder(dut, dram, port.byte_address_width, port.word_width)

        def counters():
            (dram,) = drams
            assert not dram.protocol_errors, dram.protocol_errors[:3]
            return {"dram_bytes": dram.dram_bytes, "axi_bursts": len(dram.bursts)}

        return component, counters

    ports = ("i_req__valid", "i_base__valid", "i_r__valid", "o_ar__ready", "o_pooled__ready")
    await stream_test(dut, combo, params, params.unit, memory, ports)
