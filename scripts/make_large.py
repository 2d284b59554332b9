"""Write a large test input: the shared corpora and random-teacher samples, repeated under a
different byte substitution each time, so that no repetition matches another (xz and cm's match
model find nothing across them) and the file is not trivially compressible.

    python scripts/make_large.py /tmp/large/1g.bin --size 1G

The same arguments always write the same bytes (the teacher, the order of the files and every
substitution are seeded). Nothing here is committed: the corpora stay under ../shared/corpora.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from mdlzip.lab import corpora
from mdlzip.lab.synthetic import teacher_source
from mdlzip.memory import parse_memlimit

TEACHER_BYTES = 1 << 20  # the teacher samples 1 MiB in about a minute on 2 cores


def base_block() -> np.ndarray:
    """Every corpus file in path order, then TEACHER_BYTES of teacher samples (seed 0)."""
    root = corpora.root()
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != "MANIFEST.md")
    parts = [np.frombuffer(p.read_bytes(), np.uint8) for p in files]
    parts.append(np.frombuffer(teacher_source(TEACHER_BYTES, seed=0).data, np.uint8))
    return np.concatenate(parts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="1G", help="bytes to write, e.g. 64M, 1G (binary multiples)")
    args = ap.parse_args()
    size = parse_memlimit(args.size)
    base = base_block()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        for r, start in enumerate(range(0, size, len(base))):
            table = np.random.default_rng(r).permutation(256).astype(np.uint8) if r else np.arange(256, dtype=np.uint8)
            f.write(table[base[:size - start]].tobytes())
    print(f"{args.out}: {size:,} bytes, {len(base):,}-byte block repeated under {-(-size // len(base))} substitutions")


if __name__ == "__main__":
    main()
