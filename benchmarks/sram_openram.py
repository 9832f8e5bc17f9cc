"""SRAM macros compiled with OpenRAM (FreePDK45, analytical models): the SRAM model's data.

For each ``(words, width)`` of :data:`GRID` OpenRAM (``pip install openram``; it needs
``numpy<2``, so it runs from its own virtual environment, ``--python``) compiles a single-port
(1 read/write) SRAM in FreePDK45 at the typical corner (TT, 1.0 V, 25 C) with its analytical
delay and power models (``analytical_delay = True``, no SPICE, no DRC/LVS; a few minutes per
macro here). From its outputs this script keeps:

* ``area_um2``: the generated layout's area (the ``.lib`` ``area``; the ``.lef`` size agrees);
* ``access_ns``: clock-to-``dout`` delay (``.lib`` ``cell_rise``, largest of its table);
* ``read_pj``, ``write_pj``: dynamic energy per access, the ``.lib`` ``internal_power`` of
  the read and write (mW at OpenRAM's event frequency ``default_event_frequency``, 100 MHz,
  times 10 ns), i.e. ``P / f``;
* ``leakage_mw``: ``cell_leakage_power``.

Writes ``models/physical/sram_openram_freepdk45.csv``, which :mod:`rtnerf.models.physical.sram`
fits (power laws in words and width).

    python benchmarks/sram_openram.py --python /tmp/openram-venv/bin/python --work /tmp/oram
    python benchmarks/sram_openram.py --collect-only --work /tmp/oram
"""

from __future__ import annotations

import argparse
import csv
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

#: ``(words, width)`` compiled. Larger macros (1024 x 64, 1024 x 16, 4096 x 16, 256 x 128) were
#: planned too, but on the shared 2-core VM the 1024 x 64 macro (64 kbit) had not finished its
#: layout after 95 minutes (29 CPU minutes) and was stopped: the fit covers 16-256 words and
#: 8-64 bits, and memories outside that are extrapolated (reports say so).
GRID = (
    (16, 16), (64, 16), (256, 16),
    (256, 8), (256, 32),
    (64, 64),
)  # fmt: skip

#: OpenRAM's ``default_event_frequency`` for FreePDK45 (MHz): its power is ``C V^2 f`` at it.
EVENT_MHZ = 100.0

CONFIG = """\
word_size = {width}
num_words = {words}
tech_name = "freepdk45"
nominal_corner_only = True
process_corners = ["TT"]
supply_voltages = [1.0]
temperatures = [25]
analytical_delay = True
check_lvsdrc = False
route_supplies = False
output_path = "{out}"
output_name = "{name}"
"""

OUT = Path(__file__).resolve().parent.parent / "models" / "physical" / "sram_openram_freepdk45.csv"
FIELDS = ("words", "width", "bits", "words_per_row", "area_um2", "width_um", "height_um",
          "access_ns", "read_pj", "write_pj", "leakage_mw", "openram", "compile_s")  # fmt: skip


def name(words: int, width: int) -> str:
    return f"sram_{width}x{words}"


def compile_one(python: str, work: Path, words: int, width: int) -> float:
    n = name(words, width)
    cfg = work / f"cfg_{n}.py"
    cfg.write_text(CONFIG.format(width=width, words=words, out=work / f"out_{n}", name=n))
    compiler = subprocess.run(
        [python, "-c", "import openram, os; print(os.path.dirname(openram.__file__))"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    start = time.perf_counter()
    with (work / f"log_{n}.txt").open("w") as log:
        subprocess.run([python, f"{compiler}/sram_compiler.py", str(cfg)], cwd=work, stdout=log,
                       stderr=subprocess.STDOUT, check=True)  # fmt: skip
    return time.perf_counter() - start


def _floats(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?", text)]


def collect(work: Path, words: int, width: int) -> dict | None:
    n = name(words, width)
    out = work / f"out_{n}"
    libs = sorted(out.glob(f"{n}_TT_*.lib"))
    lef = out / f"{n}.lef"
    if not libs or not lef.exists():
        return None
    lib = libs[0].read_text()
    area = float(re.search(r"area\s*:\s*([\d.]+)", lib).group(1))
    size = re.search(r"SIZE\s+([\d.]+)\s+BY\s+([\d.]+)", lef.read_text())
    # dout pins: clock-to-q arcs (cell_rise/cell_fall tables).
    tables = re.findall(r"cell_rise\(\w+\)\s*\{\s*values\(([^;]*)\);", lib)
    rises = [max(_floats(m)) for m in tables]
    powers = re.findall(
        r'when\s*:\s*"([^"]*)";\s*rise_power\(scalar\)\s*\{\s*values\("([^"]+)"\);', lib
    )
    when = {w.replace(" ", ""): float(v) for w, v in powers}
    read, write = [when["!csb0&web0"]], [when["!csb0&!web0"]]
    leak = float(re.search(r"(?<!default_)cell_leakage_power\s*:\s*([\d.eE+-]+)", lib).group(1))
    log = (work / f"log_{n}.txt").read_text() if (work / f"log_{n}.txt").exists() else ""
    wpr = re.search(r"words_per_row,(\d+)", (out / "datasheet.info").read_text())
    version = re.search(r"OpenRAM v([\d.]+)", log)
    mw_to_pj = 1e-3 / (EVENT_MHZ * 1e6) * 1e12
    return {
        "words": words,
        "width": width,
        "bits": words * width,
        "words_per_row": int(wpr.group(1)) if wpr else "",
        "area_um2": area,
        "width_um": float(size.group(1)),
        "height_um": float(size.group(2)),
        "access_ns": max(rises),
        "read_pj": max(read) * mw_to_pj,
        "write_pj": max(write) * mw_to_pj,
        "leakage_mw": leak,
        "openram": version.group(1) if version else "",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=sys.executable, help="a Python with openram")
    parser.add_argument("--work", type=Path, default=Path("runs/sram_openram"))
    parser.add_argument("--collect-only", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows = []
    for words, width in GRID:
        seconds = ""
        if not args.collect_only and collect(args.work, words, width) is None:
            seconds = round(compile_one(args.python, args.work, words, width))
        row = collect(args.work, words, width)
        if row is None:
            print(f"{name(words, width)}: no results", file=sys.stderr)
            continue
        row["compile_s"] = seconds
        rows.append(row)
        print(f"{name(words, width)}: {row['area_um2']:.0f} um2, {row['access_ns']:.3f} ns, "
              f"{row['read_pj']:.2f} pJ", file=sys.stderr)  # fmt: skip
    with args.out.open("w", newline="") as f:
        f.write(
            f"# OpenRAM analytical SRAM macros, FreePDK45 TT 1.0 V 25 C, 1 read/write port; "
            f"energy = internal power / {EVENT_MHZ:g} MHz event frequency; made by "
            f"benchmarks/sram_openram.py on {platform.node()} (2-core VM, shared)\n"
        )
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v)
                             for k, v in row.items()})  # fmt: skip


if __name__ == "__main__":
    main()
