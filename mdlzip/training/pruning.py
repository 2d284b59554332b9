"""Setting the pruning masks: magnitude pruning, TAMADE and Random Gradient Pruning (SEED_METHODS §A.5, §A.6).

Each function changes the fixed `mask` buffers of the model's weight matrices (and zeroes the weights
they remove); the trainer then fine-tunes with the masks held fixed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..models.transformer import ByteGPT, weight_scale


@torch.no_grad()
def nonzero_codes(model: ByteGPT) -> int:
    """Weights whose stored integer code is nonzero (what the weights section pays for)."""
    total = 0
    for m in model.prunable().values():
        w = m.weight * m.mask
        total += int((torch.round(w / weight_scale(w, m.qmax)) != 0).sum())
    return total


@torch.no_grad()
def apply_masks(model: ByteGPT) -> None:
    """Zero every weight outside its mask (after an optimizer step, so pruned weights stay 0)."""
    for m in model.prunable().values():
        m.weight.mul_(m.mask)


@torch.no_grad()
def magnitude_prune(model: ByteGPT, sparsity: float) -> None:
    """Zero the smallest-magnitude fraction of every weight matrix and fix the mask."""
    for m in model.prunable().values():
        k = int(sparsity * m.weight.numel())
        if k == 0:
            continue
        threshold = m.weight.abs().flatten().kthvalue(k).values
        m.mask.mul_((m.weight.abs() > threshold).float())
        m.weight.mul_(m.mask)


@torch.no_grad()
def sample_loss(model: ByteGPT, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean loss in nats per byte of the (fake-quantized, masked) model on the given chunks."""
    was_training = model.training
    model.eval()
    _, loss = model(inputs, targets)
    model.train(was_training)
    return loss.item()


@dataclass
class TamadeResult:
    threshold: float  # the largest magnitude threshold found within tolerance (weights |w| <= it are pruned)
    violating: float  # the next point of the search grid above it, whose loss exceeds the target
    base_loss: float  # nats per byte on the sample, unpruned
    loss: float  # nats per byte on the sample, pruned at `threshold`
    evaluations: int


def _magnitudes(model: ByteGPT, relative: bool) -> list[torch.Tensor]:
    """|w| of every weight matrix, divided by the matrix's largest |w| when `relative`."""
    mags = [(m.weight * m.mask).abs() for m in model.prunable().values()]
    return [a / a.amax().clamp_min(1e-30) for a in mags] if relative else mags


@torch.no_grad()
def tamade(model: ByteGPT, inputs: torch.Tensor, targets: torch.Tensor, tolerance: float,
           relative: bool = False, rel_tol: float = 1e-6, max_iter: int = 50) -> TamadeResult:
    """Threshold Adaptive Mask Determination: bisect for the largest magnitude threshold eps whose
    pruned loss on the sample stays <= (1 + tolerance) * the unpruned loss, then fix the mask.

    `relative=False` is the paper's one global threshold over all weights; `relative=True` measures
    each weight against its matrix's largest magnitude (the quantization grid's scale) instead.
    Bisection stops when the bracket is below rel_tol of its initial width or after max_iter steps.
    """
    layers = list(model.prunable().values())
    masks = [m.mask.clone() for m in layers]
    mags = _magnitudes(model, relative)

    def loss_at(eps: float) -> float:
        for m, mask, a in zip(layers, masks, mags):
            m.mask.copy_(mask * (a > eps))
        return sample_loss(model, inputs, targets)

    base = loss_at(0.0)
    target = (1 + tolerance) * base
    lo, hi = 0.0, max(float(a.max()) for a in mags)
    evaluations = 1
    if loss_at(hi) <= target:  # pruning everything is within tolerance
        lo = hi
        evaluations += 1
    else:
        evaluations += 1
        width = hi
        for _ in range(max_iter):
            mid = (lo + hi) / 2
            if hi - lo <= rel_tol * width or mid in (lo, hi):
                break
            evaluations += 1
            if loss_at(mid) <= target:
                lo = mid
            else:
                hi = mid
    loss = loss_at(lo)
    for m in layers:
        m.weight.mul_(m.mask)
    return TamadeResult(threshold=lo, violating=hi, base_loss=base, loss=loss, evaluations=evaluations)


def random_batch(model: ByteGPT, gen: torch.Generator, min_rows: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Random inputs (B, T) in which every input value 0..256 occurs at a position that is not the
    last of its row (so it is also some position's previous input) and every position occurs; random targets."""
    T, vocab = model.cfg.block_size, model.wte.weight.shape[0]
    usable = max(1, T - 1)
    rows = max(min_rows, -(-vocab // usable))
    idx = torch.randint(vocab, (rows, T), generator=gen)
    slots = (torch.arange(rows)[:, None] * T + torch.arange(usable)).flatten()
    chosen = slots[torch.randperm(len(slots), generator=gen)[:vocab]]
    idx.view(-1)[chosen] = torch.randperm(vocab, generator=gen)
    return idx, torch.randint(256, (rows, T), generator=gen)


def random_gradient_prune(model: ByteGPT, gen: torch.Generator) -> int:
    """Random Gradient Pruning: remove every weight whose gradient on a random batch is exactly zero
    (it cannot change the output). Returns how many nonzero codes it removed (weights whose
    quantized value is already 0, e.g. both ends of a connection that rounds to 0, are removed uncounted)."""
    layers = list(model.prunable().values())
    device = layers[0].weight.device
    idx, targets = random_batch(model, gen)
    was_training = model.training
    model.eval()  # eval: the activation scales stay as they are
    with torch.enable_grad():
        _, loss = model(idx.to(device), targets.to(device))
        grads = torch.autograd.grad(loss, [m.weight for m in layers])
    model.train(was_training)
    before = nonzero_codes(model)
    with torch.no_grad():
        for m, g in zip(layers, grads):
            m.mask[(m.mask > 0) & (g == 0)] = 0
            m.weight.mul_(m.mask)
    return before - nonzero_codes(model)
