"""What an archive stores of a model, without torch: its configuration, the layout of its
matrices and scales, and the integer codes (`QuantizedModel`).

`ByteGPT` (transformer.py) builds its modules from `ByteGPTConfig`; `weight_layout` and
`act_scale_names` name what it stores, in the archive's order (tested against the module tree).
`info` and the section readers use this module alone, so they never import torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

N_INPUTS = 257  # input symbols: 256 byte values and BOS (start of chunk)
N_OUTPUTS = 256  # output symbols: the next byte


@dataclass(frozen=True)
class ByteGPTConfig:
    block_size: int = 256  # context length: bytes per independently coded chunk
    n_layer: int = 2  # transformer blocks
    n_head: int = 4  # attention heads per block (n_embd must be a multiple)
    n_embd: int = 128  # width of the residual stream
    mlp_ratio: int = 4  # MLP hidden width per unit of n_embd (before lumping)
    weight_bits: int = 5  # weights are integer codes in [-(2^(b-1)-1), 2^(b-1)-1]
    mlp_hidden: tuple[int, ...] = ()  # per-layer MLP widths after lumping; () = mlp_ratio * n_embd each

    def hidden(self, layer: int) -> int:
        return self.mlp_hidden[layer] if self.mlp_hidden else self.mlp_ratio * self.n_embd

    @property
    def weight_qmax(self) -> int:
        return 2 ** (self.weight_bits - 1) - 1

    def to_dict(self) -> dict:
        d = asdict(self)
        if not self.mlp_hidden:
            del d["mlp_hidden"]  # unlumped models: the same record as before lumping existed
        else:
            d["mlp_hidden"] = list(self.mlp_hidden)
        return d


def weight_layout(cfg: ByteGPTConfig) -> dict[str, tuple[int, int]]:
    """Name -> (out, in) shape of every stored weight matrix, in archive order."""
    d = cfg.n_embd
    shapes = {"wte": (N_INPUTS, d), "wte2": (N_INPUTS, d), "wpe": (cfg.block_size, d)}
    for i in range(cfg.n_layer):
        p = f"h.{i}."
        shapes.update({p + "attn.q": (d, d), p + "attn.k": (d, d), p + "attn.v": (d, d), p + "attn.proj": (d, d),
                       p + "mlp.fc": (cfg.hidden(i), d), p + "mlp.out": (d, cfg.hidden(i))})
    shapes["lm_head"] = (N_OUTPUTS, d)
    return shapes


def act_scale_names(cfg: ByteGPTConfig) -> list[str]:
    """Names of the activation scales, in archive order (after the weight scales)."""
    return [f"h.{i}.{name}" for i in range(cfg.n_layer)
            for name in ("attn.q_act", "attn.k_act", "attn.v_act", "attn.o_act", "mlp.h_act")]


def param_count(cfg: ByteGPTConfig) -> int:
    """Weights of a dense model of this configuration (every parameter is a stored matrix)."""
    return sum(rows * cols for rows, cols in weight_layout(cfg).values())


@dataclass
class QuantizedModel:
    """What the archive stores of a model: integer weight codes and float32 scales."""

    cfg: ByteGPTConfig
    codes: dict[str, np.ndarray]  # name -> int16 codes (out, in), in weight_layout order
    weight_scales: dict[str, float]
    act_scales: dict[str, float]  # activation name -> scale, in act_scale_names order

    def num_nonzero(self) -> int:
        return int(sum(np.count_nonzero(c) for c in self.codes.values()))
