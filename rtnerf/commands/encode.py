"""``rtnerf encode``: quantise a table, hybrid-encode it and write its memory image."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RtnerfError
from ..models.image import MemoryImage, encode_table, write_image
from ..models.quant import Quantized
from ..params import EncodingParams, Format
from ..runfolder import RunFolder

__all__ = ["SCHEMA", "SUMMARY_VERSION", "TableFileError", "register", "run", "summarize"]

#: Schema and version of ``summary.json`` (the header :class:`~rtnerf.runfolder.RunFolder` adds).
SCHEMA = "rtnerf.encode.summary"
SUMMARY_VERSION = 1


class TableFileError(RtnerfError, ValueError):
    """A table file that cannot be read or holds an unusable array."""


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``encode`` subcommand."""
    p = sub.add_parser(
        "encode",
        help="hybrid-encode a 2-D table (.npy) into a memory image",
        description="Quantise a 2-D table, store each row in its cheapest format (EMPTY, DENSE, "
        "BITMAP or COO) and write the memory image (see docs/memory-image.md).",
    )
    p.add_argument("table", type=Path, metavar="TABLE.npy", help="2-D numeric array (.npy)")
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        metavar="CONFIG.yaml",
        help="encoding params (kind: encoding); defaults if omitted",
    )
    p.add_argument(
        "-o", "--output", type=Path, required=True, metavar="IMAGE.bin", help="image file to write"
    )
    p.add_argument(
        "--report",
        type=Path,
        metavar="RUN_DIR",
        help="folder for config.yaml, summary.json and summary.txt",
    )
    p.set_defaults(func=run)


def _load_table(path: Path) -> np.ndarray:
    try:
        table = np.load(path, allow_pickle=False)
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0]
        raise TableFileError(f"{path}: cannot read table: {reason}") from None
    except ValueError as exc:
        raise TableFileError(
            f"{path}: not a valid .npy table: {str(exc).splitlines()[0]}"
        ) from None
    if not isinstance(table, np.ndarray):
        raise TableFileError(f"{path}: not a .npy file holding one array")
    return table


def summarize(image: MemoryImage, quantized: Quantized) -> dict[str, Any]:
    """Return the versioned summary of an encoded table (the ``summary.json`` contents).

    Parameters
    ----------
    image : MemoryImage
        The encoded table.
    quantized : Quantized
        Its quantisation report.

    Returns
    -------
    dict
        JSON-serialisable summary (without the run folder's header): rows per format,
        non-zeros, bits (payload, directory, padding), bits per non-zero, bytes versus dense,
        and the quantisation errors.
    """
    lay = image.layout
    rows, columns = image.shape
    formats, nnz, _ = image.directory()
    payload_bits = int(image.row_bits().sum())
    directory_bits = lay.rows * lay.entry_width
    total_bits = image.nbytes * 8
    nonzeros = int(nnz.sum())
    dense_bytes = math.ceil(rows * columns * lay.value_width / 8)

    def per_nz(bits: int) -> float | None:
        return bits / nonzeros if nonzeros else None

    return {
        "table": {
            "rows": rows,
            "columns": columns,
            "nonzeros": nonzeros,
            "density": nonzeros / (rows * columns),
        },
        "params": image.params.to_dict(),
        "layout": lay.to_dict(),
        "rows_per_format": {f.name.lower(): int(np.count_nonzero(formats == f)) for f in Format},
        "bits": {
            "payload": payload_bits,
            "directory": directory_bits,
            "padding": total_bits - payload_bits - directory_bits,
            "total": total_bits,
        },
        "bits_per_nonzero": {"payload": per_nz(payload_bits), "total": per_nz(total_bits)},
        "bytes": {
            "image": image.nbytes,
            "dense": dense_bytes,
            "image_over_dense": image.nbytes / dense_bytes,
            "float32": rows * columns * 4,
        },
        "quantization": {
            "value_width": quantized.value_width,
            "scale": quantized.scale,
            "max_abs_error": quantized.max_abs_error,
            "rms_error": quantized.rms_error,
            "flushed_to_zero": quantized.flushed,
        },
    }


def _text(summary: dict[str, Any], table: Path, output: Path) -> str:
    t, b, q = summary["table"], summary["bytes"], summary["quantization"]
    per = summary["bits_per_nonzero"]
    formats = ", ".join(f"{k.upper()} {v}" for k, v in summary["rows_per_format"].items())
    if per["payload"] is None:
        bpn = "n/a (no non-zeros)"
    else:
        bpn = f"{per['payload']:.2f} payload, {per['total']:.2f} with directory and padding"
    return "\n".join(
        [
            f"rtnerf encode: {table} ({t['rows']} x {t['columns']}) -> {output}",
            f"  rows per format:   {formats}",
            f"  non-zeros:         {t['nonzeros']} (density {t['density']:.4%})",
            f"  bits per non-zero: {bpn}",
            (
                f"  image:             {b['image']} bytes = {b['image_over_dense']:.3f} x dense "
                f"{q['value_width']}-bit ({b['dense']} bytes)"
            ),
            (
                f"  quantisation:      {q['value_width']}-bit, scale {q['scale']:.6g}, max error "
                f"{q['max_abs_error']:.3g}, RMS {q['rms_error']:.3g}, "
                f"{q['flushed_to_zero']} non-zeros flushed to zero"
            ),
        ]
    )


def run(args: argparse.Namespace) -> int:
    """Encode ``args.table`` into ``args.output``; print a summary; write the report folder."""
    params = EncodingParams.from_yaml(args.config) if args.config else EncodingParams()
    table = _load_table(args.table)
    try:
        image, quantized = encode_table(table, params)
    except (TypeError, ValueError) as exc:
        raise TableFileError(f"{args.table}: {exc}") from None
    try:
        write_image(image, args.output)
    except OSError as exc:
        raise RtnerfError(f"{args.output}: cannot write image: {exc.strerror}") from None
    summary = summarize(image, quantized)
    text = _text(summary, args.table, args.output)
    if args.report:
        with RunFolder(args.report) as folder:
            folder.write_text("config.yaml", params.to_yaml())
            folder.write_summary(summary, schema=SCHEMA, version=SUMMARY_VERSION)
            folder.write_text("summary.txt", text + "\n")
    print(text)
    return 0
