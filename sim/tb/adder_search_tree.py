"""cocotb testbench of the adder & search tree.

Driver (:class:`~rtnerf.sim.stream.StreamSource`), monitor (:class:`~rtnerf.sim.stream.StreamSink`),
golden model (:func:`rtnerf.models.golden.adder_search_tree.evaluate`) and
:class:`~rtnerf.sim.stream.Scoreboard`, all built from the params the runner passes. Payload bit
offsets come from the component's own layouts.
"""

from __future__ import annotations

import cocotb
import numpy as np
from cocotb.clock import Clock

from ...models.cases.adder_search_tree import directed_cases, random_batch, to_batch
from ...models.golden.adder_search_tree import QueryBatch, evaluate
from ...params.adder_search_tree import AdderSearchTreeParams, Op
from ...rtl.adder_search_tree import AdderSearchTree
from ..stream import (
    COMBOS,
    Scoreboard,
    StreamSink,
    StreamSource,
    reset,
    run_cycles,
    tb_context,
    write_record,
)


def _pack_rows(values: np.ndarray, width: int) -> list[int]:
    """Each row of ``values`` as one integer, element 0 in the low ``width`` bits."""
    q, n = values.shape
    bits = (values[:, :, None].astype(np.uint64) >> np.arange(width, dtype=np.uint64)) & 1
    packed = np.packbits(bits.reshape(q, n * width).astype(np.uint8), axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


class Codec:
    """Packs queries into ``i_query`` payloads and unpacks ``o_result`` payloads."""

    def __init__(self, params: AdderSearchTreeParams):
        dut = AdderSearchTree(params)
        self.params = params
        self.q = {name: field.offset for name, field in dut.query_layout}
        self.r = {name: (field.offset, field.width) for name, field in dut.result_layout}

    def queries(self, batch: QueryBatch, tags: np.ndarray) -> list[int]:
        """``i_query`` payloads of ``batch`` with the given tags."""
        p = self.params
        bitmaps = _pack_rows(batch.words, 1)
        coords = _pack_rows(batch.words, p.coord_width)
        q = self.q
        return [
            int(op) << q["op"]
            | (coords[n] if op == Op.SEARCH else bitmaps[n]) << q["word"]
            | int(key) << q["key"]
            | int(count) << q["count"]
            | int(tag) << q["tag"]
            for n, (op, key, count, tag) in enumerate(
                zip(batch.op, batch.key, batch.count, tags, strict=True)
            )
        ]

    def result(self, payload: int) -> tuple[int, int, int, int]:
        """``(op, hit, index, tag)``."""
        return tuple(
            (payload >> off) & ((1 << width) - 1)
            for off, width in (self.r[k] for k in ("op", "hit", "index", "tag"))
        )


def _expected(params, batch, tags):
    hit, index = evaluate(params, batch)
    return [
        (int(o), int(h), int(i), int(t))
        for o, h, i, t in zip(batch.op, hit, index, tags, strict=True)
    ]


def _describe(batch):
    def describe(n):
        return (
            f"op={Op(int(batch.op[n])).name} key={int(batch.key[n])} "
            f"count={int(batch.count[n])} words={batch.words[n].tolist()}"
        )

    return describe


async def _start(dut):
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


@cocotb.test()
async def test_latency_and_throughput(dut):
    """One query into an empty pipeline takes `latency` cycles; then one result per cycle."""
    params, args = tb_context(AdderSearchTreeParams)
    codec = Codec(params)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 99])
    batch = random_batch(params, rng, per_op=max(1, min(args["count"], 200)))
    tags = np.arange(len(batch)) % (1 << params.tag_width)
    board = Scoreboard(_expected(params, batch, tags), _describe(batch))
    source = StreamSource(dut, "i_query", rng)
    sink = StreamSink(dut, "o_result", rng, lambda p: board(codec.result(p)))
    source.extend(codec.queries(batch, tags))
    cycles = await run_cycles(
        dut.clk, [source, sink], lambda: board.done, max_cycles=len(batch) + 10 * params.latency
    )
    first_latency = sink.receive_cycles[0] - source.accept_cycles[0]
    span = sink.receive_cycles[-1] - sink.receive_cycles[0] + 1
    write_record(
        args,
        {
            "test": "latency_and_throughput",
            "transactions": board.received,
            "mismatches": board.mismatches,
            "cycles": cycles,
            "latency": first_latency,
            "stated_latency": params.latency,
            "results_per_cycle": len(batch) / span,
        },
    )
    assert board.mismatches == 0
    assert first_latency == params.latency, f"latency {first_latency} != {params.latency}"
    assert span == len(batch), f"{len(batch)} results took {span} cycles, not one per cycle"


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """Directed corners plus random queries, in order against the golden model.

    ``count`` random queries per operation are split over the four idle-insertion x
    backpressure combinations.
    """
    params, args = tb_context(AdderSearchTreeParams)
    idle, backpressure = COMBOS[combo]
    codec = Codec(params)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    per_op = max(1, -(-args["count"] // len(COMBOS)))
    batch = QueryBatch.concat(
        [to_batch(params, directed_cases(params)), random_batch(params, rng, per_op)]
    )
    tags = rng.integers(0, 1 << params.tag_width, len(batch))
    board = Scoreboard(_expected(params, batch, tags), _describe(batch))
    source = StreamSource(dut, "i_query", rng, idle=idle)
    sink = StreamSink(
        dut, "o_result", rng, lambda p: board(codec.result(p)), backpressure=backpressure
    )
    source.extend(codec.queries(batch, tags))
    cycles = await run_cycles(
        dut.clk,
        [source, sink],
        lambda: board.done,
        max_cycles=10 * len(batch) + 10 * params.latency,
    )
    # Drain: with ready high nothing more may come out.
    sink.backpressure = 0.0
    await run_cycles(dut.clk, [sink], None, max_cycles=params.latency + 2)
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": board.received,
            "mismatches": board.mismatches,
            "cycles": cycles,
            "random_per_op": per_op,
            "directed": len(batch) - 3 * per_op,
        },
    )
    assert board.mismatches == 0, f"{board.mismatches} mismatches"
    assert board.unexpected == 0, f"{board.unexpected} results with no query"
