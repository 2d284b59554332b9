"""Teacher-student benchmark (seed A's claim): description length of regularized and unregularized
students on teacher data of growing size, against the teacher's entropy rate.

The teacher is a small random ByteGPT (`mdlzip.lab.synthetic.teacher_source`); the datasets are
prefixes of one sample. Each student is mdlzip at one level with one sparsity method, and its
description length is the size of a real archive: `compress_with_report(data, level, pure=True,
fallback=False, regularizer=..., alpha=...)` (the transformer alone, the seed's two-part code).

    nice -n 10 python scripts/teacher_student.py --out docs/teacher_student   # .json, .md, .png
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from mdlzip.api import compress_with_report
from mdlzip.lab.plots import _pyplot
from mdlzip.lab.synthetic import teacher_source


def run(sizes: list[int], level: int, methods: list[str], alpha_bits: float, seed: int, temperature: float,
        out: Path) -> dict:
    teacher = teacher_source(max(sizes), seed=seed, temperature=temperature)
    block = teacher.config["block_size"]
    result = {"teacher": dict(teacher.config, bits_per_byte=teacher.bits_per_byte, stderr=teacher.stderr,
                              mean_prediction_entropy=teacher.entropy, sample_bytes=max(sizes)),
              "level": level, "alpha_bits": alpha_bits, "threads": torch.get_num_threads(), "runs": []}
    for n in sizes:
        data = teacher.data[:n]
        chunks = teacher.chunk_bits[:math.ceil(n / block)]
        for method in methods:
            alpha = {"alpha": alpha_bits * math.log(2) / n} if method not in ("none", "magnitude") else {}
            t0 = time.perf_counter()
            archive, report = compress_with_report(data, level, pure=True, fallback=False, regularizer=method, **alpha)
            result["runs"].append({
                "bytes": n, "method": method, **alpha, "archive_bytes": len(archive), "bpb": 8 * len(archive) / n,
                "weights_bpb": 8 * report.sizes["weights"] / n, "data_bpb": 8 * report.sizes["data"] / n,
                "params": report.params, "nonzeros": report.nonzeros, "xz_bpb": 8 * report.xz_bytes / n,
                "teacher_bpb_on_data": float(chunks.mean()), "seconds": time.perf_counter() - t0})
            print(json.dumps(result["runs"][-1]), flush=True)
            out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    return result


def table(result: dict) -> str:
    t = result["teacher"]
    lines = [(f"Teacher: random ByteGPT ({t['n_layer']} layers, width {t['n_embd']}, context {t['block_size']}, "
             f"temperature {t['temperature']}, {t['alphabet']} letters, seed {t['seed']}); entropy rate "
             f"{t['bits_per_byte']:.4f} ± {t['stderr']:.4f} bits/byte (mean -log2 p of its {t['sample_bytes']:,}-byte "
             f"sample under the teacher, an unbiased estimate; the mean entropy of its predictions along the sample, "
             f"another, is {t['mean_prediction_entropy']:.4f}). Students: mdlzip -{result['level']}, pure two-part "
             f"code (archive bytes), alpha = {result['alpha_bits']} ln2 / bytes for the penalized methods."), "",
             "| bytes | method | nonzeros / params | weights bpb | data bpb | total bpb | excess over teacher | xz -9e bpb |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(f"| {r['bytes']:,} | {r['method']} | {r['nonzeros']:,} / {r['params']:,} | {r['weights_bpb']:.3f} | "
                     f"{r['data_bpb']:.3f} | {r['bpb']:.3f} | {r['bpb'] - r['teacher_bpb_on_data']:+.3f} | "
                     f"{r['xz_bpb']:.3f} |")
    lines.append("\nexcess over teacher: total bpb minus the teacher's own -log2 p of the same bytes.")
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    methods = list(dict.fromkeys(r["method"] for r in result["runs"]))
    for method in methods:
        runs = [r for r in result["runs"] if r["method"] == method]
        ax.plot([r["bytes"] for r in runs], [r["bpb"] for r in runs], "o-", label=f"student, {method}")
    t = result["teacher"]
    ax.axhline(t["bits_per_byte"], color="black", ls="--", label="teacher entropy rate")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training bytes (teacher sample prefix)")
    ax.set_ylabel("description length, bits per byte")
    ax.set_title(f"teacher-student, mdlzip -{result['level']} (pure two-part code)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="32768,131072,524288,1048576")
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--methods", default="none,magnitude,drr,pmmp")
    parser.add_argument("--alpha-bits", type=float, default=6.0, help="penalty per weight in data bits")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--temperature", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("docs/teacher_student"))
    a = parser.parse_args()
    torch.set_num_threads(a.threads)
    result = run([int(s) for s in a.sizes.split(",")], a.level, a.methods.split(","), a.alpha_bits, a.seed,
                 a.temperature, a.out)
    a.out.with_suffix(".md").write_text(table(result) + "\n")
    plot(result, a.out.with_suffix(".png"))
    print(table(result))


if __name__ == "__main__":
    main()
