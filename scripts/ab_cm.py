"""A/B of the adaptive statistics (cm kernel alone, one lane, no container): coded bytes and bits per
byte of each file under each configuration, as the kernel's techniques were measured (issue 13).

    python scripts/ab_cm.py book1,alice29.txt --limit 1048576 base "match_min=6" "contexts=2,3,4,6;hash_bits=24"

A configuration is `base` (level 6's statistics, sized for the input) or `;`-separated MixParams
fields. Files are names under ../shared/corpora (or $MDLZIP_CORPORA), found by their base name.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
from pathlib import Path

from mdlzip.codec import mixer
from mdlzip.levels import LEVELS

CORPORA = Path(os.environ.get("MDLZIP_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))


def configure(base, spec: str):
    if spec == "base":
        return base
    changes = {}
    for item in spec.split(";"):
        key, value = item.split("=", 1)
        changes[key] = tuple(value.split(",")) if key == "contexts" else int(value)
    return dataclasses.replace(base, **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", help="comma list of base names under the corpora")
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--limit", type=int, default=1 << 20, help="bytes of each file (default 1 MiB)")
    ap.add_argument("--level", type=int, default=6)
    args = ap.parse_args()
    paths = [next(CORPORA.rglob(name)) for name in args.files.split(",")]
    for spec in args.configs:
        total, cells = 0.0, []
        for path in paths:
            data = path.read_bytes()[:args.limit]
            params = configure(LEVELS[args.level].mixer, spec).sized_for(len(data))
            t0 = time.perf_counter()
            n = len(mixer.encode_adaptive(data, 1, params))
            seconds = time.perf_counter() - t0
            total += 8 * n / len(data)
            cells.append(f"{path.name} {n:,} B {8 * n / len(data):.4f} bpb {len(data) / seconds / 1e3:.0f} KB/s")
        print(f"{spec}: " + " | ".join(cells) + f" | sum {total:.4f}", flush=True)


if __name__ == "__main__":
    main()
