import importlib.util
import json
import re

import numpy as np
import pytest
import yaml

from rtnerf import cli
from rtnerf.models.golden.decode import expand_rows
from rtnerf.models.image import read_image
from rtnerf.params import EncodingParams


@pytest.fixture(autouse=True)
def only_available_commands(monkeypatch):
    # Register only the subcommands whose modules exist, so these tests do not depend on the
    # state of the others (which may need an HDL toolchain).
    present = tuple(
        name for name in cli.COMMANDS if importlib.util.find_spec(f"rtnerf.commands.{name}")
    )
    monkeypatch.setattr(cli, "COMMANDS", present)


def test_encode_is_registered():
    assert "encode" in cli.COMMANDS


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(40, 64)).astype(np.float32)
    x[rng.random(x.shape) < 0.9] = 0
    x[3] = 0
    path = tmp_path / "table.npy"
    np.save(path, x)
    return path, x


def test_encode_writes_image_and_report(tmp_path, table, capsys):
    path, x = table
    config = tmp_path / "enc.yaml"
    config.write_text("version: 1\nkind: encoding\nvalue_width: 8\nword_width: 128\n")
    out, run = tmp_path / "t.bin", tmp_path / "run"
    status = cli.main(
        ["encode", str(path), "-c", str(config), "-o", str(out), "--report", str(run)]
    )
    assert status == 0
    image = read_image(out)
    assert image.params == EncodingParams(value_width=8, word_width=128)
    assert np.allclose(expand_rows(image, np.arange(40)) * image.scale, x, atol=image.scale / 2)

    assert EncodingParams.from_yaml(run / "config.yaml") == image.params
    assert yaml.safe_load((run / "config.yaml").read_text())["version"] == 1
    summary = json.loads((run / "summary.json").read_text())
    assert summary["version"] == 1 and summary["schema"] == "rtnerf.encode.summary"
    assert sum(summary["rows_per_format"].values()) == 40
    assert summary["rows_per_format"]["empty"] >= 1
    assert summary["bytes"]["image"] == image.nbytes
    assert summary["bytes"]["dense"] == 40 * 64
    assert summary["bytes"]["image_over_dense"] == pytest.approx(image.nbytes / (40 * 64))
    assert summary["bits"]["total"] == image.nbytes * 8
    assert (
        summary["bits"]["payload"] + summary["bits"]["directory"] + summary["bits"]["padding"]
        == summary["bits"]["total"]
    )
    nnz = int(np.count_nonzero(np.rint(x / image.scale)))
    assert summary["table"]["nonzeros"] == nnz
    assert summary["bits_per_nonzero"]["payload"] == pytest.approx(summary["bits"]["payload"] / nnz)
    assert summary["quantization"]["max_abs_error"] <= image.scale / 2
    text = (run / "summary.txt").read_text()
    assert "rows per format:" in text and "bits per non-zero:" in text
    assert capsys.readouterr().out == text


def test_encode_defaults_without_config(tmp_path, table, capsys):
    path, _ = table
    assert cli.main(["encode", str(path), "-o", str(tmp_path / "t.bin")]) == 0
    assert read_image(tmp_path / "t.bin").params == EncodingParams()
    assert "x dense 16-bit" in capsys.readouterr().out


def test_all_zero_table_has_no_bits_per_nonzero(tmp_path, capsys):
    np.save(tmp_path / "z.npy", np.zeros((2, 3)))
    assert cli.main(["encode", str(tmp_path / "z.npy"), "-o", str(tmp_path / "z.bin")]) == 0
    assert "n/a (no non-zeros)" in capsys.readouterr().out


def _error(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array([[1.0, np.nan]]), r"`table` must be finite, not nan at \[0, 1\]"),
        (np.array([[1.0], [np.inf]]), r"`table` must be finite, not inf at \[1, 0\]"),
        (np.zeros((2, 3, 4)), r"`table` must be a 2-D array, not a 3-D array of shape"),
        (np.zeros(5), r"`table` must be a 2-D array, not a 1-D array"),
        (np.array([["a"]]), r"`table` must have an integer or float dtype, not <U1"),
        (
            np.full((2, 2), 1e-310),
            (
                r"`table` must have a largest magnitude of at least 7.29e-304 for a 16-bit "
                r"scale, not 1e-310 \(its values are subnormal\)$"
            ),
        ),
        (np.array([[5e-324, 0.0]]), r"largest magnitude .* not 5e-324 \(its values are subnormal"),
        (np.ones((2, 2), np.longdouble), r"`table` must be float16, float32 or float64, not float"),
    ],
)
def test_bad_tables_exit_2_with_one_line(tmp_path, capsys, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    err = _error(capsys, ["encode", str(path), "-o", str(tmp_path / "o.bin")])
    assert err.startswith(f"rtnerf: error: {path}: ")
    assert re.search(message, err)
    assert not (tmp_path / "o.bin").exists()


def test_float16_table_encodes_like_float32(tmp_path, capsys):
    half = np.array([[0.5, 0.0, -1.0], [0.0, 0.0, 2.0**-14]], np.float16)
    np.save(tmp_path / "h.npy", half)
    np.save(tmp_path / "s.npy", half.astype(np.float32))
    for name in ("h", "s"):
        argv = ["encode", str(tmp_path / f"{name}.npy"), "-o", str(tmp_path / f"{name}.bin")]
        assert cli.main(argv) == 0
    assert (tmp_path / "h.bin").read_bytes() == (tmp_path / "s.bin").read_bytes()


def test_corrupt_table_file(tmp_path, capsys):
    path = tmp_path / "bad.npy"
    np.save(path, np.zeros((4, 4)))
    path.write_bytes(path.read_bytes()[:60])
    err = _error(capsys, ["encode", str(path), "-o", str(tmp_path / "o.bin")])
    assert err.startswith(f"rtnerf: error: {path}: not a valid .npy table: ")


def test_not_a_npy_file(tmp_path, capsys):
    path = tmp_path / "bad.npy"
    path.write_text("hello\n")
    err = _error(capsys, ["encode", str(path), "-o", str(tmp_path / "o.bin")])
    assert err.startswith(f"rtnerf: error: {path}: not a valid .npy table: ")


def test_pickled_table_is_refused(tmp_path, capsys):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    err = _error(capsys, ["encode", str(path), "-o", str(tmp_path / "o.bin")])
    assert err.startswith(f"rtnerf: error: {path}: not a valid .npy table: ")


def test_missing_table(tmp_path, capsys):
    err = _error(capsys, ["encode", str(tmp_path / "no.npy"), "-o", str(tmp_path / "o.bin")])
    assert (
        err
        == f"rtnerf: error: {tmp_path / 'no.npy'}: cannot read table: No such file or directory\n"
    )


def test_bad_config(tmp_path, table, capsys):
    path, _ = table
    config = tmp_path / "enc.yaml"
    config.write_text("version: 1\nword_width: 48\n")
    err = _error(capsys, ["encode", str(path), "-c", str(config), "-o", str(tmp_path / "o.bin")])
    assert err == (
        f"rtnerf: error: {config}: `word_width` must be a power of two from 32 to 512, not 48\n"
    )


def test_too_many_columns_for_coordinate_field(tmp_path, capsys):
    path = tmp_path / "wide.npy"
    np.save(path, np.ones((2, 40)))
    config = tmp_path / "enc.yaml"
    config.write_text("version: 1\ncoord_width: 5\n")
    err = _error(capsys, ["encode", str(path), "-c", str(config), "-o", str(tmp_path / "o.bin")])
    assert err.endswith("`columns` must be at most 32 for coord_width=5, not 40\n")


def test_unwritable_output(tmp_path, table, capsys):
    path, _ = table
    err = _error(capsys, ["encode", str(path), "-o", str(tmp_path / "no" / "dir" / "o.bin")])
    assert err.startswith("rtnerf: error: ") and "cannot write image: No such file" in err
