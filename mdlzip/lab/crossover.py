"""Where the stored model starts to pay: archive bytes against input size, cm against mixed and pure.

    python -m mdlzip.lab.crossover run docs/crossover.jsonl --sizes 1,4,16 --sources text,teacher
    python -m mdlzip.lab.crossover report docs/crossover.jsonl docs/crossover   # -> .md table, .png plot

`run` compresses each source at each size (MB = 10^6 bytes) with each configuration and appends
one JSON line per run (so a long sweep keeps what it measured): the archive bytes of every
candidate the compression measured (with a model: mixed and cm both, from the same run), the
training steps, the seconds, and the budget. The sources: `text`, the English text files of
../shared/corpora concatenated in a fixed order (repeated where a size needs more, which the
match model then codes almost free: the table says so), and `teacher`, samples of the random
teacher (`synthetic.teacher_source`), whose entropy rate is estimated with the sample. Every
size is a real archive written by `mdlzip.compress_with_report`, never an estimate.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .. import compress_with_report
from . import corpora
from .synthetic import teacher_source

MB = 10**6
# English text of the corpora, in this order: the text source's bytes are their concatenation
TEXT_FILES = ("enwik8/enwik8_off0_len3000000", "canterbury-large/bible.txt", "canterbury-large/world192.txt",
              "silesia/dickens_off0_len1048576", "calgary/book1", "calgary/book2", "canterbury/lcet10.txt",
              "canterbury/plrabn12.txt", "canterbury/alice29.txt", "canterbury/asyoulik.txt",
              "silesia/reymont_off0_len1048576", "text-multilingual/de_freytag_soll_und_haben.txt")
# name -> (level, options): what each configuration asks of compress_with_report
CONFIGS = {"L6": (6, {"model": True}), "L9": (9, {"model": True}), "pure": (6, {"pure": True})}


def text_source(n_bytes: int) -> tuple[bytes, dict]:
    """The first n_bytes of the text files concatenated (repeated where they are shorter)."""
    whole = b"".join((corpora.root() / name).read_bytes() for name in TEXT_FILES)
    data = (whole * (n_bytes // len(whole) + 1))[:n_bytes]
    return data, {"unique_bytes": min(n_bytes, len(whole)), "files": list(TEXT_FILES)}


def source(name: str, n_bytes: int) -> tuple[bytes, dict]:
    if name == "text":
        return text_source(n_bytes)
    sample = teacher_source(n_bytes, seed=0)
    return sample.data, {"entropy_rate": sample.bits_per_byte, "stderr": sample.stderr, **sample.config}


def run(out: Path, sizes: list[float], sources: list[str], configs: list[str], threads: int | None) -> None:
    for name in sources:
        for mb in sizes:
            data, meta = source(name, int(mb * MB))
            for config in configs:
                level, options = CONFIGS[config]
                t0 = time.perf_counter()
                _, report = compress_with_report(data, level, threads=threads, **options)
                row = {"source": name, "mb": mb, "bytes": len(data), "config": config, "level": level,
                       "candidates": report.candidates, "method": report.method,
                       "model_bytes": report.neural_bytes, "weights_bytes": report.sizes.get("weights"),
                       "train_steps": report.train_steps, "train_seconds": round(report.train_seconds, 1),
                       "code_seconds": round(report.code_seconds, 1), "seconds": round(time.perf_counter() - t0, 1),
                       "xz_bytes": report.xz_bytes, "source_meta": meta}
                with open(out, "a") as f:
                    f.write(json.dumps(row) + "\n")
                print(f"{name} {mb} MB {config}: {report.candidates} in {row['seconds']} s", file=sys.stderr)


def bpb(n: int | None, size: int) -> str:
    return f"{8 * n / size:.3f}" if n else "–"


def report(rows_path: Path, out_stem: Path) -> None:
    """A Markdown table (out_stem.md) and a plot (out_stem.png) of bits per byte against size."""
    rows = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    lines = ["| source | MB | config | cm bpb | model bpb (weights bytes, where written) | xz bpb | steps | seconds |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["source"], r["mb"], r["config"])):
        c, n = r["candidates"], r["bytes"]
        model = c.get("neural") or c.get("mixed")
        weights = f" ({r['weights_bytes']:,})" if r["weights_bytes"] else ""
        lines.append(f"| {r['source']} | {r['mb']:g} | {r['config']} | {bpb(c.get('cm'), n)} | {bpb(model, n)}{weights} "
                     f"| {bpb(r['xz_bytes'], n)} | {r['train_steps']:,} | {r['seconds']:,.0f} |")
    out_stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    from .plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, len({r["source"] for r in rows}), figsize=(11, 4), squeeze=False)
    for ax, name in zip(axes[0], sorted({r["source"] for r in rows})):
        mine = [r for r in rows if r["source"] == name]
        series = {"cm": [(r["mb"], r["candidates"].get("cm")) for r in mine if r["config"] == "L6"]}
        for config in CONFIGS:
            key = "neural" if config == "pure" else "mixed"
            series[config] = [(r["mb"], r["candidates"].get(key)) for r in mine if r["config"] == config]
        names = {"cm": "cm", "L6": "mixed -6", "L9": "mixed -9", "pure": "pure -6"}
        for label, points in series.items():
            points = sorted((mb, 8 * n / (mb * MB)) for mb, n in points if n)
            if points:
                ax.plot(*zip(*points), marker="o", label=names[label], color=f"C{list(names).index(label)}")
        if name == "teacher" and mine:
            ax.axhline(mine[0]["source_meta"]["entropy_rate"], color="grey", linestyle=":", label="entropy rate")
        ax.set(xscale="log", xlabel="input MB", ylabel="archive bits per byte", title=name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_stem.with_suffix(".png"), dpi=110)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mdlzip.lab.crossover", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="compress and append one JSON line per run")
    r.add_argument("out", type=Path)
    r.add_argument("--sizes", default="1,4,16", help="MB (10^6 bytes), comma-separated")
    r.add_argument("--sources", default="text,teacher")
    r.add_argument("--configs", default="L6", help=f"of {', '.join(CONFIGS)}")
    r.add_argument("-T", "--threads", type=int)
    p = sub.add_parser("report", help="table and plot of the JSON lines")
    p.add_argument("rows", type=Path)
    p.add_argument("out_stem", type=Path)
    a = parser.parse_args(argv)
    if a.command == "run":
        configs = a.configs.split(",")
        if unknown := set(configs) - set(CONFIGS):
            parser.error(f"unknown configs {sorted(unknown)}")
        run(a.out, [float(x) for x in a.sizes.split(",")], a.sources.split(","), configs, a.threads)
    else:
        report(a.rows, a.out_stem)


if __name__ == "__main__":
    main()
