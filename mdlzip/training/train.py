"""Training on the input: AdamW with warm-up and cosine decay, a sparsity method, masked fine-tuning.

Three phases, as fractions of the steps: a prelude without penalty, the regularized phase (the
method of `regularizers.py`), then pruning (TAMADE or magnitude, with Random Gradient Pruning
before and after; `pruning.py`) and fine-tuning with the masks held fixed.

The step count is a pure function of the input size and the options, never of wall-clock time, and
every random choice comes from one seeded generator, so the same input and options give the same
model on the same machine (and any machine decodes the archive, see `mdlzip.models.exact`). Under
torchrun each process has its own generator and shard of the chunks, and the ranks end with rank 0's
model (distributed.py): how many trained may change the weights, never the decoding.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..codec.layout import file_chunks, gather_chunks
from ..cost import format_seconds
from ..models.exact import chunk_inputs, quantize
from ..models.lump import lump_transformer
from ..models.stored import ByteGPTConfig, QuantizedModel, param_count
from ..models.transformer import BOS, ByteGPT
from . import distributed
from .config import TrainConfig
from .pruning import (
    apply_masks,
    magnitude_prune,
    nonzero_codes,
    random_gradient_prune,
    sample_loss,
    tamade,
)
from .regularizers import REGISTRY, Regularizer

IGNORE = -100  # target of the padding after a short last chunk (cross_entropy ignore_index)
Chunks = tuple[np.ndarray, np.ndarray]  # (starts, lengths) of the chunks to train on


@dataclass
class TrainStats:
    steps: int
    final_loss_bits: float  # mean training loss of the last steps, bits per byte (float model)
    regularizer: str = "none"
    alpha: float = 0.0
    params: int = 0  # weights in the model (all matrices, dense)
    batch_size: int = 0  # chunks per step, over all processes (TrainConfig.scaled)
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


class ChunkSource:
    """The chunks of the input that training draws from, gathered batch by batch: the input cut every
    T bytes, or at `chunks` (starts, lengths), e.g. a dataset's record-aligned chunks. Nothing but the
    chunks' starts and lengths is held beside the input (16 bytes per chunk), so a large input, even
    memory-mapped, trains without its chunks copied out as tensors."""

    def __init__(self, data: bytes, block_size: int, chunks: Chunks | None = None):
        self.arr, self.block = np.frombuffer(data, dtype=np.uint8), block_size
        self.starts, self.lengths = file_chunks(len(data), block_size) if chunks is None else chunks

    def __len__(self) -> int:
        return len(self.starts)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T) model inputs and (B, T) targets (padded with IGNORE) of the chunks `idx`."""
        idx = idx.numpy()
        targets = torch.from_numpy(gather_chunks(self.arr, self.starts[idx], self.lengths[idx], self.block, pad=IGNORE))
        return chunk_inputs(targets.clamp_min(0)), targets


@torch.no_grad()
def mask_absent_bytes(model: ByteGPT, data: bytes) -> None:
    """Zero and fix the input-embedding rows of byte values that never occur: they never train."""
    present = torch.zeros(257, dtype=torch.bool)
    present[:256] = torch.from_numpy(np.bincount(np.frombuffer(data, dtype=np.uint8), minlength=256) > 0)
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


ESTIMATE_AFTER = 8  # steps timed before the training's duration is estimated (with progress)
ANNOUNCE_SECONDS = 30.0  # a training estimated to take longer is announced in one line on stderr


def _announce(total: int, seconds_per_step: float, device: torch.device) -> None:
    """One line on stderr, above the bar: how long training will take, measured on its first steps."""
    eta = total * seconds_per_step
    if eta > ANNOUNCE_SECONDS:
        tqdm.write(f"mdlzip: training {total:,} steps, about {format_seconds(eta)} on {torch.get_num_threads()} threads "
                   f"({device}); Ctrl-C stops it and leaves no output", file=sys.stderr)


def fit(model: ByteGPT, data: bytes, cfg: TrainConfig, device: torch.device, progress: bool = False,
        chunks: Chunks | None = None) -> TrainStats:
    """Train `model` in place on the chunks of `data` (or those given): prelude, regularized phase,
    pruning, fine-tuning. Under torchrun (distributed.py) every rank trains on its own shard of the
    chunks and ends with rank 0's model; on CUDA the batches are larger (TrainConfig.scaled), the
    forward pass in bfloat16 autocast, AdamW fused, and the batches copied from pinned memory."""
    source = ChunkSource(data, model.cfg.block_size, chunks)
    mask_absent_bytes(model, data)
    rank, world = distributed.world()
    cuda = device.type == "cuda"
    run = cfg.scaled(world * (cfg.cuda_batch_factor if cuda else 1))  # the steps, lr and batch over all ranks
    batch = run.batch_size // world  # chunks this rank draws per step
    own = torch.arange(rank % len(source), len(source), world)  # its shard (all the chunks in one process)
    gen = torch.Generator().manual_seed(cfg.seed + rank)
    total = run.num_steps(len(source))
    reg_start, prune_step = cfg.phases(total)
    model.to(device).train()
    net = distributed.data_parallel(model, device)
    reg = REGISTRY[cfg.regularizer]([m.weight for m in model.prunable().values()], cfg.alpha, cfg.beta)
    opt = torch.optim.AdamW(model.parameters(), lr=run.lr, betas=cfg.betas, weight_decay=0.0, fused=cuda or None)
    stats = TrainStats(steps=total, final_loss_bits=float("nan"), regularizer=reg.name, alpha=cfg.alpha,
                       params=param_count(model.cfg), batch_size=run.batch_size)
    pruned = reg.pruning is None

    def prune_now() -> None:  # by rank 0 alone, on the whole input; the others take its masks and weights
        if distributed.is_main():
            sample = torch.randint(len(source), (min(cfg.tamade_chunks, len(source)),), generator=gen)
            prune(model, reg, cfg, tuple(t.to(device) for t in source.batch(sample)), gen, stats)
        distributed.sync_from_main(model.state_dict().values())

    recent: list[torch.Tensor] = []  # the last losses, read once at the end (reading each would stall a GPU)
    bar = tqdm(range(total), desc="training", unit="step", disable=not progress, leave=False)
    started = time.perf_counter()
    for step in bar:
        if progress and step == ESTIMATE_AFTER < total // 4:
            _announce(total, (time.perf_counter() - started) / step, device)
        if step == reg_start and (extra := reg.start()):
            opt.add_param_group({"params": extra, "weight_decay": 0.0})
        if step == prune_step and not pruned:
            prune_now()
            pruned = True
        regularized = reg_start <= step < prune_step
        idx = own[torch.randint(len(own), (min(batch, len(own)),), generator=gen)]
        for group in opt.param_groups:
            group["lr"] = get_lr(step, total, run)
        inputs, targets = source.batch(idx)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            _, loss = net(_to(inputs, device), _to(targets, device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if regularized:
            reg.add_grads()
        opt.step()
        if regularized:
            reg.after_step()
        elif pruned and step >= prune_step:
            apply_masks(model)
        recent = (recent + [loss.detach()])[-20:]
        if progress:
            bar.set_postfix(bpb=f"{loss.item() / math.log(2):.3f}")
    if not pruned:  # finetune_frac = 0: prune after the last step, no fine-tuning
        prune_now()
    distributed.sync_from_main(model.buffers())  # the activation scales, which each rank's own batches moved
    model.eval()
    stats.final_loss_bits = float(np.mean([x.item() / math.log(2) for x in recent]))  # this rank's batches
    if reg.pruning is not None:
        stats.nonzeros_final = nonzero_codes(model)
    return stats


def _to(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A batch on the device; to a GPU from pinned memory, without waiting for the copy."""
    return batch.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else batch.to(device)


@dataclass
class Trained:
    """A model trained on the input and frozen onto its integer grids: what the archive stores."""

    qm: QuantizedModel
    stats: TrainStats | None  # None when there was nothing to train on
    lumped: dict | None = None  # neurons and parameters before/after lumping (models/lump.py)


def train_quantized(data: bytes, model_cfg: ByteGPTConfig, train_cfg: TrainConfig, device: torch.device,
                    progress: bool = False, lump_eps: float | None = None, chunks: Chunks | None = None) -> Trained:
    """bytes -> train (regularize, prune, fine-tune) -> [lump] -> quantize: the one path every
    caller takes from an input to a stored model. `chunks`: train on these (starts, lengths) only."""
    torch.manual_seed(train_cfg.seed)
    model = ByteGPT(model_cfg)
    stats = fit(model, data, train_cfg, device, progress, chunks) if data else None
    model.cpu()  # lumping and quantizing as on any machine
    lumped = None
    if lump_eps is not None:
        model, lumped = lump_transformer(model, lump_eps)
    return Trained(quantize(model), stats, lumped)
