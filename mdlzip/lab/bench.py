"""`mdlzip bench`: mdlzip configurations beside classical compressors, every round trip checked.

    result = run_bench(["corpora/"], [Config(1), Config(1, {"pure": True})])
    print(format_table(result))

The result is a JSON-ready dict (SCHEMA, version SCHEMA_VERSION):

    {"schema": "mdlzip-bench", "version": 1, "mdlzip": str, "created": ISO 8601 UTC,
     "machine": {"platform", "python", "torch", "cpu_count", "threads"},
     "settings": {"configs": [{"name", "level", "options"}], "baselines": [label], "skipped": {label: why},
                  "chunk": int, "isolated": bool, "prequential": first block (bytes) or null},
     "files": [{"file", "bytes", "sha256",
                "mdlzip": [{"config", "level", "options", "method", "archive_bytes", "bpb",
                            "header_bytes", "model_bytes", "data_bytes", "sizes", "params", "nonzeros",
                            "candidates", "train_s", "code_s", "compress_s", "decompress_s",
                            "compress_peak_mb", "decompress_peak_mb", "process_base_mb",
                            "prequential_bytes", "prequential_bpb"}],
                "baselines": {key: {"name", "bytes", "bpb", "compress_s", "decompress_s"}}}]}

header_bytes is the container (header, checksums) plus the stored configuration; model_bytes the
weights; data_bytes the coded data (the payload for a classical fallback). Peak memory is the
peak resident set size during the call alone: the kernel's high-water mark (VmHWM) is reset just
before it (Linux /proc/self/clear_refs; elsewhere the peaks are None), so it includes what the
process held then (process_base_mb: interpreter, torch, the input) but not the transient peak of
start-up and imports (which ru_maxrss, never decreasing, would report instead). With `isolate`
(the default) each compression and each decompression runs in a fresh process (multiprocessing
'spawn'), so nothing that an earlier job allocated and freed lowers or raises the number. Sizes are
bytes, bpb is bits per input byte, MB = 10^6 bytes; times are wall-clock seconds of the call alone.
"""
from __future__ import annotations

import bz2
import datetime
import errno
import hashlib
import lzma
import multiprocessing
import os
import platform
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import zstandard

from .. import __version__
from ..api import compress_with_report, decompress
from ..classical import XZ_PRESET, ZSTD_LEVEL
from ..errors import MdlzipError, OptionError
from ..levels import DEFAULT_LEVEL, LEVELS

SCHEMA, SCHEMA_VERSION = "mdlzip-bench", 1
CHUNK = LEVELS[DEFAULT_LEVEL].block_size  # chunk of the per-chunk LZMA2 baseline: the default context


class Codec(NamedTuple):
    compress: Callable[[bytes], bytes]
    decompress: Callable[[bytes], bytes]


@dataclass(frozen=True)
class Baseline:
    name: str  # the table's label; {chunk} is filled in
    make: Callable[[int], Codec]  # chunk length -> codec; ImportError when an optional package is absent
    extra: str | None = None  # the pip extra that installs it


def _lzma2_chunks(chunk: int) -> Codec:
    """Raw LZMA2 -9e restarted on every `chunk` bytes, sizes summed (the seed paper compares with
    xz restarted per context; raw streams leave out the .xz headers, >= 60 bytes per stream)."""
    filters = [{"id": lzma.FILTER_LZMA2, "preset": XZ_PRESET, "dict_size": max(4096, chunk)}]

    def compress(data: bytes) -> bytes:
        return b"".join(lzma.compress(data[i:i + chunk], lzma.FORMAT_RAW, filters=filters)
                        for i in range(0, len(data), chunk))

    def decompress(blob: bytes) -> bytes:
        out = []
        while blob:  # each raw stream ends with its end marker; the rest is the next one
            dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
            out.append(dec.decompress(blob))
            blob = dec.unused_data
        return b"".join(out)
    return Codec(compress, decompress)


def _brotli(chunk: int) -> Codec:
    import brotli
    return Codec(lambda d: brotli.compress(d, quality=11), brotli.decompress)


def _ppmd(chunk: int) -> Codec:
    """PPMd variant H (7-Zip's), order 6, 256 MiB, the stream prefixed with the original length
    (8 bytes, counted), which its decoder needs. (pyppmd's variant I failed to round-trip dickens
    and ptt5: "Corrupted input data".)"""
    import pyppmd
    order, mem = 6, 256 << 20

    def compress(data: bytes) -> bytes:
        enc = pyppmd.Ppmd7Encoder(order, mem)
        return len(data).to_bytes(8, "little") + enc.encode(data) + enc.flush()

    def decompress(blob: bytes) -> bytes:
        return pyppmd.Ppmd7Decoder(order, mem).decode(blob[8:], int.from_bytes(blob[:8], "little"))
    return Codec(compress, decompress)


def _zpaq(chunk: int) -> Codec:
    import zpaq
    return Codec(lambda d: zpaq.compress(d, 5, threads=1), zpaq.decompress)


BASELINES: dict[str, Baseline] = {  # key (JSON, --baselines) -> baseline
    "xz": Baseline("xz -9e", lambda c: Codec(lambda d: lzma.compress(d, lzma.FORMAT_XZ, preset=XZ_PRESET),
                                             lzma.decompress)),
    "lzma2-chunks": Baseline("LZMA2 -9e per {chunk} B", _lzma2_chunks),
    "zstd": Baseline("zstd -19", lambda c: Codec(lambda d: zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(d),
                                                 lambda b: zstandard.ZstdDecompressor().decompress(b))),
    "bzip2": Baseline("bzip2 -9", lambda c: Codec(lambda d: bz2.compress(d, 9), bz2.decompress)),
    "brotli": Baseline("brotli 11", _brotli, "baselines"),
    "ppmd": Baseline("PPMd H o6 256M", _ppmd, "baselines"),
    "zpaq": Baseline("zpaq -m5", _zpaq, "baselines"),
}


@dataclass(frozen=True)
class Config:
    """One mdlzip configuration: a level and keyword options of `api.compress_with_report`."""

    level: int = DEFAULT_LEVEL
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return " ".join([f"-{self.level}", *(f"{k}={v}" for k, v in self.options.items())])


class RoundTripError(MdlzipError):
    """A compressor did not give back the bytes it was given."""

    def __init__(self, filename: str, message: str):
        super().__init__(message)
        self.filename = filename


def expand(paths: Iterable[str | Path]) -> list[Path]:
    """The files as given, each directory replaced by the files under it (sorted); a path that does
    not exist is a FileNotFoundError before any work."""
    files = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        files.extend(sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path])
    return files


def _bpb(size: int | None, n_bytes: int) -> float | None:
    return 8 * size / n_bytes if n_bytes and size is not None else None


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 / 1e6 for line in f if line.startswith(key + ":"))  # kB


def _reset_peak() -> float | None:
    """Reset the kernel's peak-RSS mark of this process (Linux: /proc/self/clear_refs, 5); the
    resident memory now in MB, or None where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mb("VmRSS")
    except (OSError, StopIteration):
        return None


def _peak_mb(base: float | None) -> float | None:
    """Peak resident memory since `_reset_peak` (None if it could not reset)."""
    return None if base is None else _status_mb("VmHWM")


def _compress_job(path: str, config: Config, kw: dict, prequential: int | None) -> tuple[bytes, dict]:
    """Compress one file (in a child process with isolation); the archive and the measured row."""
    data = Path(path).read_bytes()
    base, t0 = _reset_peak(), time.perf_counter()
    archive, report = compress_with_report(data, config.level, **kw, **config.options)
    seconds, peak = time.perf_counter() - t0, _peak_mb(base)
    sizes = dict(report.sizes)
    row = {"config": config.name, "level": config.level, "options": dict(config.options), "method": report.method,
           "archive_bytes": len(archive), "bpb": _bpb(len(archive), len(data)),
           "header_bytes": sum(n for k, n in sizes.items() if k in ("header", "checksums", "config")),
           "model_bytes": sizes.get("weights", 0), "data_bytes": sizes.get("data", sizes.get("payload", 0)),
           "sizes": sizes, "params": report.params, "nonzeros": report.nonzeros,
           "candidates": dict(report.candidates), "train_s": report.train_seconds, "code_s": report.code_seconds,
           "compress_s": seconds, "compress_peak_mb": peak, "process_base_mb": base,
           "prequential_bytes": None, "prequential_bpb": None}
    if prequential:
        from .prequential import prequential_code_length
        pq = prequential_code_length(data, config.level, prequential, device=kw["device"], threads=kw["threads"],
                                     **config.options)
        row["prequential_bytes"], row["prequential_bpb"] = pq.total_bytes, pq.bits_per_byte
    return archive, row


def _decompress_job(path: str, archive: bytes, kw: dict) -> tuple[bool, float, float | None]:
    """Decode and compare with the file: (identical, seconds, peak MB)."""
    base, t0 = _reset_peak(), time.perf_counter()
    out = decompress(archive, **kw)
    seconds, peak = time.perf_counter() - t0, _peak_mb(base)
    return out == Path(path).read_bytes(), seconds, peak


def _in_child(func: Callable, *args):
    """func(*args) in a fresh 'spawn' process: no memory held or freed by earlier jobs counts."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(func, *args).result()


def bench_mdlzip(path: Path, config: Config, *, device: str = "auto", threads: int | None = None,
                 fallback: bool = True, progress: bool = False, isolate: bool = True,
                 prequential: int | None = None) -> dict:
    """One configuration on one file: compress, decompress, verify (RoundTripError if not identical);
    with `prequential` (the first block's bytes), the prequential code length too."""
    threads = torch.get_num_threads() if threads is None else threads  # a child would otherwise use all cores
    kw = {"device": device, "threads": threads, "progress": progress}
    run = (lambda f, *a: _in_child(f, *a)) if isolate else (lambda f, *a: f(*a))
    archive, row = run(_compress_job, str(path), config, dict(kw, fallback=fallback), prequential)
    same, seconds, peak = run(_decompress_job, str(path), archive, kw)
    if not same:
        raise RoundTripError(str(path), f"mdlzip {config.name} round trip failed")
    row.update(decompress_s=seconds, decompress_peak_mb=peak)
    return row


def available(keys: Iterable[str] | None = None, chunk: int = CHUNK) -> tuple[dict[str, Codec], dict[str, str]]:
    """The selected baselines that can run ({key: codec}) and those skipped ({name: why})."""
    codecs, skipped = {}, {}
    for key in BASELINES if keys is None else keys:
        if key not in BASELINES:
            raise OptionError(f"unknown baseline {key!r}; known: {', '.join(BASELINES)}")
        base = BASELINES[key]
        try:
            codecs[key] = base.make(chunk)
        except ImportError as exc:
            skipped[base.name.format(chunk=chunk)] = f"not installed ({exc.name}; pip install mdlzip[{base.extra}])"
    return codecs, skipped


def bench_baselines(path: Path, codecs: dict[str, Codec], chunk: int = CHUNK) -> dict[str, dict]:
    data, out = path.read_bytes(), {}
    for key, codec in codecs.items():
        t0 = time.perf_counter()
        blob = codec.compress(data)
        t1 = time.perf_counter()
        if codec.decompress(blob) != data:
            raise RoundTripError(str(path), f"{key} round trip failed")
        out[key] = {"name": BASELINES[key].name.format(chunk=chunk), "bytes": len(blob),
                    "bpb": _bpb(len(blob), len(data)), "compress_s": t1 - t0, "decompress_s": time.perf_counter() - t1}
    return out


def run_bench(paths: Iterable[str | Path], configs: Iterable[Config] = (Config(),), *,
              baselines: Iterable[str] | None = None, chunk: int = CHUNK, isolate: bool = True,
              prequential: int | None = None, **options) -> dict:
    """Every configuration and baseline on every file under `paths` (options: device, threads,
    fallback, progress, as for `bench_mdlzip`); the result described in the module docstring."""
    configs = list(configs)
    codecs, skipped = available(baselines, chunk)
    result = {"schema": SCHEMA, "version": SCHEMA_VERSION, "mdlzip": __version__,
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"platform": platform.platform(), "python": platform.python_version(),
                          "torch": torch.__version__, "cpu_count": os.cpu_count(),
                          "threads": options.get("threads") or torch.get_num_threads()},
              "settings": {"configs": [{"name": c.name, "level": c.level, "options": c.options} for c in configs],
                           "baselines": [BASELINES[k].name.format(chunk=chunk) for k in codecs],
                           "skipped": skipped, "chunk": chunk, "isolated": isolate, "prequential": prequential},
              "files": []}
    for path in expand(paths):
        data = path.read_bytes()
        result["files"].append({
            "file": str(path), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "mdlzip": [bench_mdlzip(path, c, isolate=isolate, prequential=prequential, **options) for c in configs],
            "baselines": bench_baselines(path, codecs, chunk)})
    return result


def _table(header: list[str], rows: list[list[str]], left: int = 1) -> str:
    align = ["---"] * left + ["---:"] * (len(header) - left)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def format_table(result: dict) -> str:
    """Markdown: bits per byte of every compressor per file, then the mdlzip configurations itemized."""
    configs = [c["name"] for c in result["settings"]["configs"]]
    keys = list(result["files"][0]["baselines"]) if result["files"] else []
    names = [result["files"][0]["baselines"][k]["name"] for k in keys] if keys else []
    bpb = _table(["file", "bytes", *(f"mdlzip {c}" for c in configs), *names],
                 [[f["file"], f"{f['bytes']:,}", *(_fmt(r["bpb"], ".3f") for r in f["mdlzip"]),
                   *(_fmt(f["baselines"][k]["bpb"], ".3f") for k in keys)] for f in result["files"]])
    preq = result["settings"]["prequential"]
    head = ["file", "config", "method", "archive B", "header B", "weights B", "data B", "bpb", "data bpb",
            *(["prequential bpb"] if preq else []), "compress s", "decompress s", "compress peak MB",
            "decompress peak MB"]
    rows = [[f["file"], r["config"], r["method"], f"{r['archive_bytes']:,}", f"{r['header_bytes']:,}",
             f"{r['model_bytes']:,}", f"{r['data_bytes']:,}", _fmt(r["bpb"], ".3f"),
             _fmt(_bpb(r["data_bytes"], f["bytes"]), ".3f"), *([_fmt(r["prequential_bpb"], ".3f")] if preq else []),
             _fmt(r["compress_s"], ".2f"), _fmt(r["decompress_s"], ".2f"), _fmt(r["compress_peak_mb"], ".0f"),
             _fmt(r["decompress_peak_mb"], ".0f")] for f in result["files"] for r in f["mdlzip"]]
    notes = [f"- {name}: skipped, {why}" for name, why in result["settings"]["skipped"].items()]
    bases = [r["process_base_mb"] for f in result["files"] for r in f["mdlzip"] if r["process_base_mb"]]
    if bases:
        notes.append(f"- peak MB: peak resident memory during the call, interpreter and torch included "
                     f"({min(bases):.0f}-{max(bases):.0f} MB before it)"
                     + ("; each job in a fresh process" if result["settings"]["isolated"] else ""))
    if preq:
        notes.append("- prequential bpb: bits of an actual encoding of each block under a model trained on the "
                     "bytes before it (first block 8 bits/byte); no model is stored")
    return "\n\n".join([bpb, _table(head, rows, left=3), *(["\n".join(notes)] if notes else [])])
