"""The model size (`--size auto`), chosen by measured description length on held-back chunks.

The chunks of every HOLD_EVERY-th group are held back (a dataset's groups are its records, so a
record is held back whole; one file's are its chunks); each candidate width (the level's, its half
and its quarter) trains for a fraction of the full steps (at most config.TRIAL_MAX_STEPS) on the
other chunks, is quantized, and is scored by what its archive would hold: its weights section
(exact bytes) plus the held-back chunks' code length under the exact integer model alone (at most
SCORE_MAX_CHUNKS of them, evenly spaced), scaled to the whole input. The smallest
total wins; a model that no width makes pay is still measured here and left to the coder's own
comparison with the adaptive statistics alone (cm).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..codec.layout import gather_chunks
from ..models.exact import ExactByteGPT, chunk_inputs
from ..models.stored import ByteGPTConfig
from ..sections import weights_section
from . import distributed
from .config import WIDTH_FRACTIONS, WIDTH_TRIAL_FRACTION, TrainConfig, trial_steps
from .train import Chunks, train_quantized

HOLD_EVERY = 10  # every 10th record is held back to measure the candidates
MIN_HELD = 8  # fewer held-back chunks than this: too few to measure, the level's width is kept
# held-back chunks scored at most (2 MiB at a 128-byte context), evenly spaced among them: beyond some
# thousands of chunks the estimate is as good (its standard error ~0.01 bits/byte) and a large
# input's trials would otherwise code a tenth of it under each candidate
SCORE_MAX_CHUNKS = 16384
SCORE_BATCH = 8  # held-back chunks per forward pass of the exact model


def candidate_widths(cfg: ByteGPTConfig) -> list[int]:
    """The level's width and its fractions, multiples of the head count, at least two per head."""
    step = cfg.n_head
    widths = {max(2 * step, round(cfg.n_embd * f / step) * step) for f in WIDTH_FRACTIONS}
    return sorted(widths, reverse=True)


def code_bits(model: ExactByteGPT, data: bytes, chunks: Chunks) -> float:
    """Bits of the chunks' bytes under the exact model alone (each chunk from its start token)."""
    starts, lengths = chunks
    block, arr, bits = model.cfg.block_size, np.frombuffer(data, np.uint8), 0.0
    for i in range(0, len(starts), SCORE_BATCH):
        targets = gather_chunks(arr, starts[i:i + SCORE_BATCH], lengths[i:i + SCORE_BATCH], block, pad=0)
        freqs = model.forward(chunk_inputs(torch.from_numpy(targets)), model.new_cache(len(targets))).cpu().numpy()
        picked = np.take_along_axis(freqs, targets[:, :, None], axis=2)[:, :, 0]
        valid = np.arange(block)[None, :] < lengths[i:i + SCORE_BATCH, None]
        bits -= float(np.log2(picked[valid] / freqs.sum(-1)[valid]).sum())
    return bits


def held_back(groups: np.ndarray) -> np.ndarray:
    """Which chunks are held back, given each chunk's group (record, or chunk, number)."""
    return groups % HOLD_EVERY == HOLD_EVERY - 1


def choose_width(data: bytes, chunks: Chunks, held: np.ndarray, cfg: ByteGPTConfig, train_cfg: TrainConfig,
                 device: torch.device) -> tuple[ByteGPTConfig, list[dict]]:
    """The width of the smallest measured total, and the measured rows (none where there is too little
    to hold back). `chunks`: (starts, lengths) of every chunk; `held`: which of them are held back.
    Under torchrun every rank trains each width, and all keep rank 0's choice."""
    starts, lengths = chunks
    stride = max(1, -(-int(held.sum()) // SCORE_MAX_CHUNKS))
    held_chunks, rest_chunks = (starts[held][::stride], lengths[held][::stride]), (starts[~held], lengths[~held])
    widths = candidate_widths(cfg)
    if len(held_chunks[0]) < MIN_HELD or len(widths) == 1:
        return cfg, []
    full = train_cfg.num_steps(len(rest_chunks[0]))
    trial = replace(train_cfg, max_steps=min(full, max(train_cfg.min_steps, trial_steps(full, WIDTH_TRIAL_FRACTION))))
    scale = int(lengths.sum()) / max(1, int(held_chunks[1].sum()))
    rows = []
    for width in widths:
        candidate = replace(cfg, n_embd=width)
        qm = train_quantized(data, candidate, trial, device, chunks=rest_chunks).qm
        weight_bytes, bits = len(weights_section(qm)), code_bits(ExactByteGPT(qm, device), data, held_chunks)
        rows.append({"n_embd": width, "nonzeros": qm.num_nonzero(), "weights_bytes": weight_bytes,
                     "held_back_bits_per_byte": round(bits / int(held_chunks[1].sum()), 4),
                     "estimated_total_bytes": round(weight_bytes + bits * scale / 8)})
    best = min(rows, key=lambda row: row["estimated_total_bytes"])
    return distributed.from_main((replace(cfg, n_embd=best["n_embd"]), rows))  # under torchrun: rank 0's
