"""The records benchmark: mdlzip dataset archives against zstd (with and without a trained
dictionary), brotli and the solid references, at record or block granularity (mdlzip.lab.records_bench).

    nice -n 10 python scripts/bench_records.py                             # every dataset, per record and per 4 KiB
    python scripts/bench_records.py --datasets logs/HDFS,json/twitter --block-bytes 0 --limit 100000
    python scripts/bench_records.py --json records.json --markdown records.md

The mdlzip column needs the dataset-archive API (`mdlzip.compress_dataset`, `mdlzip.open_dataset`);
without it the baselines run alone, and stderr says so.
"""
from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import mdlzip
from mdlzip.lab.bench import RoundTripError
from mdlzip.lab.records_bench import DATASETS, cap, median_fetch_ms, run_dataset, to_markdown


READ_ALL_RUNS = 3  # reading every record is timed this many times; the median is reported


def mdlzip_side(records: Sequence[bytes], block_bytes: int, level: int = mdlzip.DEFAULT_LEVEL) -> dict:
    """mdlzip's archive of `records` in blocks of `block_bytes`: its size (itemized: the model is
    stored in it), every record checked, the median time to fetch one record and the speed of
    reading them all (each on a freshly opened dataset, so neither profits from what an earlier
    read decoded)."""
    start = time.perf_counter()
    archive, report = mdlzip.compress_dataset_with_report(list(records), level, records_kind="records",
                                                          block_size=block_bytes)
    compress_s = time.perf_counter() - start
    dataset = mdlzip.open_dataset(archive)
    if len(dataset) != len(records) or any(dataset[i] != record for i, record in enumerate(records)):
        raise RoundTripError("mdlzip", "mdlzip: a record did not round-trip")
    fresh = mdlzip.open_dataset(archive)
    fetch_ms = median_fetch_ms(lambda i: fresh[i], len(records))
    read_times = []
    for _ in range(READ_ALL_RUNS):
        start = time.perf_counter()
        everything = list(mdlzip.open_dataset(archive))
        read_times.append(time.perf_counter() - start)
        if everything != list(records):
            raise RoundTripError("mdlzip", "mdlzip: reading every record did not give them back")
    read_s = statistics.median(read_times)
    return {"bytes": len(archive), "method": report.method, "sizes": report.sizes, "model": report.model,
            "candidates": report.candidates, "train_s": report.train_seconds, "compress_s": compress_s,
            "fetch_ms_median": fetch_ms, "read_all_kb_s": sum(map(len, records)) / 1000 / read_s}


def find_mdlzip_side() -> Callable[[Sequence[bytes], int], dict] | None:
    """`mdlzip_side` when this mdlzip has the dataset-archive API, else None (said on stderr)."""
    try:
        getattr(mdlzip, "compress_dataset")
        getattr(mdlzip, "open_dataset")
    except AttributeError as missing:
        print(f"note: {missing}; running the baselines only", file=sys.stderr)
        return None
    return mdlzip_side


def comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=comma_list, default=list(DATASETS),
                        help=f"comma list of {', '.join(DATASETS)} (default: all)")
    parser.add_argument("--block-bytes", type=lambda t: [int(x) for x in comma_list(t)], default=[0, 4096],
                        help="comma list of granularities: blocks of at least this many bytes of whole records, "
                             "0 = one record per block (default: 0,4096)")
    parser.add_argument("--limit", type=int, default=None, metavar="BYTES",
                        help="keep only each dataset's leading records that fit in BYTES")
    parser.add_argument("--level", type=int, default=mdlzip.DEFAULT_LEVEL, help="mdlzip's level (default 6)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="write the results as JSON")
    parser.add_argument("--markdown", type=Path, default=None, metavar="FILE", help="write the table as markdown")
    args = parser.parse_args(argv)
    unknown = [name for name in args.datasets if name not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(DATASETS)}")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    side = find_mdlzip_side()
    side = side and functools.partial(side, level=args.level)
    results = []
    for name in args.datasets:
        records = DATASETS[name]()
        if records is None:
            print(f"{name}: skipped, its corpus files are not there (set MDLZIP_CORPORA)", file=sys.stderr)
            continue
        records = cap(records, args.limit)
        for block_bytes in args.block_bytes:
            start = time.perf_counter()
            results.append(run_dataset(name, records, block_bytes, side))
            print(f"{name} @ {block_bytes}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    table = to_markdown(results)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n")
    if args.json:
        report = {"schema": "mdlzip-records-bench", "version": 1, "mdlzip": mdlzip.__version__,
                  "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  "machine": {"platform": platform.platform(), "python": platform.python_version()},
                  "settings": {"datasets": args.datasets, "block_bytes": args.block_bytes, "limit": args.limit,
                               "level": args.level,
                               "mdlzip": side is not None},
                  "results": results}
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
