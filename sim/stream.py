"""cocotb verification components for Amaranth ``lib.stream`` ports.

A stream port ``i_query`` of an Amaranth component becomes the Verilog ports ``i_query__payload``,
``i_query__valid`` and ``i_query__ready``. :class:`StreamSource` drives such a port with idle
insertion, :class:`StreamSink` consumes one with random backpressure, :class:`Scoreboard`
compares what the sink saw with the golden model, and :func:`run_cycles` steps them together.

All components are cycle-stepped by one loop (drive after the falling edge, sample in the
read-only phase, so the values seen are exactly those of the next rising edge); this is several
times faster than one coroutine per component, which matters at 10^5 transactions.
"""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import cocotb
from cocotb.triggers import ClockCycles, FallingEdge, ReadOnly

from ..params import Params

__all__ = [
    "COMBOS",
    "Scoreboard",
    "StreamSink",
    "StreamSource",
    "reset",
    "run_cycles",
    "tb_context",
    "write_record",
]

#: (idle probability, backpressure probability) pairs every stream test runs under.
COMBOS = [(0.0, 0.0), (0.5, 0.0), (0.0, 0.5), (0.5, 0.5)]


def tb_context(params_cls: type[Params]) -> tuple[Params, dict[str, Any]]:
    """Params and run arguments passed by the runner (``RTNERF_PARAMS``, ``RTNERF_TB_ARGS``)."""
    params = params_cls.from_json(os.environ["RTNERF_PARAMS"])
    args = json.loads(os.environ.get("RTNERF_TB_ARGS", "{}"))
    return params, args


def write_record(args: dict[str, Any], record: dict[str, Any]) -> None:
    """Append one test's record (transactions, mismatches, cycles, ...) to the results file."""
    path = args.get("results")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")


async def reset(dut, cycles: int = 2) -> None:
    """Hold the synchronous, active-high ``rst`` for ``cycles`` clock cycles."""
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    await FallingEdge(dut.clk)
    dut.rst.value = 0


class _StreamPort:
    """The ``payload``/``valid``/``ready`` handles of one stream port and a cycle count."""

    def __init__(self, dut, name: str):
        self.valid = getattr(dut, f"{name}__valid")
        self.payload = getattr(dut, f"{name}__payload")
        self.ready = getattr(dut, f"{name}__ready")
        self._cycle = 0


class StreamSource(_StreamPort):
    """Drives a stream port from a queue of payload integers.

    Parameters
    ----------
    dut : cocotb handle
        The toplevel.
    name : str
        Port name in the Amaranth signature, e.g. ``"i_query"``.
    rng : numpy.random.Generator
        Source of the idle pattern.
    idle : float
        Probability of deasserting ``valid`` in a cycle with data to send.
    """

    def __init__(self, dut, name: str, rng, idle: float = 0.0):
        super().__init__(dut, name)
        self.rng, self.idle = rng, idle
        self.queue: deque[int] = deque()
        self.sent = 0
        self._offered = False
        self.accept_cycles: list[int] = []  #: cycle of each accepted transfer
        self.valid.value = 0

    def extend(self, payloads: Iterable[int]) -> None:
        """Queue payloads to send, in order."""
        self.queue.extend(payloads)

    def drive(self) -> None:
        """Set ``valid`` and ``payload`` for this cycle."""
        self._offered = bool(self.queue) and (self.idle == 0 or self.rng.random() >= self.idle)
        self.valid.value = int(self._offered)
        if self._offered:
            self.payload.value = self.queue[0]

    def sample(self) -> None:
        """Record a transfer if ``valid`` and ``ready`` were both high."""
        if self._offered and self.ready.value:
            self.queue.popleft()
            self.sent += 1
            self.accept_cycles.append(self._cycle)
        self._cycle += 1


class StreamSink(_StreamPort):
    """Consumes a stream port with random backpressure, passing each payload to ``on_data``.

    Parameters
    ----------
    dut : cocotb handle
        The toplevel.
    name : str
        Port name in the Amaranth signature, e.g. ``"o_result"``.
    rng : numpy.random.Generator
        Source of the backpressure pattern.
    on_data : callable
        Called with each received payload as an ``int``.
    backpressure : float
        Probability of deasserting ``ready`` in a cycle.
    """

    def __init__(
        self, dut, name: str, rng, on_data: Callable[[int], None], backpressure: float = 0.0
    ):
        super().__init__(dut, name)
        self.rng, self.backpressure, self.on_data = rng, backpressure, on_data
        self.received = 0
        self._ready = False
        self.receive_cycles: list[int] = []  #: cycle of each transfer
        self.ready.value = 0

    def drive(self) -> None:
        """Set ``ready`` for this cycle."""
        self._ready = self.backpressure == 0 or self.rng.random() >= self.backpressure
        self.ready.value = int(self._ready)

    def sample(self) -> None:
        """Take the payload if ``valid`` and ``ready`` were both high."""
        if self._ready and self.valid.value:
            self.received += 1
            self.receive_cycles.append(self._cycle)
            self.on_data(int(self.payload.value))
        self._cycle += 1


class Scoreboard:
    """In-order comparison of received results against expected ones.

    Parameters
    ----------
    expected : list
        Expected results, in order, as tuples (or any comparable values).
    describe : callable, optional
        ``describe(n)`` gives context for transaction ``n`` in mismatch logs.
    """

    def __init__(
        self, expected: list, describe: Callable[[int], str] | None = None, max_logged: int = 10
    ):
        self.expected = expected
        self.describe = describe or str
        self.received = 0
        self.mismatches = 0
        self.unexpected = 0
        self.max_logged = max_logged
        self.log = cocotb.log

    def __call__(self, got) -> None:
        """Check one received result."""
        n = self.received
        self.received += 1
        if n >= len(self.expected):
            self.unexpected += 1
            self.log.error("unexpected result #%d: %r", n, got)
            return
        if got != self.expected[n]:
            self.mismatches += 1
            if self.mismatches <= self.max_logged:
                self.log.error(
                    "mismatch #%d: got %r, expected %r (%s)",
                    n,
                    got,
                    self.expected[n],
                    self.describe(n),
                )

    @property
    def done(self) -> bool:
        """All expected results received."""
        return self.received >= len(self.expected)


async def run_cycles(
    clk, components: list, until: Callable[[], bool] | None, max_cycles: int
) -> int:
    """Step ``components`` (sources and sinks) once per cycle until ``until()`` holds.

    With ``until=None``, run exactly ``max_cycles`` cycles.

    Returns
    -------
    int
        Cycles run.

    Raises
    ------
    TimeoutError
        If ``until()`` is still false after ``max_cycles``.
    """
    for cycle in range(1, max_cycles + 1):
        await FallingEdge(clk)
        for c in components:
            c.drive()
        await ReadOnly()
        for c in components:
            c.sample()
        if until is not None and until():
            return cycle
    if until is None:
        return max_cycles
    raise TimeoutError(f"not done after {max_cycles} cycles")
