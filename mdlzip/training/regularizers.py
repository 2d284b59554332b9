"""Sparsity methods of the training, one class per method (SEED_METHODS §A.2–A.4), in a registry.

Training has three phases (training/train.py): a prelude without penalty, the regularized phase, then
fine-tuning with the pruning mask held fixed. A `Regularizer` acts in the regularized phase only:
`start` gives the tensors it adds to the optimizer, `add_grads` adds its penalty's gradient to the
weights' `.grad` after the backward pass (and sets the gradients of its own tensors), `after_step`
runs after each optimizer step; at the end of the phase the trainer prunes as `pruning` says.

The penalties are per weight and unnormalized, as in the paper: alpha is in nats of the mean
per-byte training loss per unit of penalty (so alpha * ln(2)^-1 * n_bytes bits of data code per unit).
"""
from __future__ import annotations

import torch

from .config import REGULARIZERS


class Regularizer:
    """`none`: no penalty and no pruning."""

    name = "none"
    pruning: str | None = None  # at the end of the regularized phase: "tamade", "magnitude" or None

    def __init__(self, weights: list[torch.Tensor], alpha: float, beta: float):
        self.weights, self.alpha, self.beta = weights, alpha, beta

    def start(self) -> list[torch.Tensor]:
        """Called when the regularized phase begins; returns extra tensors for the optimizer."""
        return []

    def add_grads(self) -> None:
        """Called after each backward pass of the regularized phase."""

    def after_step(self) -> None:
        """Called after each optimizer step of the regularized phase."""


class Magnitude(Regularizer):
    """The baseline: no penalty; each matrix loses its smallest `sparsity` fraction at the end."""

    name, pruning = "magnitude", "magnitude"


class DRR(Regularizer):
    """Differentiable relaxation of l0: alpha * sum(1 - exp(-beta |w|))."""

    name, pruning = "drr", "tamade"

    @torch.no_grad()
    def add_grads(self) -> None:
        for w in self.weights:
            w.grad.add_(self.alpha * self.beta * torch.sign(w) * torch.exp(-self.beta * w.abs()))


class RL1(Regularizer):
    """Relaxed l1: alpha * sum |w|, then pruning and fine-tuning as for DRR."""

    name, pruning = "rl1", "tamade"

    @torch.no_grad()
    def add_grads(self) -> None:
        for w in self.weights:
            w.grad.add_(self.alpha * torch.sign(w))


class PMMP(Regularizer):
    """Probabilistic minimax pruning, without sampling: for each weight theta, a kept value v, a keep
    probability gamma in [0, 1] and a multiplier u, and the objective

        min_{theta, v, gamma} max_u  L(theta) + alpha sum gamma + sum u [(theta - v gamma)^2 + v^2 gamma (1 - gamma)]

    (the bracket is E_{z ~ Bernoulli(gamma)} (theta - v z)^2). Hand-written gradients, u by ascent,
    gamma projected onto [0, 1] after each step.
    """

    name, pruning = "pmmp", "tamade"
    gamma0, u0 = 1.0, 0.0  # initial keep probability and multiplier (the paper's transformer setting)

    def start(self) -> list[torch.Tensor]:
        self.v = [w.detach().clone().requires_grad_() for w in self.weights]
        self.gamma = [torch.full_like(w, self.gamma0, requires_grad=True) for w in self.weights]
        self.u = [torch.full_like(w, self.u0, requires_grad=True) for w in self.weights]
        return [*self.v, *self.gamma, *self.u]

    @torch.no_grad()
    def add_grads(self) -> None:
        for theta, v, g, u in zip(self.weights, self.v, self.gamma, self.u):
            d = theta - v * g
            spread = g * (1 - g)
            theta.grad.add_(2 * u * d)
            v.grad = 2 * u * (v * spread - d * g)
            g.grad = u * (v * v * (1 - 2 * g) - 2 * d * v) + self.alpha
            u.grad = -(d * d + v * v * spread)  # the optimizer descends on -constraint: ascent on u

    @torch.no_grad()
    def after_step(self) -> None:
        for g in self.gamma:
            g.clamp_(0, 1)


REGISTRY: dict[str, type[Regularizer]] = {c.name: c for c in (Regularizer, Magnitude, DRR, RL1, PMMP)}
if tuple(REGISTRY) != REGULARIZERS:  # the names that options accept (config.py, no torch) are these
    raise ImportError(f"regularizer registry {tuple(REGISTRY)} differs from training.config.REGULARIZERS")
