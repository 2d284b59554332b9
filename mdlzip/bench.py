"""`mdlzip bench`: mdlzip beside classical compressors on the same bytes, round trips checked."""
from __future__ import annotations

import bz2
import lzma
import time
from collections.abc import Callable
from pathlib import Path

import zstandard

from . import api

Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]

BASELINES: dict[str, Codec] = {
    "xz -9e": (lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME), lzma.decompress),
    "zstd -19": (lambda d: zstandard.ZstdCompressor(level=19).compress(d),
                 lambda b: zstandard.ZstdDecompressor().decompress(b, max_output_size=1 << 34)),
    "bzip2 -9": (lambda d: bz2.compress(d, 9), bz2.decompress),
}


def expand(paths) -> list[Path]:
    """Files as given; directories replaced by their files, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p])
    return out


def bench_file(path: Path, level: int, **options) -> dict:
    data = path.read_bytes()
    t0 = time.perf_counter()
    archive, report = api.compress_with_report(data, level, **options)
    t1 = time.perf_counter()
    restored = api.decompress(archive, device=options.get("device", "auto"), threads=options.get("threads"))
    t2 = time.perf_counter()
    if restored != data:
        raise RuntimeError(f"{path}: mdlzip round trip failed")
    n = max(1, len(data))
    row = {"file": str(path), "bytes": len(data), "level": level, "mdlzip_bytes": len(archive),
           "mdlzip_bpb": 8 * len(archive) / n, "method": report.method, "neural_bytes": report.neural_bytes,
           "weights_bytes": report.sizes.get("weights"), "data_bytes": report.sizes.get("data"),
           "nonzeros": report.nonzeros, "compress_s": t1 - t0, "decompress_s": t2 - t1,
           "train_s": report.train_seconds, "code_s": report.code_seconds}
    for name, (enc, dec) in BASELINES.items():
        blob = enc(data)
        if dec(blob) != data:
            raise RuntimeError(f"{path}: {name} round trip failed")
        row[f"{name}_bpb"] = 8 * len(blob) / n
    return row


def run_bench(paths, level: int, *, threads: int | None = None, device: str = "auto", fallback: bool = True,
              progress: bool = False) -> list[dict]:
    return [bench_file(p, level, threads=threads, device=device, fallback=fallback, progress=progress)
            for p in expand(paths)]


def format_table(rows: list[dict]) -> str:
    """Markdown table: sizes in bytes, rates in bits per byte, times on this machine."""
    head = (["file", "bytes", "mdlzip bytes", "mdlzip bpb", "method", "neural bpb", "weights B", "data B"]
            + [f"{name} bpb" for name in BASELINES] + ["compress s", "decompress s", "compress s/MB",
                                                       "decompress KB/s"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        mb = max(r["bytes"], 1) / 1e6
        cells = [Path(r["file"]).name, f"{r['bytes']:,}", f"{r['mdlzip_bytes']:,}", f"{r['mdlzip_bpb']:.3f}",
                 r["method"], f"{8 * r['neural_bytes'] / max(r['bytes'], 1):.3f}",
                 f"{r['weights_bytes']:,}" if r["weights_bytes"] is not None else "-",
                 f"{r['data_bytes']:,}" if r["data_bytes"] is not None else "-"]
        cells += [f"{r[f'{name}_bpb']:.3f}" for name in BASELINES]
        cells += [f"{r['compress_s']:.1f}", f"{r['decompress_s']:.2f}", f"{r['compress_s'] / mb:.1f}",
                  f"{mb * 1000 / max(r['decompress_s'], 1e-9):.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
