import dataclasses
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import decode as naive

from rtnerf.models.encoding import format_bits, index_width
from rtnerf.models.golden.decode import expand_rows, locate, lookup
from rtnerf.models.image import (
    FILE_HEADER,
    ImageFormatError,
    Layout,
    MemoryImage,
    encode,
    encode_table,
    read_image,
    write_image,
)
from rtnerf.params import ConfigError, EncodingParams, Format

DOC = Path(__file__).resolve().parents[2] / "docs" / "memory-image.md"
SETTINGS = settings(max_examples=60, derandomize=True, deadline=None)


@st.composite
def params(draw):
    word_width = draw(st.sampled_from([32, 64, 128, 256, 512]))
    return EncodingParams(
        value_width=draw(st.sampled_from([8, 16, 2, 5, 12, 31, 32])),
        word_width=word_width,
        burst_bytes=draw(st.sampled_from([1, 2, 4, 8])) * word_width // 8,
        align_rows=draw(st.booleans()),
        force_format=draw(st.sampled_from([None, None, None, "dense", "bitmap", "coo"])),
        coord_width=draw(st.sampled_from([None, None, 12])),
        entry_width=draw(st.sampled_from([32, 64])),
    )


def random_table(seed, rows, columns, value_width, density):
    rng = np.random.default_rng(seed)
    hi = 1 << (value_width - 1)
    values = rng.integers(-hi, hi, size=(rows, columns))
    values[rng.random(values.shape) >= density] = 0
    values[rng.random(rows) < 0.2] = 0  # some empty rows
    return values


@SETTINGS
@given(
    p=params(),
    seed=st.integers(0, 2**32 - 1),
    rows=st.integers(1, 12),
    columns=st.sampled_from([1, 2, 3, 7, 16, 31, 64, 65, 100, 256]),
    density=st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 0.95, 1.0]),
)
def test_round_trip_size_and_lookups(p, seed, rows, columns, density):
    values = random_table(seed, rows, columns, p.value_width, density)
    image = encode(values, p)
    lay = image.layout
    formats, nnz, offsets = image.directory()

    # encode -> image -> decode returns exactly the table
    assert np.array_equal(expand_rows(image, np.arange(rows)), values)
    rr, cc = np.meshgrid(np.arange(rows), np.arange(columns), indexing="ij")
    assert np.array_equal(lookup(image, rr, cc), values)

    # the image size is the cost formula, computed here independently of the layout code
    assert np.array_equal(nnz, np.count_nonzero(values, axis=1))
    bits = format_bits(nnz, columns, p.value_width, lay.coord_width)[np.arange(rows), formats]
    burst = p.burst_words if p.align_rows else 1
    words = -(-bits // p.word_width)
    words = -(-words // burst) * burst
    directory = -(-(rows * p.entry_width) // p.word_width)
    directory = -(-directory // burst) * burst
    assert image.n_words == directory + words.sum()
    assert image.nbytes == image.n_words * p.word_width // 8
    assert np.array_equal(offsets, directory + np.concatenate(([0], np.cumsum(words)[:-1])))
    assert lay.coord_width == (p.coord_width or index_width(columns))
    if p.force_format is not None:
        assert np.all(formats == Format[p.force_format.upper()])

    # every lookup agrees with the naive reference
    rng = np.random.default_rng(seed)
    qr = rng.integers(0, rows, 8)
    qc = rng.integers(0, columns, 8)
    got = lookup(image, qr, qc)
    assert got.tolist() == [
        naive.lookup(image, int(r), int(c)) for r, c in zip(qr, qc, strict=True)
    ]
    for r in range(min(rows, 3)):
        assert naive.entry(image, r) == (formats[r], nnz[r], offsets[r])
        assert naive.expand_row(image, r) == values[r].tolist()


def test_locate_reports_rank_and_search_index():
    p = EncodingParams(value_width=8, word_width=32)
    values = np.zeros((2, 64), np.int64)
    values[0, :20] = 1  # BITMAP: 20 * 6 >= 64
    values[1, [3, 9, 40]] = [5, 6, 7]  # COO
    image = encode(values, p)
    got = locate(image, [0, 0, 0, 1, 1, 1, 1], [0, 19, 33, 3, 9, 10, 63])
    assert got["format"].tolist() == [2, 2, 2, 3, 3, 3, 3]
    assert got["hit"].tolist() == [True, True, False, True, True, False, False]
    assert got["index"].tolist() == [0, 19, 20, 0, 1, 2, 3]


def test_value_width_32_extremes_round_trip():
    values = np.array([[-(2**31), 2**31 - 1, 0, -1]], np.int64)
    for fmt in ("dense", "bitmap", "coo"):
        image = encode(values, EncodingParams(value_width=32, force_format=fmt))
        assert expand_rows(image, 0).tolist() == values[0].tolist()


def test_encode_table_quantises_and_keeps_scale(tmp_path):
    x = np.array([[0.0, 0.5, 0.0, -1.0]])
    image, q = encode_table(x, EncodingParams(value_width=8))
    assert image.scale == q.scale == pytest.approx(1 / 127)
    assert expand_rows(image, 0).tolist() == [0, 64, 0, -127]
    write_image(image, tmp_path / "t.bin")
    assert read_image(tmp_path / "t.bin").scale == image.scale


def test_file_round_trip(tmp_path):
    p = EncodingParams(value_width=12, word_width=128, align_rows=True, force_format="coo")
    image = encode(random_table(1, 9, 40, 12, 0.3), p)
    path = tmp_path / "image.bin"
    write_image(image, path)
    data = path.read_bytes()
    assert data[:8] == b"RTNERFIM"
    assert (len(data) - image.nbytes) % 64 == 0
    back = read_image(path)
    assert back.params == p and back.layout == image.layout and back.scale == image.scale
    assert np.array_equal(back.body, image.body)


@pytest.fixture
def image_file(tmp_path):
    image = encode(random_table(2, 6, 30, 8, 0.3), EncodingParams(value_width=8))
    path = tmp_path / "image.bin"
    write_image(image, path)
    return path


def _rewrite(path, data):
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:-1], r"truncated image file \(\d+ of \d+ bytes\)$"),
        (lambda d: d[:20], r"truncated image file \(20 bytes\)$"),
        (lambda d: b"", r"truncated image file \(0 bytes\)$"),
        (lambda d: d + b"\0", r"corrupt image file \(1 bytes after the end\)$"),
        (lambda d: b"NOTANIMG" + d[8:], r"not an rtnerf memory image \(bad magic b'NOTANIMG'\)$"),
        (lambda d: b"PK\x03\x04", r"not an rtnerf memory image \(bad magic\)$"),
        (
            lambda d: d[:-3] + bytes([d[-3] ^ 0x10]) + d[-2:],
            r"corrupt image file \(data checksum mismatch\)$",
        ),
        (
            lambda d: d[:40] + bytes([d[40] ^ 1]) + d[41:],
            r"corrupt image file \(header checksum mismatch\)$",
        ),
        (
            lambda d: d[:8] + struct.pack("<I", 2) + d[12:],
            r"image file version 2 is not supported \(this rtnerf reads version 1\)$",
        ),
    ],
)
def test_bad_files_rejected(image_file, mutate, message):
    _rewrite(image_file, mutate(image_file.read_bytes()))
    with pytest.raises(ImageFormatError, match=rf"^{re.escape(str(image_file))}: {message}"):
        read_image(image_file)


def _forge(path, meta_edit=None, body_edit=None):
    """Rewrite a file with valid checksums around edited contents."""
    import json
    import zlib

    data = path.read_bytes()
    magic, version, nmeta, _, _, _ = FILE_HEADER.unpack_from(data)
    text = data[FILE_HEADER.size : FILE_HEADER.size + nmeta]
    body = bytearray(data[FILE_HEADER.size + nmeta :])
    if meta_edit:
        meta = json.loads(text)
        meta_edit(meta)
        text = json.dumps(meta).encode()
    if body_edit:
        body_edit(body)
    head = FILE_HEADER.pack(
        magic, version, len(text), len(body), zlib.crc32(text), zlib.crc32(body)
    )
    path.write_bytes(head + text + bytes(body))


@pytest.mark.parametrize(
    ("meta_edit", "body_edit", "message"),
    [
        (lambda m: m["params"].update(value_width=1), None, r"corrupt image header: `value_width`"),
        (lambda m: m["params"].update(version=2), None, r"corrupt image header: `version` must"),
        (
            lambda m: m.pop("scale"),
            None,
            r"corrupt image header: `scale` must be a finite positive number, not None$",
        ),
        (
            lambda m: m["layout"].update(rows=float("inf")),
            None,
            r"corrupt image header: `layout.rows` must be an integer >= 1, not inf$",
        ),
        (
            lambda m: m["layout"].update(rows=True),
            None,
            r"corrupt image header: `layout.rows` must be an integer >= 1, not True$",
        ),
        (
            lambda m: m.update(words="12"),
            None,
            r"corrupt image header: `words` must be an integer >= 0, not '12'$",
        ),
        (
            lambda m: m.update(words=m["words"] + 1),
            None,
            r"corrupt image header: `words` \d+ does not match the \d+ bytes of data$",
        ),
        (
            lambda m: m["layout"].update(align_rows=0),
            None,
            r"corrupt image header: layout does not match params$",
        ),
        (
            lambda m: m["layout"].update(coord_width=9),
            None,
            r"corrupt image header: layout does not",
        ),
        (lambda m: m.update(scale=float("nan")), None, r"corrupt image header: `scale` must"),
        (None, lambda b: b.__setitem__(0, 1), r"corrupt image: row 1 overlaps the row before it$"),
        (
            None,
            lambda b: b.__setitem__(8, b[8] ^ 1),
            r"corrupt image: row 2 overlaps the row before it$",
        ),
        (None, lambda b: b.__setitem__(7, 0xFF), r"corrupt image: row 0 ends past the image$"),
    ],
)
def test_inconsistent_contents_rejected(image_file, meta_edit, body_edit, message):
    _forge(image_file, meta_edit, body_edit)
    with pytest.raises(ImageFormatError, match=rf"^{re.escape(str(image_file))}: {message}"):
        read_image(image_file)


def test_bitmap_popcount_mismatch_rejected():
    values = np.zeros((1, 32), np.int64)
    values[0, :10] = 3
    image = encode(values, EncodingParams(value_width=8, force_format="bitmap"))
    body = image.body.copy()
    body[8] ^= 0x80  # set a bitmap bit: 11 bits set, nnz says 10
    with pytest.raises(ImageFormatError, match=r"^corrupt image: row 0's BITMAP index part"):
        MemoryImage(image.params, image.layout, image.scale, body)


def test_unsorted_coordinates_rejected():
    values = np.zeros((1, 16), np.int64)
    values[0, [1, 2]] = 3
    image = encode(values, EncodingParams(value_width=8, force_format="coo"))
    body = image.body.copy()
    body[8] = 0x12  # coordinates 2, 1 (4 bits each)
    with pytest.raises(ImageFormatError, match=r"^corrupt image: row 0's COO index part"):
        MemoryImage(image.params, image.layout, image.scale, body)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ImageFormatError, match=r"cannot read image: No such file"):
        read_image(tmp_path / "nope.bin")


# --- bad input -------------------------------------------------------------------------------


def test_nan_table_rejected():
    x = np.ones((2, 2))
    x[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"^`table` must be finite, not nan at \[0, 1\]"):
        encode_table(x, EncodingParams())


def test_non_2d_values_rejected():
    with pytest.raises(ValueError, match=r"^`values` must be a 2-D array, not a 1-D array"):
        encode(np.zeros(5, np.int64), EncodingParams())


def test_float_values_rejected_by_encode():
    with pytest.raises(TypeError, match=r"^`values` must be a numpy integer array, not float64$"):
        encode(np.zeros((1, 1)), EncodingParams())


def test_values_outside_value_width_rejected():
    with pytest.raises(
        ValueError, match=r"^`values` must fit 8-bit two's complement \(-128 to 127\), not 128$"
    ):
        encode(np.array([[0, 128]]), EncodingParams(value_width=8))


@pytest.mark.parametrize(
    ("field", "value", "exc", "message"),
    [
        ("value_width", 1, ValueError, r"^`value_width` must be an integer from 2 to 32, not 1$"),
        ("value_width", 33, ValueError, r"^`value_width` must be an integer from 2 to 32, not 33$"),
        ("value_width", 8.0, TypeError, r"^`value_width` must be an integer, not 8.0$"),
        (
            "word_width",
            48,
            ValueError,
            r"^`word_width` must be a power of two from 32 to 512, not 48$",
        ),
        (
            "word_width",
            1024,
            ValueError,
            r"^`word_width` must be a power of two from 32 to 512, not 1024$",
        ),
        (
            "word_width",
            16,
            ValueError,
            r"^`word_width` must be a power of two from 32 to 512, not 16$",
        ),
        (
            "burst_bytes",
            4,
            ValueError,
            r"^`burst_bytes` must be a power of two from 8 to 4096, not 4$",
        ),
        ("align_rows", 1, TypeError, r"^`align_rows` must be a bool, not 1$"),
        (
            "force_format",
            "csr",
            ValueError,
            r"^`force_format` must be one of None, 'dense', 'bitmap', 'coo', not 'csr'$",
        ),
        ("coord_width", 25, ValueError, r"^`coord_width` must be an integer from 1 to 24, not 25$"),
        ("entry_width", 48, ValueError, r"^`entry_width` must be one of 32, 64, not 48$"),
    ],
)
def test_bad_params_rejected(field, value, exc, message):
    with pytest.raises(exc, match=message):
        EncodingParams(**{field: value})


def test_params_yaml_round_trip(tmp_path):
    p = EncodingParams(value_width=8, word_width=256, align_rows=True, force_format="coo")
    path = tmp_path / "enc.yaml"
    path.write_text(p.to_yaml())
    assert EncodingParams.from_yaml(path) == p
    assert p.word_bytes == 32 and p.burst_words == 2 and p.max_columns == 1 << 24


def test_params_unknown_key_rejected():
    with pytest.raises(ConfigError, match=r"^unknown key `rows` in encoding params"):
        EncodingParams.from_dict({"version": 1, "rows": 3})


def test_too_many_columns_for_coordinate_field():
    with pytest.raises(
        ValueError, match=r"^`columns` must be at most 16 for coord_width=4, not 17$"
    ):
        encode(np.zeros((1, 17), np.int64), EncodingParams(coord_width=4))
    assert encode(np.zeros((1, 16), np.int64), EncodingParams(coord_width=4)).shape == (1, 16)


def test_too_many_columns_for_widest_coordinate_field():
    with pytest.raises(ValueError, match=r"^`columns` must be at most 16777216 for the widest"):
        Layout.of(EncodingParams(), 1, (1 << 24) + 1)


def test_offset_field_overflow_rejected():
    p = EncodingParams(entry_width=32, coord_width=24, force_format="dense", value_width=32)
    with pytest.raises(
        ValueError, match=r"^image of \d+ words does not fit the 5-bit offset field"
    ):
        encode(np.ones((20, 4), np.int64), p)


@pytest.mark.parametrize(
    ("rows", "cols", "exc", "message"),
    [
        ([5], [0], ValueError, r"^`rows` must be from 0 to 1, not 5$"),
        ([0], [-1], ValueError, r"^`cols` must be from 0 to 3, not -1$"),
        ([0.5], [0], TypeError, r"^`rows` must be integers, not float64$"),
    ],
)
def test_bad_queries_rejected(rows, cols, exc, message):
    image = encode(np.ones((2, 4), np.int64), EncodingParams())
    with pytest.raises(exc, match=message):
        lookup(image, rows, cols)


def test_lookup_broadcasts_and_expand_scalar():
    values = np.arange(12).reshape(3, 4) - 6
    image = encode(values, EncodingParams(value_width=8))
    assert lookup(image, 2, [0, 3]).tolist() == [2, 5]
    assert expand_rows(image, 1).tolist() == values[1].tolist()
    with pytest.raises(TypeError, match=r"^`image` must be a MemoryImage, not ndarray$"):
        lookup(values, 0, 0)


# --- the worked example of docs/memory-image.md --------------------------------------------

EXAMPLE_PARAMS = EncodingParams(value_width=8, word_width=32, burst_bytes=16, entry_width=32)


def example_table() -> np.ndarray:
    """Row 0 BITMAP (6 of 16 non-zero: 6 * 4 >= 16), row 1 COO (2 of 16), row 2 EMPTY."""
    table = np.zeros((3, 16), np.int64)
    table[0, [0, 2, 3, 8, 9, 15]] = [1, -1, 2, 100, -100, 127]
    table[1, [5, 12]] = [-5, 7]
    return table


def example_text() -> str:
    """The worked-example block of docs/memory-image.md, generated from the code."""
    image = encode(example_table(), EXAMPLE_PARAMS)
    lay = image.layout
    formats, nnz, offsets = image.directory()
    lines = [
        f"params: {EXAMPLE_PARAMS.to_json()}",
        f"table rows: {example_table().tolist()}",
        (
            f"coord_width={lay.coord_width} count_width={lay.count_width} "
            f"offset_width={lay.offset_width} directory_words={lay.directory_words} "
            f"payload_base={lay.payload_base} n_words={image.n_words}"
        ),
    ]
    for r in range(lay.rows):
        lines.append(
            f"row {r}: {Format(formats[r]).name:<6} nnz={nnz[r]} offset={offsets[r]} "
            f"payload_bits={image.row_bits()[r]} entry=0x{image.word(r):08x}"
        )
    for i in range(image.n_words):
        lines.append(f"word {i:2d}: 0x{image.word(i):08x}")
    lines.append(f"bytes: {image.body.tobytes().hex(' ')}")
    return "\n".join(lines)


def test_docs_worked_example_is_current():
    text = DOC.read_text()
    block = example_text()
    assert block in text, (
        "docs/memory-image.md is stale; regenerate its example block with "
        "`PYTHONPATH=tests python tests/models/test_image.py`"
    )


def test_example_rows_have_the_documented_formats():
    formats, _, _ = encode(example_table(), EXAMPLE_PARAMS).directory()
    assert formats.tolist() == [Format.BITMAP, Format.COO, Format.EMPTY]


def test_memory_image_is_read_only():
    image = encode(example_table(), EXAMPLE_PARAMS)
    with pytest.raises(ValueError, match="read-only"):
        image.body[0] = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        image.scale = 2.0


if __name__ == "__main__":
    print(example_text())


@settings(max_examples=40, derandomize=True, deadline=None)
@given(
    word_width=st.sampled_from([32, 64, 128]),
    value_width=st.sampled_from([5, 8, 16]),
    columns=st.sampled_from([3, 16, 50, 100]),
    density=st.sampled_from([0.0, 0.1, 0.5, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_burst_placement_costs_the_fewest_bursts(word_width, value_width, columns, density, seed):
    rng = np.random.default_rng(seed)
    hi = 1 << (value_width - 1)
    values = rng.integers(-hi, hi, (40, columns))
    values[rng.random(values.shape) >= density] = 0
    p = EncodingParams(value_width=value_width, word_width=word_width, placement="bursts")
    image = encode(values, p)
    packed = encode(values, dataclasses.replace(p, placement="packed"))
    formats, _, offsets = image.directory()
    words = image.layout.row_words(image.row_bits())
    bw = image.layout.burst_words
    touched = np.where(words > 0, (offsets + words - 1) // bw - offsets // bw + 1, 0)
    assert (touched == -(-words // bw)).all()  # never a burst more than the size needs
    assert image.n_words >= packed.n_words
    assert (expand_rows(image, np.arange(40)) == values).all()
    if (formats == Format.DENSE).all():  # every row DENSE: a fixed stride
        assert image.row_stride == image.layout.dense_stride > 0
        assert (offsets == image.layout.payload_base + np.arange(40) * image.row_stride).all()
