"""The engine's measured traces: what the RTL cycle counts and the performance model share."""

from __future__ import annotations

import numpy as np

from ...params.engine import EngineParams
from ...workloads.text import text_workload
from ..image import MemoryImage
from ..trace import Trace
from .embedding_lookup_unit import random_run

__all__ = ["TRACES", "trace_inputs"]

#: Kinds of measured trace.
TRACES = ("random", "text")


def trace_inputs(
    params: EngineParams, kind: str, bags: int, seed: int
) -> tuple[list[MemoryImage], Trace]:
    """The tables' images and the trace of a measured case.

    ``random``: the engine testbench's random trace (Zipf rows over 256-row tables of every
    format, bag sizes 1 to 64 capped at ``max_bag``, a quarter ELEMENT bags); ``text``: a
    text-embedding trace (:func:`rtnerf.workloads.text.text_workload`).
    """
    if kind == "text":
        return text_workload(params, np.random.default_rng(seed), bags=bags)
    if kind == "random":
        run = random_run(
            params.unit, np.random.default_rng([seed, 99]), 0, rows=256, max_bag=64, bags=bags
        )
        return run.images, run.trace
    raise ValueError(f"`kind` must be one of {', '.join(TRACES)}, not {kind!r}")
