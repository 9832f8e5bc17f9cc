"""Parameters of the texel lookup: the sparse embedding buffer, its decode lanes, interpolation."""

from __future__ import annotations

import dataclasses
import math

from .base import BlockParams, check_int
from .encoding import EncodingParams

__all__ = ["CLASSES", "TABLES", "TexelLookupParams"]

#: Parity classes of a plane's texels, ``c = 2 (i1 & 1) + (i0 & 1)``: one image (and one set of
#: banks) each; a 2 x 2 quad reads one row of every class.
CLASSES = 4
#: Plane tables: 0-2 the density planes, 3-5 the appearance planes (``TABLE_NAMES`` order).
TABLES = 6


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TexelLookupParams(BlockParams):
    """Design point of :class:`rtnerf.rtl.texel_lookup.TexelLookup`.

    The sparse embedding buffer holds the texel-layout plane images
    (:mod:`rtnerf.workloads.nerf.texel`): per parity class ``banks / 4`` directory banks and
    ``banks / 4`` payload banks of ``bank_width`` bits, bank word ``w`` of a class's array in bank
    ``w % (banks / 4)`` (the layout of :meth:`rtnerf.workloads.nerf.texel.TexelStore.bank_map`).
    ``lanes`` decode lanes take one 2 x 2 quad each per issue group; the cycles of a group are
    stated in :func:`rtnerf.models.perf.nerf.group_cycles`. The lanes, banks, bank width and
    capacity are :class:`~rtnerf.models.perf.nerf.DatapathParams`'s (:meth:`from_datapath`).

    Parameters
    ----------
    lanes : int
        Decode lanes (quads per issue group), 1 to 16.
    banks : int
        Payload banks: 4, 8, 16, 32 or 64 (``banks / 4`` per class, a power of two so that a
        word's bank is its low bits); the directory has as many.
    bank_width : int
        Bits per bank word, a power of two from ``max(word_width, entry_width)`` to 1024.
    directory_depth, payload_depth : int
        Bank words per directory bank and per payload bank, 1 to 2**20.
    density_columns, app_columns : int
        ``G``: components per texel row of the density tables (0-2) and of the appearance
        tables (3-5), 2 to 256.
    value_width, word_width, entry_width : int
        The images' encoding (:data:`rtnerf.workloads.nerf.texel.TEXEL_ENCODING`: 16, 32, 32);
        COO coordinates are ``ceil(log2 G)`` bits, as the encoder chooses.
    row_width : int
        Bits of a row index within a class image, 1 to 24.
    weight_frac : int
        ``F``: fraction bits of the quad's position ``fx``, ``fy`` (each ``0 .. 2**F``), 1 to 16.
    interp_frac : int
        ``E``: fraction bits kept in the interpolated values, 0 to ``2 F - 1``.
    tag_width : int
        Bits of the opaque tag a quad carries to its result, 1 to 32.
    """

    kind = "texel_lookup"

    lanes: int = 4
    banks: int = 16
    bank_width: int = 256
    directory_depth: int = 1024
    payload_depth: int = 2048
    density_columns: int = 16
    app_columns: int = 48
    value_width: int = 16
    word_width: int = 32
    entry_width: int = 32
    row_width: int = 16
    weight_frac: int = 10
    interp_frac: int = 6
    tag_width: int = 8

    def __post_init__(self) -> None:
        check_int("lanes", self.lanes, minimum=1, maximum=16)
        check_int("banks", self.banks, minimum=4, maximum=64)
        kpc = self.banks // CLASSES
        if self.banks % CLASSES or kpc & (kpc - 1):
            raise ValueError(
                f"`banks` must be 4 times a power of two (one set per class), not {self.banks}"
            )
        check_int("value_width", self.value_width, minimum=2, maximum=32)
        check_int("word_width", self.word_width, minimum=32, maximum=512, power_of_two=True)
        if self.entry_width not in (32, 64):
            raise ValueError(f"`entry_width` must be one of 32, 64, not {self.entry_width!r}")
        low = max(self.word_width, self.entry_width)
        check_int("bank_width", self.bank_width, minimum=low, maximum=1024, power_of_two=True)
        check_int("directory_depth", self.directory_depth, minimum=1, maximum=1 << 20)
        check_int("payload_depth", self.payload_depth, minimum=1, maximum=1 << 20)
        check_int("density_columns", self.density_columns, minimum=2, maximum=256)
        check_int("app_columns", self.app_columns, minimum=2, maximum=256)
        check_int("row_width", self.row_width, minimum=1, maximum=24)
        check_int("weight_frac", self.weight_frac, minimum=1, maximum=16)
        check_int("interp_frac", self.interp_frac, minimum=0, maximum=2 * self.weight_frac - 1)
        check_int("tag_width", self.tag_width, minimum=1, maximum=32)
        if self.value_width + 2 * self.weight_frac > 60:
            raise ValueError(
                f"`value_width` + 2 `weight_frac` must be at most 60 (the golden model's 64-bit "
                f"sums), not {self.value_width + 2 * self.weight_frac}"
            )

    @classmethod
    def from_datapath(cls, datapath, store, **kwargs) -> TexelLookupParams:
        """The block of a datapath design point, with banks deep enough for ``store``.

        Parameters
        ----------
        datapath : rtnerf.models.perf.nerf.DatapathParams
            Gives ``lanes``, ``banks`` and ``bank_width``; its ``sram_bytes`` must hold the
            store's plane images (:attr:`~rtnerf.workloads.nerf.texel.TexelStore.nbytes`).
        store : rtnerf.workloads.nerf.texel.TexelStore
            The images the buffer will hold: their encoding and row widths set the rest.
        **kwargs
            Other fields (``weight_frac``, ``interp_frac``, ``tag_width``).

        Raises
        ------
        ValueError
            If the store does not fit the datapath's ``sram_bytes``.
        """
        from ..models.golden.texel_lookup import array_words  # models import no HDL

        if store.nbytes > datapath.sram_bytes:
            raise ValueError(
                f"the store's {store.nbytes} bytes of plane images do not fit the datapath's "
                f"`sram_bytes` {datapath.sram_bytes}"
            )
        enc = store.images[0][0].params
        columns = [store.images[t][0].shape[1] for t in range(TABLES)]
        rows = max(im.shape[0] for ims in store.images for im in ims)
        kpc = datapath.banks // CLASSES
        dir_words, pay_words = array_words(store.images, datapath.bank_width)
        fields = {
            "lanes": datapath.lanes,
            "banks": datapath.banks,
            "bank_width": datapath.bank_width,
            "directory_depth": max(1, _cdiv(max(dir_words), kpc)),
            "payload_depth": max(1, _cdiv(max(pay_words), kpc)),
            "density_columns": columns[0],
            "app_columns": columns[3],
            "value_width": enc.value_width,
            "word_width": enc.word_width,
            "entry_width": enc.entry_width,
            "row_width": max(1, (rows - 1).bit_length()),
            **kwargs,
        }
        return cls(**fields)

    # -- the buffer -----------------------------------------------------------------------------

    @property
    def banks_per_class(self) -> int:
        """Directory banks (and payload banks) per parity class, ``banks / 4``."""
        return self.banks // CLASSES

    @property
    def words_per_bank_word(self) -> int:
        """Image words per bank word, ``bank_width / word_width``."""
        return self.bank_width // self.word_width

    @property
    def entries_per_bank_word(self) -> int:
        """Directory entries per bank word, ``bank_width / entry_width``."""
        return self.bank_width // self.entry_width

    @property
    def directory_words(self) -> int:
        """Bank words of one class's directory array: ``banks / 4 * directory_depth``."""
        return self.banks_per_class * self.directory_depth

    @property
    def payload_words(self) -> int:
        """Bank words of one class's payload array: ``banks / 4 * payload_depth``."""
        return self.banks_per_class * self.payload_depth

    @property
    def sram_bytes(self) -> int:
        """Bytes of the buffer: every directory and payload bank."""
        return self.banks * (self.directory_depth + self.payload_depth) * self.bank_width // 8

    @property
    def origin_width(self) -> int:
        """Bits of a table descriptor's signed payload origin (image words)."""
        return (self.payload_words * self.words_per_bank_word).bit_length() + 1

    # -- rows -----------------------------------------------------------------------------------

    def columns(self, table: int) -> int:
        """``G`` of ``table``: :attr:`density_columns` for tables 0-2, else :attr:`app_columns`."""
        return self.density_columns if table < 3 else self.app_columns

    @property
    def max_columns(self) -> int:
        """The widest row, ``max(density_columns, app_columns)``."""
        return max(self.density_columns, self.app_columns)

    def coord_bits(self, table: int) -> int:
        """COO coordinate bits of ``table``'s rows, ``max(1, ceil(log2 G))``."""
        return max(1, math.ceil(math.log2(self.columns(table))))

    def count_width(self, table: int) -> int:
        """Bits of the directory's ``nnz`` field of ``table``, ``coord_bits + 1``."""
        return self.coord_bits(table) + 1

    def coo_capacity(self, table: int) -> int:
        """Longest COO row of ``table`` the lanes expand: ``max(1, (G - 1) // coord_bits)``.

        The longest the encoder stores as COO when it chooses formats itself (forced formats
        are not read by the lanes).
        """
        return max(1, (self.columns(table) - 1) // self.coord_bits(table))

    def row_words(self, table: int) -> int:
        """Image words of a DENSE row of ``table``: the longest row the lanes read."""
        return _cdiv(self.columns(table) * self.value_width, self.word_width)

    @property
    def max_span(self) -> int:
        """Most bank words one row spans (a DENSE row starting in the last word of a bank word)."""
        per = self.words_per_bank_word
        return max(_cdiv(per - 1 + self.row_words(t), per) for t in (0, 3))

    @property
    def interp_width(self) -> int:
        """Bits of an interpolated value, ``value_width + interp_frac`` (signed)."""
        return self.value_width + self.interp_frac

    def encoding(self, **kwargs) -> EncodingParams:
        """EncodingParams of the images the buffer holds (``kwargs`` set the other fields)."""
        return EncodingParams(
            value_width=self.value_width,
            word_width=self.word_width,
            entry_width=self.entry_width,
            **kwargs,
        )

    # -- timing -----------------------------------------------------------------------------------

    #: Pipeline registers from a group's acceptance to its result, one step each at full rate:
    #: directory read, entry decode, payload read, row capture, expand, select, and the
    #: interpolator's weights, products and sum.
    STAGES = ("directory", "entry", "payload", "capture", "expand", "select", "weights",
              "products", "sum")  # fmt: skip

    @property
    def latency(self) -> int:
        """Cycles from a group's acceptance to its result when every step takes one cycle."""
        return len(self.STAGES)
