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


CHUNKED = "lzma2-chunks"  # the per-chunk baseline: 6-7 bits/byte, so it gets a panel of its own


def plot_bpb(result: dict, out: str | Path) -> Path:
    """Grouped bars, bits per byte (lower is better) of every compressor per file, each bar labelled
    with its value: mdlzip's configurations and the whole-file baselines in one panel; the per-chunk
    LZMA2 baseline (the seed paper's comparison, far above the others) in a second one when run."""
    plt = _pyplot()
    files = result["files"]
    series = [(f"mdlzip {c['name']}", [f["mdlzip"][i]["bpb"] for f in files])
              for i, c in enumerate(result["settings"]["configs"])]
    chunked = []
    for key, b in (files[0]["baselines"].items() if files else ()):
        (chunked if key == CHUNKED else series).append((b["name"], [f["baselines"][key]["bpb"] for f in files]))
    n_configs = len(result["settings"]["configs"])
    panels = [("mdlzip and the whole-file compressors", series)] + (
        [("mdlzip beside LZMA2 restarted every chunk (the seed paper's comparison)", series[:n_configs] + chunked)]
        if chunked else [])
    width_in = min(24, max(9, 0.16 * len(files) * max(1, len(series)) + 3))
    fig, axes = plt.subplots(len(panels), 1, figsize=(width_in, 4.2 * len(panels)), squeeze=False)
    x = np.arange(len(files))
    for ax, (title, group) in zip(axes[:, 0], panels):
        width = 0.8 / max(1, len(group))
        for i, (name, values) in enumerate(group):
            bars = ax.bar(x + (i - (len(group) - 1) / 2) * width, [np.nan if v is None else v for v in values],
                          width, label=name)
            ax.bar_label(bars, fmt="%.2f", fontsize=6, rotation=90, padding=2)
        ax.set_xticks(x, [_short(f["file"]) for f in files], rotation=30, ha="right", fontsize=9)
        ax.set_ylabel("bits per byte (lower is better)")
        ax.set_title(f"bits per input byte: {title}")
        ax.margins(y=0.18)
        ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, plt, Path(out))


def plot_sizes(result: dict, out: str | Path) -> Path:
    """Stacked bars per file and mdlzip configuration: header, model (weights) and data, in bits per
    input byte (lower is better), so that files of different sizes share the axis; a bar without a
    stored model (cm and the classical methods) says so."""
    plt = _pyplot()
    bars = [(f"{_short(f['file'])}\n{r['config']} ({r['method']})", f["bytes"], r)
            for f in result["files"] for r in f["mdlzip"]]
    fig, ax = plt.subplots(figsize=(max(9, 0.8 * len(bars) + 3), 4.5))
    bottom = np.zeros(len(bars))
    for key, label in (("header_bytes", "header + config"), ("model_bytes", "model (weights)"), ("data_bytes", "data")):
        values = np.array([8 * r[key] / n if n else 0.0 for _, n, r in bars])
        ax.bar(range(len(bars)), values, 0.7, bottom=bottom, label=label)
        bottom += values
    modelless = [not r["model_bytes"] for _, _, r in bars]
    for i, total in enumerate(bottom):  # the value; * marks an archive without a stored model
        mark = "*" if modelless[i] and not all(modelless) else ""
        ax.annotate(f"{total:.3f}{mark}", (i, total), ha="center", va="bottom", fontsize=7, rotation=90,
                    xytext=(0, 2), textcoords="offset points")
    if any(modelless):
        methods = sorted({r["method"] for (_, _, r), m in zip(bars, modelless) if m})
        where = "in any of these archives" if all(modelless) else "in the archives marked *"
        ax.text(0.5, 0.97, f"no model stored {where} (method {', '.join(methods)}): header and data only",
                transform=ax.transAxes, ha="center", va="top", fontsize=9,
                bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8})
    preq = [(i, r["prequential_bpb"]) for i, (_, _, r) in enumerate(bars) if r.get("prequential_bpb") is not None]
    if preq:
        ax.scatter(*zip(*preq), marker="_", s=400, color="black", zorder=3, label="prequential code")
    ax.set_xticks(range(len(bars)), [name for name, _, _ in bars], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("bits per input byte (lower is better)")
    ax.set_title("two-part description length: model + data (the archive's bytes, itemized)")
    ax.margins(y=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1, 1))
    return _save(fig, plt, Path(out))


def _save(fig, plt, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")  # the legends sit outside the axes
    plt.close(fig)
    return path


def plot_bench(result: dict, directory: str | Path) -> list[Path]:
    """Both bench plots into `directory` (bpb.png, sizes.png)."""
    directory = Path(directory)
    return [plot_bpb(result, directory / "bpb.png"), plot_sizes(result, directory / "sizes.png")]
