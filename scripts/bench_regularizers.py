"""Every sparsity method at equal training steps, measured in stored bytes (issue 3's benchmark).

    nice -n 10 python scripts/bench_regularizers.py [--steps 600] [--corpora ../shared/corpora]
    python scripts/bench_regularizers.py --report     # tables and plot from docs/regularizers.json
    python scripts/bench_regularizers.py --level-check FILE magnitude:0 rl1:30 ...   # level 6 at its own steps

On the sweep file, each swept method runs at every alpha of its grid; the best alpha of each is then
used on the other files with the same weight cost per input byte (alpha * n_bytes fixed, see
mdlzip.training.alpha). Each run is the default level's model for the file, trained for exactly --steps
steps, quantized, and measured as the weights section plus the range-coded data (mdlzip.training.alpha.measure).
Results go to docs/regularizers.json after every run (a rerun resumes from it); --report writes docs/regularizers.md and the
plot docs/regularizers_alpha.png.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from mdlzip.classical import xz_size
from mdlzip.levels import settings
from mdlzip.training.alpha import measure

DOCS = Path(__file__).resolve().parents[1] / "docs"
SWEEP_FILE = "silesia/dickens_off0_len1048576"
FILES = [SWEEP_FILE, "enwik8/enwik8_off0_len3000000"]
GRIDS = {"drr": (3, 10, 30, 100), "rl1": (3, 10, 30, 100, 300), "pmmp": (100, 1000)}  # bits per weight: alpha = bits ln2 / n


def alpha_of(bits: float, n: int) -> float:
    return bits * math.log(2) / n


def run(rows: list[dict], path: str, data: bytes, regularizer: str, bits: float, steps: int, out: Path) -> dict:
    done = [r for r in rows if (r["file"], r["regularizer"], r["alpha_bits"]) == (path, regularizer, bits)]
    if done:  # resumed: measured before
        return done[0]
    plan = settings(6, len(data), regularizer=regularizer, alpha=alpha_of(bits, len(data)),
                    max_steps=steps, min_steps=steps)
    row = dict(measure(data, plan.model, plan.train), file=path, n=len(data), alpha_bits=bits, xz_bytes=xz_size(data))
    rows.append(row)
    out.write_text(json.dumps({"steps": steps, "rows": rows}, indent=1))
    print(json.dumps(row), flush=True)
    return row


def bench(corpora: Path, steps: int, out: Path) -> None:
    rows: list[dict] = json.loads(out.read_text())["rows"] if out.exists() else []
    best: dict[str, float] = {}
    for path in FILES:
        data = (corpora / path).read_bytes()
        for method in ("none", "magnitude"):
            run(rows, path, data, method, 0, steps, out)
        for method, grid in GRIDS.items():
            if path == SWEEP_FILE:
                results = [run(rows, path, data, method, b, steps, out) for b in grid]
                best[method] = min(results, key=lambda r: r["total_bytes"])["alpha_bits"]
            else:
                run(rows, path, data, method, best[method], steps, out)


def level_check(path: Path, runs: list[str]) -> None:
    """The default level at its own step count and model width, for METHOD:BITS runs: JSON lines."""
    data = path.read_bytes()
    for spec in runs:
        method, bits = spec.split(":")
        plan = settings(6, len(data), regularizer=method, alpha=alpha_of(float(bits), len(data)))
        print(json.dumps(dict(measure(data, plan.model, plan.train), file=path.name, n=len(data), alpha_bits=float(bits),
                              width=plan.model.n_embd, xz_bytes=xz_size(data))), flush=True)


def report(src: Path) -> None:
    res = json.loads(src.read_text())
    rows, lines = res["rows"], [f"Training steps per run: {res['steps']} (default level's model, 5-bit weights).", ""]
    head = "| method | alpha (bits/weight) | alpha | nonzero params | weight bytes | bits/nonzero | data bytes | " \
           "total bytes | total bpb | xz bytes |"
    for path in dict.fromkeys(r["file"] for r in rows):
        rs = [r for r in rows if r["file"] == path]
        lines += [f"### {path} ({rs[0]['n']:,} bytes)", "", head, "|---" * 10 + "|"]
        for r in sorted(rs, key=lambda r: (r["regularizer"], r["alpha_bits"])):
            a = f"{r['alpha']:.2e}" if r["alpha_bits"] else "-"
            lines.append(f"| {r['regularizer']} | {r['alpha_bits'] or '-'} | {a} | {r['nonzeros']:,} | "
                         f"{r['weights_bytes']:,} | {r['bits_per_nonzero']:.2f} | {r['data_bytes']:,} | "
                         f"**{r['total_bytes']:,}** | {8 * r['total_bytes'] / r['n']:.3f} | {r['xz_bytes']:,} |")
        lines.append("")
    (src.with_suffix(".md")).write_text("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=90)
    sweep = [r for r in rows if r["file"] == SWEEP_FILE]
    for method in GRIDS:
        pts = sorted((r["alpha"], r["total_bytes"] / 1e3) for r in sweep if r["regularizer"] == method)
        if pts:
            ax.plot(*zip(*pts), marker="o", label=method)
    for method, style in (("magnitude", "--"), ("none", ":")):
        for r in (r for r in sweep if r["regularizer"] == method):
            ax.axhline(r["total_bytes"] / 1e3, ls=style, color="gray", label=method)
    ax.set_xscale("log")
    ax.set(xlabel="alpha (nats per weight)", ylabel="description length (KB)", title=f"{SWEEP_FILE.split('/')[-1]}, "
           f"{res['steps']} steps")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(src.with_name("regularizers_alpha.png"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpora", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpora")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--out", type=Path, default=DOCS / "regularizers.json")
    p.add_argument("--report", action="store_true", help="only write the markdown and plot from --out")
    p.add_argument("--level-check", nargs="+", metavar=("FILE", "METHOD:BITS"))
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.level_check:
        return level_check(Path(a.level_check[0]), a.level_check[1:])
    if not a.report:
        bench(a.corpora, a.steps, a.out)
    report(a.out)


if __name__ == "__main__":
    main()
