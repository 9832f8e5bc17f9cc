"""Fuzz every file format a user hands rtnerf: random bytes and mutations of valid files.

The contract (the CLI's): a file is read, or refused with an :class:`RtnerfError` whose message
is one line naming the file, which the CLI prints as ``rtnerf: error: ...`` with exit status 2.
Any other exception is a traceback for the user, and a failure here. Formats: the YAML design
config (a block's params; through ``rtnerf encode`` end to end), the study YAML, the trace
``.npz`` and the memory image. Mutations of the binary formats also go below their checksums:
the image's JSON header is edited and its CRC recomputed, the trace's arrays and ``meta`` are
replaced by arbitrary ones inside a valid archive.
"""

import contextlib
import io
import json
import os
import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtnerf import cli
from rtnerf.errors import RtnerfError
from rtnerf.models.image import FILE_HEADER, encode, read_image, write_image
from rtnerf.models.trace import FIELDS, random_bag_trace, read_trace, write_trace
from rtnerf.params import EncodingParams, EngineParams
from rtnerf.sweep import load_study

ROOT = Path(__file__).resolve().parents[1]
FUZZ = settings(
    max_examples=int(os.environ.get("RTNERF_FUZZ_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)

STUDY = b"""\
version: 1
kind: study
name: fuzz
design: default.yaml
parameters:
  units: [1, 2]
  unit.cache_ways: [0, 2]
  unit.decoder.word_width+port.word_width: [32, 64]
  encoding: [hybrid, dense]
sampling: {random: 3, seed: 1}
workload: {trace: text, bags: 10, seed: 1, max_bag: 32}
clock_mhz: 500.5
area: none
"""


@st.composite
def mutations(draw, valid: bytes) -> bytes:
    """``valid`` with a few bytes flipped, inserted, deleted, or cut short."""
    out = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = draw(st.integers(0, max(0, len(out) - 1)))
        if op == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del out[at : at + draw(st.integers(1, 8))]
        else:
            del out[at:]
    return bytes(out)


def yaml_edits(valid: bytes) -> st.SearchStrategy[bytes]:
    """``valid`` YAML with one scalar replaced by an arbitrary YAML value (types, .inf, ...)."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=10),
        st.lists(st.integers(-3, 3), max_size=3),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )
    doc = yaml.safe_load(valid)

    def paths(node, prefix=()):
        if isinstance(node, dict):
            for k, v in node.items():
                yield (*prefix, k)
                yield from paths(v, (*prefix, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield (*prefix, i)
                yield from paths(v, (*prefix, i))

    where = list(paths(doc))

    def edit(path, value):
        new = json.loads(json.dumps(doc))
        node = new
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return yaml.safe_dump(new).encode()

    return st.builds(edit, st.sampled_from(where), scalars)


def refused_in_one_line(read, data: bytes, suffix: str) -> None:
    """``read(path)`` of ``data`` succeeds or raises a one-line RtnerfError naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            read(path)
        except RtnerfError as exc:
            message = str(exc)
            assert "\n" not in message and "\r" not in message, message
            assert str(path) in message, message


def cli_status(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(argv)
    return status, err.getvalue()


# --- YAML design config -----------------------------------------------------------------------

ENGINE_YAML = (ROOT / "configs" / "default.yaml").read_bytes()
ENCODING_YAML = EncodingParams().to_yaml().encode()


@FUZZ
@given(st.one_of(st.binary(max_size=200), mutations(ENGINE_YAML), yaml_edits(ENGINE_YAML)))
def test_design_config(data):
    refused_in_one_line(EngineParams.from_yaml, data, ".yaml")


@settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 3))
@given(st.one_of(st.binary(max_size=100), mutations(ENCODING_YAML), yaml_edits(ENCODING_YAML)))
def test_design_config_through_the_cli(data):
    with tempfile.TemporaryDirectory() as tmp:
        table, config = Path(tmp) / "t.npy", Path(tmp) / "c.yaml"
        np.save(table, np.array([[0.0, 1.5, 0.0, -2.0], [0.0] * 4]))
        config.write_bytes(data)
        status, err = cli_status(
            ["encode", str(table), "-c", str(config), "-o", str(Path(tmp) / "o.img")]
        )
    assert status in (0, 2), err
    if status == 2:
        assert err.startswith("rtnerf: error: ") and err.count("\n") == 1, err


# --- study YAML -------------------------------------------------------------------------------


def read_study(path: Path):
    (path.parent / "default.yaml").write_bytes(ENGINE_YAML)
    return load_study(path)


@FUZZ
@given(st.one_of(st.binary(max_size=200), mutations(STUDY), yaml_edits(STUDY)))
def test_study(data):
    refused_in_one_line(read_study, data, ".yaml")


# --- trace .npz -------------------------------------------------------------------------------


def trace_bytes(arrays: dict, meta) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    return buf.getvalue()


VALID_TRACE = random_bag_trace(np.random.default_rng(1), [(16, 8)], 5, element_fraction=0.5)
with tempfile.TemporaryDirectory() as _tmp:
    write_trace(VALID_TRACE, Path(_tmp) / "t.npz")
    TRACE_NPZ = (Path(_tmp) / "t.npz").read_bytes()

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**66), 2**66), st.floats(), st.text()),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)
small_arrays = st.builds(
    lambda dtype, values: np.array(values).astype(dtype),
    st.sampled_from([np.uint8, np.uint16, np.int32, np.int64, np.bool_, np.float64]),
    st.lists(st.integers(-5, 20), max_size=8),
)


@st.composite
def trace_edits(draw):
    arrays = {f: getattr(VALID_TRACE, f) for f in FIELDS}
    meta = VALID_TRACE.meta()
    for _ in range(draw(st.integers(1, 3))):
        if draw(st.booleans()):
            field = draw(st.sampled_from(list(FIELDS)))
            if draw(st.booleans()):
                arrays[field] = draw(small_arrays)
            else:
                arrays.pop(field, None)
        else:
            key = draw(st.sampled_from([*meta, "extra"]))
            meta[key] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        meta = draw(json_values)
    return trace_bytes(arrays, meta)


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations(TRACE_NPZ), trace_edits()))
def test_trace(data):
    refused_in_one_line(read_trace, data, ".npz")


# --- memory image -----------------------------------------------------------------------------

_table = np.zeros((6, 40), np.int64)
_table[1, :] = np.arange(40) - 20
_table[2, ::9] = 3
_table[3, 5] = -7
with tempfile.TemporaryDirectory() as _tmp:
    write_image(encode(_table, EncodingParams()), Path(_tmp) / "v.img")
    IMAGE = (Path(_tmp) / "v.img").read_bytes()


def with_header(meta, body: bytes) -> bytes:
    """An image file holding ``meta`` and ``body`` with correct lengths and checksums."""
    text = json.dumps(meta).encode()
    head = FILE_HEADER.pack(
        b"RTNERFIM", 1, len(text), len(body), zlib.crc32(text), zlib.crc32(body)
    )
    return head + text + body


_, _, _nmeta, _nbody, _, _ = FILE_HEADER.unpack_from(IMAGE)
IMAGE_META = json.loads(IMAGE[FILE_HEADER.size : FILE_HEADER.size + _nmeta])
IMAGE_BODY = IMAGE[FILE_HEADER.size + _nmeta :]


@st.composite
def image_edits(draw):
    meta = json.loads(json.dumps(IMAGE_META))
    body = bytearray(IMAGE_BODY)
    for _ in range(draw(st.integers(1, 3))):
        what = draw(st.sampled_from(["params", "layout", "top", "body", "word"]))
        if what in ("params", "layout"):
            if not isinstance(meta.get(what), dict) or not meta[what]:
                continue
            key = draw(st.sampled_from(sorted(meta[what])))
            meta[what][key] = draw(json_values | st.integers(-3, 70))
        elif what == "top":
            meta[draw(st.sampled_from([*meta, "extra"]))] = draw(json_values)
        elif what == "body" and body:
            at = draw(st.integers(0, len(body) - 1))
            body[at] ^= 1 << draw(st.integers(0, 7))
        else:  # a whole word, to reach the directory's fields
            at = 4 * draw(st.integers(0, len(body) // 4 - 1))
            body[at : at + 4] = struct.pack("<I", draw(st.integers(0, 2**32 - 1)))
    return with_header(meta, bytes(body))


@FUZZ
@given(st.one_of(st.binary(max_size=300), mutations(IMAGE), image_edits()))
def test_memory_image(data):
    refused_in_one_line(read_image, data, ".img")
