"""Wall-clock speed of the default compressor against zpaq -m5, one after the other, each in a fresh
process timed by /usr/bin/time (process start included for both), median of --runs runs.

    python scripts/time_cm.py FILE... [--levels 6] [--runs 3]

Prints a Markdown table: per file and level, archive bytes, compression and decompression seconds
(median) and KB/s, peak resident MB, and zpaq -m5's (the `zpaq` module, method 5, one thread).
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ZPAQ = ("import sys, zpaq; d = open(sys.argv[1], 'rb').read(); "
        "open(sys.argv[2], 'wb').write(zpaq.compress(d, 5, threads=1) if sys.argv[3] == 'c' else zpaq.decompress(d))")


def timed(cmd: list[str], stdout=None) -> tuple[float, float]:
    """(seconds, peak MB) of one run of cmd under /usr/bin/time."""
    with tempfile.NamedTemporaryFile("r") as log:
        subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", log.name, *cmd], check=True, stdout=stdout)
        seconds, kb = log.read().split()[-2:]
    return float(seconds), int(kb) / 1024


def median_run(cmd: list[str], runs: int, out: Path | None = None) -> tuple[float, float]:
    results = []
    for _ in range(runs):
        if out is None:
            results.append(timed(cmd))
        else:
            with open(out, "wb") as f:
                results.append(timed(cmd, stdout=f))
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--levels", default="6", help="comma-separated levels (default 6)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print("| file | bytes | level | archive B | compress s | KB/s | decompress s | KB/s | peak MB "
          "| zpaq -m5 B | compress s | decompress s | mdlzip / zpaq bytes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            n = path.stat().st_size
            z, zback = Path(tmp, "z"), Path(tmp, "zback")
            zc, _ = median_run([sys.executable, "-c", ZPAQ, str(path), str(z), "c"], args.runs)
            zd, _ = median_run([sys.executable, "-c", ZPAQ, str(z), str(zback), "d"], args.runs)
            assert zback.read_bytes() == path.read_bytes()
            for level in args.levels.split(","):
                archive, back = Path(tmp, "a.mdlz"), Path(tmp, "back")
                c, cmb = median_run(["mdlzip", "compress", f"-{level}", "-q", "-c", str(path)], args.runs, archive)
                d, dmb = median_run(["mdlzip", "-dc", str(archive)], args.runs, back)
                assert back.read_bytes() == path.read_bytes()
                size = archive.stat().st_size
                print(f"| {path.name} | {n:,} | {level} | {size:,} | {c:.2f} | {n / c / 1e3:.0f} | {d:.2f} | "
                      f"{n / d / 1e3:.0f} | {max(cmb, dmb):.0f} | {z.stat().st_size:,} | {zc:.2f} | {zd:.2f} | "
                      f"{size / z.stat().st_size:.3f} |", flush=True)


if __name__ == "__main__":
    main()
