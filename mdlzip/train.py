"""Training on the input: AdamW with warm-up and cosine decay, a sparsity method, masked fine-tuning.

Three phases, as fractions of the steps: a prelude without penalty, the regularized phase (the
method of `mdlzip.regularizers`), then pruning (TAMADE or magnitude, with Random Gradient Pruning
before and after; `mdlzip.pruning`) and fine-tuning with the masks held fixed.

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
from .pruning import (
    apply_masks,
    magnitude_prune,
    nonzero_codes,
    random_gradient_prune,
    sample_loss,
    tamade,
)
from .regularizers import REGULARIZERS, Regularizer

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
    regularizer: str = "rl1"  # a name in mdlzip.regularizers.REGULARIZERS (rl1: smallest archives measured)
    alpha: float = 1e-4  # penalty strength, nats of mean training loss per unit of penalty per weight
    # (mdlzip.config.settings sets it to alpha_bits * ln 2 / input bytes)
    beta: float = 5.0  # DRR sharpness: penalty 1 - exp(-beta |w|)
    tolerance: float = 0.02  # TAMADE: relative increase of the sample loss allowed by pruning
    tamade_relative: bool = False  # TAMADE threshold relative to each matrix's max |w| (paper: global)
    tamade_chunks: int = 64  # chunks of the input on which TAMADE measures the loss
    rgp: bool = True  # Random Gradient Pruning before and after pruning
    prelude_frac: float = 0.1  # fraction of the steps before the regularized phase
    finetune_frac: float = 0.4  # fraction of the steps after pruning, with the masks fixed
    sparsity: float = 0.5  # magnitude: fraction of each weight matrix pruned to zero
    seed: int = 0

    def num_steps(self, n_chunks: int) -> int:
        steps = math.ceil(self.epochs * n_chunks / self.batch_size)
        return max(self.min_steps, min(self.max_steps, steps))

    def phases(self, total: int) -> tuple[int, int]:
        """(first regularized step, pruning step) for `total` steps; pruning at `total` means after the last."""
        prune = total - round(self.finetune_frac * total)
        return min(prune, round(self.prelude_frac * total)), prune

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TrainStats:
    steps: int
    final_loss_bits: float  # mean training loss of the last steps, bits per byte (float model)
    regularizer: str = "none"
    alpha: float = 0.0
    params: int = 0  # weights in the model (all matrices, dense)
    nonzeros_before: int | None = None  # nonzero 5-bit codes when pruning starts (end of the regularized phase)
    nonzeros_pruned: int | None = None  # after TAMADE or magnitude pruning (and the first RGP)
    nonzeros_rgp: int | None = None  # after the second Random Gradient Pruning
    nonzeros_final: int | None = None  # after fine-tuning: what the archive stores
    rgp_removed: int = 0  # nonzero weights removed by Random Gradient Pruning, both passes
    tamade_threshold: float | None = None  # |w| (or |w| / max|w| of its matrix if relative) at or below which weights were pruned
    tamade_base_bits: float | None = None  # sample loss before TAMADE (after the first RGP), bits per byte
    tamade_loss_bits: float | None = None  # sample loss after TAMADE, bits per byte
    sample_before_bits: float | None = None  # sample loss before any pruning, bits per byte
    sample_pruned_bits: float | None = None  # sample loss after all pruning, before fine-tuning, bits per byte


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
def mask_absent_bytes(model: ByteGPT, data: bytes) -> None:
    """Zero and fix the input-embedding rows of byte values that never occur: they never train."""
    present = torch.zeros(257, dtype=torch.bool)
    present[torch.from_numpy(np.unique(np.frombuffer(data, dtype=np.uint8)).astype(np.int64))] = True
    present[BOS] = True
    for table in (model.wte, model.wte2):
        table.mask[~present] = 0
        table.weight.mul_(table.mask)


def prune(model: ByteGPT, reg: Regularizer, cfg: TrainConfig, sample: tuple[torch.Tensor, torch.Tensor],
          gen: torch.Generator, stats: TrainStats) -> None:
    """End of the regularized phase: RGP, the method's pruning, RGP again; fixes the masks, fills `stats`."""
    stats.nonzeros_before = nonzero_codes(model)
    stats.sample_before_bits = sample_loss(model, *sample) / math.log(2)
    if cfg.rgp:
        stats.rgp_removed += random_gradient_prune(model, gen)
    if reg.pruning == "magnitude":
        magnitude_prune(model, cfg.sparsity)
    elif reg.pruning == "tamade":
        result = tamade(model, *sample, cfg.tolerance, relative=cfg.tamade_relative)
        stats.tamade_threshold = result.threshold
        stats.tamade_base_bits, stats.tamade_loss_bits = result.base_loss / math.log(2), result.loss / math.log(2)
    stats.nonzeros_pruned = nonzero_codes(model)
    if cfg.rgp:
        stats.rgp_removed += random_gradient_prune(model, gen)
        stats.nonzeros_rgp = nonzero_codes(model)
    stats.sample_pruned_bits = sample_loss(model, *sample) / math.log(2)


def fit(model: ByteGPT, data: bytes, cfg: TrainConfig, device: torch.device, progress: bool = False) -> TrainStats:
    """Train `model` in place on the chunks of `data`: prelude, regularized phase, pruning, fine-tuning."""
    targets, inputs = chunk_bytes(data, model.cfg.block_size)
    mask_absent_bytes(model, data)
    gen = torch.Generator().manual_seed(cfg.seed)
    total = cfg.num_steps(len(targets))
    reg_start, prune_step = cfg.phases(total)
    model.to(device).train()
    reg = REGULARIZERS[cfg.regularizer]([m.weight for m in model.prunable().values()], cfg.alpha, cfg.beta)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.95), weight_decay=0.0)
    stats = TrainStats(steps=total, final_loss_bits=float("nan"), regularizer=reg.name, alpha=cfg.alpha,
                       params=sum(m.weight.numel() for m in model.prunable().values()))
    pruned = reg.pruning is None

    def prune_now() -> None:
        sample = torch.randint(len(targets), (min(cfg.tamade_chunks, len(targets)),), generator=gen)
        prune(model, reg, cfg, (inputs[sample].to(device), targets[sample].to(device)), gen, stats)

    recent: list[float] = []
    bar = tqdm(range(total), desc="training", unit="step", disable=not progress, leave=False)
    for step in bar:
        if step == reg_start and (extra := reg.start()):
            opt.add_param_group({"params": extra, "weight_decay": 0.0})
        if step == prune_step and not pruned:
            prune_now()
            pruned = True
        regularized = reg_start <= step < prune_step
        idx = torch.randint(len(targets), (min(cfg.batch_size, len(targets)),), generator=gen)
        for group in opt.param_groups:
            group["lr"] = get_lr(step, total, cfg)
        _, loss = model(inputs[idx].to(device), targets[idx].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        if regularized:
            reg.add_grads()
        opt.step()
        if regularized:
            reg.after_step()
        elif pruned and step >= prune_step:
            apply_masks(model)
        recent = (recent + [loss.item() / math.log(2)])[-20:]
        bar.set_postfix(bpb=f"{recent[-1]:.3f}")
    if not pruned:  # finetune_frac = 0: prune after the last step, no fine-tuning
        prune_now()
    model.eval()
    stats.final_loss_bits = float(np.mean(recent))
    if reg.pruning is not None:
        stats.nonzeros_final = nonzero_codes(model)
    return stats
