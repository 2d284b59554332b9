"""Compression levels -1 ... -9: what each level means, and the plan it makes for one input.

A `Level` says what a level asks for; `settings(level, n_bytes)` turns it into the `Plan` for an
input of that size (as python-zstandard's `ZstdCompressionParameters.from_level`): the
transformer (narrowed for small inputs), its training (its steps capped by the time budget), the
adaptive statistics, the lanes of the mixed coder, and whether the level trains a model at that
size at all. No torch here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import cost
from .codec.cm_params import MixParams
from .codec.layout import STREAM_GROUP
from .errors import OptionError
from .models.stored import ByteGPTConfig, param_count
from .training.config import TrainConfig, trial_steps

DEFAULT_LEVEL = 6
DEFAULT_LANES = 1024  # lanes of the mixed coder: the decoder's batch, and so its speed (Level.lanes)
# Levels 8-9 (context 256) step 256 lanes: at 1,024 every step streams all lanes' attention caches
# (level 9: 256 MB) from memory; at 256 they decoded 1.2x faster (dickens 256 KiB: level 8 50 -> 60
# KB/s; level 9 35 -> 42, before the attention's 16-bit sums) and the archive was 1.3 % smaller (fewer
# lanes dilute the adaptive statistics less). At context 128 (levels 6, 7) 1,024 lanes decode 6 % faster.
WIDE_CONTEXT_LANES = 256
# The smallest input on which levels 1-6 train the transformer for mixed coding; below it only the
# adaptive statistics (cm) code the data. At level 6 on dickens (1 MiB) the model's weights cost
# 48,265 bytes and saved 6,911 bytes of data (README, "Mixing"); nobody has measured 16 MiB yet.
MODEL_MIN_BYTES = 1 << 24
# The time budget: a level's compression is planned to take at most `seconds_per_mb` per MB of input
# on the reference machine (2 cores; cost.py), model training and coding included, and never less than
# MIN_BUDGET_SECONDS (a short training fits whatever the size). --time-budget replaces it.
MIN_BUDGET_SECONDS = 30.0


@dataclass(frozen=True)
class Level:
    n_layer: int  # transformer blocks
    n_embd: int  # widest residual stream (narrowed in steps of 4 * n_head for small inputs)
    block_size: int  # context length: bytes per chunk (never more than the input)
    epochs: float  # passes over the input
    sparsity: float  # magnitude pruning: fraction of each matrix pruned
    params_per_byte: float  # the dense parameter count is kept below this times the input size
    n_head: int = 4  # attention heads
    weight_bits: int = 5  # bits per weight code
    regularizer: str = "magnitude"  # sparsity method (training/regularizers.py)
    alpha_bits: float = 10.0  # penalty strength in data bits per weight: alpha = alpha_bits * ln 2 / input bytes
    model_min_bytes: int = MODEL_MIN_BYTES  # the smallest input on which the level trains a model for mixing
    mixer: MixParams = MixParams(hash_bits=26)  # the adaptive statistics at their largest (sized down for small inputs)
    mixer_alternatives: tuple[str, ...] = ("dense", "image")  # other context sets (CONTEXT_SETS) tried on a sample of the input
    seconds_per_mb: float = 60.0  # the time budget per MB of input (see MIN_BUDGET_SECONDS)
    lanes: int = DEFAULT_LANES  # lanes of the mixed coder (the decoder's batch; see WIDE_CONTEXT_LANES)


# Context sets a level may try besides its own, on a sample of the input (codec/mixer.choose_params):
# "dense" has every order from 2 to 8 and order 12 besides the default's word, column and record
# contexts: 12 kinds against the default's 10. It pays on data with long exact
# structure (measured with scripts/ab_cm.py, one lane, level 6 tables, whole files, kernel 4: kennedy.xls
# 14,804 -> 13,794 bytes, diamonds.csv 260,377 -> 256,468, DNA 196,065 -> 190,953), on text not (bible
# 649,337 -> 649,610; 128 KiB samples 0.1-0.3 % larger), so it is chosen by measurement, never by default. It
# took the place of a "long" set (orders 2-24: DNA 191,278, but kennedy 16,077 and text 2.8 % worse),
# which no data of the benchmark needed beside it. "image" models a bitmap (one bit a pixel, rows of a
# fixed length: the record length): on ptt5, a fax page, 24,736 bytes against 33,521 with the default
# set (zpaq -m5: 27,547); it is tried only where the sample shows records of an image's length
# (choose_params).
CONTEXT_SETS = {"dense": ("2", "3", "4", "5", "6", "7", "8", "12", "word", "word_pair", "column", "record"),
                "image": ("1", "2", "3", "4", "6", "record", "image")}

# The adaptive statistics by level (README "Levels" has their measured size and speed): levels 1-2 hash
# 5 context kinds into 16 MiB of slots, 3-5 seven kinds into 64 MiB, 6-9 ten kinds into 256 MiB (on
# 1 MiB of text each doubling of the slots measured 0.2-0.6 % smaller; on the 4 MB bible 128 -> 256 MiB
# 0.4 %). Every table is sized down to what the input can fill (MixParams.sized_for).
FAST_MIXER = MixParams(hash_bits=22, contexts=("2", "3", "4", "word", "record"))  # tries no other set
MIDDLE_MIXER = MixParams(hash_bits=24, contexts=("2", "3", "4", "6", "word", "column", "record"))


LEVELS: dict[int, Level] = {
    1: Level(n_layer=1, n_embd=32, block_size=64, epochs=1.0, sparsity=0.5, params_per_byte=0.1,
             mixer=FAST_MIXER, mixer_alternatives=(), seconds_per_mb=15.0),
    2: Level(n_layer=1, n_embd=32, block_size=128, epochs=2.0, sparsity=0.5, params_per_byte=0.15,
             mixer=FAST_MIXER, mixer_alternatives=(), seconds_per_mb=20.0),
    3: Level(n_layer=2, n_embd=32, block_size=128, epochs=3.0, sparsity=0.5, params_per_byte=0.2,
             mixer=MIDDLE_MIXER, seconds_per_mb=30.0),
    4: Level(n_layer=2, n_embd=64, block_size=128, epochs=3.0, sparsity=0.5, params_per_byte=0.25,
             mixer=MIDDLE_MIXER, seconds_per_mb=40.0),
    5: Level(n_layer=2, n_embd=64, block_size=128, epochs=5.0, sparsity=0.5, params_per_byte=0.25,
             mixer=MIDDLE_MIXER, seconds_per_mb=50.0),
    6: Level(n_layer=2, n_embd=64, block_size=128, epochs=8.0, sparsity=0.5, params_per_byte=0.25,
             regularizer="rl1", alpha_bits=30.0),  # measured: docs/regularizers.md
    7: Level(n_layer=2, n_embd=96, block_size=128, epochs=10.0, sparsity=0.5, params_per_byte=0.3,
             model_min_bytes=0, seconds_per_mb=120.0),
    8: Level(n_layer=3, n_embd=128, block_size=256, epochs=10.0, sparsity=0.5, params_per_byte=0.35,
             model_min_bytes=0, seconds_per_mb=240.0, lanes=WIDE_CONTEXT_LANES),
    9: Level(n_layer=4, n_embd=128, block_size=256, epochs=16.0, sparsity=0.5, params_per_byte=0.4,
             model_min_bytes=0, seconds_per_mb=480.0, lanes=WIDE_CONTEXT_LANES),
}


@dataclass(frozen=True)
class Plan:
    """Everything the pipeline needs to code one input at one level."""

    level: int
    n_bytes: int  # the input's size
    model: ByteGPTConfig  # the transformer, narrowed so that storing it stays in proportion to the input
    train: TrainConfig  # its training (the level's regularizer and alpha, and the caller's overrides)
    mixer: MixParams  # the adaptive statistics, tables no larger than the input can fill
    mixer_alternatives: tuple[MixParams, ...]  # other adaptive statistics to try on a sample (choose_params)
    lanes: int  # lanes of the mixed coder (cm codes in one lane: nothing to batch without a model)
    stream_group: int  # chunks per range-coded stream of the pure two-part code
    trains_model: bool  # whether the level trains the transformer (for mixing) on an input of this size
    budget: float  # seconds the compression is planned to take on the reference machine (cost.py)
    budget_steps: int  # training steps that fit the budget beside the coding (0: none)

    @property
    def block(self) -> int:
        """Chunk length: the model's context, recorded by every model method."""
        return self.model.block_size


# Level 0 (xz's fastest preset number): no adaptive statistics and no model, the smallest of the
# classical codings (stored, zstd -19, xz -9e): on 3 MB of bible 3.7x faster than -6, 28 % larger.
CLASSICAL_LEVEL = 0


def check_level(level: int, classical: bool = False) -> int:
    """A level of LEVELS, or with `classical` also CLASSICAL_LEVEL (which compression takes)."""
    low = CLASSICAL_LEVEL if classical else min(LEVELS)
    if type(level) is not int or not (level in LEVELS or (classical and level == CLASSICAL_LEVEL)):
        raise OptionError(f"level must be an integer from {low} to {max(LEVELS)}, not {level!r}")
    return level


def _run_steps(affordable: int, trials: tuple[float, ...]) -> int:
    """The most steps a run may train where it and its trials (config.trial_steps) share `affordable` steps."""
    lo, hi = 0, affordable  # the total grows with the run's steps: the largest that fits, by bisection
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if mid + sum(trial_steps(mid, f) for f in trials) <= affordable:
            lo = mid
        else:
            hi = mid - 1
    return lo


def settings(level: int, n_bytes: int, *, time_budget: float | None = None, trials: tuple[float, ...] = (),
             **train_overrides) -> Plan:
    """The plan for `level` on an input of `n_bytes` bytes; `train_overrides` are TrainConfig fields.

    The model narrows (in steps of 4 * n_head) for small inputs, so that what it costs to store
    stays in proportion to what it can save; the step count follows from the input size, capped by
    what the time budget (`time_budget` seconds, default the level's) leaves after the coding, in
    the cost model's estimate (cost.py). `trials`: the trainings the budget holds before the run,
    each a fraction of the run's steps (config.trial_steps: alpha and size "auto"). A level trains no model of its own where the
    budget holds fewer than `min_steps` steps; the steps of one asked for are never fewer.
    """
    p = LEVELS[check_level(level)]
    cfg = ByteGPTConfig(block_size=max(1, min(p.block_size, n_bytes)), n_layer=p.n_layer, n_head=p.n_head,
                        n_embd=p.n_embd, weight_bits=p.weight_bits)
    step = 4 * p.n_head
    while cfg.n_embd > step and param_count(cfg) > p.params_per_byte * n_bytes:
        cfg = replace(cfg, n_embd=cfg.n_embd - step)
    alpha = p.alpha_bits * math.log(2) / max(1, n_bytes)
    train = TrainConfig(**{"epochs": p.epochs, "sparsity": p.sparsity, "regularizer": p.regularizer, "alpha": alpha,
                           **train_overrides})
    budget = time_budget if time_budget is not None else max(MIN_BUDGET_SECONDS, p.seconds_per_mb * n_bytes / 1e6)
    spare = budget - cost.mixed_seconds(cfg, n_bytes) - cost.cm_seconds(n_bytes)
    budget_steps = _run_steps(int(max(0.0, spare) / cost.train_step_seconds(cfg, train.batch_size)), trials)
    train = replace(train, max_steps=max(train.min_steps, min(train.max_steps, budget_steps)))
    others = tuple(replace(p.mixer, contexts=CONTEXT_SETS[name]).sized_for(n_bytes) for name in p.mixer_alternatives)
    return Plan(level, n_bytes, cfg, train, p.mixer.sized_for(n_bytes), others, p.lanes, STREAM_GROUP,
                n_bytes >= p.model_min_bytes and budget_steps >= train.min_steps, budget, budget_steps)
