"""The records benchmark: datasets of many small records, and the classical compressors at the
granularity a dataset archive offers (each record, or each block of records, readable alone).

    records = DATASETS["logs/HDFS"]()                 # None when the corpora are not there
    result = run_dataset("logs/HDFS", records, 4096)  # blocks of >= 4096 bytes, whole records
    print(to_markdown([result]))

A dataset is a list of records (bytes) whose concatenation is a plausible file, built at run time
from the shared corpora (`mdlzip.lab.corpora`; nothing is copied into the repository). `group`
joins consecutive records into blocks of at least `block_bytes` bytes (0: one record per block)
and every per-block baseline compresses each block on its own, as random access to one block
requires; the solid baselines compress the concatenation, with no random access, for reference.
The mdlzip side is a callable `mdlzip_fn(records, block_bytes) -> dict` (its "bytes" at least),
so this module does not depend on the dataset-archive API.

The result of `run_dataset` is a JSON-ready dict:

    {"dataset", "block_bytes", "records", "blocks", "bytes", "mean_record_bytes",
     "baselines": {key: {"name", "bytes", "bpb", ...}},   # zstd_dict adds "dict_size", "dict_bytes"
     "mdlzip": {"bytes", "bpb", ...whatever mdlzip_fn returned}}   # only with mdlzip_fn

A baseline that cannot run (brotli not installed, no dictionary trainable) has "bytes" and "bpb"
None and a "skipped" reason. Sizes are bytes; bpb is bits per record byte.
"""
from __future__ import annotations

import json
import lzma
import random
import statistics
import time
from collections.abc import Callable, Sequence

import zstandard

from ..classical import XZ_PRESET, ZSTD_LEVEL
from .bench import RoundTripError, _bpb, _fmt, _table
from .corpora import CorpusNotFoundError, files, load

ENWIK8 = "enwik8/enwik8_off0_len3000000"
DICT_SIZES = (16 << 10, 64 << 10, 110 << 10)  # 110 KiB: the zstd CLI's default --maxdict


def _corpus(name: str) -> bytes | None:
    """A corpus file's verified bytes, or None when it is not there (a wrong file still raises)."""
    try:
        return load(name)
    except CorpusNotFoundError:
        return None


def split_lines(data: bytes) -> list[bytes]:
    """The lines of `data`, each with its b"\\n" (the last may lack one). Only b"\\n" ends a line:
    `bytes.splitlines` would split at a lone b"\\r" too."""
    lines = [line + b"\n" for line in data.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def split_csv_rows(data: bytes) -> list[bytes]:
    """The rows of CSV `data`, each with its line end; a quoted field's newlines stay in its row.
    RFC 4180 escapes a quote by doubling it, so a row ends where its count of quotes is even."""
    rows, pending = [], b""
    for line in split_lines(data):
        pending += line
        if pending.count(b'"') % 2 == 0:
            rows.append(pending)
            pending = b""
    return rows + [pending] if pending else rows  # an unterminated quote: the rest is one row


def log_lines(name: str) -> list[bytes] | None:
    """The lines of `logs/<name>` (e.g. "HDFS_2k.log")."""
    data = _corpus(f"logs/{name}")
    return None if data is None else split_lines(data)


def csv_rows(name: str) -> list[bytes] | None:
    """The rows of `csv/<name>` (e.g. "diamonds.csv"), the header row first."""
    data = _corpus(f"csv/{name}")
    return None if data is None else split_csv_rows(data)


JSON_RECORDS: dict[str, Callable[[dict], list]] = {  # file -> its natural list(s) of record objects
    "twitter.json": lambda doc: doc["statuses"],  # the rest is one "search_metadata" object
    # events (a dict by id) and performances (a list) are the records; the rest are id -> name tables
    "citm_catalog.json": lambda doc: [*doc["events"].values(), *doc["performances"]],
}


def json_lines(name: str) -> list[bytes] | None:
    """The record objects of `json/<name>` (a key of JSON_RECORDS), one compact JSON line each."""
    data = _corpus(f"json/{name}")
    if data is None:
        return None
    return [json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            for obj in JSON_RECORDS[name](json.loads(data))]


def blocks(name: str = ENWIK8, size: int = 2048, limit: int | None = None) -> list[bytes] | None:
    """Corpus file `name` (its first `limit` bytes) cut into `size`-byte blocks, the last shorter."""
    data = _corpus(name)
    if data is None:
        return None
    data = data[:limit]
    return [data[i:i + size] for i in range(0, len(data), size)]


def small_files() -> list[tuple[str, bytes]] | None:
    """(name, bytes) of every file of the Canterbury and Calgary corpora, or None if one is missing."""
    found = [(name, _corpus(name)) for name in files("canterbury") + files("calgary")]
    return None if any(data is None for _, data in found) else found


def _file_contents() -> list[bytes] | None:
    found = small_files()
    return None if found is None else [data for _, data in found]


DATASETS: dict[str, Callable[[], list[bytes] | None]] = {
    "logs/HDFS": lambda: log_lines("HDFS_2k.log"),
    "logs/Apache": lambda: log_lines("Apache_2k.log"),
    "logs/Linux": lambda: log_lines("Linux_2k.log"),
    "logs/OpenStack": lambda: log_lines("OpenStack_2k.log"),
    "csv/diamonds": lambda: csv_rows("diamonds.csv"),
    "json/twitter": lambda: json_lines("twitter.json"),
    "json/citm": lambda: json_lines("citm_catalog.json"),
    "enwik8/2k": lambda: blocks(ENWIK8, 2048),
    "files/canterbury+calgary": _file_contents,
}


def cap(records: Sequence[bytes], limit: int | None) -> list[bytes]:
    """The leading records that fit in `limit` bytes (None: all); at least one, so none is cut."""
    if limit is None:
        return list(records)
    kept, total = [], 0
    for record in records:
        if kept and total + len(record) > limit:
            break
        kept.append(record)
        total += len(record)
    return kept


def group(records: Sequence[bytes], block_bytes: int) -> list[bytes]:
    """Consecutive records joined into blocks of at least `block_bytes` bytes (the last may be
    shorter); a block never splits a record, so 0 gives one record per block."""
    out, pending, size = [], [], 0
    for record in records:
        pending.append(record)
        size += len(record)
        if size >= block_bytes:
            out.append(b"".join(pending))
            pending, size = [], 0
    return out + [b"".join(pending)] if pending else out


def _check(name: str, original: bytes, restored: bytes) -> None:
    if restored != original:
        raise RoundTripError(name, f"{name}: a block did not round-trip")


def _row(name: str, size: int | None, n_bytes: int, **extra) -> dict:
    return {"name": name, "bytes": size, "bpb": _bpb(size, n_bytes), **extra}


def zstd_dict(grouped: Sequence[bytes]) -> dict:
    """zstd -19 of each block with a dictionary trained on the blocks, the best of DICT_SIZES:
    the frames' sizes plus the dictionary's (raw) size, counted once. The frames are the
    python-zstandard defaults: content size written, dictionary id written, no checksum.
    Dictionary sizes not below the blocks' total are not tried (such a dictionary alone would cost
    more than storing the data), nor sizes the trainer refuses (too few or too small samples)."""
    n_bytes = sum(map(len, grouped))
    best = _row("zstd -19 + dict", None, n_bytes, dict_size=None, dict_bytes=None, skipped="no dictionary trained")
    for dict_size in (s for s in DICT_SIZES if s < n_bytes):
        try:
            trained = zstandard.train_dictionary(dict_size, list(grouped))
        except zstandard.ZstdError:
            continue
        compress = zstandard.ZstdCompressor(level=ZSTD_LEVEL, dict_data=trained).compress
        decompress = zstandard.ZstdDecompressor(dict_data=trained).decompress
        total = len(trained.as_bytes())
        for block in grouped:
            frame = compress(block)
            _check("zstd -19 + dict", block, decompress(frame))
            total += len(frame)
        if best["bytes"] is None or total < best["bytes"]:
            best = _row("zstd -19 + dict", total, n_bytes, dict_size=dict_size, dict_bytes=len(trained.as_bytes()))
    return best


def zstd_blocks(grouped: Sequence[bytes]) -> dict:
    """zstd -19 of each block, no dictionary."""
    compress = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress
    decompress = zstandard.ZstdDecompressor().decompress
    total = 0
    for block in grouped:
        frame = compress(block)
        _check("zstd -19", block, decompress(frame))
        total += len(frame)
    return _row("zstd -19", total, sum(map(len, grouped)))


def brotli_blocks(grouped: Sequence[bytes]) -> dict:
    """brotli quality 11 of each block (the optional `brotli` package: skipped without it)."""
    n_bytes = sum(map(len, grouped))
    try:
        import brotli
    except ImportError:
        return _row("brotli 11", None, n_bytes, skipped="brotli is not installed (pip install 'mdlzip[baselines]')")
    total = 0
    for block in grouped:
        stream = brotli.compress(block, quality=11)
        _check("brotli 11", block, brotli.decompress(stream))
        total += len(stream)
    return _row("brotli 11", total, n_bytes)


def xz_solid(data: bytes) -> dict:
    """xz -9e of the whole dataset: no random access, a reference."""
    return _row("xz -9e solid", len(lzma.compress(data, lzma.FORMAT_XZ, preset=XZ_PRESET)), len(data))


def zstd_solid(data: bytes) -> dict:
    """zstd -19 of the whole dataset: no random access, a reference."""
    return _row("zstd -19 solid", len(zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)), len(data))


def run_baselines(grouped: Sequence[bytes]) -> dict[str, dict]:
    """Every baseline on the blocks `group` made, keyed as in the result (the solid ones on their
    concatenation, which is the records')."""
    whole = b"".join(grouped)
    return {"zstd_dict": zstd_dict(grouped), "zstd": zstd_blocks(grouped), "brotli": brotli_blocks(grouped),
            "xz_solid": xz_solid(whole), "zstd_solid": zstd_solid(whole)}


def run_dataset(name: str, records: Sequence[bytes], block_bytes: int,
                mdlzip_fn: Callable[[Sequence[bytes], int], dict] | None = None) -> dict:
    """The dataset's shape, every baseline, and mdlzip's dict (with its bpb) when `mdlzip_fn` is given."""
    n_bytes, grouped = sum(map(len, records)), group(records, block_bytes)
    result = {"dataset": name, "block_bytes": block_bytes, "records": len(records), "blocks": len(grouped),
              "bytes": n_bytes, "mean_record_bytes": n_bytes / len(records) if records else 0.0,
              "baselines": run_baselines(grouped)}
    if mdlzip_fn is not None:
        side = mdlzip_fn(records, block_bytes)
        result["mdlzip"] = {**side, "bpb": _bpb(side["bytes"], n_bytes)}
    return result


def median_fetch_ms(fetch: Callable[[int], object], n_records: int, n: int = 100, seed: int = 0) -> float:
    """The median wall time in ms of `fetch(i)` over `n` indices drawn (seeded) from range(n_records)."""
    rng = random.Random(seed)
    times = []
    for i in (rng.randrange(n_records) for _ in range(n)):
        start = time.perf_counter()
        fetch(i)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


COLUMNS = {"zstd_dict": "zstd -19 + dict", "zstd": "zstd -19 / block", "brotli": "brotli 11 / block",
           "xz_solid": "xz -9e solid", "zstd_solid": "zstd -19 solid"}  # baseline key -> the table's column


def _granularity(block_bytes: int) -> str:
    return "record" if block_bytes == 0 else f"{block_bytes:,} B"


def _dict_cell(row: dict) -> str:
    return _fmt(row["bpb"], ".3f") + ("" if row["dict_size"] is None else f" ({row['dict_size'] >> 10} KiB)")


def to_markdown(results: Sequence[dict]) -> str:
    """One row per dataset and granularity: bits per byte of each compressor (the zstd dictionary
    counted, the size that won in brackets), and mdlzip's bytes over zstd + dict's when present."""
    with_mdlzip = any("mdlzip" in r for r in results)
    head = ["dataset", "block", "records", "mean record B", "bytes", *(["mdlzip"] if with_mdlzip else []),
            *COLUMNS.values(), *(["mdlzip / zstd+dict"] if with_mdlzip else [])]
    rows = []
    for r in results:
        base, mdl = r["baselines"], r.get("mdlzip")
        cells = [r["dataset"], _granularity(r["block_bytes"]), f"{r['records']:,}", f"{r['mean_record_bytes']:.1f}",
                 f"{r['bytes']:,}"]
        cells += [_fmt(mdl["bpb"] if mdl else None, ".3f")] if with_mdlzip else []
        cells += [_dict_cell(base[k]) if k == "zstd_dict" else _fmt(base[k]["bpb"], ".3f") for k in COLUMNS]
        if with_mdlzip:
            ratio = mdl["bytes"] / base["zstd_dict"]["bytes"] if mdl and base["zstd_dict"]["bytes"] else None
            cells.append(_fmt(ratio, ".3f"))
        rows.append(cells)
    notes = ("bits per byte, lower is better. \"/ block\": each block compressed alone (random access); "
             "\"solid\": the whole dataset in one stream (none).")
    return _table(head, rows, left=2) + "\n\n" + notes
