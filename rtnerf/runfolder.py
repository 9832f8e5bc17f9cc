"""Run folders: the one writer of every command's output folder.

Every command that writes a folder (``sim``, ``demo``, ``encode --report``, ``area``,
``sweep``, ``bench``, ``render``) writes it through a :class:`RunFolder`, which

* creates the folder, or fails with one line naming the path (a file in the way, a read-only
  or full disk);
* holds an exclusive lock (the file ``.lock`` in the folder) for the whole run, so a second run
  into the same folder stops at once instead of mixing its records with the first one's (the
  operating system drops the lock when the process ends, killed or not);
* writes each file whole (a temporary file renamed into place), an ``OSError`` becoming one
  line that names the file;
* writes the versioned ``summary.json`` (:meth:`RunFolder.write_summary`: ``schema``,
  ``version``, the rtnerf version and the :func:`machine` description first), CSVs whose
  headers carry units (:meth:`RunFolder.write_csv`: ``name [unit]``), text and figures; progress
  shows with tqdm (:func:`progress`).

Single output files (``rtnerf generate -o``, ``rtnerf encode -o``) go through
:func:`write_file`, with the same errors.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from . import __version__
from .errors import RtnerfError

__all__ = [
    "LOCK_NAME",
    "RunFolder",
    "RunFolderError",
    "commit",
    "machine",
    "progress",
    "write_file",
]

#: Name of the lock file a run holds in its folder.
LOCK_NAME = ".lock"


#: Folders this process holds: resolved path -> [lock, users].
_HELD: dict[Path, list[Any]] = {}


class RunFolderError(RtnerfError):
    """An output folder or file that cannot be created, locked or written."""


def machine() -> str:
    """One line describing the machine a run ran on (host, CPU, OS, CPUs, Python)."""
    return (
        f"{platform.node()} {platform.machine()} {platform.system()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def commit(where: Path | str = ".") -> str:
    """The short git commit checked out at ``where`` ("unknown" outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=where,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _make_folder(folder: Path) -> None:
    """``mkdir -p``, saying which file is in the way rather than errno's "File exists"."""
    for p in (folder, *folder.parents):
        if p.exists():
            if not p.is_dir():
                raise OSError(f"{p} is a file, not a folder")
            break
    folder.mkdir(parents=True, exist_ok=True)


def write_file(path: str | Path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` whole, creating the parent folders.

    The data goes to a temporary file beside ``path`` that is then renamed over it, so a full
    disk never leaves half a file under the final name.

    Raises
    ------
    RunFolderError
        Naming ``path`` and the reason, when a parent is a file, the folder is read-only, the
        disk is full or ``path`` is a folder.
    """
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    if path.is_dir():
        raise RunFolderError(f"{path}: cannot write: it is a folder")
    if not path.exists() or path.is_file():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            _make_folder(path.parent)
            tmp.write_bytes(raw)
            tmp.replace(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise RunFolderError(f"{path}: cannot write: {_reason(exc)}") from None
        return path
    # A device or pipe (/dev/stdout, /dev/full): write in place.
    try:
        with path.open("wb") as f:
            f.write(raw)
    except OSError as exc:
        raise RunFolderError(f"{path}: cannot write: {_reason(exc)}") from None
    return path


class RunFolder:
    """The output folder of one run, created and locked on :meth:`open` (or ``with``).

    Parameters
    ----------
    path : str or Path
        The folder (created with its parents).

    Raises
    ------
    RunFolderError
        From :meth:`open` and every write: the folder cannot be created, another run holds it,
        or a file cannot be written.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._key: Path | None = None

    def __enter__(self) -> RunFolder:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def open(self) -> RunFolder:
        """Create the folder and take its lock; return ``self``.

        Opening a folder this process already holds (a command and the library function it
        calls) shares the lock.
        """
        if self._key is not None:
            return self
        try:
            _make_folder(self.path)
        except OSError as exc:
            raise RunFolderError(f"{self.path}: cannot create run folder: {_reason(exc)}") from None
        key = self.path.resolve()
        if key in _HELD:
            _HELD[key][1] += 1
            self._key = key
            return self
        lock = FileLock(self.path / LOCK_NAME, timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise RunFolderError(
                f"{self.path}: another rtnerf run is writing into this folder; wait for it to "
                "finish or choose another output folder"
            ) from None
        except OSError as exc:
            raise RunFolderError(f"{self.path}: cannot lock run folder: {_reason(exc)}") from None
        _HELD[key] = [lock, 1]
        self._key = key
        return self

    def close(self) -> None:
        """Release the lock (the files stay)."""
        if self._key is None:
            return
        held = _HELD[self._key]
        held[1] -= 1
        if not held[1]:
            held[0].release()
            del _HELD[self._key]
        self._key = None

    def write_text(self, name: str, text: str) -> Path:
        """Write ``text`` to ``name`` in the folder (whole); return its path."""
        return write_file(self.path / name, text)

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``name`` in the folder (whole); return its path."""
        return write_file(self.path / name, data)

    def write_json(self, name: str, doc: Any) -> Path:
        """Write ``doc`` as indented JSON to ``name``; return its path."""
        return self.write_text(name, json.dumps(doc, indent=2) + "\n")

    def write_summary(
        self, summary: Mapping[str, Any], *, schema: str, version: int, name: str = "summary.json"
    ) -> dict[str, Any]:
        """Write a versioned summary and return it as written.

        The document starts with ``schema`` (``rtnerf.<command>.summary``), ``version`` (of
        that schema), ``rtnerf`` (the package version) and ``machine`` (:func:`machine`),
        followed by ``summary``'s own keys.
        """
        doc = {"schema": schema, "version": version, "rtnerf": __version__, "machine": machine()}
        doc.update(summary)
        self.write_json(name, doc)
        return doc

    def write_csv(
        self,
        name: str,
        columns: Mapping[str, str],
        rows: Iterable[Mapping[str, Any]],
    ) -> Path:
        """Write rows as CSV, one column per ``columns`` key, headers ``name [unit]``.

        Parameters
        ----------
        name : str
            File name in the folder.
        columns : mapping of str to str
            Column name -> unit (``""`` for a unitless or text column, whose header is the
            bare name).
        rows : iterable of mapping
            One mapping per row; a missing key is an empty cell, floats are written with six
            significant digits.
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([f"{c} [{u}]" if u else c for c, u in columns.items()])
        for row in rows:
            writer.writerow([_cell(row.get(c, "")) for c in columns])
        return self.write_text(name, buf.getvalue())

    def save_figure(self, fig: Any, name: str, *, dpi: int = 120) -> Path:
        """Save a matplotlib figure as ``name`` (PNG); return its path."""
        buf = io.BytesIO()
        fig.savefig(buf, dpi=dpi, format="png")
        return self.write_bytes(name, buf.getvalue())


def progress(**kwargs: Any) -> Any:
    """The progress bar of a run: :class:`tqdm.tqdm` on stderr with the keyword arguments given.

    Every command shows progress through this one function, so bars look alike.
    """
    from tqdm import tqdm

    kwargs.setdefault("file", sys.stderr)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(**kwargs)


def _cell(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value
