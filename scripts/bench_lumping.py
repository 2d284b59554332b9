"""Lumping vs magnitude pruning vs Wanda on ODE regression tasks (mdlzip.lab.dynamics), at equal parameter counts.

For each task: train a ReLU MLP (state -> derivative), then for every eps of a sweep lump it
(backward, scaled; forward too, for reference) and prune the trained net with magnitude and Wanda
down to the lumped model's parameter count. No method retrains. Writes a markdown table, JSON and
a plot (test MSE vs parameters kept, one panel per task). Each run is repeated for a net trained
with a mild penalty pulling every hidden neuron towards its nearest neighbour (`nn_penalty`).

    nice -n 10 python scripts/bench_lumping.py                  # docs/lumping.{md,json,png}
    nice -n 10 python scripts/bench_lumping.py --tasks selkov --penalties 0 --out /tmp/x  # one quick run
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mdlzip.lab.dynamics import SYSTEMS, Task, make_task
from mdlzip.lab.lumping import (
    count_nonzero,
    count_params,
    lump,
    magnitude_prune,
    wanda_prune,
)


def make_mlp(d_in: int, d_out: int, width: int, depth: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(d_in if i == 0 else width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, d_out))


def nn_penalty(model: nn.Sequential) -> torch.Tensor:
    """Mean L1 distance of each hidden neuron's (incoming, bias) vector to its nearest neighbour."""
    total = 0.0
    for lin in [m for m in model if isinstance(m, nn.Linear)][:-1]:
        v = torch.cat([lin.weight, lin.bias[:, None]], 1)
        dist = torch.cdist(v, v, p=1) + torch.eye(len(v)) * 1e9
        total = total + dist.min(1).values.mean()
    return total


def train(task: Task, width: int, depth: int, steps: int, penalty: float, seed: int) -> nn.Sequential:
    """Adam, batch 256, lr 3e-3 with cosine decay; MSE (+ penalty * nn_penalty)."""
    torch.manual_seed(seed)
    model = make_mlp(task.x_train.shape[1], task.y_train.shape[1], width, depth)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / steps)))
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(task.x_train), (256,), generator=gen)
        loss = F.mse_loss(model(task.x_train[idx]), task.y_train[idx])
        if penalty:
            loss = loss + penalty * nn_penalty(model)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return model.eval()


@torch.no_grad()
def mse(model: nn.Module, task: Task) -> float:
    return F.mse_loss(model(task.x_test), task.y_test).item()


def sweep(model: nn.Sequential, task: Task, eps_grid: list[float]) -> list[dict]:
    calib = task.x_train[:1024]
    rows = []
    for eps in eps_grid:
        small, rep = lump(model, eps, inputs=task.x_test)
        fwd, frep = lump(model, eps, mode="forward")
        n = rep.params_after
        mag, n_mag = magnitude_prune(model, n)
        wan, n_wan = wanda_prune(model, n, calib)
        rows.append({"eps": eps, "neurons": rep.neurons_after, "params": n, "kept": n / rep.params_before,
                     "mse_lump": mse(small, task), "max_abs_dev": rep.max_abs_dev,
                     "nnz_magnitude": n_mag, "mse_magnitude": mse(mag, task),
                     "nnz_wanda": n_wan, "mse_wanda": mse(wan, task),
                     "forward_neurons": frep.neurons_after, "forward_params": frep.params_after,
                     "mse_forward": mse(fwd, task)})
    return rows


def eps_grid(model: nn.Sequential, n: int) -> list[float]:
    """0, then geometric from 2 % to 50 % of the median L1 norm of the first layer's (weights, bias) rows."""
    lin = model[0]
    scale = torch.cat([lin.weight, lin.bias[:, None]], 1).abs().sum(1).median().item()
    return [0.0] + [scale * 0.02 * 25 ** (i / (n - 2)) for i in range(n - 1)]


def markdown(run: dict, args: argparse.Namespace) -> str:
    pen = run["penalty"]
    lines = [f"## {'Plain training' if not pen else f'Trained with the nearest-neighbour penalty {pen}'}", "",
             (f"ReLU MLP {args.depth}x{args.width}, {args.steps} Adam steps; test MSE on standardized targets "
             "(1.0 = predicting the mean); lumping = backward, scaled; magnitude and Wanda pruned to the lumped "
             "model's parameter count (nonzeros; n/a: below the count of nonzero biases, which they keep). "
             "Best of the three in bold."), ""]
    for res in run["results"]:
        lines += [(f"### {res['task']}{' (penalty ' + str(pen) + ')' if pen else ''}: dense {res['params']:,} "
                  f"parameters, test MSE {res['mse_dense']:.4g}"), "",
                  "| eps | neurons | params kept | lumping MSE | magnitude MSE | Wanda MSE | forward-lumping params / MSE |",
                  "|---:|---|---:|---:|---:|---:|---:|"]
        for r in res["sweep"]:
            vals = [r["mse_lump"]] + [r[f"mse_{k}"] if r[f"nnz_{k}"] == r["params"] else math.inf
                                      for k in ("magnitude", "wanda")]
            cells = [f"**{v:.4g}**" if v == min(vals) else f"{v:.4g}" if v < math.inf else "n/a" for v in vals]
            lines.append(f"| {r['eps']:.4g} | {'+'.join(map(str, r['neurons']))} | {r['params']:,} ({r['kept']:.1%}) | "
                         f"{' | '.join(cells)} | {r['forward_params']:,} / {r['mse_forward']:.4g} |")
        lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_tasks = len(runs[0]["results"])
    fig, axes = plt.subplots(len(runs), n_tasks, figsize=(2.9 * n_tasks, 2.6 * len(runs)), squeeze=False)
    for row, run in zip(axes, runs):
        for ax, res in zip(row, run["results"]):
            sw = res["sweep"]
            ax.plot([r["kept"] for r in sw], [r["mse_lump"] for r in sw], "o-", label="lumping", ms=3)
            for key, label, style in (("magnitude", "magnitude", "s--"), ("wanda", "Wanda", "^:")):
                ok = [r for r in sw if r[f"nnz_{key}"] == r["params"]]
                ax.plot([r["kept"] for r in ok], [r[f"mse_{key}"] for r in ok], style, label=label, ms=3)
            ax.plot([r["forward_params"] / res["params"] for r in sw], [r["mse_forward"] for r in sw], "x", ms=3,
                    color="gray", label="forward lumping")
            ax.axhline(res["mse_dense"], color="k", lw=0.5)
            title = res["task"] + (f", penalty {run['penalty']:g}" if run["penalty"] else "")
            ax.set(yscale="log", xlim=(0, 1.02), title=title, xlabel="fraction of parameters kept")
            ax.set_ylim(top=10)
            ax.title.set_fontsize(9)
        row[0].set_ylabel("test MSE (standardized)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=64)


def write_tables(path: Path, tables: str) -> None:
    """Replace what follows the MARKER line of an existing page, else write the tables alone."""
    text = path.read_text() if path.exists() else ""
    head = text[:text.index(MARKER) + len(MARKER)] + "\n\n" if MARKER in text else ""
    path.write_text(head + tables + "\n")


MARKER = "<!-- generated by scripts/bench_lumping.py: everything below -->"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", nargs="*", default=list(SYSTEMS))
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--depth", type=int, default=2)
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--points", type=int, default=14, help="eps values in the sweep")
    p.add_argument("--penalties", type=float, nargs="*", default=[0.0, 1e-3],
                   help="nearest-neighbour penalty weights, one run each (0: plain training, the main table)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="docs/lumping", help="writes OUT.md (tables), OUT.json, OUT.png")
    args = p.parse_args()
    torch.set_num_threads(1)
    runs = []
    for penalty in args.penalties:
        results = []
        for name in args.tasks:
            t0 = time.perf_counter()
            task = make_task(name, seed=args.seed)
            model = train(task, args.width, args.depth, args.steps, penalty, args.seed)
            t1 = time.perf_counter()
            results.append({"task": name, "params": count_params(model), "nonzero": count_nonzero(model),
                            "mse_dense": mse(model, task), "sweep": sweep(model, task, eps_grid(model, args.points)),
                            "train_s": round(t1 - t0, 1), "sweep_s": round(time.perf_counter() - t1, 1)})
            print(f"{name} penalty {penalty}: dense MSE {results[-1]['mse_dense']:.4g}, train {t1 - t0:.0f} s",
                  flush=True)
        runs.append({"penalty": penalty, "results": results})
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"args": vars(args), "runs": runs}, indent=1) + "\n")
    tables = "\n".join(markdown(run, args) for run in runs)
    write_tables(out.with_suffix(".md"), tables)
    plot(runs, out.with_suffix(".png"))
    print(tables)


if __name__ == "__main__":
    main()
