"""Compression levels -1 ... -9: model size and training budget, as functions of level and input size."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .models.transformer import ByteGPTConfig
from .train import TrainConfig

DEFAULT_LEVEL = 6
STREAM_GROUP = 64  # chunks per range-coded stream


@dataclass(frozen=True)
class Preset:
    n_layer: int
    n_embd: int
    block_size: int
    epochs: float
    sparsity: float
    params_per_byte: float  # the dense parameter count is kept below this times the input size
    n_head: int = 4
    weight_bits: int = 5
    regularizer: str = "magnitude"  # sparsity method (mdlzip.regularizers)
    alpha_bits: float = 10.0  # penalty strength in data bits per weight: alpha = alpha_bits * ln 2 / input bytes


PRESETS: dict[int, Preset] = {
    1: Preset(n_layer=1, n_embd=32, block_size=64, epochs=1.0, sparsity=0.5, params_per_byte=0.1),
    2: Preset(n_layer=1, n_embd=32, block_size=128, epochs=2.0, sparsity=0.5, params_per_byte=0.15),
    3: Preset(n_layer=2, n_embd=32, block_size=128, epochs=3.0, sparsity=0.5, params_per_byte=0.2),
    4: Preset(n_layer=2, n_embd=64, block_size=128, epochs=3.0, sparsity=0.5, params_per_byte=0.25),
    5: Preset(n_layer=2, n_embd=64, block_size=128, epochs=5.0, sparsity=0.5, params_per_byte=0.25),
    6: Preset(n_layer=2, n_embd=64, block_size=128, epochs=8.0, sparsity=0.5, params_per_byte=0.25,
              regularizer="rl1", alpha_bits=30.0),  # measured: docs/regularizers.md
    7: Preset(n_layer=2, n_embd=96, block_size=128, epochs=10.0, sparsity=0.5, params_per_byte=0.3),
    8: Preset(n_layer=3, n_embd=128, block_size=256, epochs=10.0, sparsity=0.5, params_per_byte=0.35),
    9: Preset(n_layer=4, n_embd=128, block_size=256, epochs=16.0, sparsity=0.5, params_per_byte=0.4),
}


def param_count(cfg: ByteGPTConfig) -> int:
    d = cfg.n_embd
    per_layer = 4 * d * d + 2 * cfg.mlp_ratio * d * d
    return (2 * 257 + cfg.block_size + 256) * d + cfg.n_layer * per_layer


def settings(level: int, n_bytes: int, **train_overrides) -> tuple[ByteGPTConfig, TrainConfig]:
    """Model and training configuration for `level` on an input of `n_bytes` bytes.

    The model narrows (in steps of 4 * n_head) for small inputs, so that what it costs to store
    stays in proportion to what it can save; the step count follows from the input size.
    """
    if level not in PRESETS:
        raise ValueError(f"level must be 1..9, not {level}")
    p = PRESETS[level]
    cfg = ByteGPTConfig(block_size=max(1, min(p.block_size, n_bytes)), n_layer=p.n_layer, n_head=p.n_head,
                        n_embd=p.n_embd, weight_bits=p.weight_bits)
    step = 4 * p.n_head
    while cfg.n_embd > step and param_count(cfg) > p.params_per_byte * n_bytes:
        cfg = replace(cfg, n_embd=cfg.n_embd - step)
    alpha = p.alpha_bits * math.log(2) / max(1, n_bytes)
    train = replace(TrainConfig(epochs=p.epochs, sparsity=p.sparsity, regularizer=p.regularizer, alpha=alpha),
                    **train_overrides)
    return cfg, train

# The smallest input on which a level trains the transformer for mixed coding; below it only the
# adaptive statistics (cm) code the data. The cm candidate is always made, so training can only
# make an archive smaller, at the cost of time: at level 6 on dickens (1 MiB) the model's weights
# cost 48,265 bytes and saved 6,911 bytes of data (README, "Mixing").
MODEL_MIN_BYTES = {**dict.fromkeys(range(1, 7), 1 << 24), 7: 0, 8: 0, 9: 0}
