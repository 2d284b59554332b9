"""`--alpha auto`: choose the regularization strength by the measured description length.

Each candidate alpha trains a model for a fraction of the full steps, and is scored by the bytes
mdlzip would store for it: the weights section (scales + coded integer weights) plus the input
range-coded under the exact integer model. The smallest total wins: the MDL objective itself.
The candidate alpha = 0 trains without penalty and without pruning (regularizer "none"), so the
choice can always be not to regularize.

Short trials can mis-rank (a penalty that wins over a quarter of the steps can lose over all of
them), so where a trial chose alpha > 0 the pipeline also trains alpha = 0 in full, exactly as
`--regularizer none` would, and keeps the model of the smaller measured total (pipeline._never_worse): the
choice is then never worse than not regularizing, by construction rather than by luck.
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from ..codec import arith
from ..codec.layout import STREAM_GROUP
from ..models.exact import ExactByteGPT
from ..models.stored import ByteGPTConfig, QuantizedModel
from ..sections import weights_section
from . import distributed
from .config import ALPHA_GRID_BITS, ALPHA_TRIAL_FRACTION, TrainConfig, trial_steps
from .train import train_quantized


def stored(data: bytes, qm: QuantizedModel) -> tuple[int, bytes]:
    """What the model alone stores for `data`: its weights section's size, and `data` coded under it."""
    return len(weights_section(qm)), arith.encode(ExactByteGPT(qm), data, STREAM_GROUP)


def measure(data: bytes, model_cfg: ByteGPTConfig, train_cfg: TrainConfig, device: torch.device | None = None) -> dict:
    """Train one model and measure what it stores: a row of nonzeros, weight and data bytes, total."""
    trained = train_quantized(data, model_cfg, train_cfg, device or torch.device("cpu"))
    return row(trained.stats, trained.qm, *stored(data, trained.qm))


def row(stats, qm: QuantizedModel, w: int, coded: bytes) -> dict:
    """The measured row of one trained model (`stats`, `qm`), whose `stored` sizes are w and len(coded)."""
    d, nnz = len(coded), qm.num_nonzero()
    return {"regularizer": stats.regularizer, "alpha": stats.alpha, "steps": stats.steps,
            "float_bpb": round(stats.final_loss_bits, 4), "params": stats.params, "nonzeros": nnz,
            "nonzeros_before": stats.nonzeros_before, "rgp_removed": stats.rgp_removed,
            "tamade_threshold": stats.tamade_threshold, "weights_bytes": w,
            "bits_per_nonzero": round(8 * w / max(1, nnz), 3), "data_bytes": d, "total_bytes": w + d}


def default_grid(n_bytes: int) -> list[float]:
    return [b * math.log(2) / max(1, n_bytes) for b in ALPHA_GRID_BITS]


def candidate(train_cfg: TrainConfig, alpha: float) -> TrainConfig:
    """The training of one candidate: the penalty at `alpha`, or none at all (nor pruning) at 0."""
    return replace(train_cfg, alpha=alpha, regularizer=train_cfg.regularizer if alpha > 0 else "none")


def choose_alpha(data: bytes, model_cfg: ByteGPTConfig, train_cfg: TrainConfig, grid: list[float] | None = None,
                 steps_frac: float = ALPHA_TRIAL_FRACTION,
                 device: torch.device | None = None) -> tuple[TrainConfig, list[dict]]:
    """Short runs (steps_frac of the full steps, config.trial_steps) for each alpha of `grid`
    (default: `default_grid`); returns the training of the smallest total bytes (`candidate`) and
    the measured rows (under torchrun every rank trains each run, and all keep rank 0's choice)."""
    grid = default_grid(len(data)) if grid is None else grid
    full = train_cfg.num_steps(-(-len(data) // model_cfg.block_size))
    short = replace(train_cfg, max_steps=trial_steps(full, steps_frac), min_steps=1)
    rows = [measure(data, model_cfg, candidate(short, a), device) for a in grid]
    best = min(range(len(grid)), key=lambda i: rows[i]["total_bytes"])
    return distributed.from_main((candidate(train_cfg, grid[best]), rows))  # under torchrun: rank 0's rows
