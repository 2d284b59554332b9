"""Synthetic regression tasks from nonlinear ODE systems with known ground truth (lumping benchmark).

Each task: simulate trajectories dx/dt = f(x) from random initial conditions with a fixed-step RK4;
inputs are states visited by the trajectories, targets the exact derivative f(x) at those states.
Test points come from other trajectories than the training points. Inputs and targets are
standardized with the training mean and standard deviation (so a test MSE of 1.0 is the error of
predicting the training mean).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

Field = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class System:
    dim: int
    f: Field  # (N, dim) -> (N, dim), polynomial (mass action)
    low: tuple[float, ...]  # initial conditions uniform in [low, high]
    high: tuple[float, ...]
    dt: float
    steps: int


def lotka_volterra(x: torch.Tensor, a: float = 2 / 3, b: float = 4 / 3, c: float = 1.0, d: float = 1.0) -> torch.Tensor:
    """Prey x0, predator x1."""
    p, q = x.unbind(-1)
    return torch.stack([a * p - b * p * q, d * p * q - c * q], -1)


def selkov(x: torch.Tensor, a: float = 0.08, b: float = 0.6) -> torch.Tensor:
    """Sel'kov glycolytic oscillator: ADP x0, F6P x1; a stable limit cycle for these constants."""
    p, q = x.unbind(-1)
    r = p * p * q
    return torch.stack([-p + a * q + r, b - a * q - r], -1)


def polymerization(x: torch.Tensor, ki: float = 1.0, kp: float = 2.0) -> torch.Tensor:
    """Chain growth, mass action: M + M -> P2 (ki), M + Pk -> Pk+1 (kp) up to P5; state M, P2..P5."""
    m, p = x[..., 0], x[..., 1:]
    grow = kp * m[..., None] * p[..., :-1]  # Pk -> Pk+1 for k = 2..4
    init = ki * m * m
    dp = torch.cat([init[..., None], grow], -1) - torch.cat([grow, torch.zeros_like(grow[..., :1])], -1)
    dm = -2 * init - grow.sum(-1)
    return torch.cat([dm[..., None], dp], -1)


def enzyme(x: torch.Tensor, k1: float = 2.0, km1: float = 1.0, k2: float = 1.5) -> torch.Tensor:
    """Reaction network E + S <-> C -> E + P, mass action; state S, E, C, P."""
    s, e, c, _ = x.unbind(-1)
    bind, unbind, cat = k1 * e * s, km1 * c, k2 * c
    return torch.stack([unbind - bind, unbind + cat - bind, bind - unbind - cat, cat], -1)


SYSTEMS: dict[str, System] = {
    "lotka_volterra": System(2, lotka_volterra, (0.5, 0.5), (2.5, 2.5), 0.02, 500),
    "selkov": System(2, selkov, (0.1, 0.1), (2.5, 2.5), 0.05, 600),
    "polymerization": System(5, polymerization, (0.5, 0, 0, 0, 0), (2.0, 0.3, 0.3, 0.3, 0.3), 0.01, 300),
    "enzyme": System(4, enzyme, (0.5, 0.2, 0, 0), (2.0, 1.0, 0.5, 0.5), 0.01, 400),
}


def rk4(f: Field, x0: torch.Tensor, dt: float, steps: int) -> torch.Tensor:
    """Fixed-step classical Runge-Kutta: x0 (N, dim) -> trajectory (steps + 1, N, dim)."""
    xs = [x0]
    x = x0
    for _ in range(steps):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        xs.append(x)
    return torch.stack(xs)


@dataclass
class Task:
    name: str
    x_train: torch.Tensor  # standardized states
    y_train: torch.Tensor  # standardized derivatives
    x_test: torch.Tensor
    y_test: torch.Tensor
    x_mean: torch.Tensor
    x_std: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor


def _states(sys: System, n: int, gen: torch.Generator) -> torch.Tensor:
    """n states sampled from RK4 trajectories of max(4, n // 50) random initial conditions."""
    low, high = torch.tensor(sys.low, dtype=torch.float64), torch.tensor(sys.high, dtype=torch.float64)
    x0 = low + (high - low) * torch.rand(max(4, n // 50), sys.dim, generator=gen, dtype=torch.float64)
    traj = rk4(sys.f, x0, sys.dt, sys.steps).reshape(-1, sys.dim)
    return traj[torch.randperm(len(traj), generator=gen)[:n]]


def make_task(name: str, n_train: int = 8000, n_test: int = 2000, seed: int = 0) -> Task:
    """The regression task state -> derivative of system `name` (see SYSTEMS), float32, standardized."""
    sys = SYSTEMS[name]
    gen = torch.Generator().manual_seed(seed)
    xtr, xte = _states(sys, n_train, gen), _states(sys, n_test, gen)
    ytr, yte = sys.f(xtr), sys.f(xte)
    xm, xs, ym, ys = xtr.mean(0), xtr.std(0), ytr.mean(0), ytr.std(0)
    f32 = lambda t: t.float()
    return Task(name, f32((xtr - xm) / xs), f32((ytr - ym) / ys), f32((xte - xm) / xs), f32((yte - ym) / ys),
                f32(xm), f32(xs), f32(ym), f32(ys))
