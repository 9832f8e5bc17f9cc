"""Request traces: the one format workloads write and the golden model, cosim and perf model read.

A trace is a sequence of *requests* grouped into *bags* (``docs/trace.md``). Each request reads
from one table either a whole row (``op = ROW``, ``col = -1``) or one element (``op =
ELEMENT``) and multiplies it by a fixed-point ``weight``; a bag's requests are accumulated and
the bag ends at a request with ``last`` set. A ROW bag pools vectors (embedding-bag sum, mean or
weighted sum); an ELEMENT bag sums weighted scalars (a bilinear or linear interpolation of a
factor plane or line for one sample and component). All requests of a bag have the same
``op``.

Files are ``.npz`` archives (:func:`write_trace`, :func:`read_trace`) holding one array per
field and a JSON ``meta`` string; reading validates everything, so consumers never see a
malformed trace.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np

from rtnerf.errors import RtnerfError
from rtnerf.params import check_int

__all__ = [
    "TRACE_VERSION",
    "Op",
    "Trace",
    "TraceFormatError",
    "bounded_zipf",
    "random_bag_trace",
    "read_trace",
    "write_trace",
]

#: Version of the trace file format.
TRACE_VERSION = 1

#: Field name -> dtype of the per-request arrays, in file order.
FIELDS = {
    "op": np.uint8,
    "table": np.uint16,
    "row": np.int64,
    "col": np.int32,
    "weight": np.int64,
    "last": np.bool_,
}


class TraceFormatError(RtnerfError):
    """A trace file or trace object is malformed; the message names the field."""


class Op(enum.IntEnum):
    """What a request reads."""

    ROW = 0  #: the whole row, accumulated into the bag's vector
    ELEMENT = 1  #: element ``(row, col)``, accumulated into the bag's scalar


@dataclasses.dataclass(frozen=True, eq=False)
class Trace:
    """A validated request trace.

    Attributes
    ----------
    op, table, row, col, weight, last : numpy.ndarray
        One entry per request (dtypes in :data:`FIELDS`); ``col`` is -1 for ROW requests.
    weight_frac_bits : int
        Fixed point of the weights: ``weight / 2**weight_frac_bits`` is the real weight.
    weight_width : int
        Bits of a weight, signed (2 to 32); every weight fits.
    name : str
        What the trace is (workload, seed), for reports.

    Raises
    ------
    TraceFormatError
        If the arrays have other dtypes or lengths, an ``op`` is unknown, ``col`` is not -1
        exactly on ROW requests, a row or column is negative, a weight does not fit, the last
        request does not end a bag, or a bag mixes ops.
    """

    op: np.ndarray
    table: np.ndarray
    row: np.ndarray
    col: np.ndarray
    weight: np.ndarray
    last: np.ndarray
    weight_frac_bits: int = 0
    weight_width: int = 16
    name: str = ""

    def __post_init__(self) -> None:
        check_int("weight_width", self.weight_width, minimum=2, maximum=32)
        check_int("weight_frac_bits", self.weight_frac_bits, minimum=0, maximum=self.weight_width)
        n = None
        for field, dtype in FIELDS.items():
            arr = getattr(self, field)
            if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype != dtype:
                raise TraceFormatError(
                    f"`{field}` must be a 1-D {np.dtype(dtype).name} array, not "
                    f"{getattr(arr, 'dtype', type(arr).__name__)} of shape "
                    f"{getattr(arr, 'shape', '?')}"
                )
            if n is not None and arr.size != n:
                raise TraceFormatError(f"`{field}` has {arr.size} entries, `op` has {n}")
            n = arr.size
            arr.flags.writeable = False
        self._check()

    def _check(self) -> None:
        def first(mask: np.ndarray) -> int:
            return int(np.argmax(mask))

        bad = self.op > max(Op)
        if bad.any():
            i = first(bad)
            raise TraceFormatError(
                f"request {i}: `op` must be 0 (ROW) or 1 (ELEMENT), not {self.op[i]}"
            )
        is_row = self.op == Op.ROW
        bad = is_row != (self.col == -1)
        if bad.any():
            i = first(bad)
            raise TraceFormatError(
                f"request {i}: `col` must be -1 for a ROW request and >= 0 for an ELEMENT one, "
                f"not {self.col[i]} ({Op(int(self.op[i])).name})"
            )
        for field in ("row", "col"):
            arr = getattr(self, field)
            bad = arr < (-1 if field == "col" else 0)
            if bad.any():
                i = first(bad)
                raise TraceFormatError(f"request {i}: `{field}` must be >= 0, not {arr[i]}")
        hi = 1 << (self.weight_width - 1)
        bad = (self.weight < -hi) | (self.weight >= hi)
        if bad.any():
            i = first(bad)
            raise TraceFormatError(
                f"request {i}: `weight` {self.weight[i]} does not fit {self.weight_width} "
                f"signed bits"
            )
        if self.op.size and not self.last[-1]:
            raise TraceFormatError("the last request must end a bag (`last` set)")
        starts = self.bag_starts
        bag_of = np.repeat(np.arange(starts.size - 1), np.diff(starts))
        bad = self.op != self.op[starts[:-1]][bag_of]
        if bad.any():
            i = first(bad)
            raise TraceFormatError(f"request {i}: bag {bag_of[i]} mixes ROW and ELEMENT requests")

    def __len__(self) -> int:
        return int(self.op.size)

    @property
    def bag_starts(self) -> np.ndarray:
        """Index of each bag's first request, then ``len(self)``.

        Bag ``b`` is requests ``[bag_starts[b], bag_starts[b + 1])``.
        """
        ends = np.flatnonzero(self.last) + 1
        return np.concatenate(([0], ends)).astype(np.int64)

    @property
    def bags(self) -> int:
        """Number of bags."""
        return int(np.count_nonzero(self.last))

    def meta(self) -> dict:
        """The file's JSON metadata."""
        return {
            "version": TRACE_VERSION,
            "kind": "trace",
            "name": self.name,
            "weight_frac_bits": self.weight_frac_bits,
            "weight_width": self.weight_width,
            "requests": len(self),
            "bags": self.bags,
        }

    def check_tables(self, shapes: list[tuple[int, int]]) -> None:
        """Check every request against the ``(rows, columns)`` of the tables it names.

        Raises
        ------
        TraceFormatError
            Naming the first request whose table, row or column is out of range.
        """
        t = self.table.astype(np.int64)
        bad = t >= len(shapes)
        if bad.any():
            i = int(np.argmax(bad))
            raise TraceFormatError(
                f"request {i}: `table` {t[i]} does not exist (the trace has {len(shapes)} tables)"
            )
        dims = np.array(shapes, np.int64).reshape(-1, 2)
        for field, k in (("row", 0), ("col", 1)):
            arr = getattr(self, field)
            bad = arr >= dims[t, k]
            if bad.any():
                i = int(np.argmax(bad))
                raise TraceFormatError(
                    f"request {i}: `{field}` {arr[i]} is out of range for table {t[i]} "
                    f"of shape {tuple(int(x) for x in dims[t[i]])}"
                )


def write_trace(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` as an ``.npz`` archive (one array per field plus ``meta``)."""
    if not isinstance(trace, Trace):
        raise TypeError(f"`trace` must be a Trace, not {type(trace).__name__}")
    arrays = {f: getattr(trace, f) for f in FIELDS}
    with open(path, "wb") as f:
        np.savez(f, meta=np.array(json.dumps(trace.meta(), sort_keys=True)), **arrays)


def read_trace(path: str | Path) -> Trace:
    """Read a trace written by :func:`write_trace`.

    Raises
    ------
    TraceFormatError
        If the file cannot be read, is not a trace, has another version, lacks a field or holds
        an invalid trace (see :class:`Trace`).
    """
    path = Path(path)
    try:
        # Opened here: np.load leaks the file it opens when the archive is malformed.
        with path.open("rb") as f:
            npz = np.load(f, allow_pickle=False)
            if not isinstance(npz, np.lib.npyio.NpzFile):
                raise ValueError("a single array, not an archive")
            with npz:
                contents = {k: npz[k] for k in npz.files}
    except OSError as exc:
        raise TraceFormatError(f"{path}: cannot read trace: {exc.strerror or exc}") from None
    except EOFError:
        raise TraceFormatError(f"{path}: not an rtnerf trace (empty file)") from None
    except MemoryError:
        raise TraceFormatError(f"{path}: not an rtnerf trace (an array too large)") from None
    except (ValueError, AttributeError, zipfile.BadZipFile, zlib.error, NotImplementedError):
        # numpy's .npz/.npy readers raise these on malformed archives and array headers.
        raise TraceFormatError(f"{path}: not an rtnerf trace (not an .npz archive)") from None
    try:
        meta = json.loads(str(contents.pop("meta")))
    except (KeyError, json.JSONDecodeError):
        raise TraceFormatError(f"{path}: not an rtnerf trace (no `meta`)") from None
    if not isinstance(meta, dict):
        raise TraceFormatError(
            f"{path}: not an rtnerf trace (`meta` must be a JSON object, not {type(meta).__name__})"
        )
    if meta.get("kind") != "trace":
        raise TraceFormatError(f"{path}: not an rtnerf trace (kind {meta.get('kind')!r})")
    if meta.get("version") != TRACE_VERSION:
        raise TraceFormatError(
            f"{path}: trace version {meta.get('version')!r}; this release reads {TRACE_VERSION}"
        )
    if not isinstance(meta.get("name", ""), str):
        raise TraceFormatError(f"{path}: `meta.name` must be a string, not {meta['name']!r}")
    missing = [f for f in FIELDS if f not in contents]
    if missing:
        raise TraceFormatError(f"{path}: trace lacks the `{missing[0]}` array")
    try:
        trace = Trace(
            **{f: contents[f] for f in FIELDS},
            weight_frac_bits=meta["weight_frac_bits"],
            weight_width=meta["weight_width"],
            name=meta.get("name", ""),
        )
    except KeyError as exc:
        raise TraceFormatError(f"{path}: `meta` lacks {exc}") from None
    except (TypeError, ValueError, TraceFormatError) as exc:
        raise TraceFormatError(f"{path}: {exc}") from None
    if (meta.get("requests"), meta.get("bags")) != (len(trace), trace.bags):
        raise TraceFormatError(f"{path}: `meta` counts do not match the arrays")
    return trace


def bounded_zipf(
    rows: int, alpha: float, n: int, rng: np.random.Generator, *, permute: bool = True
) -> np.ndarray:
    """``n`` row ids in ``[0, rows)`` with ``P(rank k) ~ k**-alpha`` (bounded Zipf).

    With ``permute`` the ranks map to rows through a random permutation (hot rows scattered
    over the table, as in real embedding tables); otherwise rank ``k`` is row ``k - 1``.
    FBGEMM recommends ``alpha`` 1.15 for training and 1.09 for inference traces.
    """
    check_int("rows", rows, minimum=1)
    if not alpha > 0:
        raise ValueError(f"`alpha` must be positive, not {alpha!r}")
    cdf = np.cumsum(np.arange(1, rows + 1, dtype=np.float64) ** -alpha)
    cdf /= cdf[-1]
    ranks = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), rows - 1)
    return rng.permutation(rows)[ranks] if permute else ranks


def random_bag_trace(
    rng: np.random.Generator,
    tables: list[tuple[int, int]],
    bags: int,
    *,
    alpha: float = 1.09,
    max_bag: int = 64,
    weight_width: int = 16,
    weight_frac_bits: int = 8,
    element_fraction: float = 0.0,
    name: str = "random",
) -> Trace:
    """A random trace of ``bags`` bags over tables of the given ``(rows, columns)``.

    Each bag picks a table uniformly, a size uniform in ``1..max_bag`` (ROW bags) or ``1..4``
    (ELEMENT bags, an interpolation footprint), Zipf-distributed rows (:func:`bounded_zipf`),
    uniform columns, and weights uniform over the signed ``weight_width``-bit range.
    ``element_fraction`` of the bags are ELEMENT bags.
    """
    check_int("bags", bags, minimum=0)
    check_int("max_bag", max_bag, minimum=1)
    if not tables:
        raise ValueError("`tables` must name at least one table")
    elem = rng.random(bags) < element_fraction
    size = np.where(elem, rng.integers(1, 5, bags), rng.integers(1, max_bag + 1, bags))
    table = rng.integers(0, len(tables), bags)
    n = int(size.sum())
    bag_of = np.repeat(np.arange(bags), size)
    t = table[bag_of]
    row = np.empty(n, np.int64)
    for k, (rows, _) in enumerate(tables):
        sel = t == k
        row[sel] = bounded_zipf(rows, alpha, int(sel.sum()), rng)
    cols = np.array([c for _, c in tables], np.int64)[t]
    is_elem = elem[bag_of]
    col = np.where(is_elem, (rng.random(n) * cols).astype(np.int64), -1).astype(np.int32)
    hi = 1 << (weight_width - 1)
    last = np.zeros(n, np.bool_)
    last[np.cumsum(size) - 1] = True
    return Trace(
        op=is_elem.astype(np.uint8),
        table=t.astype(np.uint16),
        row=row,
        col=col,
        weight=rng.integers(-hi, hi, n),
        last=last,
        weight_frac_bits=weight_frac_bits,
        weight_width=weight_width,
        name=name,
    )
