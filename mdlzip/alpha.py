"""`--alpha auto`: choose the regularization strength by the measured description length.

Each candidate alpha trains a model for a fraction of the full steps, and is scored by the bytes
mdlzip would store for it: the weights section (scales + coded integer weights) plus the input
range-coded under the exact integer model. The smallest total wins: the MDL objective itself.
"""
from __future__ import annotations

import math
from dataclasses import replace

import torch

from .codec import arith
from .codec.weights import encode_tensors
from .models.exact import ExactByteGPT, QuantizedModel, quantize
from .models.transformer import ByteGPT, ByteGPTConfig
from .train import TrainConfig, fit

STREAM_GROUP = 64  # chunks per range-coded stream, as mdlzip.config.STREAM_GROUP (not imported: config imports train)
GRID_BITS = (10.0, 30.0, 100.0)  # default grid: alpha = bits * ln 2 / input bytes (a weight worth that many data bits)


def weights_bytes(qm: QuantizedModel) -> int:
    """Size of the weights section: float32 scales, then the coded integer weights."""
    return 4 * (len(qm.weight_scales) + len(qm.act_scales)) + len(encode_tensors(list(qm.codes.values()),
                                                                                   qm.cfg.weight_qmax))


def measure(data: bytes, model_cfg: ByteGPTConfig, train_cfg: TrainConfig, device: torch.device | None = None) -> dict:
    """Train one model and measure what it stores: a row of nonzeros, weight and data bytes, total."""
    torch.manual_seed(train_cfg.seed)
    model = ByteGPT(model_cfg)
    stats = fit(model, data, train_cfg, device or torch.device("cpu"))
    qm = quantize(model.cpu())
    w = weights_bytes(qm)
    d = len(arith.pack_streams(arith.encode(ExactByteGPT(qm), data, STREAM_GROUP)))
    nnz = qm.num_nonzero()
    return {"regularizer": train_cfg.regularizer, "alpha": train_cfg.alpha, "steps": stats.steps,
            "float_bpb": round(stats.final_loss_bits, 4), "params": stats.params, "nonzeros": nnz,
            "nonzeros_before": stats.nonzeros_before, "rgp_removed": stats.rgp_removed,
            "tamade_threshold": stats.tamade_threshold, "weights_bytes": w,
            "bits_per_nonzero": round(8 * w / max(1, nnz), 3), "data_bytes": d, "total_bytes": w + d}


def default_grid(n_bytes: int) -> list[float]:
    return [b * math.log(2) / max(1, n_bytes) for b in GRID_BITS]


def choose_alpha(data: bytes, model_cfg: ByteGPTConfig, train_cfg: TrainConfig, grid: list[float] | None = None,
                 steps_frac: float = 0.25, device: torch.device | None = None) -> tuple[float, list[dict]]:
    """Short runs (steps_frac of the full steps) for each alpha of `grid` (default: `default_grid`);
    returns the alpha of the smallest total bytes and the measured rows."""
    grid = default_grid(len(data)) if grid is None else grid
    full = train_cfg.num_steps(-(-len(data) // model_cfg.block_size))
    short = replace(train_cfg, max_steps=max(1, round(steps_frac * full)), min_steps=1)
    rows = [measure(data, model_cfg, replace(short, alpha=a), device) for a in grid]
    best = min(rows, key=lambda r: r["total_bytes"])
    return best["alpha"], rows
