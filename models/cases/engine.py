"""The engine's measured traces: what the RTL cycle counts and the performance model share."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...params.engine import EngineParams
from ...workloads.text import text_workload
from ..golden.decode import expand_rows
from ..image import MemoryImage, encode
from ..trace import Trace
from .embedding_lookup_unit import random_run

__all__ = ["TRACES", "trace_inputs"]

#: Kinds of measured trace.
TRACES = ("random", "text")


def trace_inputs(
    params: EngineParams, kind: str, bags: int, seed: int, *, encoding: str = "hybrid"
) -> tuple[list[MemoryImage], Trace]:
    """The tables' images and the trace of a measured case.

    ``random``: the engine testbench's random trace (Zipf rows over 256-row tables of every
    format, bag sizes 1 to 64 capped at ``max_bag``, a quarter ELEMENT bags); ``text``: a
    text-embedding trace (:func:`rtnerf.workloads.text.text_workload`). ``encoding``
    ``dense``, ``bitmap`` or ``coo`` stores every row of the tables in that format instead of
    the hybrid choice (a row too long for the decoder's COO buffer is an error).
    """
    if kind == "text":
        images, trace = text_workload(params, np.random.default_rng(seed), bags=bags)
    elif kind == "random":
        run = random_run(
            params.unit, np.random.default_rng([seed, 99]), 0, rows=256, max_bag=64, bags=bags
        )
        images, trace = run.images, run.trace
    else:
        raise ValueError(f"`kind` must be one of {', '.join(TRACES)}, not {kind!r}")
    if encoding != "hybrid":
        if encoding not in ("dense", "bitmap", "coo"):
            raise ValueError(f"`encoding` must be hybrid, dense, bitmap or coo, not {encoding!r}")
        images = [
            encode(
                expand_rows(im, np.arange(im.shape[0])),
                dataclasses.replace(im.params, force_format=encoding),
                im.scale,
            )
            for im in images
        ]
    return images, trace
