"""A gearbox from memory words to bit fields of run-time width."""

from __future__ import annotations

from amaranth import *

__all__ = ["BitReader"]


class BitReader(Elaboratable):
    """Turns a stream of ``word_width``-bit words into fields of up to ``max_take`` bits.

    The image is one LSB-first bit stream (``docs/memory-image.md``), so fields are taken from
    the low end of a shift buffer of ``word_width + max_take`` bits: a word is appended above
    the ``fill`` valid bits, and popping ``take`` bits shifts them out. Appending and popping
    may happen in the same cycle.

    Parameters
    ----------
    word_width : int
        Bits per input word.
    max_take : int
        Widest field.

    Attributes
    ----------
    start : Signal, in
        Empty the buffer; the next word appended loses its ``skip`` low bits (a field that
        starts inside a word). Takes effect this cycle; a word appended in the same cycle is
        the first of the new stream.
    skip : Signal(range(word_width)), in
        Low bits of the first word after ``start`` to drop.
    word, word_valid : Signal, in
        The next word and whether it is offered.
    word_ready : Signal, out
        The word is appended this cycle (there is room: ``fill <= max_take``).
    take : Signal(range(max_take + 1)), in
        Width of the field wanted.
    bits : Signal(max_take), out
        The buffer's low bits; bits at and above ``fill`` read zero.
    avail : Signal, out
        At least ``take`` bits are buffered.
    pop : Signal, in
        Remove ``take`` bits (only when ``avail``).
    """

    def __init__(self, word_width: int, max_take: int):
        self.word_width, self.max_take = word_width, max_take
        self.start = Signal()
        self.skip = Signal(range(word_width))
        self.word = Signal(word_width)
        self.word_valid = Signal()
        self.word_ready = Signal()
        self.take = Signal(range(max_take + 1))
        self.bits = Signal(max_take)
        self.avail = Signal()
        self.pop = Signal()

    def elaborate(self, platform):  # noqa: D102
        m = Module()
        w, t = self.word_width, self.max_take
        buf = Signal(w + t)
        fill = Signal(range(w + t + 1))
        first = Signal(init=1)
        skip = Signal.like(self.skip)

        m.d.comb += [
            self.bits.eq(buf[:t]),
            self.avail.eq(~self.start & (fill >= self.take)),
            self.word_ready.eq(self.start | (fill <= t)),
        ]
        popped = Signal.like(buf)
        left = Signal.like(fill)
        is_first = Signal()
        skip_now = Signal.like(skip)
        with m.If(self.start):
            m.d.comb += [popped.eq(0), left.eq(0), is_first.eq(1), skip_now.eq(self.skip)]
        with m.Elif(self.pop):
            m.d.comb += [
                popped.eq(buf >> self.take),
                left.eq(fill - self.take),
                is_first.eq(first),
                skip_now.eq(skip),
            ]
        with m.Else():
            m.d.comb += [popped.eq(buf), left.eq(fill), is_first.eq(first), skip_now.eq(skip)]
        with m.If(self.start):
            m.d.sync += skip.eq(self.skip)

        with m.If(self.word_valid & self.word_ready):
            incoming = Mux(is_first, self.word >> skip_now, self.word)
            size = Mux(is_first, w - skip_now, w)
            m.d.sync += [
                buf.eq(popped | (incoming << left)[: w + t]),
                fill.eq(left + size),
                first.eq(0),
            ]
        with m.Else():
            m.d.sync += [buf.eq(popped), fill.eq(left), first.eq(is_first)]
        return m
