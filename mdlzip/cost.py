"""What training and coding a model cost in seconds, on the reference machine (2 CPU cores).

The time budget (`levels.settings`, `--time-budget`) caps the training steps with these estimates,
never with a clock: the step count stays a pure function of the input size and the options, so the
same input and options give the same archive on the same machine. A faster machine finishes early;
a slower one takes longer than the budget by its slowness. The rates were measured on the 2-core
machine that CI runs on (`python scripts/time_mixed.py --rates`): one rate for the matrix products
and one for the attention (both count multiply and add as two operations), and a cost per layer
(training: autograd, AdamW and the regularizer per matrix; coding: the row-wise numba kernels).
No torch here: the levels plan with it before any model runs.
"""
from __future__ import annotations

from .models.stored import ByteGPTConfig, weight_layout

EMBEDDINGS = ("wte", "wte2", "wpe")  # looked up, not multiplied
TRAIN_FLOPS_PER_SECOND = 85e9  # forward and backward products of a training step (2x64 at 43 ms/step, 4x128 at 322)
TRAIN_SECONDS_PER_LAYER = 0.012  # per step, whatever the batch
CODE_PRODUCT_FLOPS_PER_SECOND = 380e9  # mixed coding: int8 products of all lanes at once (models/exact_batched.py)
CODE_ATTENTION_FLOPS_PER_SECOND = 16e9  # mixed coding: each lane's attention over its int8 cache (2x64 at 1,024 lanes: 16.6e9, 4x128 at 256: 26.2e9)
CODE_SECONDS_PER_LAYER = 0.8e-6  # per byte: norms, requantizing, residuals
MIX_SECONDS_PER_BYTE = 5e-6  # the adaptive statistics and the coder, per byte of the mixed coding (1,024 lanes)
CM_SECONDS_PER_BYTE = 4.5e-6  # the adaptive statistics alone (cm), per byte (the C kernel 4: 222 KB/s on 1 MiB of dickens)


def product_flops(cfg: ByteGPTConfig) -> int:
    """Operations of the matrix products per position (every stored matrix but the embeddings)."""
    return 2 * sum(rows * cols for name, (rows, cols) in weight_layout(cfg).items() if name not in EMBEDDINGS)


def attention_flops(cfg: ByteGPTConfig) -> int:
    """Operations of the attention per position, at the mean context (half a block): scores and values."""
    return 2 * 2 * cfg.n_layer * cfg.n_embd * (cfg.block_size // 2)


def train_step_seconds(cfg: ByteGPTConfig, batch_size: int) -> float:
    """One training step of `batch_size` chunks: forward and backward (3x the forward's products)."""
    positions = batch_size * cfg.block_size
    flops = 3 * positions * (product_flops(cfg) + attention_flops(cfg))
    return flops / TRAIN_FLOPS_PER_SECOND + TRAIN_SECONDS_PER_LAYER * cfg.n_layer


def mixed_seconds(cfg: ByteGPTConfig, n_bytes: int) -> float:
    """Coding `n_bytes` with the mixed coder (the model one position at a time for every lane)."""
    per_byte = (product_flops(cfg) / CODE_PRODUCT_FLOPS_PER_SECOND + attention_flops(cfg) / CODE_ATTENTION_FLOPS_PER_SECOND
                + CODE_SECONDS_PER_LAYER * cfg.n_layer + MIX_SECONDS_PER_BYTE)
    return per_byte * n_bytes


def cm_seconds(n_bytes: int) -> float:
    """Coding `n_bytes` with the adaptive statistics alone."""
    return CM_SECONDS_PER_BYTE * n_bytes


def format_seconds(seconds: float) -> str:
    """90 s, 12 min, 3.5 h: how long, as a person reads it."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
