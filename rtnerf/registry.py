"""The block registry: every RTL block the toolkit can generate, simulate and study.

A :class:`Block` adds what the command line shows to a block's params class, which hands out
the block's pieces itself (:class:`~rtnerf.params.BlockParams`: ``create()``, ``golden``,
``cases``, ``testbench``), importing them only when asked: listing blocks or loading params
never needs the HDL toolchain.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .params import (
    AdderSearchTreeParams,
    BlockParams,
    ConfigError,
    EmbeddingLookupUnitParams,
    EngineParams,
    HybridRowDecoderParams,
    MemoryPortParams,
    SparseSearchUnitParams,
    TexelLookupParams,
)

__all__ = ["BLOCKS", "Block", "get_block"]


@dataclasses.dataclass(frozen=True)
class Block:
    """One registered block.

    Parameters
    ----------
    params : type[BlockParams]
        Its params class; its ``kind`` is the block's name.
    summary : str
        One line for ``rtnerf blocks``.
    demo : dict
        Fields that ``rtnerf demo`` changes from the defaults: empty for a block whose default
        design point builds in seconds.
    demo_why : str, optional
        Why, for ``rtnerf demo`` to say (required with ``demo``).
    """

    params: type[BlockParams]
    summary: str
    demo: dict = dataclasses.field(default_factory=dict)
    demo_why: str | None = None

    def __post_init__(self) -> None:
        if bool(self.demo) != bool(self.demo_why):
            raise ValueError(f"block {self.name!r}: `demo` and `demo_why` go together")

    @property
    def name(self) -> str:
        """Registry name; also the file name of the block in every layer."""
        return self.params.kind

    def demo_params(self) -> tuple[BlockParams, str | None]:
        """The params ``rtnerf demo`` runs, and why they differ from the defaults (or None)."""
        return self.params(**self.demo), self.demo_why

    def load_params(self, config: str | Path | None = None) -> BlockParams:
        """Params from a YAML file, or the defaults when ``config`` is None."""
        return self.params() if config is None else self.params.from_yaml(config)


BLOCKS: dict[str, Block] = {
    b.name: b
    for b in [
        Block(
            params=AdderSearchTreeParams,
            summary="dual-purpose bi-directional adder & search tree (RANK/SELECT/SEARCH)",
        ),
        Block(
            params=SparseSearchUnitParams,
            summary="high-density sparse search unit: P queries x K coordinates per cycle (COO)",
        ),
        Block(
            params=HybridRowDecoderParams,
            summary="hybrid row decoder: element lookups and row expansion from the memory image",
        ),
        Block(
            params=EmbeddingLookupUnitParams,
            summary="embedding lookup unit: rows via the hybrid row decoder, weighted bag pooling",
        ),
        Block(
            params=EngineParams,
            summary="accelerator top: lookup units sharing one AXI memory port (bags in order)",
        ),
        Block(
            params=MemoryPortParams,
            summary="burst read port: word requests to AXI4 read bursts, bounded outstanding",
        ),
        Block(
            params=TexelLookupParams,
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
            },
            demo_why="the l3b8 corner: the default (4 lanes x 16 banks x 256 bits, 48-column "
            "rows) takes about 5 minutes to elaborate in Amaranth and longer to compile",
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
