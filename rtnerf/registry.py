"""The block registry: every RTL block the toolkit can generate, simulate and study.

A :class:`Block` names, by dotted path, the pieces that share one params class: the Amaranth
component and the cocotb testbench module. Imports are lazy so that listing blocks or loading
params never needs the HDL toolchain.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Any

from .params import (
    AdderSearchTreeParams,
    ConfigError,
    EmbeddingLookupUnitParams,
    EngineParams,
    HybridRowDecoderParams,
    MemoryPortParams,
    Params,
    SparseSearchUnitParams,
    TexelLookupParams,
)

__all__ = ["BLOCKS", "Block", "get_block"]


def _resolve(dotted: str) -> Any:
    module, _, attr = dotted.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, attr) if attr else obj


@dataclasses.dataclass(frozen=True)
class Block:
    """One registered block.

    Parameters
    ----------
    name : str
        Registry name; also the file name of the block in every layer.
    params : type[Params]
        Its params dataclass.
    component : str
        ``module:Class`` of the Amaranth component, built as ``Class(params)``.
    testbench : str
        Dotted module name of its cocotb testbench.
    summary : str
        One line for ``rtnerf blocks``.
    demo : dict
        Fields that ``rtnerf demo`` changes from the defaults, with ``why``: empty for a block
        whose default design point builds in seconds.
    """

    name: str
    params: type[Params]
    component: str
    testbench: str
    summary: str
    demo: dict = dataclasses.field(default_factory=dict)

    def demo_params(self) -> tuple[Params, str | None]:
        """The params ``rtnerf demo`` runs, and why they differ from the defaults (or None)."""
        fields = {k: v for k, v in self.demo.items() if k != "why"}
        if not fields:
            return self.params(), None
        return self.params(**fields), self.demo["why"]

    def load_params(self, config: str | Path | None = None) -> Params:
        """Params from a YAML file, or the defaults when ``config`` is None."""
        return self.params() if config is None else self.params.from_yaml(config)

    def build_component(self, params: Params) -> Any:
        """Instantiate the Amaranth component for ``params`` (imports Amaranth)."""
        if not isinstance(params, self.params):
            raise TypeError(
                f"`params` must be {self.params.__name__} for block {self.name!r}, "
                f"not {type(params).__name__}"
            )
        return _resolve(self.component)(params)


BLOCKS: dict[str, Block] = {
    b.name: b
    for b in [
        Block(
            name="adder_search_tree",
            params=AdderSearchTreeParams,
            component="rtnerf.rtl.adder_search_tree:AdderSearchTree",
            testbench="rtnerf.sim.tb.adder_search_tree",
            summary="dual-purpose bi-directional adder & search tree (RANK/SELECT/SEARCH)",
        ),
        Block(
            name="sparse_search_unit",
            params=SparseSearchUnitParams,
            component="rtnerf.rtl.sparse_search_unit:SparseSearchUnit",
            testbench="rtnerf.sim.tb.sparse_search_unit",
            summary="high-density sparse search unit: P queries x K coordinates per cycle (COO)",
        ),
        Block(
            name="hybrid_row_decoder",
            params=HybridRowDecoderParams,
            component="rtnerf.rtl.hybrid_row_decoder:HybridRowDecoder",
            testbench="rtnerf.sim.tb.hybrid_row_decoder",
            summary="hybrid row decoder: element lookups and row expansion from the memory image",
        ),
        Block(
            name="embedding_lookup_unit",
            params=EmbeddingLookupUnitParams,
            component="rtnerf.rtl.embedding_lookup_unit:EmbeddingLookupUnit",
            testbench="rtnerf.sim.tb.embedding_lookup_unit",
            summary="embedding lookup unit: rows via the hybrid row decoder, weighted bag pooling",
        ),
        Block(
            name="engine",
            params=EngineParams,
            component="rtnerf.rtl.engine:Engine",
            testbench="rtnerf.sim.tb.engine",
            summary="accelerator top: lookup units sharing one AXI memory port (bags in order)",
        ),
        Block(
            name="memory_port",
            params=MemoryPortParams,
            component="rtnerf.rtl.memory_port:MemoryPort",
            testbench="rtnerf.sim.tb.memory_port",
            summary="burst read port: word requests to AXI4 read bursts, bounded outstanding",
        ),
        Block(
            name="texel_lookup",
            params=TexelLookupParams,
            component="rtnerf.rtl.texel_lookup:TexelLookup",
            testbench="rtnerf.sim.tb.texel_lookup",
            summary="sparse embedding buffer: banked texel rows, quad decode lanes, bilinear",
            # configs/blocks/texel_lookup/l3b8.yaml's point.
            demo={
                "lanes": 3,
                "banks": 8,
                "bank_width": 64,
                "directory_depth": 64,
                "payload_depth": 512,
                "density_columns": 8,
                "app_columns": 12,
                "row_width": 8,
                "why": "the l3b8 corner: the default (4 lanes x 16 banks x 256 bits, 48-column "
                "rows) takes about 5 minutes to elaborate in Amaranth and longer to compile",
            },
        ),
    ]
}


def get_block(name: str) -> Block:
    """Look up a block by name.

    Raises
    ------
    ConfigError
        If no block has that name; the message lists the registered ones.
    """
    try:
        return BLOCKS[name]
    except KeyError:
        raise ConfigError(
            f"unknown block {name!r}; available: {', '.join(sorted(BLOCKS))}"
        ) from None
