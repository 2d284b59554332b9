"""Fuzz the decoder with mutated archives (valid CRCs), under an address-space limit.

    python scripts/fuzz.py [--examples 20000] [--seconds 3600] [--memlimit 256MiB] [--seed 0]

Hypothesis draws a small valid archive of every method (mdlzip.lab.hostile.bases) and a mutation
of one CONFIG member, weight byte, header size or data byte (hostile.mutate), re-packed with valid
CRCs, then decodes it with `memlimit`. Every outcome must be the original bytes (an unchanged
field) or an MdlzipError, never another exception; never an OutOfMemoryError (the estimate must
refuse first: the process runs under RLIMIT_AS = what it had after start-up + memlimit + 1 GiB of
room for the allocator); within 2 s + 50 us per declared byte. Prints one JSON object: examples,
outcomes by error class, the slowest case, peak RSS; exits 1 on the first failure, which hypothesis
shrinks and prints. tests/test_fuzz.py runs it for under a minute.
"""
from __future__ import annotations

import argparse
import collections
import json
import resource
import sys
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mdlzip
from mdlzip import memory
from mdlzip.container import unpack
from mdlzip.errors import MdlzipError, OutOfMemoryError
from mdlzip.lab.hostile import bases, mutate

SECONDS_PER_BYTE = 50e-6  # the slowest decoder here (the tiny mixed model) does about 100 KB/s
HEADROOM = 1 << 30  # address space beyond memlimit: malloc arenas, thread stacks, mapped libraries


def _vm_size() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=3600.0, help="stop drawing new examples after this")
    parser.add_argument("--memlimit", default="256MiB")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    limit = memory.parse_memlimit(args.memlimit)
    seeds = bases(args.seed)
    for blob, text in seeds.values():  # compile the kernel and load torch before the limit is set
        assert mdlzip.decompress(blob, threads=1) == text
    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + limit + HEADROOM, resource.RLIM_INFINITY))

    counts: collections.Counter = collections.Counter()
    slowest = {"seconds": 0.0}
    deadline = time.monotonic() + args.seconds

    @settings(max_examples=args.examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(sorted(seeds)), rng=st.randoms(use_true_random=False))
    def one(name, rng):
        if time.monotonic() > deadline:
            return
        blob, text = seeds[name]
        forged = mutate(blob, rng)
        declared = unpack(forged).original_size
        start = time.perf_counter()
        try:
            out = mdlzip.decompress(forged, memlimit=limit, threads=1)
            outcome = "decoded" if out == text else "WRONG BYTES"
        except OutOfMemoryError:
            outcome = "OutOfMemoryError"
        except MdlzipError as exc:
            outcome = type(exc).__name__
        seconds = time.perf_counter() - start
        counts[outcome] += 1
        if seconds > slowest["seconds"]:
            slowest.update(seconds=seconds, base=name, declared_bytes=declared, outcome=outcome)
        assert outcome not in ("WRONG BYTES", "OutOfMemoryError"), outcome
        assert seconds <= 2 + SECONDS_PER_BYTE * declared, (seconds, declared)

    failed = 0
    try:
        one()
    except Exception as exc:  # hypothesis has printed the shrunk example
        print(f"fuzz: failure: {exc!r}", file=sys.stderr)
        failed = 1
    print(json.dumps({"examples": sum(counts.values()), "outcomes": dict(counts.most_common()), "slowest": slowest,
                      "memlimit": limit, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "failed": bool(failed)}, indent=2))
    return failed


if __name__ == "__main__":
    sys.exit(main())
