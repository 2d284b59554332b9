"""Fetch and read-all timings of level-6 dataset archives of two logs (README, "Datasets"): each
archive is built (record and 4 KiB blocks), then fetch = median of 100 random fetches after open,
read all = median of 3 readings of every record with 1 and with 2 worker threads.

    python scripts/time_datasets.py [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import mdlzip
from mdlzip.lab.records_bench import log_lines, median_fetch_ms

LOGS = ("HDFS_2k.log", "Apache_2k.log")
BLOCK_BYTES = (0, 4096)
READ_ALL_RUNS = 3


def time_one(records: list[bytes], name: str, block_bytes: int) -> dict:
    data = b"".join(records)
    start = time.perf_counter()
    archive = mdlzip.compress_dataset([(name, data)], 6, records_kind="lines", block_size=block_bytes)
    row = {"bytes": len(archive), "compress_s": round(time.perf_counter() - start, 1)}
    with mdlzip.open_dataset(archive) as ds:
        row["fetch_ms"] = round(median_fetch_ms(lambda i: ds[i], len(records)), 2)
    for threads in (1, 2):
        times = []
        for _ in range(READ_ALL_RUNS):
            start = time.perf_counter()
            with mdlzip.open_dataset(archive, threads=threads) as ds:
                if list(ds) != records:
                    raise SystemExit(f"{name}: a record did not round-trip")
            times.append(time.perf_counter() - start)
        row[f"read_all_kb_s_T{threads}"] = round(len(data) / statistics.median(times) / 1e3, 1)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the rows here")
    args = parser.parse_args()
    rows = {}
    for name in LOGS:
        records = log_lines(name)
        if records is None:
            raise SystemExit(f"logs/{name} is not there (set MDLZIP_CORPORA)")
        for block_bytes in BLOCK_BYTES:
            rows[f"{name}@{block_bytes}"] = time_one(records, name, block_bytes)
            print(name, block_bytes, rows[f"{name}@{block_bytes}"], flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
