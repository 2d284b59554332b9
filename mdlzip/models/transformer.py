"""The byte-level transformer that mdlzip trains on the input (its configuration, torch-free, is in stored.py).

Decoder-only, pre-norm, RMSNorm without gain, ReLU MLP, learned positions, no biases: every
parameter is a 2-D weight matrix, which keeps pruning, quantization and storage uniform. The
model is trained with fake quantization (straight-through estimator) on exactly the grids that
the integer inference in `mdlzip.models.exact` uses, so the stored model codes as well as the
float one it came from.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from .stored import N_INPUTS, N_OUTPUTS, ByteGPTConfig

BOS = N_INPUTS - 1  # start-of-chunk input token; inputs have 257 symbols, outputs 256
NORM_SCALE = 1 / 32  # fixed int8 grid of every RMSNorm output: codes cover [-3.97, 3.97]


def fake_quant(x: torch.Tensor, scale: torch.Tensor | float, qmin: int, qmax: int) -> torch.Tensor:
    """Round x to the grid scale*[qmin..qmax] in the forward pass, identity gradient inside it."""
    q = torch.clamp(torch.round(x / scale), qmin, qmax) * scale
    return x + (q - x).detach()


def weight_scale(w: torch.Tensor, qmax: int) -> torch.Tensor:
    """Per-tensor step of the weight grid: the largest magnitude maps to qmax."""
    return (w.detach().abs().amax() / qmax).clamp_min(1e-12)


class ActQuant(nn.Module):
    """Fake-quantizes an activation to int codes in [qmin, qmax]; the scale tracks an EMA of max|x|."""

    def __init__(self, qmin: int, qmax: int, momentum: float = 0.05):
        super().__init__()
        self.qmin, self.qmax, self.momentum = qmin, qmax, momentum
        self.register_buffer("scale", torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training:  # (x is bfloat16 under CUDA's autocast; torch.where keeps a GPU from waiting on the test)
            with torch.no_grad():
                s = (x.abs().amax() / self.qmax).clamp_min(1e-8).to(self.scale.dtype)
                self.scale.copy_(torch.where(self.scale == 0, s, torch.lerp(self.scale, s, self.momentum)))
        return fake_quant(x, self.scale, self.qmin, self.qmax)


class QLinear(nn.Linear):
    """Bias-free linear layer whose weight is pruned by a fixed mask and fake-quantized."""

    def __init__(self, n_in: int, n_out: int, qmax: int):
        super().__init__(n_in, n_out, bias=False)
        self.qmax = qmax
        self.register_buffer("mask", torch.ones(n_out, n_in))

    def quantized_weight(self) -> torch.Tensor:
        w = self.weight * self.mask
        return fake_quant(w, weight_scale(w, self.qmax), -self.qmax, self.qmax)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.quantized_weight())


class QEmbedding(QLinear):
    """Embedding table (n_out rows of width n_in) with the same mask and quantizer as QLinear."""

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return F.embedding(idx, self.quantized_weight())


def shift_right(idx: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
    """(B, T) inputs -> the input one position earlier; `first` (B, 1) or BOS at position 0."""
    first = torch.full_like(idx[:, :1], BOS) if first is None else first
    return torch.cat([first, idx[:, :-1]], dim=1)


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    """RMSNorm without gain, then onto the fixed int8 grid NORM_SCALE."""
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    return fake_quant(y, NORM_SCALE, -127, 127)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: ByteGPTConfig):
        super().__init__()
        d, qm = cfg.n_embd, cfg.weight_qmax
        self.n_head = cfg.n_head
        self.q, self.k, self.v, self.proj = (QLinear(d, d, qm) for _ in range(4))
        self.q_act, self.k_act, self.v_act, self.o_act = (ActQuant(-127, 127) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        heads = lambda t: t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q = heads(self.q_act(self.q(x)))
        k = heads(self.k_act(self.k(x)))
        v = heads(self.v_act(self.v(x)))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(self.o_act(y))


class MLP(nn.Module):
    def __init__(self, cfg: ByteGPTConfig, layer: int):
        super().__init__()
        d, h, qm = cfg.n_embd, cfg.hidden(layer), cfg.weight_qmax
        self.fc, self.out = QLinear(d, h, qm), QLinear(h, d, qm)
        self.h_act = ActQuant(0, 255)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.h_act(F.relu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: ByteGPTConfig, layer: int):
        super().__init__()
        self.attn, self.mlp = CausalSelfAttention(cfg), MLP(cfg, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(rms_norm(x))
        return x + self.mlp(rms_norm(x))


class ByteGPT(nn.Module):
    def __init__(self, cfg: ByteGPTConfig):
        super().__init__()
        self.cfg = cfg
        d, qm = cfg.n_embd, cfg.weight_qmax
        self.wte = QEmbedding(d, N_INPUTS, qm)  # 256 bytes + BOS
        self.wte2 = QEmbedding(d, N_INPUTS, qm)  # the input before: a direct order-2 context
        self.wpe = QEmbedding(d, cfg.block_size, qm)
        self.h = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layer))
        self.lm_head = QLinear(d, N_OUTPUTS, qm)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scaled init of the residual projections (GPT-2)
            if name.endswith(("proj.weight", "out.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, QLinear):
            nn.init.normal_(module.weight, 0.0, 0.02 if not isinstance(module, QEmbedding) else 0.3)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        """idx (B, T) inputs in 0..256 -> logits (B, T, 256), and the mean loss in nats if targets."""
        T = idx.shape[1]
        x = self.wte(idx) + self.wte2(shift_right(idx)) + self.wpe(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(rms_norm(x))
        loss = None if targets is None else F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def prunable(self) -> dict[str, QLinear]:
        """Every weight matrix, in the order in which the archive stores them (stored.weight_layout)."""
        return {name: m for name, m in self.named_modules() if isinstance(m, QLinear)}

    def act_quants(self) -> dict[str, ActQuant]:
        return {name: m for name, m in self.named_modules() if isinstance(m, ActQuant)}
