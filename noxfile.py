"""nox sessions: tests, slow, lint, demo, cosim (per simulator), soak, bench and more.

Every session installs the project into its own virtual environment, so a machine needs only
Python and ``pip install nox``. uv is used as the venv backend when it is installed.
"""

import os

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

SIMULATORS = ("icarus", "verilator")


def install(session, *extras):
    spec = f".[{','.join(extras)}]" if extras else "."
    session.install("-e", spec)


def xdist():
    """pytest-xdist options: RTNERF_TEST_WORKERS workers (default: the CPUs, at most 4), and
    work stealing: under the default scheduling each worker queues a fixed share up front, and a
    worker left with a long co-simulation at the end ran alone for minutes while the other idled
    (a fresh-clone suite: 1,367 worker-seconds of tests in 1,003 s on 2 workers)."""
    workers = os.environ.get("RTNERF_TEST_WORKERS", str(max(1, min(os.cpu_count() or 1, 4))))
    return ["-n", workers, "--dist", "worksteal"]


@nox.session
def tests(session):
    """The test suite: every block co-simulated on both simulators; not the tests marked slow."""
    install(session, "dev")
    session.run("pytest", "-m", "not slow", *xdist(), "--durations=15", *session.posargs)


@nox.session
def slow(session):
    """The tests marked slow (run by CI after the suite): Icarus at each block's longest corner
    and on the RTL-vs-model checks (Verilator runs them in the suite), the idle-only and
    backpressure-only stream tests, the 12-unit roofline check and default design, synthesis,
    the wheel."""
    install(session, "dev")
    session.run("pytest", "-m", "slow", *xdist(), "--durations=15", *session.posargs)


@nox.session
def lint(session):
    """ruff: lint and format check."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def demo(session):
    """The main job on the default design: Verilog, cosim on every simulator, report."""
    install(session)
    session.run("rtnerf", "demo", *session.posargs)


@nox.session
@nox.parametrize("simulator", SIMULATORS)
def cosim(session, simulator):
    """Only the co-simulation tests, on one simulator."""
    install(session, "dev")
    session.run("pytest", "-m", "cosim", "-k", simulator, *xdist(), *session.posargs)


@nox.session
def bench(session):
    """Benchmarks: storage study and decoder/encoder throughput (writes benchmarks/results/)."""
    install(session)
    session.run("python", "benchmarks/storage_study.py")
    session.run("python", "benchmarks/decode_bench.py")


@nox.session
def soak(session):
    """Verilator soak: 100,000 random transactions per operation (the blocks' FRACTION of it for
    long transactions) on one (block, corner) pair chosen by a new seed, printed; successive runs
    rotate through the corners. RTNERF_COSIM_SEED / RTNERF_COSIM_SHARE repeat or widen a run
    ("0/1": every corner)."""
    install(session, "dev")
    seed = int(os.environ.get("RTNERF_COSIM_SEED") or int.from_bytes(os.urandom(4), "little"))
    share = os.environ.get("RTNERF_COSIM_SHARE") or str(seed)
    session.log(f"soak seed {seed}, share {share}")
    env = {"RTNERF_COSIM_COUNT": "100000", "RTNERF_COSIM_SEED": str(seed),
           "RTNERF_COSIM_SHARE": share}  # fmt: skip
    session.run(
        "pytest", "tests/sim/test_cosim.py", "-m", "cosim", "-k", "verilator", *xdist(),
        "--durations=5", *session.posargs, env=env,
    )  # fmt: skip


@nox.session(name="engine-cycles")
def engine_cycles(session):
    """RTL cycles and DRAM traffic of the engine's measured traces (5,000-bag random traces and
    the calibration set), both simulators (hours on 2 cores; resumes where it stopped), then
    the performance model's calibration table: benchmarks/results/."""
    install(session)
    session.run("python", "benchmarks/engine_cycles.py", "--calibration", *session.posargs)
    session.run("python", "benchmarks/perf_calibration.py")


@nox.session
def workloads(session):
    """The workload benchmarks on the real datasets (fetched and cached first): rtnerf bench for
    the hyperbolic, graph and text families, Poincaré training, graph locality (tens of minutes
    on 2 cores): benchmarks/results/."""
    install(session, "data")  # pyarrow and msgpack read GloVe's index and wordfreq's list
    session.run("rtnerf", "data", "fetch", "all")
    for family in ("hyperbolic", "graph", "text"):
        session.run("rtnerf", "bench", family, "-o", f"benchmarks/results/bench_{family}")
    session.run("python", "benchmarks/poincare_train.py", "mammals", "--dims", "2", "5", "10", "20")
    session.run("python", "benchmarks/graph_locality.py")


@nox.session
def nerf(session):
    """The NeRF benchmarks on the real scenes: uniform vs RT-NeRF renders, pruning and the sparse
    refit, the accelerator ablation, the sparse-embedding datapath at 800 x 800 and a tile
    through the RTL (a few hours on 2 cores the first time; fitted scenes are cached):
    benchmarks/results/."""
    install(session)
    session.run("rtnerf", "data", "fetch", "meshes", "frog")
    scripts = ("nerf_pipelines", "nerf_pruning", "nerf_ablation", "nerf_realtime", "nerf_tile")
    for script in scripts:
        session.run("python", f"benchmarks/{script}.py")
