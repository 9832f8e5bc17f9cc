"""``rtnerf render``: render a fitted TensoRF scene by uniform marching or the RT-NeRF pipeline.

For each view the unpruned model is rendered by the uniform marcher (the reference), then by
the chosen pipeline for every ``--density``: the model's factor planes magnitude-pruned to that
density (or, with ``--refit``, the sparse refit at that density), quantised and hybrid-encoded
(:mod:`rtnerf.workloads.nerf.storage`; density 1 is the unpruned model, only quantised). Each
frame's PSNR against the reference, its work counters, embedding element reads and DRAM bytes
per storage (each needed burst of the touched rows once per frame) go to ``summary.json``;
images to ``view_VVV_dD.png``. The accelerator's energy per frame (mJ, hybrid storage, by
component: :func:`rtnerf.workloads.nerf.study.frame_energy`) goes with them, and a stacked plot to
``energy.png``. The rendering, accounting and summary live in :mod:`rtnerf.workloads.nerf.study`.
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..errors import RtnerfError
from ..runfolder import RunFolder, progress

__all__ = ["register", "run"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``render`` subcommand."""
    from ..workloads.nerf import SCENES

    p = sub.add_parser(
        "render",
        help="render a TensoRF scene (uniform or RT-NeRF pipeline), PSNR, work and DRAM bytes",
        description="Fit (or load from the cache) a TensoRF VM model of a scene made from real "
        "scans, render views by uniform ray marching or the RT-NeRF cube pipeline, and report "
        "PSNR against the unpruned uniform render, samples, embedding reads and DRAM bytes per "
        "frame for dense / bitmap / COO / hybrid storage of the factor tables.",
    )
    p.add_argument("scene", choices=sorted(SCENES), help="scene name")
    p.add_argument("--pipeline", choices=("uniform", "rtnerf"), default="rtnerf")
    p.add_argument("--resolution", type=int, default=200, help="image width = height (pixels)")
    p.add_argument("--views", type=int, default=4, help="views on a circle around the scene")
    p.add_argument("--grid", type=int, default=128, help="factor grid vertices per axis")
    p.add_argument("--density-components", type=int, default=16, metavar="R_SIGMA")
    p.add_argument("--app-components", type=int, default=48, metavar="R_C")
    p.add_argument(
        "--density",
        type=float,
        nargs="+",
        default=[1.0],
        metavar="D",
        help="plane densities to prune to (fraction of non-zeros kept per plane tensor)",
    )
    p.add_argument(
        "--refit",
        choices=("l0", "l1"),
        default=None,
        help="instead of magnitude-pruning the dense fit, use the sparse refit at each --density "
        "below 1 (cached under its own key)",
    )
    g = p.add_argument_group(
        "datapath", "estimate the first view on the sparse-embedding datapath (issue 15)"
    )
    g.add_argument("--datapath", action="store_true", help="report the datapath's frames/s")
    g.add_argument("--lanes", type=int, default=4, help="decode lanes")
    g.add_argument("--banks", type=int, default=16, help="buffer banks (4 parity classes)")
    g.add_argument("--bank-width", type=int, default=256, help="bits per bank word")
    g.add_argument("--sram-kib", type=int, default=2048, help="buffer capacity (KiB)")
    g.add_argument("--macs", type=int, default=512, help="MACs per cycle")
    g.add_argument("--clock-mhz", type=float, default=1000.0, help="clock (MHz)")
    g.add_argument("--dram", default="lpddr4-3200x64", help="DRAM class")
    p.add_argument("-o", "--output", type=Path, default=None, metavar="RUN_DIR")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    for name, lo, hi in (
        ("resolution", 8, 4096),
        ("views", 1, 1000),
        ("grid", 8, 512),
        ("density_components", 1, 512),
        ("app_components", 3, 512),
    ):
        v = getattr(args, name)
        if not lo <= v <= hi:
            flag = "--" + name.replace("_", "-")
            raise RtnerfError(f"{flag} must be in {lo}..{hi}, not {v}")
    for d in args.density:
        if not 0 < d <= 1:
            raise RtnerfError(f"--density must be in (0, 1], not {d}")


def run(args: argparse.Namespace) -> int:
    """Render the views; write PNGs, ``summary.json`` and ``summary.txt``; print the summary."""
    _check(args)
    out = args.output or Path("runs") / f"render-{args.scene}-{time.strftime('%Y%m%d-%H%M%S')}"
    with RunFolder(out) as folder:
        return _render(args, folder)


def _png(folder: RunFolder, name: str, image: np.ndarray) -> None:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.imsave(buf, image, format="png")
    folder.write_bytes(name, buf.getvalue())


def _render(args: argparse.Namespace, folder: RunFolder) -> int:
    from ..workloads.nerf import render as rd
    from ..workloads.nerf import study
    from ..workloads.nerf.fit import load_or_fit

    datapath = None
    if args.datapath:
        from ..models.perf.nerf import DatapathParams

        try:
            datapath = DatapathParams(
                lanes=args.lanes,
                banks=args.banks,
                bank_width=args.bank_width,
                sram_bytes=args.sram_kib * 1024,
                macs_per_cycle=args.macs,
                clock_hz=args.clock_mhz * 1e6,
                dram=args.dram,
            )
        except (TypeError, ValueError) as exc:
            raise RtnerfError(f"datapath: {exc}") from None

    def fit(**sparse: Any) -> Any:
        return load_or_fit(
            args.scene,
            args.grid,
            args.density_components,
            args.app_components,
            progress=lambda msg: tqdm.write(f"rtnerf render: {msg}"),
            **sparse,
        )

    model = fit()
    variants = []
    for d in args.density:
        if args.refit and d < 1:
            refit = fit(plane_density=d, sparsity=args.refit)
            variants.append(study.Variant(d, refit, f"refit-{args.refit}"))
        else:
            variants.append(study.Variant(d, model, "prune"))
    cams = rd.orbit_cameras(args.views, args.resolution)
    bar = progress(total=len(cams) * (1 + len(variants)), desc=f"render {args.scene}", unit="frame")
    result = study.run_study(
        model,
        cams,
        variants,
        args.pipeline,
        on_image=lambda name, image: _png(folder, f"{name}.png", image),
        on_frame=bar.update,
        datapath=datapath,
    )
    bar.close()
    summary = study.summary(result)
    summary["refit"] = args.refit
    text = study.summary_text(summary)
    # The run folder writes schema, version, rtnerf and machine first.
    for key in ("schema", "version", "machine"):
        summary.pop(key)
    folder.write_summary(summary, schema="rtnerf.render.summary", version=study.SUMMARY_VERSION)
    folder.write_text("summary.txt", text + "\n")
    from ..physical import energy_bars

    energy_bars(
        [f"density {r['density']:g}" for r in summary["results"]],
        [r["energy"] for r in summary["results"]],
        folder.path / "energy.png",
        title=f"{args.scene}: accelerator energy per frame",
        unit="mJ/frame",
        per="components_pj",
        scale=1e-9,
    )
    print(text)
    print(f"  wrote {folder.path}")
    return 0
