"""Params: validation messages, YAML loading, unknown keys, round trips, shipped configs."""

import re
from pathlib import Path

import pytest

from rtnerf.errors import ConfigError
from rtnerf.params import (
    AdderSearchTreeParams,
    DramParams,
    EmbeddingLookupUnitParams,
    EngineParams,
    HybridRowDecoderParams,
    SparseSearchUnitParams,
)
from rtnerf.registry import BLOCKS, get_block

CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "blocks"


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({"leaves": 3}, ValueError, r"^`leaves` must be a power of two from 4 to 256, not 3$"),
        ({"leaves": 512}, ValueError, r"^`leaves` must be a power of two from 4 to 256, not 512$"),
        ({"leaves": 2}, ValueError, r"^`leaves` must be a power of two from 4 to 256, not 2$"),
        ({"leaves": "16"}, TypeError, r"^`leaves` must be an integer, not '16'$"),
        ({"leaves": True}, TypeError, r"^`leaves` must be an integer, not True$"),
        ({"coord_width": 0}, ValueError, r"^`coord_width` must be an integer from 1 to 32, not 0$"),
        ({"tag_width": 33}, ValueError, r"^`tag_width` must be an integer from 1 to 32, not 33$"),
    ],
)
def test_adder_search_tree_params_rejects(fields, error, message):
    with pytest.raises(error, match=message):
        AdderSearchTreeParams(**fields)


def test_derived_values():
    p = AdderSearchTreeParams(leaves=256, coord_width=4)
    assert (p.depth, p.index_width, p.key_width, p.latency) == (8, 9, 9, 17)
    assert AdderSearchTreeParams(leaves=4).latency == 5


def test_yaml_round_trip(tmp_path):
    p = AdderSearchTreeParams(leaves=64, coord_width=10, tag_width=3)
    path = tmp_path / "p.yaml"
    path.write_text(p.to_yaml())
    assert AdderSearchTreeParams.from_yaml(path) == p
    assert AdderSearchTreeParams.from_json(p.to_json()) == p
    assert p.digest() != AdderSearchTreeParams().digest()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: 1\nleavs: 4\n",
            (
                r"unknown key `leavs` in adder_search_tree params; allowed: "
                r"leaves, coord_width, tag_width$"
            ),
        ),
        ("leaves: 4\n", r"a config must be a mapping with a `version:` key$"),
        ("version: 2\nleaves: 4\n", r"`version` must be 1, not 2$"),
        ("version: 1\nkind: encoding\n", r"`kind` must be 'adder_search_tree' for these params"),
        ("version: 1\nleaves: 3\n", r"p.yaml: `leaves` must be a power of two from 4 to 256"),
        ("version: 1\nleaves: [4\n", r"p.yaml: not valid YAML"),
        ("- 1\n- 2\n", r"a config must be a mapping"),
    ],
)
def test_yaml_errors(tmp_path, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        AdderSearchTreeParams.from_yaml(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"version: 1\nleaves: 4  # \xff\n",
            r"p.yaml: not a UTF-8 text file \(byte 0xff at offset 24\)$",
        ),
        (b"version: 1\nleaves: .inf\n", r"p.yaml: `leaves` must be a finite number, not inf$"),
        (
            b"version: 1\nx: {y: [1, .nan]}\n",
            r"p.yaml: `x.y\[1\]` must be a finite number, not nan$",
        ),
        (b"version: 1\nx: &a [*a]\n", r"p.yaml: config nested too deeply \(or refers to itself\)$"),
        (b"version: 1\n1: 2\nfoo: 3\n", r"p.yaml: unknown key `1` in adder_search_tree params"),
    ],
)
def test_yaml_bytes_errors(tmp_path, data, message):
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    with pytest.raises(ConfigError, match=message):
        AdderSearchTreeParams.from_yaml(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match=r"cannot read config"):
        AdderSearchTreeParams.from_yaml(tmp_path / "nope.yaml")


def test_every_block_ships_a_default_config_equal_to_its_defaults():
    for name, block in BLOCKS.items():
        default = CONFIGS / name / "default.yaml"
        assert default.is_file(), f"{name} has no configs/blocks/{name}/default.yaml"
        assert block.load_params(default) == block.load_params(None)
        for path in (CONFIGS / name).glob("*.yaml"):
            block.load_params(path)  # every shipped config is valid


def test_the_default_design_is_the_engines_defaults():
    assert get_block("engine").load_params(CONFIGS.parent / "default.yaml") == EngineParams()


def test_unknown_block():
    with pytest.raises(ConfigError, match=r"^unknown block 'nope'; available: adder_search_tree"):
        get_block("nope")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lanes": 0}, r"^`lanes` must be an integer from 1 to 16, not 0$"),
        ({"window": 65}, r"^`window` must be an integer from 1 to 64, not 65$"),
        ({"index_width": 25}, r"^`index_width` must be an integer from 1 to 24, not 25$"),
    ],
)
def test_sparse_search_unit_params_rejects(fields, message):
    with pytest.raises(ValueError, match=message):
        SparseSearchUnitParams(**fields)


def test_sparse_search_unit_derived_values():
    p = SparseSearchUnitParams(lanes=8, window=32, index_width=8)
    assert (p.lane_count_width, p.window_count_width, p.max_row_length) == (4, 6, 255)
    assert p.row_cycles(windows=3, groups=2) == 4


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"leaves": 64, "word_width": 32},
            r"^`leaves` must be a power of two from 4 to 32, not 64$",
        ),
        ({"columns": 1}, r"^`columns` must be an integer from 2 to 4096, not 1$"),
        (
            {"columns": 300, "coord_width": 8},
            r"^`coord_width` 8 cannot address 300 columns; it must",
        ),
        ({"coo_capacity": 200}, r"^`coo_capacity` must be an integer from 1 to 128, not 200$"),
        ({"entry_width": 48}, r"^`entry_width` must be one of 32, 64, not 48$"),
    ],
)
def test_hybrid_row_decoder_params_rejects(fields, message):
    with pytest.raises(ValueError, match=message):
        HybridRowDecoderParams(**fields)


def test_hybrid_row_decoder_derived_values():
    p = HybridRowDecoderParams(columns=200, value_width=12, leaves=16, window=5)
    # ceil(log2 200) = 8 bits per coordinate; COO is chosen below 200 / 8 = 25 entries.
    assert (p.coord_bits, p.count_width, p.capacity, p.chunks) == (8, 9, 24, 13)
    assert p.tree == AdderSearchTreeParams(leaves=16, coord_width=8, tag_width=4)
    assert p.search_unit == SparseSearchUnitParams(
        lanes=1, window=5, coord_width=8, index_width=9, tag_width=1
    )
    assert p.encoding(burst_bytes=64).coord_width is None
    assert p.max_row_words == -(-200 * 13 // 64)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"lanes": 3}, r"^`lanes` must divide `decoder.columns` 64, not 3$"),
        ({"pooling": "max"}, r"^`pooling` must be one of 'sum', 'mean', 'weighted', not 'max'$"),
        ({"overflow": "clip"}, r"^`overflow` must be one of 'saturate', 'wrap', not 'clip'$"),
        ({"pooling": "mean", "acc_width": 48, "weight_frac_bits": 16}, r"at most 62 for mean"),
        ({"decoder": {"columns": 1}}, r"^`columns` must be an integer from 2 to 4096, not 1$"),
        ({"inflight": 0}, r"^`inflight` must be an integer from 1 to 64, not 0$"),
        ({"directory": "flash"}, r"^`directory` must be one of 'dram', 'sram', not 'flash'$"),
        (
            {"directory": "sram", "decoder": {"word_width": 32, "entry_width": 64}},
            r"^`directory: sram` needs words at least as wide as an entry",
        ),
        ({"directory_rows": 0}, r"^`directory_rows` must be an integer from 1 to 65536, not 0$"),
        (
            {"entry_cache_lines": 12},
            r"^`entry_cache_lines` must be a power of two from 2 to 1024, not 12$",
        ),
        (
            {"entry_cache_lines": 8, "directory": "sram"},
            r"^`entry_cache_lines` needs `directory: dram`",
        ),
    ],
)
def test_embedding_lookup_unit_params_reject(fields, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingLookupUnitParams().replace(**fields)


def test_request_slot_derived_values():
    p = EmbeddingLookupUnitParams().replace(
        decoder={"columns": 64, "value_width": 16, "word_width": 128}, directory_rows=100
    )
    assert p.slot_words == -(-64 * 17 // 128)  # a full BITMAP row
    assert (p.entry_words, p.directory_words, p.entry_key_shift) == (1, 50, 1)
    narrow = EmbeddingLookupUnitParams().replace(decoder={"word_width": 32, "entry_width": 64})
    assert narrow.entry_words == 2
    # Two entries per 128-bit word: rows 2k and 2k + 1 share a key; the table sits above.
    keys = p.entry_keys([0, 0, 0, 1], [4, 5, 6, 4])
    assert keys.tolist() == [2, 2, 3, (1 << 19) + 2]


def test_dram_presets():
    assert DramParams.preset("ddr4") == DramParams()  # the default DRAM
    lp = DramParams.preset("lpddr4x")
    assert (lp.bytes_per_cycle, lp.latency) == (51, 100)
    assert DramParams.preset("lpddr4x", clock_mhz=800).bytes_per_cycle == 64
    assert DramParams.preset("hbm2e", latency=90).latency == 90
    loaded = EngineParams.from_dict({"dram": {"preset": "lpddr4x", "latency": 80}}).dram
    assert loaded == DramParams.preset("lpddr4x", latency=80)
    with pytest.raises(ValueError, match=r"^`preset` must be one of 'ddr4', 'lpddr4x', 'hbm2e'"):
        DramParams.preset("gddr6")
    with pytest.raises(ValueError, match=r"^`clock_mhz` must be a positive number, not 0"):
        DramParams.preset("ddr4", clock_mhz=0)


def test_engine_takes_up_to_64_units():
    assert EngineParams(units=64).id_width == 6
    with pytest.raises(ValueError, match=r"^`units` must be an integer from 1 to 64, not 65$"):
        EngineParams(units=65)


def test_embedding_lookup_unit_derived_values():
    p = EmbeddingLookupUnitParams(pooling="mean", weight_frac_bits=4, tables=5, max_bag=64)
    assert (p.table_width, p.bag_width, p.shift) == (3, 7, 8)
    assert [p.reciprocal(n) for n in (1, 2, 3, 7)] == [16, 8, 5, 2]  # round(16 / n), half up
    assert p.decoder.columns == p.dim == 64


def test_engine_params_nest_unit_and_port(tmp_path):
    from rtnerf.params import EngineParams, MemoryPortParams

    cfg = tmp_path / "e.yaml"
    cfg.write_text("version: 1\nkind: engine\nunits: 3\nunit: {decoder: {columns: 32}, lanes: 8}")
    p = EngineParams.from_yaml(cfg)
    assert (p.units, p.unit.dim, p.unit.lanes, p.port) == (3, 32, 8, MemoryPortParams())
    assert EngineParams.from_yaml(_write(tmp_path, p.to_yaml())) == p
    cfg.write_text("version: 1\nkind: engine\nunit: {dimm: 32}\n")
    with pytest.raises(ConfigError, match=r"in `unit`: unknown key `dimm` in embedding_lookup"):
        EngineParams.from_yaml(cfg)
    with pytest.raises(
        ValueError, match=r"^`port.word_width` 32 must equal `unit.decoder.word_width` 128$"
    ):
        EngineParams(port=MemoryPortParams(word_width=32))
    with pytest.raises(ValueError, match=r"^`port.len_width` 2 is too narrow: a row takes up to"):
        EngineParams(port=MemoryPortParams(len_width=2))


def test_unit_params_nest_the_decoders(tmp_path):
    unit = EmbeddingLookupUnitParams().replace(
        decoder={"columns": 16, "leaves": 4, "coo_capacity": 5}, lanes=4, tables=3
    )
    assert unit.to_dict()["decoder"] == unit.decoder.to_dict()
    assert EmbeddingLookupUnitParams.from_dict(unit.to_dict()) == unit
    assert EmbeddingLookupUnitParams.from_yaml(_write(tmp_path, unit.to_yaml())) == unit
    engine = EngineParams(unit=unit)
    assert EngineParams.from_dict(engine.to_dict()) == engine
    assert EngineParams.from_json(engine.to_json()) == engine
    # Fields left out of `decoder:` take the unit's defaults, not the decoder block's.
    cfg = _write(tmp_path, "version: 1\nkind: embedding_lookup_unit\ndecoder: {columns: 48}\n")
    got = EmbeddingLookupUnitParams.from_yaml(cfg).decoder
    assert got == HybridRowDecoderParams(columns=48, word_width=128, row_width=20)
    assert got.row_width != HybridRowDecoderParams().row_width
    assert (unit.dim, unit.word_width, unit.row_width) == (16, 128, 20)
    with pytest.raises(TypeError, match=r"^`decoder` must be HybridRowDecoderParams, not \{"):
        EmbeddingLookupUnitParams(decoder={"columns": 16})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: embedding_lookup_unit\ndim: 32\n", r"`dim` moved to `decoder.columns`$"),
        (
            "kind: embedding_lookup_unit\ndecoder: {columns: 32}\nrow_width: 8\n",
            r"`row_width` moved to `decoder.row_width`$",
        ),
        ("kind: engine\nunit: {dim: 32}\n", r"`unit.dim` moved to `unit.decoder.columns`$"),
        (
            "kind: engine\nunit: {lanes: 4, word_width: 64}\n",
            r"`unit.word_width` moved to `unit.decoder.word_width`$",
        ),
    ],
)
def test_flat_decoder_fields_are_refused_naming_where_they_moved(tmp_path, text, message):
    cfg = _write(tmp_path, "version: 1\n" + text)
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(cfg))}: {message}"):
        get_block(text.split()[1]).load_params(cfg)


def _write(tmp_path, text):
    path = tmp_path / "round.yaml"
    path.write_text(text)
    return path


def test_demo_params_are_defaults_or_a_cosimulated_corner():
    """`rtnerf demo` runs the defaults, or (with a reason) a corner the cosim tests cover."""
    from pathlib import Path

    from rtnerf.registry import BLOCKS

    configs = Path(__file__).resolve().parent.parent / "configs" / "blocks"
    for name, block in BLOCKS.items():
        params, why = block.demo_params()
        if why is None:
            assert params == block.params(), name
            continue
        corners = [block.load_params(path) for path in sorted((configs / name).glob("*.yaml"))]
        assert params in corners and params != block.params(), name


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_params_hand_out_the_blocks_pieces(name):
    """One object per block: its component, signature, golden model, cases and testbench."""
    import gc
    import warnings

    from amaranth.hdl import UnusedElaboratable

    params, _ = BLOCKS[name].demo_params()
    component = params.create()
    assert type(component).__module__ == f"rtnerf.rtl.{name}"
    assert component.params is params
    assert params.signature == component.signature
    with warnings.catch_warnings():  # the component is never elaborated: collect it now
        warnings.simplefilter("ignore", UnusedElaboratable)
        del component
        gc.collect()
    assert params.cases.__name__ == f"rtnerf.models.cases.{name}"
    assert params.testbench == type(params).testbench == f"rtnerf.sim.tb.{name}"
    if name == "memory_port":  # checked against the testbench's AXI DRAM model instead
        assert params.golden is None
    else:
        assert params.golden.__name__ == f"rtnerf.models.golden.{name}"


def test_params_load_without_the_hdl_toolchain():
    """Listing blocks and loading their params imports neither Amaranth, cocotb nor numba."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from rtnerf.registry import BLOCKS\n"
        "for block in BLOCKS.values():\n"
        "    block.load_params().testbench\n"
        "print(sorted(m for m in ('amaranth', 'cocotb', 'numba') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
