"""Params dataclasses: one per block, the single source of truth for every layer."""

from .adder_search_tree import AdderSearchTreeParams, Op
from .base import CONFIG_VERSION, BlockParams, ConfigError, Params, check_choice, check_int
from .dram import DramParams
from .embedding_lookup_unit import EmbeddingLookupUnitParams
from .encoding import EncodingParams, Format
from .engine import EngineParams
from .hybrid_row_decoder import HybridRowDecoderParams
from .memory_port import MemoryPortParams
from .sparse_search_unit import SparseSearchUnitParams
from .texel_lookup import TexelLookupParams

__all__ = [
    "CONFIG_VERSION",
    "AdderSearchTreeParams",
    "BlockParams",
    "ConfigError",
    "DramParams",
    "EmbeddingLookupUnitParams",
    "EncodingParams",
    "EngineParams",
    "Format",
    "HybridRowDecoderParams",
    "MemoryPortParams",
    "Op",
    "Params",
    "SparseSearchUnitParams",
    "TexelLookupParams",
    "check_choice",
    "check_int",
]
