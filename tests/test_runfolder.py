"""The one run-folder writer: creation, locking, whole writes, versioned summaries, CSV units."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rtnerf import __version__
from rtnerf.runfolder import RunFolder, RunFolderError, write_file


def test_writes_summary_csv_and_text(tmp_path):
    with RunFolder(tmp_path / "a" / "run") as folder:
        doc = folder.write_summary({"x": 1}, schema="rtnerf.test.summary", version=3)
        folder.write_csv("r.csv", {"name": "", "time": "s"}, [{"name": "a", "time": 0.123456789}])
        folder.write_text("s.txt", "hello\n")
    run = tmp_path / "a" / "run"
    assert json.loads((run / "summary.json").read_text()) == doc
    assert list(doc)[:5] == ["schema", "version", "rtnerf", "machine", "x"]
    assert doc["rtnerf"] == __version__ and "CPUs" in doc["machine"]
    assert (run / "r.csv").read_text() == "name,time [s]\na,0.123457\n"
    assert sorted(p.name for p in run.iterdir()) == [".lock", "r.csv", "s.txt", "summary.json"]


def test_a_second_run_is_refused_until_the_first_ends(tmp_path):
    code = (
        "import sys; from rtnerf.runfolder import RunFolder, RunFolderError\n"
        "try:\n    RunFolder(sys.argv[1]).open()\nexcept RunFolderError as e:\n"
        "    print(e); sys.exit(2)\n"
    )
    with RunFolder(tmp_path):
        proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True)
        assert proc.returncode == 2
        assert b"another rtnerf run is writing into this folder" in proc.stdout
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("file", r"cannot create run folder: .*/file is a file, not a folder$"),
        ("file/run", r"cannot create run folder: .*/file is a file, not a folder$"),
    ],
)
def test_a_folder_that_cannot_be_made_is_one_error(tmp_path, target, message):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match=rf"^{tmp_path / target}: {message}"):
        RunFolder(tmp_path / target).open()


def test_write_file_errors_name_the_file(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(RunFolderError, match=r"file/x.v: cannot write: .*/file is a file, not a"):
        write_file(tmp_path / "file" / "x.v", "text")
    with pytest.raises(RunFolderError, match=r": cannot write: it is a folder$"):
        write_file(tmp_path, "text")
    if Path("/dev/full").exists():
        with pytest.raises(RunFolderError, match=r"^/dev/full: cannot write: No space left"):
            write_file("/dev/full", "text")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_folder(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(RunFolderError, match=r"ro/run: cannot create run folder: Permission"):
        RunFolder(tmp_path / "ro" / "run").open()
    with pytest.raises(RunFolderError, match=r"ro/x.v: cannot write: Permission denied$"):
        write_file(tmp_path / "ro" / "x.v", "text")


def test_a_full_disk_leaves_no_partial_file(tmp_path, monkeypatch):
    def full(self, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(RunFolderError, match=r"s.json: cannot write: No space left on device$"):
        write_file(tmp_path / "s.json", "{}")
    assert list(tmp_path.iterdir()) == []


def test_the_same_process_shares_its_lock(tmp_path):
    with RunFolder(tmp_path) as outer:
        with RunFolder(tmp_path) as inner:  # a command and the library function it calls
            inner.write_text("a", "1")
        outer.write_text("b", "2")
    with RunFolder(tmp_path):
        pass


def test_commit_names_the_checkout_or_says_unknown(tmp_path):
    from rtnerf.runfolder import commit

    assert commit(tmp_path) == "unknown"  # not a git checkout
    here = commit(Path(__file__).parent)
    assert here == "unknown" or (7 <= len(here) <= 12 and int(here, 16) >= 0)
