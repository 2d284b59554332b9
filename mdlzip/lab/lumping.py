"""Neuron lumping by (approximate) differential equivalence, and the pruning baselines.

A feed-forward net `nn.Sequential(Linear, act, Linear, act, ..., Linear[, act])` is read as a
layered system in which each hidden neuron is a variable (SEED_METHODS.md, Part B). Two ways to
group neurons, each under one L1 tolerance `eps`:

- **backward** (BDE-like, *incoming* weights; the default). Layers are processed from the input
  side. Neuron j of layer l gets the vector v_j = [sum_{i in C} W[j, i] for each block C of layer
  l-1] ++ [b_j]; since layer l-1 has already been merged, these sums are simply the columns of
  the merged matrix. Neurons with ||v_j - v_k||_1 <= eps are joined, the blocks are the connected
  components (transitive closure). Neurons of an exact block have identical pre-activations, so
  one representative carries them all and its *outgoing* column is the sum of the members'
  columns. Exact at eps = 0 for every activation.
- **forward** (FDE-like, *outgoing* weights). Layers are processed from the output side; neuron j
  gets the vector of its aggregated outgoing weights (the column of the merged next matrix).
  Members of a block send the same column c, so the next layer sees c * sum_r act(z_r); the
  merged neuron takes the *summed* incoming row and bias, act(sum_r z_r), and the common column.
  That is FDE's "sum of the states", but act(sum z) = sum act(z) only for a linear activation:
  **the forward variant is output-preserving at eps = 0 only for Identity (no) activations**; for
  ReLU it is exact only where all members are active together (or all inactive).

**Scaled variant** (`scaled=True`, only for positively homogeneous activations: ReLU, LeakyReLU,
Identity or none; other layers fall back to the plain test). Neurons merge when their vectors are
proportional with a positive factor: with n = ||v||_1 and u = v / n the test is
min(n_j, n_k) * ||u_j - u_k||_1 <= eps, i.e. the larger vector is shrunk to the smaller one's norm
and the plain L1 test is applied (eps = 0: exact proportionality; equal norms: the plain test).
If v_r = lambda_r * v (lambda_r > 0) then act(z_r) = lambda_r * act(z), so the merged backward
column is sum_r lambda_r * W_out[:, r] with lambda_r = n_r / ||v||_1 (in the notation z_s = rho_r z_r
of SEED_METHODS §B.3, lambda_r = 1 / rho_r: divide by rho, do not multiply).

**Representative**: the block mean v = mean_r v_r (incoming row and bias; backward) or the mean
column (forward). For ReLU, ReLU(mean_r z_r) <= mean_r ReLU(z_r) <= max_r ReLU(z_r) (convexity),
so the merged activation never exceeds the members' range: a per-layer activation quantization
scale stays valid.

**Clean-up, exact at every eps** (before partitioning a layer): neurons with an all-zero outgoing
column are dropped; neurons with an all-zero incoming row are constant, act(b_j), and are folded
into the next layer's bias as act(b_j) * W_out[:, j] (kept when the next layer has no bias and
act(b_j) != 0). Only exact zeros count, so the removed set does not depend on eps.

Distances are computed in float64, with a slack of 4 float-epsilons of the input dtype (relative
to the norms) so that exact proportionality survives the rounding of the given weights.

**Parameter counts**: a lumped model is dense and counts all its parameters (`count_params`);
a pruned model counts its nonzero entries, weights and biases (`count_nonzero`). The baselines
`magnitude_prune` (global smallest |W|) and `wanda_prune` (|W_ij| * ||X_j||_2 per output row)
remove weights, never biases, down to a requested nonzero count, without retraining.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from ..models.lump import Act, LayerTensors, clean, lump_backward, partition

HOMOGENEOUS = (nn.ReLU, nn.LeakyReLU, nn.Identity)  # act(c * z) = c * act(z) for c > 0


@dataclass
class LumpReport:
    eps: float
    mode: str
    scaled: bool
    neurons_before: list[int]  # hidden neurons per hidden layer
    neurons_after: list[int]
    params_before: int  # all parameters (weights and biases)
    params_after: int
    max_abs_dev: float | None = None  # max |model(x) - lumped(x)| over the given inputs


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_nonzero(model: nn.Module) -> int:
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


def lump_forward(w_in: torch.Tensor, b_in: torch.Tensor | None, w_out: torch.Tensor, b_out: torch.Tensor | None,
                 act: Act, eps: float, scaled: bool) -> LayerTensors:
    """Merge one hidden layer by its outgoing weights (FDE-like): mean column, rows and biases summed."""
    idx, b_out = clean(w_in, b_in, w_out, b_out, act)
    w_in, w_out = w_in[idx], w_out[:, idx]
    b_in = b_in[idx] if b_in is not None else None
    blocks = partition(w_out.T, eps, scaled)
    rows, biases, cols = [], [], []
    for blk in blocks:
        blk = torch.as_tensor(blk)
        rep = w_out[:, blk].mean(1)
        lam = w_out[:, blk].abs().sum(0) / rep.abs().sum() if scaled else torch.ones(len(blk), dtype=w_out.dtype)
        rows.append(lam @ w_in[blk])
        biases.append(lam @ b_in[blk] if b_in is not None else None)
        cols.append(rep)
    rows = torch.stack(rows) if rows else w_in[:0]
    cols = torch.stack(cols, 1) if cols else w_out[:, :0]
    return rows, (torch.stack(biases) if b_in is not None and biases else b_in), cols, b_out


MODES = {"backward": lump_backward, "forward": lump_forward}


def _split(model: nn.Sequential) -> tuple[list[nn.Linear], list[nn.Module | None]]:
    """The Linear layers and the activation after each (None: none)."""
    linears: list[nn.Linear] = []
    acts: list[nn.Module | None] = []
    for m in model:
        if isinstance(m, nn.Linear):
            linears.append(m)
            acts.append(None)
        elif not linears or acts[-1] is not None:
            raise ValueError("expected Sequential(Linear, [activation], Linear, [activation], ...)")
        else:
            acts[-1] = m
    if not linears:
        raise ValueError("the model has no Linear layer")
    return linears, acts


def _build(ws: list[torch.Tensor], bs: list[torch.Tensor | None], acts: list[nn.Module | None]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for w, b, act in zip(ws, bs, acts):
        lin = nn.utils.skip_init(nn.Linear, w.shape[1], w.shape[0], bias=b is not None, dtype=w.dtype, device=w.device)
        lin.weight.data.copy_(w)
        if b is not None:
            lin.bias.data.copy_(b)
        layers.append(lin)
        if act is not None:
            layers.append(copy.deepcopy(act))
    return nn.Sequential(*layers)


@torch.no_grad()
def lump(model: nn.Sequential, eps: float, *, scaled: bool = True, mode: str = "backward",
         inputs: torch.Tensor | None = None) -> tuple[nn.Sequential, LumpReport]:
    """Merge the hidden neurons of a Linear/activation Sequential that are equivalent within eps (L1)."""
    linears, acts = _split(model)
    ws = [lin.weight.detach().clone() for lin in linears]
    bs = [lin.bias.detach().clone() if lin.bias is not None else None for lin in linears]
    hidden = range(len(ws) - 1)
    for l in (hidden if mode == "backward" else reversed(hidden)):
        act = acts[l] if acts[l] is not None else nn.Identity()
        homogeneous = isinstance(act, HOMOGENEOUS)
        ws[l], bs[l], ws[l + 1], bs[l + 1] = MODES[mode](ws[l], bs[l], ws[l + 1], bs[l + 1], act, eps,
                                                         scaled and homogeneous)
    lumped = _build(ws, bs, acts)
    report = LumpReport(eps, mode, scaled, [lin.out_features for lin in linears[:-1]], [len(w) for w in ws[:-1]],
                        count_params(model), count_params(lumped))
    if inputs is not None:
        report.max_abs_dev = float((model(inputs) - lumped(inputs)).abs().max())
    return lumped, report


def _prune_counts(model: nn.Sequential, n_params: int) -> int:
    """How many nonzero weights must go so that the model has n_params nonzero parameters."""
    return max(0, count_nonzero(model) - n_params)


@torch.no_grad()
def magnitude_prune(model: nn.Sequential, n_params: int) -> tuple[nn.Sequential, int]:
    """Zero the globally smallest-|W| weights (biases kept) until n_params nonzeros remain."""
    pruned = copy.deepcopy(model)
    linears, _ = _split(pruned)
    r = _prune_counts(pruned, n_params)
    mags = torch.cat([lin.weight.abs().flatten() for lin in linears])
    mags[mags == 0] = float("inf")  # already zero: not counted, not chosen
    order = torch.argsort(mags, stable=True)[:r]
    drop = torch.zeros_like(mags, dtype=torch.bool)
    drop[order] = True
    start = 0
    for lin in linears:
        n = lin.weight.numel()
        lin.weight[drop[start:start + n].view_as(lin.weight)] = 0
        start += n
    return pruned, count_nonzero(pruned)


@torch.no_grad()
def wanda_prune(model: nn.Sequential, n_params: int, calib_inputs: torch.Tensor) -> tuple[nn.Sequential, int]:
    """Wanda: per output row, zero the weights with the lowest |W_ij| * ||X_j||_2 until n_params nonzeros remain.

    Every row loses the same fraction of its nonzero weights (rounding remainders go to the rows with
    the largest fractional share, first rows first); biases are kept. As in Wanda, layers are pruned in
    order and X is the calibration input as it reaches the layer through the already pruned layers.
    """
    pruned = copy.deepcopy(model)
    linears, _ = _split(pruned)
    r = _prune_counts(pruned, n_params)
    nnz = torch.cat([(lin.weight != 0).sum(1) for lin in linears])  # per output row, all layers
    share = nnz.double() * (r / max(1, int(nnz.sum())))
    k = share.floor().long()
    extra = torch.argsort(-(share - k), stable=True)[:r - int(k.sum())]
    k[extra] += 1
    x, row = calib_inputs, 0
    for m in pruned:
        if isinstance(m, nn.Linear):
            w = m.weight
            score = w.abs() * x.reshape(-1, w.shape[1]).norm(dim=0)
            score[w == 0] = -1.0  # already zero: sorted first, not counted
            rank = torch.argsort(torch.argsort(score, dim=1, stable=True), dim=1)
            n_drop = (w == 0).sum(1) + k[row:row + len(w)]
            w[rank < n_drop[:, None]] = 0
            row += len(w)
        x = m(x)
    return pruned, count_nonzero(pruned)
