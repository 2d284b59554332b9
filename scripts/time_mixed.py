"""Speed of the mixed coder (the stored model mixed with the adaptive statistics) on the CPU.

    python scripts/time_mixed.py FILE [--levels 6,9] [--runs 3]   # decoding, fresh processes
    python scripts/time_mixed.py FILE --kernels [--levels 6,9]     # the model's paths, in-process
    python scripts/time_mixed.py FILE --kernels --batched          # the batched path alone (A/B of builds)
    python scripts/time_mixed.py FILE --rates                      # the rates of mdlzip/cost.py

Default: per level, a mixed archive of FILE (`--model`, a short training: `--time-budget 60`, the
model at the level's width for FILE's size) is decoded by `mdlzip -dc` in a fresh process under
/usr/bin/time (process start included), median of --runs, beside the same file's cm archive.
--kernels: the coder with each CPU path of the model on one untrained model of the level's full
width (row-at-a-time numba stepper, batched stepper), KB/s of encode and decode, median of --runs
(each decode's KB/s listed too); --batched: the batched path only, e.g. run from two builds'
checkouts in turn, a few rounds, to compare them on a machine whose speed drifts.
--rates: training seconds per step and the mixed coder's seconds per byte split into matrix
products, attention and the rest, at the full widths of levels 6 and 9: what cost.py's constants are.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import mdlzip
from time_cm import median_run

MIB = 1 << 20


def decode_speed(path: Path, levels: list[int], runs: int) -> None:
    n = path.stat().st_size
    print("| file | level | method | archive B | model | decompress s (median) | KB/s | peak MB |")
    print("|---|---:|---|---:|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for level in levels:
            for method, extra in (("cm", ["--no-fallback"]), ("mixed", ["--model", "--time-budget", "60", "--no-fallback"])):
                archive, back = Path(tmp, f"{level}{method}.mdlz"), Path(tmp, "back")
                with open(archive, "wb") as f:
                    subprocess.run(["mdlzip", "compress", f"-{level}", "-q", "-c", *extra, str(path)], check=True, stdout=f)
                info = mdlzip.info(archive.read_bytes())
                model = f"{info.model['n_layer']} x {info.model['n_embd']}" if info.model else "–"
                seconds, peak = median_run(["mdlzip", "-dc", str(archive)], runs, back)
                assert back.read_bytes() == path.read_bytes()
                print(f"| {path.name} | {level} | {info.method} | {archive.stat().st_size:,} | {model} | {seconds:.2f} "
                      f"| {n / seconds / 1e3:.0f} | {peak:.0f} |")


def untrained(level: int, n_bytes: int):
    """An exact model of the level's full width, from 20 steps of training (speed needs no quality)."""
    import torch

    from mdlzip.levels import settings
    from mdlzip.models.exact import ExactByteGPT
    from mdlzip.training.train import train_quantized

    plan = settings(level, 64 * MIB)
    data = bytes(range(256)) * 64
    qm = train_quantized(data, plan.model, replace(plan.train, max_steps=20, min_steps=20), torch.device("cpu")).qm
    return ExactByteGPT(qm), replace(plan, mixer=settings(level, n_bytes).mixer)


def kernels(path: Path, levels: list[int], runs: int, batched_only: bool) -> None:
    from mdlzip.codec import mixed
    from mdlzip.models import exact_batched

    data = path.read_bytes()
    print("| file | level | model path | encode KB/s | decode KB/s (median) | each decode KB/s |")
    print("|---|---:|---|---:|---:|---|")
    paths = (("row at a time (exact_numba)", 1 << 30), ("batched (exact_batched)", exact_batched.BATCH_MIN))
    for level in levels:
        model, plan = untrained(level, len(data))
        for name, batch_min in paths[1:] if batched_only else paths:
            exact_batched.BATCH_MIN, was = batch_min, exact_batched.BATCH_MIN
            mixed.encode(model, data[:4096], plan.block, plan.lanes, plan.mixer)  # compiled and warm
            t0 = time.perf_counter()
            blob = mixed.encode(model, data, plan.block, plan.lanes, plan.mixer)
            enc = time.perf_counter() - t0
            decs = []
            for _ in range(runs):
                t0 = time.perf_counter()
                assert mixed.decode(model, blob, len(data), plan.block, plan.lanes, plan.mixer) == data
                decs.append(time.perf_counter() - t0)
            exact_batched.BATCH_MIN = was
            print(f"| {path.name} | {level} | {name} | {len(data) / enc / 1e3:.1f} | "
                  f"{len(data) / statistics.median(decs) / 1e3:.1f} | {' '.join(f'{len(data) / d / 1e3:.1f}' for d in decs)} |")


def rates(path: Path) -> None:
    import torch

    from mdlzip.codec import mixed
    from mdlzip.levels import settings
    from mdlzip.training.train import train_quantized

    data = path.read_bytes()
    for level in (6, 9):
        plan = settings(level, 64 * MIB)
        steps = []
        for n in (20, 120):
            t0 = time.perf_counter()
            train_quantized(data, plan.model, replace(plan.train, max_steps=n, min_steps=n), torch.device("cpu"))
            steps.append(time.perf_counter() - t0)
        model, plan = untrained(level, len(data))
        blob = mixed.encode(model, data, plan.block, plan.lanes, plan.mixer)
        profile = cProfile.Profile()
        profile.enable()
        mixed.decode(model, blob, len(data), plan.block, plan.lanes, plan.mixer)
        profile.disable()
        stats = pstats.Stats(profile).stats
        own = lambda part: sum(s[2] for key, s in stats.items() if part in key[2]) / len(data)
        total = sum(s[2] for s in stats.values()) / len(data)
        products, attention, coder = own("method 'mm'") + own("torch.mm") + own("torch._int_mm"), own("_attend_rows"), own("code_step")
        print(f"level {level} ({plan.model.n_layer} x {plan.model.n_embd}, context {plan.block}): "
              f"training {(steps[1] - steps[0]) / 100 * 1e3:.1f} ms/step; decoding per byte: products "
              f"{products * 1e6:.2f} us, attention {attention * 1e6:.2f} us, coder {coder * 1e6:.2f} us, "
              f"the rest {(total - products - attention - coder) * 1e6:.2f} us")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--levels", default="6,9", help="comma-separated levels (default 6,9)")
    ap.add_argument("--runs", type=int, default=3)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--kernels", action="store_true")
    mode.add_argument("--rates", action="store_true")
    ap.add_argument("--batched", action="store_true", help="with --kernels: the batched path only")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    if args.rates:
        rates(args.file)
    elif args.kernels:
        kernels(args.file, levels, args.runs, args.batched)
    else:
        decode_speed(args.file, levels, args.runs)


if __name__ == "__main__":
    main()
