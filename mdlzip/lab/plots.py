"""Plots of a `mdlzip.lab.bench` result (matplotlib, the optional extra `mdlzip[plot]`, imported lazily).

    plot_bench(result, "plots/")  # -> [plots/bpb.png, plots/sizes.png]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install mdlzip[plot]") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _short(path: str) -> str:
    return "/".join(Path(path).parts[-2:])


def plot_bpb(result: dict, out: str | Path) -> Path:
    """Grouped bars: bits per byte of every compressor (mdlzip configurations, then baselines) per file."""
    plt = _pyplot()
    files = result["files"]
    series = [(f"mdlzip {c['name']}", [f["mdlzip"][i]["bpb"] for f in files])
              for i, c in enumerate(result["settings"]["configs"])]
    if files:
        series += [(b["name"], [f["baselines"][k]["bpb"] for f in files]) for k, b in files[0]["baselines"].items()]
    x, width = np.arange(len(files)), 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(files) * max(1, len(series)) * 0.35 + 2), 4))
    for i, (name, values) in enumerate(series):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(x, [_short(f["file"]) for f in files], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("bits per byte")
    ax.set_title("compressed size per file and compressor")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, plt, Path(out))


def plot_sizes(result: dict, out: str | Path) -> Path:
    """Stacked bars per file and mdlzip configuration: header, model (weights) and data, in bits per
    input byte, so that files of different sizes share the axis."""
    plt = _pyplot()
    bars = [(f"{_short(f['file'])}\n{r['config']} ({r['method']})", f["bytes"], r)
            for f in result["files"] for r in f["mdlzip"]]
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * len(bars) + 2), 4))
    bottom = np.zeros(len(bars))
    for key, label in (("header_bytes", "header + config"), ("model_bytes", "model (weights)"), ("data_bytes", "data")):
        values = np.array([8 * r[key] / n if n else 0.0 for _, n, r in bars])
        ax.bar(range(len(bars)), values, 0.7, bottom=bottom, label=label)
        bottom += values
    preq = [(i, r["prequential_bpb"]) for i, (_, _, r) in enumerate(bars) if r.get("prequential_bpb") is not None]
    if preq:
        ax.scatter(*zip(*preq), marker="_", s=400, color="black", zorder=3, label="prequential code")
    ax.set_xticks(range(len(bars)), [name for name, _, _ in bars], rotation=30, ha="right", fontsize=7)
    ax.set_ylabel("bits per input byte")
    ax.set_title("two-part description length: model vs data")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, plt, Path(out))


def _save(fig, plt, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_bench(result: dict, directory: str | Path) -> list[Path]:
    """Both bench plots into `directory` (bpb.png, sizes.png)."""
    directory = Path(directory)
    return [plot_bpb(result, directory / "bpb.png"), plot_sizes(result, directory / "sizes.png")]
