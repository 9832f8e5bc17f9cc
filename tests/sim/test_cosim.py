"""Co-simulation of every block on Icarus and Verilator against its golden model.

Each block runs at two design corners from configs/blocks/<name>/ (three for the engine); the
Icarus runs of SLOW_ON_ICARUS_CORNERS and the stream tests of SLOW_COMBOS are marked slow
(``nox -s slow``, which CI runs after the suite). Every cocotb test its
testbench defines (discovered as cocotb does, :func:`rtnerf.sim.runner.discover_tests`: a
latency/throughput test and four idle-insertion x backpressure stream tests) runs as a separate
pytest item so that parallel workers share the work, except those in ELSEWHERE; the stream
tests together run RTNERF_COSIM_COUNT (default 5,000) random transactions per operation (a
fraction of it for blocks in FRACTION) plus the block's directed corners. Every test asserts
bit-exact results (and its stated latency or throughput) inside the simulator.

``nox -s soak`` runs the same tests on Verilator with RTNERF_COSIM_COUNT=100000, a new
RTNERF_COSIM_SEED each run and RTNERF_COSIM_SHARE set to that seed: one (block, corner) pair,
the seed modulo their number, so that successive CI runs soak the corners in turn.
"""

import os
import re
from pathlib import Path

import pytest

from rtnerf.registry import get_block
from rtnerf.sim.runner import build, cosim, discover_tests
from rtnerf.sim.stream import COMBOS
from rtnerf.sim.toolchain import SIMULATORS

COUNT = int(os.environ.get("RTNERF_COSIM_COUNT", "5000"))
SEED = int(os.environ.get("RTNERF_COSIM_SEED", "20261126"))
CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "blocks"
CORNERS = {
    "adder_search_tree": ["w4.yaml", "w256.yaml"],
    "sparse_search_unit": ["p1k4.yaml", "p8k32.yaml"],
    "hybrid_row_decoder": ["narrow.yaml", "wide.yaml"],
    "memory_port": ["o1.yaml", "w256.yaml"],
    "embedding_lookup_unit": ["mean.yaml", "wrap.yaml"],
    "engine": ["u1.yaml", "u4.yaml", "pair.yaml"],
    "texel_lookup": ["l2b4.yaml", "l3b8.yaml"],
}
#: Blocks whose transactions are long run this fraction of COUNT: a pooled bag is tens to
#: hundreds of cycles and exercises every column at once; a memory request is up to
#: 2**len_width - 1 words (about 150 on average at the wide corner) under random stalls.
FRACTION = {"embedding_lookup_unit": 0.2, "engine": 0.2, "memory_port": 0.05, "texel_lookup": 0.1}
#: Bags of the engine's measured trace test (bag sizes up to 64: about 30 requests each); the
#: 5,000-bag runs are the `engine_cycles` benchmark's.
TRACE_BAGS = max(1, COUNT // 200)
PAIRS = [(name, config) for name, configs in CORNERS.items() for config in configs]
#: Testbench tests that another suite runs, with the reason; every other test runs here.
ELSEWHERE = {
    ("texel_lookup", "test_tile"): "needs a NeRF tile job: tests/sim/test_texel_tile.py",
}


def _share(spec: str | None) -> range:
    """The indices into PAIRS that RTNERF_COSIM_SHARE selects: all when unset; "k/n" the pairs
    whose index is k modulo n; a lone integer k the one pair k modulo len(PAIRS)."""
    if not spec:
        return range(len(PAIRS))
    error = f"RTNERF_COSIM_SHARE must be 'k/n' with 0 <= k < n, or an integer k; got {spec!r}"
    try:
        k, n = (int(x) for x in spec.split("/")) if "/" in spec else (int(spec), None)
    except ValueError:
        raise ValueError(error) from None
    if n is None:
        k %= len(PAIRS)
        return range(k, k + 1)
    if not 0 <= k < n:
        raise ValueError(error)
    return range(k, len(PAIRS), n)


#: The corner of each block that Icarus co-simulates only in ``nox -s slow`` (the longest of
#: its corners there; for the engine, the four-unit one, so that Icarus still runs two engine
#: corners in the suite). Verilator runs every corner in the suite, Icarus every block.
SLOW_ON_ICARUS_CORNERS = {
    ("adder_search_tree", "w256.yaml"),
    ("sparse_search_unit", "p8k32.yaml"),
    ("hybrid_row_decoder", "wide.yaml"),
    ("memory_port", "w256.yaml"),
    ("embedding_lookup_unit", "wrap.yaml"),
    ("engine", "u4.yaml"),
    ("texel_lookup", "l3b8.yaml"),
}
#: Stream tests (indices into COMBOS) that run only in ``nox -s slow``: idle insertion alone and
#: backpressure alone. The suite keeps neither (every directed and random transaction at full
#: rate) and both at once (each side stalls half the cycles, independently). Every stream test
#: runs the block's whole directed table, so these two were about a third of the suite's
#: co-simulation time.
SLOW_COMBOS = {1, 2}
assert [COMBOS[i] for i in sorted(SLOW_COMBOS)] == [(0.5, 0.0), (0.0, 0.5)]


def _slow(simulator: str, name: str, config: str, test: str) -> bool:
    return (simulator == "icarus" and (name, config) in SLOW_ON_ICARUS_CORNERS) or any(
        test == f"test_stream/combo={i}" for i in SLOW_COMBOS
    )


CASES = [
    pytest.param(
        simulator,
        name,
        config,
        test,
        id=f"{simulator}-{name}-{config.removesuffix('.yaml')}-{test}",
        marks=pytest.mark.slow if _slow(simulator, name, config, test) else (),
    )
    for simulator in SIMULATORS
    for name, config in (PAIRS[i] for i in _share(os.environ.get("RTNERF_COSIM_SHARE")))
    for test in discover_tests(get_block(name).params.testbench)
    if (name, test) not in ELSEWHERE
]

pytestmark = pytest.mark.cosim


@pytest.mark.parametrize(("simulator", "name", "config", "test"), CASES, indirect=["simulator"])
def test_cosim(simulator, name, config, test, tmp_path):
    block = get_block(name)
    params = block.load_params(CONFIGS / name / config)
    built = build(params, simulator)
    count = max(1, int(COUNT * FRACTION.get(name, 1.0)))
    print(f"seed={SEED} count={count} run_dir={tmp_path}")
    summary = cosim(
        built,
        run_dir=tmp_path,
        seed=SEED,
        count=count,
        testcase=rf"\.{re.escape(test)}$",  # cocotb matches module.test
        tb_args={"bags": TRACE_BAGS},
    )
    assert summary["tests"] == 1, summary
    (record,) = summary["records"]
    assert summary["failures"] == 0 and summary["mismatches"] == 0, record
    if test.startswith("test_stream"):
        assert record["random_per_op"] * len(COMBOS) >= count, record
    if "dram_bytes_expected" in record:  # the engine: burst by burst in the TB, here in total
        assert record["dram_bytes"] == record["dram_bytes_expected"], record
        assert record["dram_burst_mismatches"] == 0, record


def test_share_selects_a_rotating_subset():
    assert list(_share(None)) == list(range(len(PAIRS)))
    parts = [list(_share(f"{k}/3")) for k in range(3)]
    assert sorted(i for part in parts for i in part) == list(range(len(PAIRS)))
    assert list(_share(str(len(PAIRS) + 2))) == [2]
    for bad in ("3/3", "1/0", "a/b", "-1/2", "x"):
        with pytest.raises(ValueError, match="RTNERF_COSIM_SHARE"):
            _share(bad)


def test_elsewhere_names_discovered_tests():
    for name, test in ELSEWHERE:
        assert test in discover_tests(get_block(name).params.testbench), (name, test)


def test_every_block_has_corners():
    from rtnerf.registry import BLOCKS

    assert set(CORNERS) == set(BLOCKS)


@pytest.mark.skipif(
    bool(os.environ.get("RTNERF_COSIM_SHARE")), reason="RTNERF_COSIM_SHARE selects a subset"
)
def test_the_suite_cosimulates_every_block_on_both_simulators():
    """``nox -s tests`` (not slow) keeps a stream test of every block on each simulator, with
    and without stalls; every combo of every corner still runs somewhere (``nox -s slow``)."""
    from rtnerf.registry import BLOCKS

    fast = {case.values for case in CASES if not case.marks}
    for simulator in SIMULATORS:
        for name in BLOCKS:
            streams = {t for s, n, _, t in fast if (s, n) == (simulator, name)}
            assert {"test_stream/combo=0", "test_stream/combo=3"} <= streams, (simulator, name)
    every = {case.values for case in CASES}
    for simulator in SIMULATORS:
        for name, config in PAIRS:
            for i in range(len(COMBOS)):
                assert (simulator, name, config, f"test_stream/combo={i}") in every
