"""cocotb testbench of the texel lookup (sparse embedding buffer, decode lanes, interpolation).

Each job fills the buffer through ``i_fill`` (its bank words, counted), writes the 24 table
descriptors through ``i_table`` and streams its issue groups through ``i_group``; every result
group is checked against the golden model (:func:`rtnerf.models.golden.texel_lookup.evaluate`):
per lane ``valid``, and for valid lanes ``table``, ``tag``, the four texels and the
interpolated values. The throughput test also checks that every group is accepted exactly when
the stated schedule says (:func:`rtnerf.models.golden.texel_lookup.schedule`: step ``k``
takes ``max(1, D_k, P_{k-2})`` cycles) and that the last result leaves ``latency`` cycles
after the last step. ``test_tile`` runs a job given as files (a real scene's tile).
"""

from __future__ import annotations

import pickle
from pathlib import Path

import cocotb
import numpy as np
import pytest
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

from ...models.cases.texel_lookup import Job, directed_job, random_jobs
from ...models.golden.texel_lookup import evaluate, schedule
from ...params.texel_lookup import TexelLookupParams
from ...rtl.texel_lookup import layouts
from ..layout import pack, unpack
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


def pack_fill(params: TexelLookupParams, beat: tuple[int, int, int, int]) -> int:
    """The ``i_fill`` payload of a ``(cls, directory, word, data)`` beat."""
    cls, directory, word, value = beat
    return pack(layouts(params)["fill"],
                {"cls": cls, "directory": directory, "word": word, "data": value})  # fmt: skip


def pack_table(params: TexelLookupParams, desc: dict[str, int]) -> int:
    """The ``i_table`` payload of a descriptor (:meth:`Buffer.descriptors`)."""
    origin = desc["origin"] & ((1 << params.origin_width) - 1)
    return pack(layouts(params)["table"], {**desc, "origin": origin})


def pack_group(params: TexelLookupParams, job: Job, slots: np.ndarray) -> int:
    """The ``i_group`` payload of one issue group (``slots[l]``: lane ``l``'s quad or -1)."""
    q = job.quads
    quads = []
    for s in slots.tolist():
        if s < 0:
            quads.append({"valid": 0})
            continue
        quads.append(
            {
                "valid": 1,
                "table": int(q.table[s]),
                "parity": int(q.parity[s]),
                "rows": [int(r) for r in q.rows[s]],
                "fx": int(q.fx[s]),
                "fy": int(q.fy[s]),
                "tag": int(q.tag[s]),
            }
        )
    return pack(layouts(params)["group"], {"quads": quads})


def _signed(raw: int, width: int) -> int:
    return raw - (1 << width) if raw >> (width - 1) & 1 else raw


def unpack_group(params: TexelLookupParams, raw: int) -> list[tuple | None]:
    """An ``o_group`` payload as, per lane, ``(table, tag, texels, interp)`` or ``None``."""
    out = []
    for lane in unpack(layouts(params)["result"], raw)["lanes"]:
        if not lane["valid"]:
            out.append(None)
            continue
        texels = tuple(tuple(_signed(v, params.value_width) for v in corner)
                       for corner in lane["texels"])  # fmt: skip
        interp = tuple(_signed(v, params.interp_width) for v in lane["interp"])
        out.append((lane["table"], lane["tag"], texels, interp))
    return out


def expected_groups(params: TexelLookupParams, job: Job) -> list[list[tuple | None]]:
    """The golden model's result groups, in :func:`unpack_group`'s form."""
    texels, interp = evaluate(job.buffer, job.quads)
    q = job.quads

    def lane(s):
        if s < 0:
            return None
        corners = tuple(tuple(int(v) for v in corner) for corner in texels[s])
        return int(q.table[s]), int(q.tag[s]), corners, tuple(int(v) for v in interp[s])

    return [[lane(s) for s in row] for row in job.slots.tolist()]


async def _start(dut):
    # Inputs idle from time 0: an undriven valid is X on Icarus.
    for port in ("i_fill__valid", "i_table__valid", "i_group__valid", "o_group__ready"):
        getattr(dut, port).value = 0
    Clock(dut.clk, 10, unit="ns").start()
    await reset(dut)


async def _load(dut, params, job: Job, rng) -> tuple[int, int]:
    """Fill the buffer and write the descriptors; returns (fill beats, fill cycles)."""
    await FallingEdge(dut.clk)
    beats = job.buffer.fill()
    fill = StreamSource(dut, "i_fill", rng)
    fill.extend(pack_fill(params, b) for b in beats)
    start = int(dut.fills.value)
    cycles = await run_cycles(dut.clk, [fill], lambda: not fill.queue, len(beats) + 10)
    await FallingEdge(dut.clk)  # leave the read-only phase before driving
    dut.i_fill__valid.value = 0
    table = StreamSource(dut, "i_table", rng)
    table.extend(pack_table(params, d) for d in job.buffer.descriptors())
    await run_cycles(dut.clk, [table], lambda: not table.queue, 40)
    await FallingEdge(dut.clk)
    dut.i_table__valid.value = 0
    filled = (int(dut.fills.value) - start) % (1 << 32)
    assert filled == len(beats), f"the buffer counted {filled} fill words, {len(beats)} sent"
    return len(beats), cycles


async def run_job(dut, params, job: Job, rng, *, idle: float, backpressure: float):
    """Load and run one job.

    Returns the scoreboard, the cycles, the groups' accept cycles, the results' cycles and the
    fill's ``(words, cycles)``.
    """
    fill = await _load(dut, params, job, rng)
    want = expected_groups(params, job)
    board = Scoreboard(
        want,
        describe=lambda k: f"{job.name}, group {k}: quads {job.slots[k].tolist()}",
    )
    source = StreamSource(dut, "i_group", rng, idle=idle)
    source.extend(pack_group(params, job, row) for row in job.slots)
    sink = StreamSink(
        dut, "o_group", rng, lambda raw: board(unpack_group(params, raw)),
        backpressure=backpressure,
    )  # fmt: skip
    stated = schedule(job.buffer, job.quads, job.slots).cycles + params.latency
    cycles = await run_cycles(
        dut.clk, [source, sink], lambda: board.done, max_cycles=20 * (stated + 100)
    )
    return board, cycles, source.accept_cycles, sink.receive_cycles, fill


def check_steps(params, job: Job, accepted: list[int], received: list[int]) -> list[str]:
    """Differences between the measured acceptance and result cycles and the schedule's."""
    sc = schedule(job.buffer, job.quads, job.slots)
    n = len(job.slots)
    errors = []
    want = sc.steps[: n - 1]  # group k + 1 is accepted as step k ends
    got = np.diff(accepted)
    off = np.flatnonzero(got != want)
    if off.size:
        k = int(off[0])
        errors.append(
            f"{job.name}: group {k + 1} accepted {got[k]} cycles after group {k}, stated "
            f"{want[k]} (D {sc.directory[k]}, P of group {k - 2}: "
            f"{sc.payload[k - 2] if k >= 2 else 0}); {off.size} groups off"
        )
    # The last group's result: its steps in the directory, entry and payload stages, then one
    # cycle per stage after them.
    tail = received[-1] - accepted[-1]
    want_tail = int(sc.steps[n - 1 :].sum()) + params.latency - 3
    if tail != want_tail:
        errors.append(f"{job.name}: the last result came {tail} cycles after the last group "
                      f"was accepted, stated {want_tail}")  # fmt: skip
    return errors


def tile_args(path: Path, params: TexelLookupParams, job: Job) -> dict[str, str]:
    """Testbench arguments of ``test_tile``: the job pickled to ``path``."""
    path = Path(path)
    path.write_bytes(pickle.dumps(job))
    return {"job": str(path)}


async def _measured(dut, params, args, jobs, name: str) -> dict:
    """Run ``jobs`` at full rate; check results and stated cycles; write and return a record."""
    mismatches = unexpected = groups = quads = cycles = fill_words = fill_cycles = 0
    errors: list[str] = []
    stated = conflicts = 0
    rng = np.random.default_rng([args["seed"], 99])
    for job in jobs:
        board, n, accepted, received, (words, fc) = await run_job(
            dut, params, job, rng, idle=0.0, backpressure=0.0
        )
        fill_words += words
        fill_cycles += fc
        mismatches += board.mismatches
        unexpected += board.unexpected
        groups += len(job.slots)
        quads += int((job.slots >= 0).sum())
        cycles += received[-1] - accepted[0] + 1 if received else n
        errors += check_steps(params, job, accepted, received)
        sc = schedule(job.buffer, job.quads, job.slots)
        stated += sc.cycles + params.latency - 2
        conflicts += sc.conflict_cycles
    for e in errors[:10]:
        cocotb.log.error(e)
    record = {
        "test": name,
        "transactions": quads,
        "groups": groups,
        "mismatches": mismatches,
        "cycles": cycles,
        "stated_cycles": stated,
        "conflict_cycles": conflicts,
        "fill_words": fill_words,
        "fill_bytes": fill_words * params.bank_width // 8,
        "fill_cycles": fill_cycles,
        "steps_off_stated": len(errors),
    }
    write_record(args, record)
    assert mismatches == 0 and unexpected == 0, f"{mismatches} mismatches, {unexpected} unexpected"
    assert not errors, errors[0]
    return record


@cocotb.test()
async def test_throughput(dut):
    """At full rate every group is accepted when the schedule says; results bit-exact."""
    params, args = tb_context(TexelLookupParams)
    await _start(dut)
    rng = np.random.default_rng([args["seed"], 7])
    jobs = [directed_job(params), *random_jobs(params, rng, max(1, min(args["count"], 2000)))]
    await _measured(dut, params, args, jobs, "throughput")


@cocotb.test()
async def test_tile(dut):
    """A job from a file (``tile_args``): results bit-exact, steps as stated, cycles recorded.

    Skipped (cocotb records it so) in a run without a job, e.g. ``rtnerf sim texel_lookup``.
    """
    params, args = tb_context(TexelLookupParams)
    if "job" not in args:
        pytest.skip("needs a tile job in the run arguments (tile_args)")
    await _start(dut)
    job = pickle.loads(Path(args["job"]).read_bytes())
    await _measured(dut, params, args, [job], "tile")


@cocotb.test()
@cocotb.parametrize(combo=list(range(len(COMBOS))))
async def test_stream(dut, combo):
    """The directed job plus random jobs under idle and backpressure, every group checked.

    ``count`` random quads are split over the four idle x backpressure combinations; idle
    applies to the group stream, backpressure to the result stream.
    """
    params, args = tb_context(TexelLookupParams)
    idle, backpressure = COMBOS[combo]
    await _start(dut)
    rng = np.random.default_rng([args["seed"], combo])
    randoms = random_jobs(params, rng, max(1, -(-args["count"] // len(COMBOS))))
    mismatches = unexpected = cycles = 0
    for job in [directed_job(params), *randoms]:
        board, n, *_ = await run_job(dut, params, job, rng, idle=idle, backpressure=backpressure)
        cycles += n
        mismatches += board.mismatches
        unexpected += board.unexpected
    write_record(
        args,
        {
            "test": f"stream idle={idle} backpressure={backpressure}",
            "transactions": int(sum((j.slots >= 0).sum() for j in randoms))
            + int((directed_job(params).slots >= 0).sum()),
            "mismatches": mismatches,
            "cycles": cycles,
            "random_per_op": int(sum((j.slots >= 0).sum() for j in randoms)),
        },
    )
    assert mismatches == 0, f"{mismatches} mismatches"
    assert unexpected == 0, f"{unexpected} results with nothing sent"
