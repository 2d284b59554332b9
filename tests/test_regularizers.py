"""The sparsity methods: exact zeros, a model that still codes, PMMP's projection, TAMADE's search, RGP."""
from __future__ import annotations

import copy
import math
import random

import pytest
import torch

import mdlzip
from conftest import TINY

from mdlzip.training.alpha import choose_alpha, default_grid
from mdlzip.codec import arith
from mdlzip.levels import LEVELS, settings
from mdlzip.models.exact import ExactByteGPT, chunk_inputs, quantize
from mdlzip.models.transformer import ByteGPT
from mdlzip.training.pruning import random_gradient_prune, sample_loss, tamade
from mdlzip.training.config import REGULARIZERS, TrainConfig
from mdlzip.training.regularizers import PMMP, REGISTRY
from mdlzip.training.train import ChunkSource, fit

pytestmark = pytest.mark.usefixtures("one_thread")


def calibrated_model(seed: int = 0) -> ByteGPT:
    """A random TINY model whose activation scales were set on random bytes."""
    torch.manual_seed(seed)
    model = ByteGPT(TINY)
    x = torch.randint(0, 256, (8, TINY.block_size))
    model(chunk_inputs(x), x)
    return model.eval()


def test_registry_names_every_method():
    assert set(REGISTRY) == set(REGULARIZERS) == {"none", "magnitude", "drr", "pmmp", "rl1"}
    assert all(cls.name == name for name, cls in REGISTRY.items())


def test_phases_split_the_steps():
    assert TrainConfig(prelude_frac=0.1, finetune_frac=0.4).phases(100) == (10, 60)
    assert TrainConfig(prelude_frac=0.0, finetune_frac=0.0).phases(100) == (0, 100)


@pytest.mark.parametrize("method", ["drr", "rl1", "pmmp"])
def test_regularizer_makes_exact_zeros_and_the_model_codes(method, text_sample):
    torch.manual_seed(0)
    model = ByteGPT(TINY)
    cfg = TrainConfig(epochs=12, regularizer=method, alpha=1e-3)
    stats = fit(model, text_sample, cfg, torch.device("cpu"))
    qm = quantize(model)
    assert stats.regularizer == method and stats.tamade_threshold > 0
    assert stats.nonzeros_final == qm.num_nonzero() < 0.4 * stats.params
    assert stats.tamade_loss_bits <= (1 + cfg.tolerance) * stats.tamade_base_bits + 1e-9
    assert stats.final_loss_bits < 6.0  # it learned something: uniform bytes cost 8
    for m in model.prunable().values():  # pruned weights are stored as exact zeros
        assert torch.all(m.weight[m.mask == 0] == 0)
    exact = ExactByteGPT(qm)
    coded = arith.encode(exact, text_sample, group=4)
    assert arith.decode(exact, coded, len(text_sample), group=4) == text_sample
    assert 8 * len(coded) / len(text_sample) < 6.0


def test_none_keeps_every_weight_and_magnitude_halves_them(text_sample):
    counts = {}
    for method in ("none", "magnitude"):
        torch.manual_seed(0)
        model = ByteGPT(TINY)
        stats = fit(model, text_sample, TrainConfig(epochs=4, regularizer=method), torch.device("cpu"))
        counts[method] = sum(int(m.mask.sum()) for m in model.prunable().values())
        assert stats.regularizer == method
    assert stats.nonzeros_final <= 0.5 * stats.params and stats.tamade_threshold is None
    assert counts["magnitude"] < 0.55 * counts["none"]


def test_pmmp_keeps_gamma_in_the_unit_interval():
    model = calibrated_model().train()
    weights = [m.weight for m in model.prunable().values()]
    reg = PMMP(weights, alpha=1e-3, beta=5.0)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    opt.add_param_group({"params": reg.start(), "weight_decay": 0.0})
    x = torch.randint(0, 256, (4, TINY.block_size), generator=torch.Generator().manual_seed(0))
    projected = 0
    for _ in range(40):
        _, loss = model(chunk_inputs(x), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        reg.add_grads()
        opt.step()
        projected += sum(int(((g < 0) | (g > 1)).sum()) for g in reg.gamma)
        reg.after_step()
        gammas = torch.cat([g.flatten() for g in reg.gamma])
        assert gammas.min() >= 0 and gammas.max() <= 1
    assert projected > 0 and gammas.min() < 0.9  # the projection was active; gamma moves
    assert torch.cat([u.flatten() for u in reg.u]).min() >= 0  # ascent on the multiplier


@pytest.fixture(scope="module")
def trained(text_sample) -> ByteGPT:
    torch.manual_seed(0)
    model = ByteGPT(TINY)
    fit(model, text_sample, TrainConfig(epochs=4, regularizer="none"), torch.device("cpu"))
    return model


def every_chunk(data: bytes) -> tuple[torch.Tensor, torch.Tensor]:
    source = ChunkSource(data, TINY.block_size)
    return source.batch(torch.arange(len(source)))


def test_tamade_threshold_is_the_largest_within_tolerance(trained, text_sample):
    model, original = copy.deepcopy(trained), copy.deepcopy(trained)
    inputs, targets = every_chunk(text_sample)
    tol, delta = 1e-6, 0.05
    result = tamade(model, inputs, targets, delta, rel_tol=tol)
    target = (1 + delta) * result.base_loss
    assert result.loss <= target and sample_loss(model, inputs, targets) == result.loss
    assert 0 < result.threshold < result.violating
    width = max(m.weight.abs().max().item() for m in original.prunable().values())
    assert result.violating - result.threshold <= tol * width  # adjacent points of the bisection grid
    for m in original.prunable().values():  # the next grid point up breaks the tolerance
        m.mask.mul_((m.weight.abs() > result.violating).float())
    assert sample_loss(original, inputs, targets) > target
    kept = [m.mask.bool() for m in model.prunable().values()]
    weights = [m.weight for m in model.prunable().values()]
    assert all(torch.all(w[k].abs() > result.threshold) and torch.all(w[~k] == 0) for w, k in zip(weights, kept))


def test_tamade_relative_measures_each_matrix_against_its_largest_weight(trained, text_sample):
    model = copy.deepcopy(trained)
    inputs, targets = every_chunk(text_sample)
    result = tamade(model, inputs, targets, 0.02, relative=True)
    assert 0 < result.threshold < 1
    for m in model.prunable().values():
        assert m.mask.sum() > 0  # each matrix keeps its largest weight whatever its scale


def test_rgp_removes_an_unreachable_neuron_and_nothing_else():
    model = calibrated_model()
    fc, out = model.h[0].mlp.fc, model.h[0].mlp.out
    with torch.no_grad():
        fc.weight[5] = 0  # hidden unit 5 of layer 0 never activates: its outgoing column is dead
    expected = {name: m.mask.clone() for name, m in model.prunable().items()}
    expected["h.0.mlp.fc"][5] = 0
    expected["h.0.mlp.out"][:, 5] = 0
    stored = int((quantize(model).codes["h.0.mlp.out"][:, 5] != 0).sum())
    removed = random_gradient_prune(model, torch.Generator().manual_seed(0))
    for name, m in model.prunable().items():
        assert torch.equal(m.mask, expected[name]), name
    assert removed == stored > 0 and torch.all(out.weight[:, 5] == 0)


def test_choose_alpha_picks_the_smallest_measured_total(text_sample):
    grid = [0.0, 1e-4, 3e-3]
    chosen, rows = choose_alpha(text_sample, TINY, TrainConfig(epochs=8, regularizer="drr"), grid=grid, steps_frac=0.5)
    assert [r["alpha"] for r in rows] == grid and all(r["steps"] == rows[0]["steps"] for r in rows)
    assert all(r["total_bytes"] == r["weights_bytes"] + r["data_bytes"] for r in rows)
    best = min(rows, key=lambda r: r["total_bytes"])
    assert (chosen.alpha, chosen.regularizer) == (best["alpha"], best["regularizer"])
    assert rows[0]["regularizer"] == "none" and rows[1]["regularizer"] == rows[2]["regularizer"] == "drr"
    assert rows[2]["nonzeros"] < rows[1]["nonzeros"]  # a stronger penalty keeps fewer weights
    assert default_grid(1000)[0] == 0.0  # alpha "auto" can always choose not to regularize


def test_alpha_auto_is_never_worse_than_not_regularizing(monkeypatch):
    """Where the short trials choose alpha > 0 and that loses in full, alpha = 0 is trained in full
    beside it, as `regularizer="none"` trains, and the smaller model is kept: the same archive.
    Forced here: the only candidate is a penalty that prunes the whole model, on 20 KB that an
    unpruned model learns (a 40-byte line repeated), so the unregularized model wins."""
    from mdlzip.training import alpha

    real = alpha.choose_alpha
    monkeypatch.setattr(alpha, "choose_alpha", lambda data, m, t, **kw: real(data, m, t, grid=[100.0], **kw))
    rng = random.Random(3)
    data = (bytes(rng.randrange(97, 123) for _ in range(40)) * 500)[:20_000]
    options = dict(pure=True, fallback=False, size="level")
    auto, report = mdlzip.compress_with_report(data, 1, regularizer="drr", alpha="auto", **options)
    plain = mdlzip.compress(data, 1, regularizer="none", **options)
    trials, full = [[r for r in report.training["alpha_sweep"] if bool(r.get("full")) == f] for f in (False, True)]
    assert [r["alpha"] for r in trials] == [100.0] and [r["alpha"] for r in full] == [100.0, 0.0]
    assert [bool(r.get("kept")) for r in full] == [False, True] and full[1]["total_bytes"] < full[0]["total_bytes"]
    assert auto == plain and mdlzip.decompress(auto) == data
    assert "in full: 100 " in report.format() and "0 (kept)" in report.format()


def test_level_alpha_is_a_cost_per_weight_in_data_bits():
    n = 1 << 20
    train = settings(6, n).train
    assert train.alpha == pytest.approx(LEVELS[6].alpha_bits * math.log(2) / n)
    assert settings(6, n, alpha=0.5, regularizer="rl1").train.alpha == 0.5
