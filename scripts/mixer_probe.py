"""Measure the mixing coder without a transformer (uniform freqs) against xz -9e and PPMd.

    nice -n 10 python scripts/mixer_probe.py [FILE...] [--lanes 1024 1] [--bytes N] [--block 256]
                                             [--params '{"hash_bits": 22}'] [--for-size] [--oracle N]

FILE paths are relative to the corpora folder (default: the issue-6 set). For every file and lane
count it prints bits per byte, encode/decode KB/s (CPU time of this process, one thread) and checks
the round trip; then xz -9e and PPMd (order 6, 256 MB) on the same bytes. --oracle N also codes
the first N bytes of the first file step by step with freqs of weight 1000 on the true byte.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import lzma
import os
import time
from pathlib import Path

import numpy as np

from mdlzip.codec.cm_params import MixParams
from mdlzip.codec.layout import lane_layout
from mdlzip.codec.mixer import (
    MixEncoder,
    decode_adaptive,
    encode_adaptive,
)

CORPORA = Path(os.environ.get("MDLZIP_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
FILES = ["enwik8/enwik8_off0_len3000000", "silesia/dickens_off0_len1048576", "calgary/book1",
         "csv/diamonds.csv", "dna/22_20-21M.fa", "canterbury-large/bible.txt"]


def timed(fn, *args):
    t = time.process_time()
    out = fn(*args)
    return out, time.process_time() - t


def oracle_size(data: bytes, n_lanes: int, block: int, params: MixParams) -> int:
    """Coded size with freqs 1000 on the true byte and 1 elsewhere, step by step."""
    arr = np.frombuffer(data, np.uint8)
    start, length = lane_layout(len(arr), block, n_lanes)
    enc = MixEncoder(start, length, params)
    for s in range(int(length.max())):
        lanes = np.flatnonzero(length > s)
        freqs = np.ones((len(lanes), 256))
        freqs[np.arange(len(lanes)), arr[start[lanes] + s]] = 1000
        enc.encode_step(lanes, freqs, arr[start[lanes] + s])
    return len(enc.finish())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="*", default=FILES)
    p.add_argument("--lanes", type=int, nargs="+", default=[1024, 1])
    p.add_argument("--bytes", type=int, default=0, help="only the first N bytes of each file")
    p.add_argument("--block", type=int, default=1, help="lane_layout chunk size")
    p.add_argument("--params", default="{}", help="MixParams fields to override, as JSON")
    p.add_argument("--for-size", action="store_true", help="start from MixParams.for_size(bytes)")
    p.add_argument("--oracle", type=int, default=0)
    p.add_argument("--no-ref", action="store_true", help="skip xz and PPMd")
    a = p.parse_args()
    over = json.loads(a.params)
    params = dataclasses.replace(MixParams(), **over)
    encode_adaptive(b"compile the kernels first", 2, params)
    decode_adaptive(encode_adaptive(b"x" * 9, 2, params), 9, 2, params)
    print(f"params {json.dumps(params.to_dict())}")
    print(f"{'file':34} {'bytes':>8} {'lanes':>5} {'bpb':>7} {'encKB/s':>8} {'decKB/s':>8}")
    for rel in a.files:
        data = (CORPORA / rel).read_bytes()
        data = data[:a.bytes] if a.bytes else data
        n = len(data)
        if a.for_size:
            params = dataclasses.replace(MixParams.for_size(n), **over)
        for lanes in a.lanes:
            blob, te = timed(encode_adaptive, data, lanes, params, a.block)
            out, td = timed(decode_adaptive, blob, n, lanes, params, a.block)
            assert out == data, f"{rel}: round trip failed"
            print(f"{rel:34} {n:8} {lanes:5} {8 * len(blob) / n:7.4f} {n / 1e3 / te:8.0f} {n / 1e3 / td:8.0f}",
                  flush=True)
        if not a.no_ref:
            import pyppmd
            xz = len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
            ppmd = len(pyppmd.compress(data, max_order=6, mem_size=256 << 20))
            print(f"{rel:34} {n:8} {'xz':>5} {8 * xz / n:7.4f}\n{rel:34} {n:8} {'ppmd':>5} {8 * ppmd / n:7.4f}",
                  flush=True)
    if a.oracle:
        data = (CORPORA / a.files[0]).read_bytes()[:a.oracle]
        for lanes in a.lanes:
            plain, oracle = len(encode_adaptive(data, lanes, params, a.block)), oracle_size(data, lanes, a.block, params)
            print(f"oracle {a.files[0]} {len(data)} bytes, {lanes} lanes: adaptive {plain} B, "
                  f"oracle freqs {oracle} B")


if __name__ == "__main__":
    main()
