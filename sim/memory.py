"""A word memory that serves read requests from a memory image, for decoder testbenches.

:class:`WordMemory` is simulator-neutral: each cycle :meth:`~WordMemory.drive` says what the
memory offers (request ``ready``, data ``valid`` and word) and :meth:`~WordMemory.sample` takes
what the handshakes did. :class:`MemoryResponder` wires it to the ``o_req``/``i_data`` stream
ports of a cocotb toplevel and steps with :func:`rtnerf.sim.stream.run_cycles`; the Amaranth
tests drive the same object from their own processes.

Timing: a request accepted in cycle ``t`` has its words offered from cycle ``t + latency``, one
per cycle, in address order; requests are answered in order. With ``idle`` the data ``valid`` is
dropped at random, with ``backpressure`` the request ``ready``.
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["MemoryResponder", "WordMemory", "Words", "image_words", "place", "words_per_query"]


class Words:
    """Memory contents as a sequence of ``word_bytes``-byte little-endian words, read lazily.

    The memory models index it like a list of Python integers; the bytes stay one buffer, so a
    table of millions of rows costs its size, not a Python integer per word.
    """

    def __init__(self, body: bytes | bytearray, word_bytes: int):
        if len(body) % word_bytes:
            raise ValueError(f"{len(body)} bytes is not a whole number of {word_bytes}-byte words")
        self._body, self._size = bytes(body), word_bytes

    def __len__(self) -> int:
        return len(self._body) // self._size

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < len(self):
            raise IndexError(f"word {index} outside the {len(self)}-word memory")
        i = index * self._size
        return int.from_bytes(self._body[i : i + self._size], "little")


def image_words(image) -> Words:
    """The words of a :class:`~rtnerf.models.image.MemoryImage`, as Python integers."""
    return Words(image.body.tobytes(), image.params.word_bytes)


class WordMemory:
    """In-order word memory with a fixed latency and random stalls.

    Parameters
    ----------
    words : list of int
        The memory contents (:func:`image_words`).
    rng : numpy.random.Generator
        Source of the stall patterns.
    latency : int
        Cycles from an accepted request to its first word, at least 1.
    idle, backpressure : float
        Probabilities of withholding a data word or the request ``ready`` in a cycle.

    Attributes
    ----------
    requests : list of (int, int)
        ``(addr, len)`` of every accepted request.
    request_cycles : list of int
        The cycle each request was accepted in.
    """

    def __init__(self, words, rng, latency: int = 1, idle: float = 0.0, backpressure: float = 0.0):
        if latency < 1:
            raise ValueError(f"`latency` must be at least 1, not {latency}")
        self.words, self.rng, self.latency = words, rng, latency
        self.idle, self.backpressure = idle, backpressure
        self.requests: list[tuple[int, int]] = []
        self.request_cycles: list[int] = []
        self._pending: deque[list[int]] = deque()  # [due cycle, next addr, words left]
        self._cycle = 0
        self._req_ready = self._data_valid = False
        self._word = 0

    def drive(self) -> tuple[bool, bool, int]:
        """``(request ready, data valid, data word)`` for this cycle."""
        self._req_ready = self.backpressure == 0 or self.rng.random() >= self.backpressure
        head = self._pending[0] if self._pending else None
        self._data_valid = (
            head is not None
            and head[0] <= self._cycle
            and (self.idle == 0 or self.rng.random() >= self.idle)
        )
        self._word = 0
        if self._data_valid:
            addr = head[1]
            if not 0 <= addr < len(self.words):
                raise IndexError(f"read of word {addr} outside the {len(self.words)}-word image")
            self._word = self.words[addr]
        return self._req_ready, self._data_valid, self._word

    def sample(self, req_valid: bool, addr: int, length: int, data_ready: bool) -> None:
        """Account for this cycle's handshakes and advance one cycle."""
        if self._data_valid and data_ready:
            head = self._pending[0]
            head[1] += 1
            head[2] -= 1
            if head[2] == 0:
                self._pending.popleft()
        if self._req_ready and req_valid:
            if length < 1:
                raise ValueError(f"request of {length} words at word {addr}")
            self.requests.append((addr, length))
            self.request_cycles.append(self._cycle)
            self._pending.append([self._cycle + self.latency, addr, length])
        self._cycle += 1


class MemoryResponder:
    """Serves a cocotb toplevel's ``o_req``/``i_data`` ports from a :class:`WordMemory`.

    ``o_req``'s payload is ``addr`` in the low ``address_width`` bits and ``len`` above it; the
    ``i_data`` payload is the word.
    """

    def __init__(self, dut, memory: WordMemory, address_width: int):
        self.memory = memory
        self._mask = (1 << address_width) - 1
        self._shift = address_width
        self.req_valid, self.req_ready = dut.o_req__valid, dut.o_req__ready
        self.req_payload = dut.o_req__payload
        self.data_valid, self.data_ready = dut.i_data__valid, dut.i_data__ready
        self.data_payload = dut.i_data__payload
        self.req_ready.value = 0
        self.data_valid.value = 0

    def drive(self) -> None:
        """Set the memory's outputs for this cycle."""
        ready, valid, word = self.memory.drive()
        self.req_ready.value = int(ready)
        self.data_valid.value = int(valid)
        if valid:
            self.data_payload.value = word

    def sample(self) -> None:
        """Record this cycle's handshakes."""
        payload = int(self.req_payload.value) if self.req_valid.value else 0
        self.memory.sample(
            bool(self.req_valid.value),
            payload & self._mask,
            payload >> self._shift,
            bool(self.data_ready.value),
        )


def words_per_query(memory: WordMemory, query_cycles: list[int]) -> np.ndarray:
    """Words requested for each query, given the cycles the queries were accepted in.

    A request belongs to the last query accepted at or before its cycle (the decoder works on
    one query at a time).
    """
    owner = np.searchsorted(np.asarray(query_cycles), memory.request_cycles, side="right") - 1
    lengths = np.array([n for _, n in memory.requests], np.int64)
    return np.bincount(owner, weights=lengths, minlength=len(query_cycles)).astype(np.int64)


def place(images, align_words: int = 1024) -> tuple[Words, list[int]]:
    """Lay several images out in one memory, each at a multiple of ``align_words`` words.

    The default alignment puts every image on a 4 KB boundary (at 32-bit words and more), so
    DRAM bursts of any size are aligned in the image as in memory. Returns the memory's words
    and each image's base word address.
    """
    size = images[0].params.word_bytes if images else 4
    body = bytearray()
    bases = []
    for image in images:
        body += bytes(-(len(body) // size) % align_words * size)
        bases.append(len(body) // size)
        body += image.body.tobytes()
    return Words(body, size), bases
