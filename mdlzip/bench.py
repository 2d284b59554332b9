"""mdlzip beside xz -9e, zstd -19 and bzip2 -9, with every round trip checked (`mdlzip bench`).

    rows = run_bench(["corpora/"], level=1)
    print(format_table(rows))

Sizes are bytes, bpb is bits per input byte, 1 MB = 10^6 bytes and 1 KB = 10^3 bytes.
"""
from __future__ import annotations

import bz2
import functools
import lzma
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import zstandard

from .api import compress_with_report, decompress
from .classical import XZ_PRESET, ZSTD_LEVEL
from .config import DEFAULT_LEVEL
from .errors import MdlzipError


class Codec(NamedTuple):
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]


BASELINES: dict[str, Codec] = {  # name (as its command line) -> codec; the first word names its row keys
    "xz -9e": Codec(functools.partial(lzma.compress, format=lzma.FORMAT_XZ, preset=XZ_PRESET), lzma.decompress),
    "zstd -19": Codec(lambda data: zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data),
                      lambda blob: zstandard.ZstdDecompressor().decompress(blob)),
    "bzip2 -9": Codec(functools.partial(bz2.compress, compresslevel=9), bz2.decompress),
}

COLUMNS = {  # table header -> (row key, format); a missing value prints as "-"
    "file": ("file", "{}"),
    "bytes": ("bytes", "{:,}"),
    "mdlzip bytes": ("mdlzip_bytes", "{:,}"),
    "mdlzip bpb": ("mdlzip_bpb", "{:.3f}"),
    "method": ("method", "{}"),
    "neural bpb": ("neural_bpb", "{:.3f}"),
    "weights B": ("weights_bytes", "{:,}"),
    "data B": ("data_bytes", "{:,}"),
    **{f"{name} bpb": (f"{name.split()[0]}_bpb", "{:.3f}") for name in BASELINES},
    "compress s": ("compress_s", "{:.2f}"),
    "decompress s": ("decompress_s", "{:.2f}"),
    "compress s/MB": ("compress_s_per_mb", "{:.1f}"),
    "decompress KB/s": ("decompress_kb_per_s", "{:.1f}"),
}


class RoundTripError(MdlzipError):
    """A compressor did not give back the bytes it was given."""

    def __init__(self, filename: str, message: str):
        super().__init__(message)
        self.filename = filename


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """The files as given, each directory replaced by the files under it (sorted)."""
    files = []
    for path in map(Path, paths):
        files.extend(sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path])
    return files


def _bpb(size: int, n_bytes: int) -> float | None:
    return 8 * size / n_bytes if n_bytes else None


def bench_file(path: Path, level: int = DEFAULT_LEVEL, *, device: str = "auto", threads: int | None = None,
               fallback: bool = True, progress: bool = False) -> dict:
    """One row: mdlzip and every baseline on one file, round trips checked (RoundTripError if not)."""
    data, name = path.read_bytes(), str(path)
    t0 = time.perf_counter()
    archive, report = compress_with_report(data, level, device=device, threads=threads, fallback=fallback,
                                           progress=progress)
    t1 = time.perf_counter()
    if decompress(archive, device=device, threads=threads, progress=progress) != data:
        raise RoundTripError(name, "mdlzip round trip failed")
    t2 = time.perf_counter()
    n = len(data)
    row = {"file": name, "bytes": n, "level": level, "mdlzip_bytes": len(archive),
           "mdlzip_bpb": _bpb(len(archive), n), "method": report.method,
           "neural_bytes": report.neural_bytes, "neural_bpb": _bpb(report.neural_bytes, n),
           "nonzeros": report.nonzeros, "train_s": report.train_seconds, "code_s": report.code_seconds,
           "weights_bytes": report.sizes.get("weights"), "data_bytes": report.sizes.get("data"),
           "compress_s": t1 - t0, "decompress_s": t2 - t1,
           "compress_s_per_mb": (t1 - t0) / (n / 1e6) if n else None,
           "decompress_kb_per_s": n / 1e3 / (t2 - t1) if t2 > t1 else None}
    for baseline, codec in BASELINES.items():
        blob = codec.compress(data)
        if codec.decompress(blob) != data:
            raise RoundTripError(name, f"{baseline} round trip failed")
        key = baseline.split()[0]
        row[f"{key}_bytes"], row[f"{key}_bpb"] = len(blob), _bpb(len(blob), n)
    return row


def run_bench(paths: Iterable[str | Path], level: int = DEFAULT_LEVEL, **options) -> list[dict]:
    """Rows of `bench_file` (options: device, threads, fallback, progress) for every file under `paths`."""
    return [bench_file(path, level, **options) for path in expand(paths)]


def format_table(rows: list[dict]) -> str:
    """A Markdown table, one row per file."""
    align = ["---" if key in ("file", "method") else "---:" for key, _ in COLUMNS.values()]
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
    for row in rows:
        cells = ["-" if row.get(key) is None else fmt.format(row[key]) for key, fmt in COLUMNS.values()]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
