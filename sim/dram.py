"""A DRAM model that serves an AXI4 read channel (the memory port's subset) in co-simulation.

:class:`AxiDram` is simulator-neutral, stepped once per cycle (:meth:`~AxiDram.drive`, then
:meth:`~AxiDram.sample`); :class:`AxiResponder` wires it to the ``o_ar``/``i_r`` stream ports of a
cocotb toplevel. It answers bursts in order after a fixed ``latency``, at most
``bytes_per_cycle`` of data per cycle (a token bucket: a DRAM burst of ``burst_bytes`` costs all
its bytes when its first beat goes out, however few of its words the AXI burst takes, as the
DRAM's data bus carries the whole burst), with at most ``max_outstanding`` bursts
accepted and not yet finished, and counts what it served: AXI bursts, beats, bytes, and the
aligned DRAM bursts of ``burst_bytes`` they touch. It checks the protocol as it goes (aligned
addresses, INCR bursts of the bus width, no 4 KB crossing) and lists every violation.
"""

from __future__ import annotations

from collections import Counter, deque

__all__ = ["AxiDram", "AxiResponder"]


class AxiDram:
    """In-order AXI4 read slave over a list of words.

    Parameters
    ----------
    words : list of int
        Memory contents, one ``word_bytes`` word per entry, word 0 at byte address 0.
    word_bytes : int
        Bytes per beat.
    rng : numpy.random.Generator
        Source of the stall patterns.
    latency : int
        Cycles from an accepted burst address to its first beat, at least 1.
    bytes_per_cycle : float
        Peak bandwidth: credit earned per cycle. A beat that starts a DRAM burst (the AXI
        burst's first beat, or the first beat past a ``burst_bytes`` boundary) needs and
        spends ``burst_bytes`` of credit, the others none; at most one beat per cycle.
    max_outstanding : int
        Bursts accepted and not yet finished, beyond which ``ARREADY`` stays low.
    burst_bytes : int
        DRAM burst size for the ``dram_bursts`` count (aligned to byte 0).
    idle, backpressure : float
        Probabilities of withholding a ready beat (``RVALID``) or ``ARREADY`` in a cycle.
    error_bursts : set of int
        Indices of bursts answered with ``RRESP = SLVERR`` (2), for error tests.
    """

    def __init__(
        self,
        words,
        word_bytes: int,
        rng,
        *,
        latency: int = 1,
        bytes_per_cycle: float | None = None,
        max_outstanding: int = 1 << 30,
        burst_bytes: int | None = None,
        idle: float = 0.0,
        backpressure: float = 0.0,
        error_bursts: frozenset[int] = frozenset(),
    ):
        if latency < 1:
            raise ValueError(f"`latency` must be at least 1, not {latency}")
        self.words, self.word_bytes, self.rng = words, word_bytes, rng
        self.latency = latency
        self.bytes_per_cycle = float(bytes_per_cycle or word_bytes)
        self.max_outstanding = max_outstanding
        self.burst_bytes = burst_bytes or word_bytes
        self.idle, self.backpressure = idle, backpressure
        self.error_bursts = error_bursts
        self.bursts: list[tuple[int, int]] = []  #: (word address, beats) of every burst
        self.beats = 0
        self.dram_bursts = 0
        self.protocol_errors: list[str] = []
        self.max_in_flight = 0
        # [due, addr, beats left, index, the next beat is the burst's first]
        self._queue: deque[list] = deque()
        self._credit = 0.0
        self._cost = 0
        self._cycle = 0
        self._ar_ready = self._r_valid = False
        self._beat = (0, 0, 0)

    @property
    def dram_bytes(self) -> int:
        """Bytes the DRAM transferred: the aligned DRAM bursts touched, per AXI burst."""
        return self.dram_bursts * self.burst_bytes

    def dram_burst_ids(self) -> Counter:
        """How often each aligned DRAM burst was transferred (one count per AXI burst)."""
        out: Counter = Counter()
        wb, bb = self.word_bytes, self.burst_bytes
        for word, beats in self.bursts:
            out.update(range(word * wb // bb, ((word + beats) * wb - 1) // bb + 1))
        return out

    def drive(self) -> tuple[bool, bool, int, int, int]:
        """``(ARREADY, RVALID, RDATA, RRESP, RLAST)`` for this cycle."""
        self._ar_ready = len(self._queue) < self.max_outstanding and (
            self.backpressure == 0 or self.rng.random() >= self.backpressure
        )
        self._credit = min(
            self._credit + self.bytes_per_cycle, max(self.bytes_per_cycle, self.burst_bytes)
        )
        head = self._queue[0] if self._queue else None
        self._cost = 0
        if head is not None and (head[4] or head[1] * self.word_bytes % self.burst_bytes == 0):
            self._cost = self.burst_bytes  # the beat starts a DRAM burst
        self._r_valid = (
            head is not None
            and head[0] <= self._cycle
            and self._credit >= self._cost
            and (self.idle == 0 or self.rng.random() >= self.idle)
        )
        if self._r_valid:
            addr = head[1]
            if not 0 <= addr < len(self.words):
                raise IndexError(f"read of word {addr} outside the {len(self.words)}-word memory")
            resp = 2 if head[3] in self.error_bursts else 0
            self._beat = (self.words[addr], resp, int(head[2] == 1))
        else:
            self._beat = (0, 0, 0)
        return (self._ar_ready, self._r_valid, *self._beat)

    def sample(self, ar_valid: bool, addr: int, length: int, size: int, burst: int, r_ready: bool):
        """Account for this cycle's handshakes (``ARADDR`` etc. as integers) and advance."""
        if self._r_valid and r_ready:
            self._credit -= self._cost
            self.beats += 1
            head = self._queue[0]
            head[1] += 1
            head[2] -= 1
            head[4] = False
            if head[2] == 0:
                self._queue.popleft()
        if self._ar_ready and ar_valid:
            self._accept(addr, length + 1, size, burst)
        self.max_in_flight = max(self.max_in_flight, len(self._queue))
        self._cycle += 1

    def _accept(self, addr: int, beats: int, size: int, burst: int) -> None:
        n = len(self.bursts)
        wb = self.word_bytes
        if 1 << size != wb:
            self.protocol_errors.append(f"burst {n}: ARSIZE {size} for a {wb}-byte bus")
        if burst != 1:
            self.protocol_errors.append(f"burst {n}: ARBURST {burst}, not INCR (1)")
        if addr % wb:
            self.protocol_errors.append(f"burst {n}: ARADDR {addr:#x} not word-aligned")
        if addr // 4096 != (addr + beats * wb - 1) // 4096:
            self.protocol_errors.append(f"burst {n}: {beats} beats at {addr:#x} cross 4 KB")
        word = addr // wb
        self.bursts.append((word, beats))
        first, last = addr // self.burst_bytes, (addr + beats * wb - 1) // self.burst_bytes
        self.dram_bursts += last - first + 1
        self._queue.append([self._cycle + self.latency, word, beats, n, True])


class AxiResponder:
    """Serves a cocotb toplevel's ``o_ar``/``i_r`` stream ports from an :class:`AxiDram`.

    ``o_ar``'s payload packs ``addr``, ``len`` (8 bits), ``size`` (3) and ``burst`` (2) from the
    LSB; ``i_r``'s packs ``data``, ``resp`` (2) and ``last`` (1).
    """

    def __init__(self, dut, dram: AxiDram, addr_width: int, data_width: int):
        self.dram = dram
        self._aw, self._dw = addr_width, data_width
        self.ar_valid, self.ar_ready = dut.o_ar__valid, dut.o_ar__ready
        self.ar_payload = dut.o_ar__payload
        self.r_valid, self.r_ready, self.r_payload = (
            dut.i_r__valid,
            dut.i_r__ready,
            dut.i_r__payload,
        )
        self.ar_ready.value = 0
        self.r_valid.value = 0

    def drive(self) -> None:
        """Set the slave's outputs for this cycle."""
        ar_ready, r_valid, data, resp, last = self.dram.drive()
        self.ar_ready.value = int(ar_ready)
        self.r_valid.value = int(r_valid)
        if r_valid:
            self.r_payload.value = data | resp << self._dw | last << (self._dw + 2)

    def sample(self) -> None:
        """Record this cycle's handshakes."""
        valid = bool(self.ar_valid.value)
        raw = int(self.ar_payload.value) if valid else 0
        aw = self._aw
        self.dram.sample(
            valid,
            raw & ((1 << aw) - 1),
            (raw >> aw) & 0xFF,
            (raw >> (aw + 8)) & 7,
            (raw >> (aw + 11)) & 3,
            bool(self.r_ready.value),
        )
