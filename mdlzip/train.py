"""Training on the input: AdamW with warm-up and cosine decay, magnitude pruning, masked fine-tuning.

The step count is a pure function of the input size and the options, never of wall-clock time, and
every random choice comes from one seeded generator, so the same input and options give the same
model on the same machine (and any machine decodes the archive, see `mdlzip.models.exact`).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from .models.exact import chunk_inputs, split_chunks
from .models.transformer import BOS, ByteGPT

IGNORE = -100  # target of the padding after a short last chunk (cross_entropy ignore_index)


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 8.0  # passes over the input
    min_steps: int = 50
    max_steps: int = 100_000
    batch_size: int = 16  # chunks per step
    lr: float = 1e-2
    warmup_frac: float = 0.05
    min_lr_frac: float = 0.1
    prune_at: float = 0.6  # fraction of the steps after which weights are pruned and the mask fixed
    sparsity: float = 0.5  # fraction of each weight matrix pruned to zero
    seed: int = 0

    def num_steps(self, n_chunks: int) -> int:
        steps = math.ceil(self.epochs * n_chunks / self.batch_size)
        return max(self.min_steps, min(self.max_steps, steps))

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainStats:
    steps: int
    final_loss_bits: float  # mean training loss of the last steps, bits per byte (float model)


def get_lr(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to min_lr_frac * lr."""
    warmup = max(1, int(cfg.warmup_frac * total))
    if step < warmup:
        return cfg.lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return cfg.lr * (cfg.min_lr_frac + (1 - cfg.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * progress)))


def chunk_bytes(data: bytes, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Split the input into the coded chunks: (N, T) targets (padded with IGNORE) and (N, T) inputs."""
    targets = split_chunks(data, block_size, pad=IGNORE)
    return targets, chunk_inputs(targets.clamp_min(0))


@torch.no_grad()
def magnitude_prune(model: ByteGPT, sparsity: float) -> None:
    """Zero the smallest-magnitude fraction of every weight matrix and fix the mask."""
    for m in model.prunable().values():
        k = int(sparsity * m.weight.numel())
        if k == 0:
            continue
        threshold = m.weight.abs().flatten().kthvalue(k).values
        m.mask.copy_((m.weight.abs() > threshold).float())
        m.weight.mul_(m.mask)


@torch.no_grad()
def mask_absent_bytes(model: ByteGPT, data: bytes) -> None:
    """Zero and fix the input-embedding rows of byte values that never occur: they never train."""
    present = torch.zeros(257, dtype=torch.bool)
    present[torch.from_numpy(np.unique(np.frombuffer(data, dtype=np.uint8)).astype(np.int64))] = True
    present[BOS] = True
    for table in (model.wte, model.wte2):
        table.mask[~present] = 0
        table.weight.mul_(table.mask)


def fit(model: ByteGPT, data: bytes, cfg: TrainConfig, device: torch.device, progress: bool = False) -> TrainStats:
    """Train `model` in place on the chunks of `data`; prune part-way through."""
    targets, inputs = chunk_bytes(data, model.cfg.block_size)
    mask_absent_bytes(model, data)
    gen = torch.Generator().manual_seed(cfg.seed)
    total = cfg.num_steps(len(targets))
    prune_step = int(cfg.prune_at * total) if cfg.sparsity > 0 else total
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    model.to(device).train()
    recent: list[float] = []
    bar = tqdm(range(total), desc="training", unit="step", disable=not progress, leave=False)
    for step in bar:
        if step == prune_step:
            magnitude_prune(model, cfg.sparsity)
        idx = torch.randint(len(targets), (min(cfg.batch_size, len(targets)),), generator=gen)
        for group in opt.param_groups:
            group["lr"] = get_lr(step, total, cfg)
        _, loss = model(inputs[idx].to(device), targets[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent = (recent + [loss.item() / math.log(2)])[-20:]
        bar.set_postfix(bpb=f"{recent[-1]:.3f}")
    model.eval()
    return TrainStats(steps=total, final_loss_bits=float(np.mean(recent)))
