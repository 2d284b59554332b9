"""Lumping the transformer's MLP neurons: backward (BDE-like) lumping on incoming weights.

Neurons whose incoming rows agree within an L1 tolerance `eps` (or, for ReLU, are proportional:
`scaled`) are merged into one whose incoming row is the block mean and whose outgoing column is
the sum of the members' columns (times their ratios). Exact at eps = 0 for every activation; with
the block mean, ReLU(mean z) stays within the members' range, so the hidden activation's
quantization scale stays valid. Dead neurons (zero incoming row under ReLU, or zero outgoing
column) are removed. The research around it (forward lumping, nn.Sequential nets, baselines,
the scaled variant's derivation) is in `mdlzip.lab.lumping` (SEED_METHODS, Part B).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch

from .transformer import ByteGPT

Act = Callable[[torch.Tensor], torch.Tensor]
LayerTensors = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]


def partition(v: torch.Tensor, eps: float, scaled: bool = False) -> list[np.ndarray]:
    """Blocks (sorted index arrays, ordered by first member) of the rows of v, joined when within eps.

    Plain: ||v_j - v_k||_1 <= eps. Scaled: min(n_j, n_k) * ||v_j/n_j - v_k/n_k||_1 <= eps, n = ||v||_1
    (rows must be nonzero). Then the transitive closure.
    """
    x = v.detach().double()
    n = x.abs().sum(1)
    if scaled:
        x = x / n[:, None]
    dist = torch.cdist(x, x, p=1)
    low = torch.minimum(n[:, None], n[None, :])
    if scaled:
        dist = dist * low
    adj = (dist <= eps + 4 * torch.finfo(v.dtype).eps * low).numpy()
    return _components(adj)


def _components(adj: np.ndarray) -> list[np.ndarray]:
    """Connected components of a symmetric boolean adjacency matrix, by breadth-first search."""
    label = np.full(len(adj), -1)
    blocks = []
    for s in range(len(adj)):
        if label[s] >= 0:
            continue
        label[s] = len(blocks)
        frontier = np.array([s])
        while frontier.size:
            frontier = np.flatnonzero(adj[frontier].any(0) & (label < 0))
            label[frontier] = len(blocks)
        blocks.append(np.flatnonzero(label == len(blocks)))
    return blocks


def clean(w_in: torch.Tensor, b_in: torch.Tensor | None, w_out: torch.Tensor, b_out: torch.Tensor | None,
           act: Act) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Indices of the neurons to keep (dead ones dropped, constant ones folded) and the new next bias."""
    keep = w_out.abs().sum(0) > 0
    const = keep & (w_in.abs().sum(1) == 0)
    if const.any():
        c = act(b_in[const] if b_in is not None else w_in.new_zeros(int(const.sum())))
        if b_out is not None:
            b_out = b_out + w_out[:, const] @ c
            keep &= ~const
        elif not c.any():
            keep &= ~const
    return keep.nonzero().flatten(), b_out


def lump_backward(w_in: torch.Tensor, b_in: torch.Tensor | None, w_out: torch.Tensor, b_out: torch.Tensor | None,
                  act: Act, eps: float, scaled: bool) -> LayerTensors:
    """Merge one hidden layer by its incoming weights (BDE-like): mean row, columns summed (times lambda)."""
    idx, b_out = clean(w_in, b_in, w_out, b_out, act)
    w_in, w_out = w_in[idx], w_out[:, idx]
    b_in = b_in[idx] if b_in is not None else None
    v = w_in if b_in is None else torch.cat([w_in, b_in[:, None]], 1)
    blocks = partition(v, eps, scaled)
    rows, cols = [], []
    for blk in blocks:
        blk = torch.as_tensor(blk)
        rep = v[blk].mean(0)
        lam = v[blk].abs().sum(1) / rep.abs().sum() if scaled else torch.ones(len(blk), dtype=v.dtype)
        rows.append(rep)
        cols.append(w_out[:, blk] @ lam)
    rows = torch.stack(rows) if rows else v[:0]
    cols = torch.stack(cols, 1) if cols else w_out[:, :0]
    d = w_in.shape[1]
    return rows[:, :d].contiguous(), (rows[:, d].contiguous() if b_in is not None else None), cols, b_out


@torch.no_grad()
def lump_mlp_weights(fc_w: torch.Tensor, out_w: torch.Tensor, eps: float,
                     scaled: bool = True) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Backward lumping of one bias-free ReLU MLP: fc_w (h, d), out_w (d, h) -> (h', d), (d, h'), h - h'.

    Dead neurons (zero row: ReLU(0) = 0, or zero column) are removed. The merged incoming row is the
    block mean, so by convexity its ReLU activation stays within the members' range (the hidden
    activation's quantization scale stays valid); the outgoing columns are summed (times lambda).
    """
    fc, _, out, _ = lump_backward(fc_w.detach(), None, out_w.detach(), None, torch.relu, eps, scaled)
    return fc, out, fc_w.shape[0] - fc.shape[0]


@torch.no_grad()
def lump_transformer(model: ByteGPT, eps: float) -> tuple[ByteGPT, dict]:
    """Merge the MLP neurons of every block that are equivalent within `eps`."""
    merged = []
    for block in model.h:
        fc, out = (m.weight * m.mask for m in (block.mlp.fc, block.mlp.out))
        fc, out, _ = lump_mlp_weights(fc, out, eps)
        if len(fc) == 0:  # every neuron was dead: keep one zero neuron, the format wants width >= 1
            fc, out = fc.new_zeros(1, fc.shape[1]), out.new_zeros(out.shape[0], 1)
        merged.append((fc, out))
    cfg = replace(model.cfg, mlp_hidden=tuple(len(fc) for fc, _ in merged))
    lumped = ByteGPT(cfg)
    lumped.load_state_dict({k: v for k, v in model.state_dict().items() if ".mlp.fc." not in k and ".mlp.out." not in k},
                           strict=False)
    for block, (fc, out) in zip(lumped.h, merged):
        for m, w in ((block.mlp.fc, fc), (block.mlp.out, out)):
            m.weight.copy_(w)
            m.mask.copy_((w != 0).float())
    count = lambda m: sum(int(q.mask.sum()) for q in m.prunable().values())
    info = {"eps": eps, "neurons_before": sum(model.cfg.hidden(i) for i in range(cfg.n_layer)),
            "neurons_after": sum(cfg.mlp_hidden), "params_before": count(model), "params_after": count(lumped)}
    return lumped.eval(), info
