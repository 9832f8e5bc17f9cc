"""benchmarks/physical_blocks.py: the report's SRAM column counts numbered instances once."""

from conftest import benchmark_script


def test_macro_summary_counts_numbered_instances():
    summary = benchmark_script("physical_blocks").macro_summary
    macros = (
        "engine.queue0/storage 63x45; engine.queue1/storage 63x45; engine.queue10/storage 63x45; "
        "engine.unit0.slots/slots 36x128; engine.unit11.slots/slots 36x128; engine.out/q 8x64"
    )
    assert summary(macros) == (
        "3 x engine.queue*/storage 63x45; 2 x engine.unit*.slots/slots 36x128; engine.out/q 8x64"
    )
    assert summary("embedding_lookup_unit.slots/slots 36x128") == (
        "embedding_lookup_unit.slots/slots 36x128"
    )
    assert summary("") == "-"


def test_designs_leave_out_skipped_blocks():
    designs = benchmark_script("physical_blocks").designs
    assert not any(name == "texel_lookup" for _, name, _ in designs(("texel_lookup",)))
    assert sum(name == "engine" for _, name, _ in designs(("texel_lookup",))) == 2
