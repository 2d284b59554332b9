"""The training knobs, named and checked (no torch: the levels build this before any model runs)."""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import OptionError

REGULARIZERS = ("none", "magnitude", "drr", "rl1", "pmmp")  # sparsity methods (training/regularizers.py)
# alpha "auto" (training/alpha.py): candidates alpha = bits * ln 2 / input bytes (a weight worth that many
# data bits); 0 trains without penalty or pruning (regularizer "none"), so that the choice by description
# length can always fall back to not regularizing. Each candidate trains this fraction of the full steps.
ALPHA_GRID_BITS = (0.0, 10.0, 30.0, 100.0)
ALPHA_TRIAL_FRACTION = 0.25
# size "auto" (training/size.py): candidate widths, as fractions of the level's; each trains this fraction of the steps
WIDTH_FRACTIONS = (1.0, 0.5, 0.25)
WIDTH_TRIAL_FRACTION = 0.25
# A trial trains at most this many steps, whatever the input's size: a large input's choices then take
# minutes, not a fraction of hours (at level 6, 4,096 steps of the level's width take about 3 minutes)
TRIAL_MAX_STEPS = 4096
# the trials of each choice, as fractions of the run's steps (the time budget holds them beside the run);
# alpha "auto" may add a second full run, of alpha 0 (training/alpha.py), with its own width trials
SIZE_AUTO_TRIALS = (WIDTH_TRIAL_FRACTION,) * len(WIDTH_FRACTIONS)
ALPHA_AUTO_TRIALS = (ALPHA_TRIAL_FRACTION,) * len(ALPHA_GRID_BITS) + (1.0,)


def auto_trials(alpha_auto: bool, size_auto: bool) -> tuple[float, ...]:
    """The trainings besides the run that alpha and size "auto" may take, as fractions of its steps."""
    return ALPHA_AUTO_TRIALS * alpha_auto + SIZE_AUTO_TRIALS * (size_auto * (1 + alpha_auto))


def trial_steps(full: int, fraction: float) -> int:
    """Steps of a trial that trains `fraction` of a run of `full` steps: at least 1, at most TRIAL_MAX_STEPS
    (a fraction of 1 is a second full run, uncapped)."""
    if fraction >= 1:
        return max(1, full)
    return max(1, min(TRIAL_MAX_STEPS, math.ceil(fraction * full)))


def is_real(v) -> bool:
    """A finite int or float, not a bool: what a numeric option must be."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class TrainConfig:
    epochs: float = 8.0  # passes over the input
    min_steps: int = 50  # the step count is at least this ...
    max_steps: int = 100_000  # ... and at most this, whatever the input size
    batch_size: int = 16  # chunks per step
    lr: float = 1e-2  # peak learning rate of AdamW
    betas: tuple[float, float] = (0.9, 0.95)  # AdamW moment decays
    grad_clip: float = 1.0  # gradient norm clipped to this before each step
    warmup_frac: float = 0.05  # fraction of the steps of linear warm-up
    min_lr_frac: float = 0.1  # the cosine decay ends at this fraction of lr
    regularizer: str = "rl1"  # one of REGULARIZERS (rl1: smallest archives measured)
    alpha: float = 1e-4  # penalty strength, nats of mean training loss per unit of penalty per weight
    # (mdlzip.levels.settings sets it to alpha_bits * ln 2 / input bytes)
    beta: float = 5.0  # DRR sharpness: penalty 1 - exp(-beta |w|)
    tolerance: float = 0.02  # TAMADE: relative increase of the sample loss allowed by pruning
    tamade_relative: bool = False  # TAMADE threshold relative to each matrix's max |w| (paper: global)
    tamade_chunks: int = 64  # chunks of the input on which TAMADE measures the loss
    rgp: bool = True  # Random Gradient Pruning before and after pruning
    prelude_frac: float = 0.1  # fraction of the steps before the regularized phase
    finetune_frac: float = 0.4  # fraction of the steps after pruning, with the masks fixed
    sparsity: float = 0.5  # magnitude: fraction of each weight matrix pruned to zero
    seed: int = 0  # of the one generator behind every random choice of the training
    # Larger batches where there is more to compute with (train.fit): on CUDA each process draws
    # cuda_batch_factor times batch_size chunks per step (16 chunks of a level's context leave a GPU
    # mostly idle), and N processes of torchrun N times that. A batch k times larger takes k times
    # fewer steps (`scaled`), with the learning rate times k ** lr_batch_power (0.5: the square-root
    # rule for Adam). Neither is measured on a GPU yet; one process on the CPU has k = 1 and trains as ever.
    cuda_batch_factor: int = 4
    lr_batch_power: float = 0.5

    def __post_init__(self):
        def need(ok: bool, name: str, what: str) -> None:
            if not ok:
                raise OptionError(f"{name} must be {what}, not {getattr(self, name)!r}")

        count = lambda v: type(v) is int
        need(self.regularizer in REGULARIZERS, "regularizer", "one of " + ", ".join(REGULARIZERS))
        need(is_real(self.epochs) and self.epochs > 0, "epochs", "a number > 0")
        need(count(self.min_steps) and self.min_steps >= 1, "min_steps", "an integer >= 1")
        need(count(self.max_steps) and self.max_steps >= self.min_steps, "max_steps", "an integer >= min_steps")
        need(count(self.batch_size) and self.batch_size >= 1, "batch_size", "an integer >= 1")
        need(count(self.tamade_chunks) and self.tamade_chunks >= 1, "tamade_chunks", "an integer >= 1")
        need(count(self.seed) and self.seed >= 0, "seed", "an integer >= 0")
        need(count(self.cuda_batch_factor) and self.cuda_batch_factor >= 1, "cuda_batch_factor", "an integer >= 1")
        need(is_real(self.lr_batch_power) and 0 <= self.lr_batch_power <= 1, "lr_batch_power", "a number in [0, 1]")
        need(is_real(self.lr) and self.lr > 0, "lr", "a number > 0")
        need(len(self.betas) == 2 and all(is_real(b) and 0 <= b < 1 for b in self.betas), "betas", "two numbers in [0, 1)")
        need(is_real(self.grad_clip) and self.grad_clip > 0, "grad_clip", "a number > 0")
        need(is_real(self.alpha) and self.alpha >= 0, "alpha", "a number >= 0")
        need(is_real(self.beta) and self.beta > 0, "beta", "a number > 0")
        need(is_real(self.tolerance) and self.tolerance >= 0, "tolerance", "a number >= 0")
        for name in ("warmup_frac", "min_lr_frac", "prelude_frac", "finetune_frac"):
            need(is_real(getattr(self, name)) and 0 <= getattr(self, name) <= 1, name, "a number in [0, 1]")
        need(self.prelude_frac + self.finetune_frac <= 1, "finetune_frac", "at most 1 - prelude_frac")
        need(is_real(self.sparsity) and 0 <= self.sparsity < 1, "sparsity", "a number in [0, 1)")

    def num_steps(self, n_chunks: int) -> int:
        steps = math.ceil(self.epochs * n_chunks / self.batch_size)
        return max(self.min_steps, min(self.max_steps, steps))

    def scaled(self, k: int) -> TrainConfig:
        """This training with k times the chunks per step: the learning rate times k ** lr_batch_power, and
        min_steps and max_steps divided by k (rounded up), so that the step counts, the time budget's cap
        and the trials' fractions of them (alpha.py, size.py) keep their meaning in chunks trained."""
        return replace(self, batch_size=self.batch_size * k, lr=self.lr * k ** self.lr_batch_power,
                       min_steps=-(-self.min_steps // k), max_steps=-(-self.max_steps // k))

    def phases(self, total: int) -> tuple[int, int]:
        """(first regularized step, pruning step) for `total` steps; pruning at `total` means after the last."""
        prune = total - round(self.finetune_frac * total)
        return min(prune, round(self.prelude_frac * total)), prune
